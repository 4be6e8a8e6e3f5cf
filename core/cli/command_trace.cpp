// --trace FILE for the commands that run a container's steps (see commands.hpp).
#include <filesystem>

#include "commands.hpp"

namespace nsrun::cli {

CommandTrace::CommandTrace(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  core::check_trace_path(path_);
  // Absolute: the supervisor of `run -d` writes it from /.
  path_ = std::filesystem::absolute(path_).lexically_normal().string();
  tracer_.emplace();
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
                          boost::json::object args, const GlobalOptions& global, Logger& log) {
  if (!tracer_) return;
  tracer_->add(what, start, core::TraceClock::now(), core::TraceProcess::host, std::move(args));
  boost::json::array command;
  for (char** arg = global.argv ? global.argv + 1 : nullptr; arg && *arg; ++arg)
    command.emplace_back(*arg);
  try {
    tracer_->write(path_, core::trace_info(std::move(command), NSRUN_VERSION));
  } catch (const core::Error& e) {
    log.error(e.what());
  }
}

}  // namespace nsrun::cli
