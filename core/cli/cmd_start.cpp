// nsrun start [--trace FILE] ID: releases a created container's process, which runs the workload.
// Returns once the workload runs (it does not wait for it to exit), as runc's start. --trace is
// nsrun's (docs/tracing.md).
#include "commands.hpp"
#include "nsrun/core/lifecycle.hpp"

namespace nsrun::cli {

void add_start_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* start = app.add_subcommand("start", "Start a created container's workload");
  auto id = std::make_shared<std::string>();
  auto trace_path = std::make_shared<std::optional<std::string>>();
  start->add_option("id", *id, "Container id")->required();
  start->add_option("--trace", *trace_path,
                    "Write what each step of the start cost to FILE, as Chrome trace-event JSON");
  start->callback([id, trace_path, &global, &exit_code] {
    try {
      core::StderrLogger log(global.level());
      CommandTrace trace(*trace_path, global);
      trace.setup_done("core: parse the flags");
      const auto start_begun = core::TraceClock::now();
      try {
        core::start_container(core::StateDir(global.state_root, *id), log, trace.tracer());
        exit_code = 0;
      } catch (const core::StartError& e) {
        report_error(e.what());
        exit_code = e.exit_code();
      } catch (const core::Error& e) {
        exit_code = report_error(e.what());
      }
      trace.finish("core: start", start_begun, {{"container", *id}, {"exit code", exit_code}}, log);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
