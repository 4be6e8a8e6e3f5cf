// nsrun logs [-f] ID: the output a detached container (`nsrun run -d`) kept in its state
// directory, older part first (see nsrun/core/container_log.hpp); with -f, then what it writes
// until it stops. A container started otherwise has no log: its output went to whoever started
// it.
#include <unistd.h>

#include <chrono>
#include <thread>

#include "commands.hpp"
#include "nsrun/core/container_log.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/lifecycle.hpp"

namespace nsrun::cli {
namespace {

// How often -f looks for new output.
constexpr auto follow_interval = std::chrono::milliseconds(100);

// True while a supervisor still owns the container: its workload runs, or its output is being
// drained and it is torn down. -f ends once that is over and the rest is read.
bool still_supervised(const core::StateDir& state) {
  try {
    return core::inspect(state).held;
  } catch (const core::Error&) {
    return false;  // removed (--rm)
  }
}

int print_logs(const std::string& id, bool follow, const GlobalOptions& global) {
  core::StateDir state(global.state_root, id);
  try {
    core::inspect(state);
  } catch (const core::Error& e) {
    throw core::Error("logs: " + std::string(e.what()));  // container "ID" does not exist
  }
  core::LogReader reader(state.path());
  if (!reader.copy_kept(STDOUT_FILENO))
    throw core::Error("logs: container \"" + id +
                      "\" has no log: it was not started with nsrun run -d, so its output went "
                      "to whoever started it");
  if (!follow) return 0;
  while (still_supervised(state)) {
    std::this_thread::sleep_for(follow_interval);
    reader.copy_new(STDOUT_FILENO);
  }
  reader.copy_new(STDOUT_FILENO);  // what was written before the supervisor let go
  return 0;
}

}  // namespace

void add_logs_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* logs = app.add_subcommand("logs", "Print the output of a container started with run -d");
  auto id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  logs->add_option("id", *id, "Container id")->required();
  logs->add_flag("--follow,-f", *follow, "Then print what it writes, until it stops");
  logs->callback([id, follow, &global, &exit_code] {
    try {
      exit_code = print_logs(*id, *follow, global);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
