// A container's life after `create`, across nsrun processes: its status, start, signals, the
// processes in it. What `nsrun run` does in one process, the OCI commands (create, start, state,
// kill, delete) do in several; they meet in the state directory.
//
// The created container's process waits on a listening Unix socket, start.sock in its state
// directory, whose only listener is that process (the creating nsrun closes its copy). `start`
// connects and sends one byte; the process then runs the start_container phase and reports on
// that connection as on the foreground sync socket: a failure message, or the exec announcement
// followed by end-of-file when execve closes it. runc waits on a FIFO instead; a socket tells a
// dead waiter at once (the connect is refused, where opening a FIFO blocks forever) and carries
// start_container's errors back to `start`.
//
// Status: state.json records what nsrun last did (creating, created, running, and stopped with
// the exit code once a detached run's supervisor tore the container down and kept its record);
// what the process is doing is read from the kernel each time. A container whose process is gone
// (or whose pid now names another process: the start time differs) is stopped.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/log.hpp"
#include "nsrun/core/state.hpp"
#include "nsrun/core/trace.hpp"
#include "nsrun/support/fd.hpp"

namespace nsrun::core {

enum class Status { creating, created, running, paused, stopped };
const char* status_name(Status status);

/// The ociVersion of the state documents nsrun writes (`nsrun state`, a hook's stdin).
inline constexpr const char* oci_state_version = "1.0.2";

/// The socket a created container waits on, in its state directory.
inline constexpr const char* start_socket_name = "start.sock";

struct ContainerView {
  std::optional<ContainerRecord> record;  ///< nullopt: no state.json yet
  Status status = Status::stopped;
  bool held = false;  ///< a live nsrun holds the state lock (creating, or a foreground run)
};

/// The container's current status; Error "container ID does not exist" when it does not.
ContainerView inspect(const StateDir& state);

/// The processes started by the nsrun that holds `state`'s lock (a detached run's supervisor, or
/// a run still setting up): its children, as pidfds, when the holder is an nsrun (its
/// /proc/PID/exe is this binary). How `delete --force` finds a container whose state.json is
/// missing or damaged. Empty when no nsrun holds it.
std::vector<support::UniqueFd> processes_of_lock_holder(const StateDir& state);

/// A pidfd for the container's process if it still runs; empty otherwise.
support::UniqueFd open_container_process(const ContainerView& view);

/// The OCI state document `nsrun state` prints; for a stopped container whose exit was
/// recorded (`nsrun run -d`), also "nsrun": {"exitCode", "finished"}.
boost::json::object oci_state(const StateDir& state, const ContainerView& view);

/// A failed start: the exit code the failing stage gave (126/127 when the workload cannot be
/// executed or found, 125 otherwise).
class StartError : public Error {
 public:
  StartError(const std::string& message, int exit_code) : Error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

/// Releases a created container's process: it runs its startContainer hooks and
/// start_container and execs the workload; then the poststart hooks run here (a failing one is a
/// warning on `log`). Error when the container is not created, or when a startContainer hook or
/// start_container failed (the message they gave), or the process died.
/// With a `tracer` (`nsrun start --trace`), the process traces its part and reports it (trace.hpp).
void start_container(const StateDir& state, Logger& log, Tracer* tracer = nullptr);

/// Sends `signal` to the container's process, or with `all` to every process in it. Error when
/// it is not running (or created).
void kill_container(const StateDir& state, int signal, bool all);

}  // namespace nsrun::core

namespace nsrun::core {

class PluginRegistry;

/// Freezes (pause) or thaws (resume) a running container through its stages' pause/resume
/// phases (the cgroups stage's freezer), and records the status. Error when it is not running
/// (pause) or not paused (resume), or a stage failed.
void pause_container(const StateDir& state, const PluginRegistry& registry, StderrLogger& log);
void resume_container(const StateDir& state, const PluginRegistry& registry, StderrLogger& log);

}  // namespace nsrun::core

namespace nsrun::core {

/// Merges `resources` (an OCI linux.resources object: only what changes) into the container's
/// spec, runs every stage's update phase with it (the cgroups stage writes the new limits), and
/// saves the spec once all succeeded. Error when the container is stopped, the resources are
/// malformed (naming the field), or a stage refused.
void update_container(const StateDir& state, const PluginRegistry& registry, StderrLogger& log,
                      const boost::json::object& resources);

}  // namespace nsrun::core
