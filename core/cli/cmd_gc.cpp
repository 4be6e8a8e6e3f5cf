// nsrun gc: tear down every container whose process is gone (after nsrun was killed, a crash or
// a reboot of a persistent state root), from its state directory alone. A container some live
// nsrun is still setting up or running holds its state directory's lock and is left alone.
// `--networks` then removes the networks kept up with no container on it.
#include <dirent.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iostream>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/lifecycle.hpp"
#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/process.hpp"
#include "nsrun/core/state.hpp"

namespace nsrun::cli {
namespace {

// A directory being created that its nsrun left before giving it its id: empty, and unlocked.
bool is_stale_creation(const std::string& root, const std::string& name) {
  if (!name.starts_with(".creating-")) return false;
  try {
    return core::StateDir(root, name).try_lock().has_value();
  } catch (const core::Error&) {
    return false;  // gone meanwhile
  }
}

int collect_garbage(const GlobalOptions& global, bool dry_run) {
  core::StderrLogger log(global.level());
  DIR* dir = ::opendir(global.state_root.c_str());
  if (!dir) return 0;  // no state root: nothing ever ran
  std::vector<std::string> ids;
  std::vector<std::string> stale;
  while (dirent* entry = ::readdir(dir)) {
    if (core::is_valid_container_id(entry->d_name))
      ids.emplace_back(entry->d_name);
    else if (is_stale_creation(global.state_root, entry->d_name))
      stale.emplace_back(entry->d_name);
  }
  ::closedir(dir);
  if (!dry_run)
    for (const auto& name : stale) ::rmdir((global.state_root + "/" + name).c_str());

  int exit_code = 0;
  for (const auto& id : ids) {
    core::StateDir state(global.state_root, id);
    // Dead: no live nsrun holds its lock, and its workload, if it ever had one, is gone.
    std::optional<core::StateLock> lock;
    try {
      lock = state.try_lock();
    } catch (const core::Error&) {
      continue;  // removed meanwhile
    }
    if (!lock) continue;
    lock.reset();  // inspect takes it too
    core::ContainerView view;
    try {
      view = core::inspect(state);
    } catch (const core::Error&) {
      continue;
    }
    // A process still waiting in "creating" lost the nsrun that was creating it: it is garbage.
    if (view.held ||
        (view.status != core::Status::stopped && view.status != core::Status::creating))
      continue;
    if (!dry_run)
      if (auto pidfd = core::open_container_process(view)) {
        core::signal_process(pidfd.get(), SIGKILL);
        core::wait_for_exit(pidfd.get(), 10000);
      }
    lock = state.try_lock();
    if (!lock) continue;
    if (dry_run) {
      std::cout << id << "\n";
      continue;
    }
    try {
      auto registry = global.load_plugins_for(state, Installation::locate());
      auto errors = core::teardown_from_state(state, registry, log);
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
  auto dry_run = std::make_shared<bool>(false);
  auto networks = std::make_shared<bool>(false);
  gc->add_flag("--dry-run", *dry_run, "Only print the ids that would be removed");
  gc->add_flag("--networks", *networks,
               "Then remove every network kept up with no container on it (prints their names)");
  gc->callback([dry_run, networks, &global, &exit_code] {
    try {
      if (*dry_run && *networks)
        throw core::Error(
            "gc: --dry-run covers containers only, not --networks (nsrun network ls shows the "
            "networks and their containers)");
      exit_code = collect_garbage(global, *dry_run);
      if (*networks) {
        // The kept networks are the network plugin's to judge: the core runs its "prune".
        int pruned =
            run_plugin_command(global, "network", default_plugin_of("network"), "prune", {});
        if (exit_code == 0) exit_code = pruned;
      }
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
