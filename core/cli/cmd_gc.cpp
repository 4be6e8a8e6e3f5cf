// nsrun gc: tear down every container whose process is gone (after nsrun was killed, a crash or
// a reboot of a persistent state root), from its state directory alone.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/state.hpp"

namespace nsrun::cli {
namespace {

// A zombie still answers kill(pid, 0); it is as dead as a container gets.
bool process_running(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

// Dead: its workload process is gone, or it never got one and has been "creating" for longer
// than `grace` seconds (a setup takes well under a second; nsrun died in the middle of it).
bool is_dead(const core::StateDir& state, long grace) {
  std::string state_file = state.path() + "/state.json";
  struct stat info {};
  try {
    auto oci = state.read_state();
    const auto* pid = oci.if_contains("pid");
    pid_t value = pid && pid->is_int64() ? static_cast<pid_t>(pid->as_int64()) : 0;
    if (value > 0) return !process_running(value);
  } catch (const core::Error&) {
    // No or torn state.json: judged by age like "creating".
  }
  if (::stat(state_file.c_str(), &info) != 0 && ::stat(state.path().c_str(), &info) != 0)
    return false;
  return std::time(nullptr) - info.st_mtime > grace;
}

int collect_garbage(const GlobalOptions& global, long grace, bool dry_run) {
  core::StderrLogger log(global.debug());
  DIR* dir = ::opendir(global.state_root.c_str());
  if (!dir) return 0;  // no state root: nothing ever ran
  std::vector<std::string> ids;
  while (dirent* entry = ::readdir(dir))
    if (core::is_valid_container_id(entry->d_name)) ids.emplace_back(entry->d_name);
  ::closedir(dir);

  int exit_code = 0;
  std::optional<core::PluginRegistry> registry;
  for (const auto& id : ids) {
    core::StateDir state(global.state_root, id);
    if (::access((state.path() + "/pipeline.json").c_str(), F_OK) != 0) continue;  // not ours
    if (!is_dead(state, grace)) continue;
    if (dry_run) {
      std::cout << id << "\n";
      continue;
    }
    if (!registry) registry = global.load_plugins(Installation::locate());
    try {
      auto errors = core::teardown_from_state(state, *registry, log);
      for (const auto& error : errors) log.error(error);
      if (errors.empty())
        std::cout << id << "\n";
      else
        exit_code = exit_code::runtime_error;
    } catch (const core::Error& e) {
      exit_code = report_error("gc: " + id + ": " + e.what());
    }
  }
  return exit_code;
}

}  // namespace

void add_gc_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* gc = app.add_subcommand(
      "gc", "Remove every container whose process is gone, with all it left (prints their ids)");
  auto grace = std::make_shared<long>(60);
  auto dry_run = std::make_shared<bool>(false);
  gc->add_option("--grace", *grace,
                 "Seconds a container may stay in \"creating\" before it counts as dead")
      ->capture_default_str();
  gc->add_flag("--dry-run", *dry_run, "Only print the ids that would be removed");
  gc->callback([grace, dry_run, &global, &exit_code] {
    try {
      exit_code = collect_garbage(global, *grace, *dry_run);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
