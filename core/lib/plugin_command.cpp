// Running a plugin's command across the C boundary (see plugin_command.hpp).
#include "nsrun/core/plugin_command.hpp"

#include <cstddef>

#include "nsrun/core/json_util.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::core {
namespace {

// What the host table's functions reach through `opaque` during a command.
struct CommandState {
  std::string kind;
  StderrLogger* log;
  std::string failure;
  int exit_code = exit_code::runtime_error;
};

CommandState& state_of(void* opaque) {
  return *static_cast<CommandState*>(opaque);
}

int command_log_enabled(void* opaque, int level) {
  return plugin_log_enabled(*state_of(opaque).log, level) ? 1 : 0;
}

void command_log(void* opaque, int level, const char* message) {
  auto& state = state_of(opaque);
  if (message) plugin_log(*state.log, level, state.kind + ": " + message);
}

void command_fail(void* opaque, const char* message, int exit_code) {
  auto& state = state_of(opaque);
  if (!state.failure.empty()) return;
  try {
    state.failure = message ? message : "failed without a message";
  } catch (...) {
  }
  state.exit_code = exit_code;
}

// No container exists during a command: the container services refuse, saying so.
int refuse_outside_a_container(void* opaque) {
  auto& state = state_of(opaque);
  if (state.failure.empty())
    state.failure = "a plugin command runs outside any container: no journal, spec or outputs";
  return 0;
}

}  // namespace

std::span<const nsrun_command> plugin_commands(const nsrun_plugin& descriptor) {
  constexpr std::size_t needed =
      offsetof(nsrun_plugin, run_command) + sizeof(nsrun_plugin::run_command);
  if (descriptor.api_minor < 3 || descriptor.struct_size < needed || !descriptor.commands ||
      !descriptor.run_command)
    return {};
  return {descriptor.commands, descriptor.command_count};
}

int run_plugin_command(const nsrun_plugin& descriptor, std::string_view command,
                       const std::vector<std::string>& args, const std::string& state_root,
                       int output_fd, StderrLogger& log) {
  bool known = false;
  for (const auto& declared : plugin_commands(descriptor))
    known |= declared.name && declared.name == command;
  if (!known)
    throw Error("no command \"" + std::string(command) + "\" in plugin " + descriptor.name +
                " (see: nsrun " + descriptor.kind + " --help)");
  CommandState state{descriptor.kind, &log, {}};
  nsrun_host host{};
  host.struct_size = sizeof host;
  host.opaque = &state;
  host.log_enabled = &command_log_enabled;
  host.log = &command_log;
  host.fail = &command_fail;
  host.journal_append = [](void* opaque, const char*, const char*) {
    return refuse_outside_a_container(opaque);
  };
  host.journal_read = [](void* opaque, nsrun_record_fn, void*) {
    return refuse_outside_a_container(opaque);
  };
  host.replace_spec = [](void* opaque, const char*) -> uint64_t {
    return static_cast<uint64_t>(refuse_outside_a_container(opaque));
  };
  host.set_output = [](void* opaque, const char*, const char*) {
    return refuse_outside_a_container(opaque);
  };
  host.get_output = [](void* opaque, const char*) -> const char* {
    refuse_outside_a_container(opaque);
    return nullptr;
  };
  host.add_file = [](void* opaque, const char*, const char*, size_t, uint32_t) {
    return refuse_outside_a_container(opaque);
  };
  std::string name(command);
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  nsrun_command_call call{};
  call.struct_size = sizeof call;
  call.command = name.c_str();
  call.argc = static_cast<int32_t>(argv.size());
  call.argv = argv.data();
  call.state_root = state_root.c_str();
  call.output_fd = output_fd;
  if (descriptor.run_command(&call, &host) == 0) return 0;
  log.error(state.kind + " " + name + ": " +
            (state.failure.empty() ? "failed without a message" : state.failure));
  return state.exit_code == 0 ? exit_code::runtime_error : state.exit_code;
}

}  // namespace nsrun::core
