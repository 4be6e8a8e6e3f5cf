// nsrun ps [--format table|json] ID: the container's processes as host pids. JSON is what the
// containerd shim reads: an array of pids and nothing else.
#include <iostream>

#include "commands.hpp"
#include "nsrun/core/lifecycle.hpp"
#include "nsrun/core/process.hpp"
#include "nsrun/support/files.hpp"

namespace nsrun::cli {
namespace {

int list_processes(const GlobalOptions& global, const std::string& id, const std::string& format) {
  core::StateDir dir(global.state_root, id);
  core::ContainerView view = core::inspect(dir);
  std::vector<core::ProcessId> processes;
  if (core::open_container_process(view)) processes = core::container_processes(view.record->pid);
  if (format == "json") {
    boost::json::array pids;
    for (const auto& process : processes) pids.push_back(process.pid);
    std::cout << boost::json::serialize(pids) << "\n";
    return 0;
  }
  std::cout << "PID\tCMD\n";
  for (const auto& process : processes) {
    std::string command =
        support::read_file("/proc/" + std::to_string(process.pid) + "/cmdline").value_or("");
    for (auto& c : command)
      if (c == '\0') c = ' ';
    while (!command.empty() && command.back() == ' ') command.pop_back();
    std::cout << process.pid << "\t" << command << "\n";
  }
  return 0;
}

}  // namespace

void add_ps_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* ps = app.add_subcommand("ps", "List a container's processes (host pids)");
  auto id = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("table");
  ps->add_option("id", *id, "Container id")->required();
  ps->add_option("--format,-f", *format, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  ps->callback([id, format, &global, &exit_code] {
    try {
      exit_code = list_processes(global, *id, *format);
    } catch (const core::Error& e) {
      exit_code = report_error("ps: " + std::string(e.what()));
    }
  });
}

}  // namespace nsrun::cli
