// nsrun delete [--force] ID...: tear a container down from its state directory alone. A stopped
// container that `nsrun run -d` already tore down (its record kept) has nothing left to undo: its
// directory is removed.
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/lifecycle.hpp"
#include "nsrun/core/orchestrator.hpp"
#include "nsrun/core/process.hpp"
#include "nsrun/core/state.hpp"

namespace nsrun::cli {
namespace {

int delete_container(const std::string& id, bool force, const GlobalOptions& global) {
  core::StderrLogger log(global.level());
  core::StateDir state(global.state_root, id);
  if (!core::is_valid_container_id(id) || !state.exists()) {
    if (force) return 0;  // --force: already gone is success, as runc does
    // "does not exist", as runc says it: engines look for these words.
    throw core::Error("delete: container \"" + id + "\" does not exist");
  }
  core::ContainerView view;
  try {
    view = core::inspect(state);
  } catch (const core::Error& e) {
    if (!state.exists()) return 0;  // removed meanwhile
    // A directory that is not nsrun's: not a container, and never removed.
    if (force) {
      log.warn(std::string("delete: ") + e.what());
      return 0;
    }
    throw core::Error(std::string("delete: ") + e.what());
  }
  // The runtime spec: deleting a container that is not stopped is an error. A created container
  // may go (as runc allows): nothing of the workload has run.
  if (!force && (view.status == core::Status::running || view.status == core::Status::paused))
    throw core::Error("delete: container \"" + id + "\" is " + core::status_name(view.status) +
                      " (stop it first, or use --force)");
  if (view.status == core::Status::paused) {
    // A frozen process acts on SIGKILL only once thawed.
    try {
      core::resume_container(state, global.load_plugins_for(state, Installation::locate()), log);
    } catch (const core::Error& e) {
      log.warn("delete: " + std::string(e.what()));
    }
  }
  if (auto pidfd = core::open_container_process(view)) {
    // Its cgroup may hold processes that left the pid namespace's reach (none with a pid
    // namespace: its init's death ends them all); signal those too, then the first.
    for (const auto& process : core::container_processes(view.record->pid))
      if (auto member = core::open_process(process.pid, process.start_time))
        core::signal_process(member.get(), SIGKILL);
    core::signal_process(pidfd.get(), SIGKILL);
    if (!core::wait_for_exit(pidfd.get(), 10000))
      throw core::Error("delete: container \"" + id + "\" did not die within 10 s of SIGKILL");
  }
  if (force && !view.record && view.held) {
    // state.json is missing or damaged, so the container's pid is unknown, but the nsrun that
    // holds the container (a detached run's supervisor, or a run setting it up) is not: the
    // container's process is its child. Killed, it ends the workload; that nsrun then tears
    // down, as it would after any workload's end, and lets go of the lock.
    for (const auto& process : core::processes_of_lock_holder(state)) {
      core::signal_process(process.get(), SIGKILL);
      core::wait_for_exit(process.get(), 10000);
    }
  }
  // A live nsrun that holds the lock is setting the container up, or tearing it down after its
  // workload ended (a foreground run, or a detached run's supervisor). Without --force, a
  // container being set up is left to it; one whose workload ended, and any with --force, is
  // waited for (the teardown takes well under a second once the workload is gone), and then
  // whatever it left is removed: a detached run's kept record, or everything after a crash.
  const bool wait_for_owner = force || view.status == core::Status::stopped;
  std::optional<core::StateLock> lock;
  for (int waited_ms = 0;; waited_ms += 10) {
    try {
      lock = state.try_lock();
    } catch (const core::Error&) {
      if (!state.exists()) return 0;  // its owner removed it meanwhile
      throw;
    }
    if (lock) break;
    if (!wait_for_owner)
      throw core::Error("delete: container \"" + id +
                        "\" is being set up or removed by a running nsrun (wait, or use --force)");
    if (waited_ms >= 10000)
      throw core::Error("delete: container \"" + id +
                        "\" is still held by another nsrun after 10 s (kill that nsrun first)");
    ::usleep(10000);
  }
  if (!state.exists()) return 0;
  auto registry = global.load_plugins_for(state, Installation::locate());
  auto errors = core::teardown_from_state(state, registry, log);
  for (const auto& error : errors) log.error(error);
  return errors.empty() ? 0 : exit_code::runtime_error;
}

}  // namespace

void add_delete_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* del = app.add_subcommand("delete", "Remove a container and every resource it left");
  auto ids = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  del->add_option("id", *ids, "Container ids")->required();
  del->add_flag("--force,-f", *force, "Kill it if it still runs; succeed if it is already gone");
  del->fallthrough();
  del->callback([ids, force, &global, &exit_code] {
    exit_code = 0;
    for (const auto& id : *ids) {
      try {
        if (int code = delete_container(id, *force, global)) exit_code = code;
      } catch (const core::Error& e) {
        exit_code = report_error(e.what());
      }
    }
  });
}

}  // namespace nsrun::cli
