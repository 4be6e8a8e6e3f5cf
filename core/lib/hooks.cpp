#include "nsrun/core/hooks.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstring>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/log.hpp"
#include "nsrun/support/fd.hpp"

extern char** environ;

namespace nsrun::core {
namespace {

using Fd = support::UniqueFd;

// --- parsing -------------------------------------------------------------------------------

std::string field_name(HookKind kind, std::size_t index) {
  return std::string("hooks.") + hook_kind_name(kind) + "[" + std::to_string(index) + "]";
}

[[noreturn]] void malformed(const std::string& field, const std::string& why) {
  throw Error("config.json: " + field + " " + why);
}

// An optional array of strings (null counts as absent, as Go's decoder, which runc uses, reads it).
std::optional<std::vector<std::string>> string_list(const boost::json::object& entry,
                                                    const char* key, const std::string& field,
                                                    bool key_value) {
  const boost::json::value* value = entry.if_contains(key);
  if (!value || value->is_null()) return std::nullopt;
  const std::string name = field + "." + key;
  if (!value->is_array()) malformed(name, "must be an array of strings");
  std::vector<std::string> out;
  const auto& array = value->as_array();
  for (std::size_t i = 0; i < array.size(); ++i) {
    const std::string item_name = name + "[" + std::to_string(i) + "]";
    if (!array[i].is_string()) malformed(item_name, "must be a string");
    std::string text(array[i].as_string());
    if (key_value) {
      auto equals = text.find('=');
      if (equals == std::string::npos || equals == 0)
        malformed(item_name, "\"" + text + "\" must be KEY=VALUE");
    }
    out.push_back(std::move(text));
  }
  return out;
}

std::optional<int> timeout_of(const boost::json::object& entry, const std::string& field) {
  const boost::json::value* value = entry.if_contains("timeout");
  if (!value || value->is_null()) return std::nullopt;
  std::optional<std::int64_t> seconds;
  if (value->is_int64()) seconds = value->as_int64();
  if (value->is_uint64() && value->as_uint64() <= static_cast<std::uint64_t>(INT_MAX))
    seconds = static_cast<std::int64_t>(value->as_uint64());
  if (!seconds || *seconds <= 0 || *seconds > INT_MAX)
    malformed(field + ".timeout", "must be a whole number of seconds from 1 to " +
                                      std::to_string(INT_MAX) + " (got " +
                                      boost::json::serialize(*value) + ")");
  return static_cast<int>(*seconds);
}

Hook hook_of(const boost::json::value& value, const std::string& field) {
  if (!value.is_object()) malformed(field, "must be an object with a \"path\"");
  const auto& entry = value.as_object();
  Hook hook;
  const boost::json::value* path = entry.if_contains("path");
  if (!path || path->is_null())
    malformed(field + ".path", "is required (the absolute path of the hook's executable)");
  if (!path->is_string())
    malformed(field + ".path", "must be a string (the absolute path of the hook's executable)");
  hook.path = path->as_string();
  if (hook.path.empty() || hook.path.front() != '/')
    malformed(field + ".path", "\"" + hook.path + "\" must be an absolute path");
  if (auto args = string_list(entry, "args", field, false)) hook.args = std::move(*args);
  hook.env = string_list(entry, "env", field, true);
  hook.timeout_seconds = timeout_of(entry, field);
  return hook;
}

// --- running -------------------------------------------------------------------------------

// A descriptor moved above 0-2, so that the dup2s onto stdio in the hook's process never
// overwrite one another (nsrun may have been started with a standard stream closed).
Fd above_stdio(int fd) {
  if (fd < 0 || fd > STDERR_FILENO) return Fd(fd);
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  ::close(fd);
  return Fd(moved);
}

bool make_pipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  read_end = above_stdio(fds[0]);
  write_end = above_stdio(fds[1]);
  return read_end && write_end;
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// SIGPIPE blocked while the state is written: a hook that does not read its stdin (and exits,
// closing it) must fail the write with EPIPE, not kill the writer. That writer may be the
// container process, where SIGPIPE has its default action again. A SIGPIPE our writes raised is
// taken off the pending set before the old mask returns.
class SigpipeBlocked {
 public:
  SigpipeBlocked() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    was_pending_ = ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeBlocked() {
    sigset_t pending;
    if (!was_pending_ && ::sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      timespec none{};
      while (::sigtimedwait(&pipe_, nullptr, &none) < 0 && errno == EINTR) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlocked(const SigpipeBlocked&) = delete;
  SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

// The hook's process, between clone and execve: only async-signal-safe calls (everything it
// needs was built before clone). It starts from a clean slate whatever its parent was doing: the
// container process runs with signals masked in places and is PID 1 of its namespace, and the
// CLI ignores SIGPIPE, which execve would keep ignored.
[[noreturn]] void become_hook(const char* path, char* const argv[], char* const envp[],
                              int stdin_fd, int output_fd, int exec_error_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // nobody is left to wait for it
  ::setpgid(0, 0);                     // a group of its own, killed whole on a timeout
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &default_action, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(stdin_fd, STDIN_FILENO) >= 0 && ::dup2(output_fd, STDOUT_FILENO) >= 0 &&
      ::dup2(output_fd, STDERR_FILENO) >= 0) {
    // Nothing of nsrun's reaches the hook (the state lock, sockets): all but stdio and the
    // close-on-exec channel that reports a failed execve.
    if (exec_error_fd > STDERR_FILENO + 1)
      ::syscall(SYS_close_range, STDERR_FILENO + 1, exec_error_fd - 1, 0);
    ::syscall(SYS_close_range, exec_error_fd + 1, ~0U, 0);
    ::execve(path, argv, envp);
  }
  int error = errno;
  ssize_t ignored = ::write(exec_error_fd, &error, sizeof error);
  (void)ignored;
  ::_exit(127);
}

// The hook's output, for the failure message: the last bytes only (the end says why it failed).
class OutputTail {
 public:
  void append(const char* data, std::size_t size) {
    text_.append(data, size);
    if (text_.size() > 2 * limit) {
      text_.erase(0, text_.size() - limit);
      cut_ = true;
    }
  }
  /// One line: lines trimmed and joined with "; ", at most `limit` characters.
  std::string line() const {
    std::string out;
    std::size_t start = 0;
    while (start <= text_.size()) {
      std::size_t end = text_.find('\n', start);
      if (end == std::string::npos) end = text_.size();
      std::string_view piece(text_.data() + start, end - start);
      auto first = piece.find_first_not_of(" \t\r");
      if (first != std::string_view::npos) {
        piece = piece.substr(first, piece.find_last_not_of(" \t\r") - first + 1);
        out += (out.empty() ? "" : "; ") + std::string(piece);
      }
      start = end + 1;
    }
    if (out.size() > limit) return "..." + out.substr(out.size() - limit);
    return cut_ && !out.empty() ? "..." + out : out;
  }

 private:
  static constexpr std::size_t limit = 1000;
  std::string text_;
  bool cut_ = false;
};

// Reads what the pipe holds (a pipe's worth at most: a writer that never stops must not keep
// the caller from its deadline or from returning).
void read_available(int fd, OutputTail& output, Fd& owner) {
  char buffer[4096];
  for (int reads = 0; reads < 16; ++reads) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      output.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno != EAGAIN) owner.reset();  // end of file (or broken): stop watching
    return;
  }
}

int wait_for(int pidfd, siginfo_t& info) {
  int result;
  while ((result = ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED)) != 0 &&
         errno == EINTR) {
  }
  return result;
}

}  // namespace

const char* hook_kind_name(HookKind kind) {
  switch (kind) {
    case HookKind::prestart:
      return "prestart";
    case HookKind::create_runtime:
      return "createRuntime";
    case HookKind::create_container:
      return "createContainer";
    case HookKind::start_container:
      return "startContainer";
    case HookKind::poststart:
      return "poststart";
    case HookKind::poststop:
      return "poststop";
  }
  return "unknown";
}

bool Hooks::empty() const {
  return std::all_of(lists_.begin(), lists_.end(), [](const auto& list) { return list.empty(); });
}

Hooks parse_hooks(const boost::json::object& config) {
  Hooks hooks;
  const boost::json::value* value = config.if_contains("hooks");
  if (!value || value->is_null()) return hooks;
  if (!value->is_object())
    malformed("hooks", "must be an object of hook lists (createRuntime, poststart, ...)");
  const auto& by_kind = value->as_object();
  for (HookKind kind : all_hook_kinds) {
    const boost::json::value* list = by_kind.if_contains(hook_kind_name(kind));
    if (!list || list->is_null()) continue;
    if (!list->is_array())
      malformed(std::string("hooks.") + hook_kind_name(kind), "must be an array of hooks");
    const auto& entries = list->as_array();
    for (std::size_t i = 0; i < entries.size(); ++i)
      hooks.of(kind).push_back(hook_of(entries[i], field_name(kind, i)));
  }
  return hooks;
}

std::string hook_state_json(const HookState& state) {
  boost::json::object document{{"ociVersion", oci_state_version},
                               {"id", state.id},
                               {"status", status_name(state.status)},
                               {"pid", state.pid},
                               {"bundle", state.bundle},
                               {"annotations", state.annotations}};
  return boost::json::serialize(document);
}

std::optional<std::string> run_hook(const Hook& hook, HookKind kind, std::size_t index,
                                    std::string_view state_json) {
  const std::string name =
      std::string("hook ") + hook_kind_name(kind) + "[" + std::to_string(index) + "] " + hook.path;
  auto failed = [&](const std::string& why) { return name + ": " + why; };

  std::vector<std::string> args =
      hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env.value_or(std::vector<std::string>{});
  std::vector<char*> envp;
  for (auto& variable : env) envp.push_back(variable.data());
  envp.push_back(nullptr);
  char* const* environment = hook.env ? envp.data() : environ;

  Fd input_read, input_write, output_read, output_write, exec_error_read, exec_error_write;
  if (!make_pipe(input_read, input_write) || !make_pipe(output_read, output_write) ||
      !make_pipe(exec_error_read, exec_error_write))
    return failed(std::string("cannot create its pipes: ") + std::strerror(errno));

  SigpipeBlocked sigpipe_blocked;
  int pidfd_number = -1;
  clone_args clone{};
  clone.flags = CLONE_PIDFD;
  clone.pidfd = reinterpret_cast<std::uint64_t>(&pidfd_number);
  clone.exit_signal = SIGCHLD;
  long pid = ::syscall(SYS_clone3, &clone, sizeof clone);
  if (pid < 0) return failed(std::string("cannot create its process: ") + std::strerror(errno));
  if (pid == 0)
    become_hook(hook.path.c_str(), argv.data(), environment, input_read.get(), output_write.get(),
                exec_error_write.get());
  Fd pidfd(pidfd_number);
  input_read.reset();
  output_write.reset();
  exec_error_write.reset();
  set_nonblocking(input_write.get());
  set_nonblocking(output_read.get());

  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> deadline;
  if (hook.timeout_seconds) deadline = Clock::now() + std::chrono::seconds(*hook.timeout_seconds);
  auto kill_hook = [&] {
    ::kill(-static_cast<pid_t>(pid), SIGKILL);  // its group: what it started dies with it
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    siginfo_t info{};
    wait_for(pidfd.get(), info);
  };

  std::size_t written = 0;
  if (state_json.empty()) input_write.reset();
  OutputTail output;
  while (true) {
    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) {
        kill_hook();
        return failed("timed out after " + std::to_string(*hook.timeout_seconds) + " s");
      }
      wait_ms = static_cast<int>(std::min<long long>(left, INT_MAX));
    }
    pollfd fds[3] = {{pidfd.get(), POLLIN, 0},
                     {output_read ? output_read.get() : -1, POLLIN, 0},
                     {input_write ? input_write.get() : -1, POLLOUT, 0}};
    int n = ::poll(fds, 3, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      kill_hook();
      return failed(std::string("cannot wait for it: ") + std::strerror(error));
    }
    if (fds[2].revents) {
      ssize_t w =
          ::write(input_write.get(), state_json.data() + written, state_json.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      // All written: end of file for the hook. EPIPE: it closed its stdin without reading it
      // all, which is its right.
      if (written == state_json.size() || (w < 0 && errno != EAGAIN && errno != EINTR))
        input_write.reset();
    }
    if (fds[1].revents) read_available(output_read.get(), output, output_read);
    if (fds[0].revents & POLLIN) break;
  }
  // It exited. What it wrote before is in the pipe; a child it left behind may hold the pipe
  // open for ever, so take what is there and do not wait for the end of file.
  if (output_read) read_available(output_read.get(), output, output_read);
  siginfo_t info{};
  if (wait_for(pidfd.get(), info) != 0)
    return failed(std::string("cannot reap it: ") + std::strerror(errno));
  int exec_error = 0;
  if (::read(exec_error_read.get(), &exec_error, sizeof exec_error) ==
      static_cast<ssize_t>(sizeof exec_error))
    return failed(std::string("cannot execute it: ") + std::strerror(exec_error));
  if (info.si_code == CLD_EXITED && info.si_status == 0) return std::nullopt;
  std::string why;
  if (info.si_code == CLD_EXITED) {
    why = "exited with status " + std::to_string(info.si_status);
  } else {
    const char* abbrev = ::sigabbrev_np(info.si_status);
    why = "killed by signal " + std::to_string(info.si_status) +
          (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
  }
  std::string said = output.line();
  return failed(said.empty() ? why : why + ": " + said);
}

namespace {

// One hook of a list, its duration a debug line.
std::optional<std::string> run_timed(const Hook& hook, HookKind kind, std::size_t index,
                                     std::string_view state_json, Logger* log) {
  auto start = std::chrono::steady_clock::now();
  auto failure = run_hook(hook, kind, index, state_json);
  if (log && log->debug_enabled())
    log->debug("core: hook " + std::string(hook_kind_name(kind)) + "[" + std::to_string(index) +
               "] " + hook.path + ": " + std::to_string(elapsed_ms(start)) + " ms" +
               (failure ? " (failed)" : ""));
  return failure;
}

}  // namespace

std::optional<std::string> run_hooks(const Hooks& hooks, HookKind kind, const HookState& state,
                                     Logger* log) {
  const auto& list = hooks.of(kind);
  if (list.empty()) return std::nullopt;
  const std::string json = hook_state_json(state);
  for (std::size_t i = 0; i < list.size(); ++i)
    if (auto failure = run_timed(list[i], kind, i, json, log)) return failure;
  return std::nullopt;
}

void run_hooks_warning_only(const Hooks& hooks, HookKind kind, const HookState& state,
                            Logger& log) {
  const auto& list = hooks.of(kind);
  if (list.empty()) return;
  const std::string json = hook_state_json(state);
  for (std::size_t i = 0; i < list.size(); ++i)
    if (auto failure = run_timed(list[i], kind, i, json, &log)) log.warn(*failure);
}

}  // namespace nsrun::core
