// nsrun kill [--all] ID [SIGNAL]: signals a container's process (default TERM), or with --all
// every process in it. The pid is checked with its start time first, never used bare.
#include "commands.hpp"
#include "nsrun/core/lifecycle.hpp"
#include "nsrun/core/process.hpp"

namespace nsrun::cli {

void add_kill_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* kill = app.add_subcommand("kill", "Send a signal to a container (default: TERM)");
  auto id = std::make_shared<std::string>();
  auto signal = std::make_shared<std::string>("TERM");
  auto all = std::make_shared<bool>(false);
  kill->add_option("id", *id, "Container id")->required();
  kill->add_option("signal", *signal, "Signal name (KILL, SIGKILL) or number (9)");
  kill->add_flag("--all,-a", *all, "Signal every process of the container");
  kill->callback([id, signal, all, &global, &exit_code] {
    try {
      // 0 sends nothing and asks whether the container's process is there, as kill(1) -0 does
      // (runc takes it too): an error when it is not running.
      auto number = *signal == "0" ? std::optional<int>(0) : core::parse_signal(*signal);
      if (!number)
        throw core::Error("kill: unknown signal \"" + *signal +
                          "\" (give a name such as TERM or KILL, or a number)");
      core::kill_container(core::StateDir(global.state_root, *id), *number, *all);
      exit_code = 0;
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
