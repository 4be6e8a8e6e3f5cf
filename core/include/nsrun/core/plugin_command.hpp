// A plugin's own commands (SDK 2.3): `nsrun network ls` runs the command "ls" of the plugin the
// default pipeline puts in the network slot. The core only finds the plugin and crosses the C
// boundary; what a command does, and which arguments it takes, is the plugin's to decide.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/core/log.hpp"
#include "nsrun/plugin.h"

namespace nsrun::core {

/// The commands a plugin declares; empty for a plugin built against an SDK before 2.3, whose
/// descriptor ends before the fields.
std::span<const nsrun_command> plugin_commands(const nsrun_plugin& descriptor);

/// Runs `command` of the plugin with `args`, its output going to `output_fd`. Returns nsrun's exit
/// code: 0, or the code of the plugin's failure (reported through `log` first, as one line).
/// Error when the plugin has no such command.
int run_plugin_command(const nsrun_plugin& descriptor, std::string_view command,
                       const std::vector<std::string>& args, const std::string& state_root,
                       int output_fd, StderrLogger& log);

}  // namespace nsrun::core
