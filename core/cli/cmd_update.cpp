// nsrun update --resources FILE|- ID: runc's update, as engines call it (podman update, the
// containerd shim): new limits for a container, applied by the stage that owns them.
#include <iostream>
#include <iterator>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/lifecycle.hpp"

namespace nsrun::cli {
namespace {

int update(const std::string& id, const std::string& resources_file, const GlobalOptions& global) {
  if (resources_file.empty())
    throw core::Error(
        "update: give the new limits with --resources FILE (or - for stdin), as "
        "OCI linux.resources JSON");
  std::string text;
  if (resources_file == "-")
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  else
    text = core::read_text_file(resources_file, "--resources");
  auto value = core::parse_json_document(text, "--resources " + resources_file);
  if (!value.is_object())
    throw core::Error("update: --resources " + resources_file +
                      " is not a JSON object (give OCI linux.resources, e.g. {\"pids\": "
                      "{\"limit\": 64}})");
  core::StderrLogger log(global.level());
  core::StateDir state(global.state_root, id);
  core::inspect(state);  // "does not exist" before plugins are loaded
  auto registry = global.load_plugins_for(state, Installation::locate());
  core::update_container(state, registry, log, value.as_object());
  return 0;
}

}  // namespace

void add_update_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* command = app.add_subcommand("update", "Change a container's resource limits");
  auto id = std::make_shared<std::string>();
  auto resources = std::make_shared<std::string>();
  command->add_option("id", *id, "Container id")->required();
  command->add_option("--resources,-r", *resources,
                      "OCI linux.resources JSON with the new limits (- reads stdin)");
  command->callback([id, resources, &global, &exit_code] {
    try {
      exit_code = update(*id, *resources, global);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
