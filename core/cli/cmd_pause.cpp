// nsrun pause ID / nsrun resume ID: freeze and thaw every process of a running container.
#include "commands.hpp"
#include "nsrun/core/lifecycle.hpp"

namespace nsrun::cli {
namespace {

void add_freeze_command(CLI::App& app, GlobalOptions& global, int& exit_code, bool pause) {
  auto* command = app.add_subcommand(
      pause ? "pause" : "resume",
      pause ? "Freeze every process of a running container" : "Thaw a paused container");
  auto id = std::make_shared<std::string>();
  command->add_option("id", *id, "Container id")->required();
  command->callback([id, pause, &global, &exit_code] {
    try {
      core::StderrLogger log(global.level());
      core::StateDir state(global.state_root, *id);
      core::inspect(state);  // "does not exist" before plugins are loaded
      auto registry = global.load_plugins_for(state, Installation::locate());
      if (pause)
        core::pause_container(state, registry, log);
      else
        core::resume_container(state, registry, log);
      exit_code = 0;
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace

void add_pause_commands(CLI::App& app, GlobalOptions& global, int& exit_code) {
  add_freeze_command(app, global, exit_code, true);
  add_freeze_command(app, global, exit_code, false);
}

}  // namespace nsrun::cli
