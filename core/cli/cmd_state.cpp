// nsrun state ID: the runtime spec's state of a container, as JSON on stdout.
#include <iostream>

#include "commands.hpp"
#include "nsrun/core/lifecycle.hpp"

namespace nsrun::cli {

void add_state_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* state = app.add_subcommand("state", "Print a container's state (OCI state JSON)");
  auto id = std::make_shared<std::string>();
  state->add_option("id", *id, "Container id")->required();
  state->callback([id, &global, &exit_code] {
    try {
      core::StateDir dir(global.state_root, *id);
      std::cout << boost::json::serialize(core::oci_state(dir, core::inspect(dir))) << "\n";
      exit_code = 0;
    } catch (const core::Error& e) {
      exit_code = report_error("state: " + std::string(e.what()));
    }
  });
}

}  // namespace nsrun::cli
