// Helpers for end-to-end tests: run commands (nsrun itself among them) and capture what they
// print, share one busybox rootfs per build, and guard what a test creates so that it is removed
// even when the test fails.
//
// Tests may run `ip`, `iptables` and friends to set up and inspect throwaway namespaces; the
// runtime itself never does.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace nsrun::test {

struct CommandResult {
  int exit_code = -1;  ///< the exit status, or 128+N when a signal ended it
  std::string out;
  std::string err;
};

/// Runs argv (argv[0] looked up in PATH) with `input` on stdin, waits at most `timeout_seconds`
/// (then kills it: exit code -1). The child runs in `cwd` when given.
CommandResult run(const std::vector<std::string>& argv, const std::string& input = "",
                  int timeout_seconds = 60, const std::string& cwd = "");

/// `text` quoted for a /bin/sh command line.
std::string shell_quote(const std::string& text);

/// Runs a shell command line with /bin/sh -c.
CommandResult sh(const std::string& command_line, int timeout_seconds = 60);

/// The nsrun binary of this build.
std::string nsrun_binary();

/// A busybox rootfs shared by the tests of this build (created on first use with
/// `nsrun rootfs create`).
std::string busybox_rootfs();

/// Force-deletes every container under `state_root` (`nsrun --root R delete --force`), as a
/// test's TearDown does whatever the test left; returns the names still there (nsrun's own
/// stores, whose names start with '_': _ipam, _seccomp, aside).
std::vector<std::string> delete_every_container(const std::string& state_root);

/// A private state root for one test, removed (with a check that it is empty) by the guard.
std::string unique_name(const std::string& prefix);

/// Runs `nsrun --root <state root> run --rootfs <busybox rootfs> <args...>`.
CommandResult nsrun_run(const std::vector<std::string>& args, const std::string& state_root,
                        const std::string& input = "", int timeout_seconds = 60,
                        const std::string& cwd = "");

/// A process started in the background (argv[0] is a path), killed and reaped when the guard goes
/// out of scope unless wait() reaped it first: a failing test leaves no process behind.
class BackgroundProcess {
 public:
  explicit BackgroundProcess(const std::vector<std::string>& argv);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  pid_t pid() const { return pid_; }
  /// Waits for it to end; returns its exit code, or 128+N when signal N ended it.
  int wait();

 private:
  pid_t pid_;
  bool reaped_ = false;
};

/// Removes a directory tree when it goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// A named network namespace (`ip netns add`) deleted when the guard goes out of scope. It plays
/// the host for networking tests, so nothing is ever added to the machine's own namespace.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& name);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;
  const std::string& name() const { return name_; }
  /// argv prefixed with `ip netns exec <name>`.
  std::vector<std::string> exec(std::vector<std::string> argv) const;

 private:
  std::string name_;
};

/// True when this process runs in a network namespace tests/helpers/in-throwaway-netns.sh made
/// (one of /run/netns/nsrun-test-*), never the machine's own.
bool in_throwaway_netns();

/// The whole content of a file ("" when it cannot be read).
std::string read_text(const std::string& path);

/// Mount points in /proc/self/mountinfo that contain `needle`.
std::vector<std::string> mounts_containing(const std::string& needle);

}  // namespace nsrun::test
