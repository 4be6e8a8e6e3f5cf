// A container's processes as seen from the host, never by bare pid: a pid is checked with the
// start time recorded when the container was created, so a pid the kernel reused for another
// process is never signalled or reported as the container.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/support/fd.hpp"

namespace nsrun::core {

/// What /proc/PID/stat says of a live process.
struct ProcessStat {
  char state = '?';              ///< R, S, D, Z (zombie), T (stopped)...
  std::uint64_t start_time = 0;  ///< clock ticks after boot: with the pid, names one process
};

/// The process's stat, or nullopt when no process has this pid.
std::optional<ProcessStat> read_process_stat(pid_t pid);

/// This process's pid as the /proc mounted now names it ("/proc/self"): the host's pid for a
/// container process until it mounts a /proc of its own pid namespace; 0 when /proc cannot tell.
pid_t pid_in_mounted_proc();

/// A pidfd for the process `pid` if it is the one that started at `start_time` and has not
/// exited (a zombie counts as exited); an empty fd otherwise. The start time is checked after
/// the pidfd is opened, so the pidfd cannot name a process that reused the pid in between.
support::UniqueFd open_process(pid_t pid, std::uint64_t start_time);

/// Sends `signal` through a pidfd; false with errno on failure.
bool signal_process(int pidfd, int signal);

/// Waits up to `timeout_ms` for the process behind `pidfd` to exit (it need not be our child);
/// true once it has.
bool wait_for_exit(int pidfd, int timeout_ms);

/// One live process, named as open_process wants it.
struct ProcessId {
  pid_t pid;
  std::uint64_t start_time;
};

/// Every live process of the container whose first process is `init`, as host pids: those of
/// its pid namespace when it has one of its own, else those of its cgroups. Read-only.
std::vector<ProcessId> container_processes(pid_t init);

/// A signal by name ("KILL", "SIGKILL", case-insensitive) or number ("9"); nullopt if unknown.
std::optional<int> parse_signal(std::string_view text);

/// The signals of a set blocked for the object's life, so that none is lost, or ends nsrun, while
/// it clones and sets up a process; that process restores `original()` before it runs anything.
class SignalsHeld {
 public:
  explicit SignalsHeld(const sigset_t& held);
  ~SignalsHeld();
  SignalsHeld(const SignalsHeld&) = delete;
  SignalsHeld& operator=(const SignalsHeld&) = delete;

  const sigset_t& held() const { return held_; }
  const sigset_t& original() const { return original_; }
  /// Takes every held signal that is pending (sent meanwhile) without acting on it: a command
  /// that set up a container while they were held finishes, as runc's create does, and is not
  /// ended by them once it releases them.
  void discard_pending() const;

 private:
  const sigset_t held_;
  sigset_t original_;
};

}  // namespace nsrun::core
