// nsrun KIND COMMAND ...: the commands a plugin declares (SDK 2.3), e.g. `nsrun network ls` of the
// bridge network plugin. The plugin is the one the default pipeline puts in the KIND slot, or the
// one --plugin names: swapping the network plugin swaps its commands with no core change.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/plugin_command.hpp"

namespace nsrun::cli {
namespace {

// The registry holding `plugin` from the directories nsrun searches (--plugin-dir first).
core::PluginRegistry load_plugin(const GlobalOptions& global, const std::string& plugin) {
  core::LoaderOptions options;
  options.directories =
      core::plugin_search_path(global.plugin_dirs, Installation::locate().plugin_dir);
  return core::PluginRegistry::load_named(options, {plugin});
}

const nsrun_plugin& loaded_plugin(const core::PluginRegistry& registry, const std::string& plugin,
                                  const std::string& kind) {
  if (const auto* record = registry.find(plugin)) {
    if (record->kind != kind)
      throw core::Error(kind + ": --plugin " + plugin + " fills the " + record->kind +
                        " slot, not " + kind + " (see: nsrun plugins)");
    return *record->descriptor;
  }
  if (const auto* refused = registry.find_refused(plugin))
    throw core::Error(kind + ": plugin " + plugin + " is refused: " + refused->refusal);
  throw core::Error(kind + ": no plugin " + plugin +
                    " in the plugin directories (see: nsrun plugins; --plugin-dir DIR)");
}

std::string command_list(const nsrun_plugin& descriptor) {
  std::string out = "Commands of " + std::string(descriptor.name) + ":\n";
  for (const auto& command : core::plugin_commands(descriptor)) {
    std::string usage = std::string(descriptor.kind) + " " + command.name;
    if (command.usage && *command.usage) usage += std::string(" ") + command.usage;
    out += "  " + usage + std::string(usage.size() < 28 ? 28 - usage.size() : 1, ' ') +
           (command.summary ? command.summary : "") + "\n";
  }
  return out;
}

}  // namespace

int run_plugin_command(const GlobalOptions& global, const std::string& kind,
                       const std::string& plugin, const std::string& command,
                       const std::vector<std::string>& args) {
  auto registry = load_plugin(global, plugin);
  const nsrun_plugin& descriptor = loaded_plugin(registry, plugin, kind);
  core::StderrLogger log(global.level());
  std::cout.flush();
  return core::run_plugin_command(descriptor, command, args, global.state_root, STDOUT_FILENO, log);
}

std::string default_plugin_of(const std::string& kind) {
  for (const auto& stage :
       core::Pipeline::from_file(Installation::locate().default_pipeline).stages)
    if (stage.kind == kind) return stage.plugin;
  throw core::Error("the default pipeline has no " + kind + " stage");
}

std::vector<PluginCommandGroup> plugin_command_groups(const std::vector<std::string_view>& taken,
                                                      bool only_with_commands) {
  std::vector<PluginCommandGroup> groups;
  const Installation installation = Installation::locate();
  core::Pipeline pipeline;
  try {
    pipeline = core::Pipeline::from_file(installation.default_pipeline);
  } catch (const core::Error&) {
    return groups;  // no default pipeline: `nsrun run` says why; no command comes from it
  }
  for (const auto& stage : pipeline.stages)
    if (std::find(taken.begin(), taken.end(), stage.kind) == taken.end())
      groups.push_back({stage.kind, stage.plugin});
  if (!only_with_commands) return groups;
  core::LoaderOptions options;
  options.directories = core::plugin_search_path({}, installation.plugin_dir);
  std::vector<std::string> names;
  for (const auto& group : groups) names.push_back(group.plugin);
  auto registry = core::PluginRegistry::load_named(options, names);
  std::erase_if(groups, [&](const PluginCommandGroup& group) {
    const auto* record = registry.find(group.plugin);
    return !record || core::plugin_commands(*record->descriptor).empty();
  });
  return groups;
}

void add_plugin_command_group(CLI::App& app, GlobalOptions& global, int& exit_code,
                              const PluginCommandGroup& group) {
  auto* sub =
      app.add_subcommand(group.kind, "Commands of the " + group.kind + " plugin (" + group.plugin +
                                         "): nsrun " + group.kind + " --help");
  auto plugin = std::make_shared<std::string>(group.plugin);
  sub->add_option("--plugin", *plugin,
                  "Run the commands of this plugin instead of the default pipeline's")
      ->capture_default_str();
  // Everything from the command's name on is the plugin's to parse.
  sub->prefix_command();
  sub->footer([&global, plugin, kind = group.kind] {
    try {
      auto registry = load_plugin(global, *plugin);
      return "\nUsage: nsrun " + kind + " [--plugin NAME] COMMAND [ARGS...]\n\n" +
             command_list(loaded_plugin(registry, *plugin, kind));
    } catch (const core::Error& e) {
      return std::string("\n") + e.what() + "\n";
    }
  });
  sub->callback([sub, plugin, &global, &exit_code, kind = group.kind] {
    try {
      std::vector<std::string> args = sub->remaining();
      auto registry = load_plugin(global, *plugin);
      const nsrun_plugin& descriptor = loaded_plugin(registry, *plugin, kind);
      if (core::plugin_commands(descriptor).empty())
        throw core::Error(kind + ": plugin " + *plugin + " has no commands (see: nsrun plugins)");
      if (args.empty() || args.front() == "--help" || args.front() == "-h") {
        std::cout << command_list(descriptor);
        exit_code = args.empty() ? exit_code::runtime_error : 0;
        if (args.empty())
          core::StderrLogger(false).error(kind + ": no command given (see: nsrun " + kind +
                                          " --help)");
        return;
      }
      const std::string command = args.front();
      args.erase(args.begin());
      exit_code = run_plugin_command(global, kind, *plugin, command, args);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
