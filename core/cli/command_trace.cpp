// --trace FILE for the commands that run a container's steps (see commands.hpp).
#include <filesystem>

#include "commands.hpp"

namespace nsrun::cli {
namespace {

// The command's tracer lives as long as the process, which a command ends with _exit
// (end_process): its memory goes with the rest. Destroyed when the command returned, it cost a
// traced run 0.05 ms on this machine, in page faults: the clone made the heap it frees
// copy-on-write, and the first write to each such page faults, even once the container process
// has exec'd.
std::optional<core::Tracer> command_tracer;

}  // namespace

CommandTrace::CommandTrace(const std::optional<std::string>& path, const GlobalOptions& global) {
  if (!path) return;
  core::check_trace_path(*path);  // `--trace ""` too: a trace asked for and never written
  tracer_ = &command_tracer.emplace();
  // Absolute: the supervisor of `run -d` writes it from /.
  tracer_->set_output(std::filesystem::absolute(*path).lexically_normal().string(),
                      [argv = global.argv] {
                        boost::json::array command;
                        for (char** arg = argv ? argv + 1 : nullptr; arg && *arg; ++arg)
                          command.emplace_back(*arg);
                        return core::trace_info(std::move(command), NSRUN_VERSION);
                      });
  if (launched_at)
    tracer_->add("core: start nsrun (the launcher, exec, dynamic loading)", *launched_at,
                 main_started, core::TraceProcess::host);
}

void CommandTrace::setup_done(const char* what, boost::json::object args) {
  if (tracer_)
    tracer_->add(what, main_started, core::TraceClock::now(), core::TraceProcess::host,
                 std::move(args));
}

void CommandTrace::finish(const char* what, core::TraceClock::time_point start,
                          boost::json::object args, Logger& log) {
  if (!tracer_) return;
  tracer_->add(what, start, core::TraceClock::now(), core::TraceProcess::host, std::move(args));
  try {
    tracer_->write();
  } catch (const core::Error& e) {
    log.error(e.what());
  }
}

}  // namespace nsrun::cli
