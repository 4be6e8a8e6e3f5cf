// nsrun start ID: releases a created container's process, which runs the workload. Returns once
// the workload runs (it does not wait for it to exit), as runc's start.
#include "commands.hpp"
#include "nsrun/core/lifecycle.hpp"

namespace nsrun::cli {

void add_start_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* start = app.add_subcommand("start", "Start a created container's workload");
  auto id = std::make_shared<std::string>();
  start->add_option("id", *id, "Container id")->required();
  start->callback([id, &global, &exit_code] {
    try {
      core::StderrLogger log(global.level());
      core::start_container(core::StateDir(global.state_root, *id), log);
      exit_code = 0;
    } catch (const core::StartError& e) {
      report_error(e.what());
      exit_code = e.exit_code();
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
