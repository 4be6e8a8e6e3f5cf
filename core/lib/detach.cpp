#include "nsrun/core/detach.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/process.hpp"
#include "nsrun/core/state.hpp"

namespace nsrun::core {
namespace {

using support::UniqueFd;

constexpr std::string_view started_word = "started";
constexpr std::string_view failed_word = "failed";

void write_line(int fd, std::string line) noexcept {
  for (char& c : line)
    if (c == '\n') c = ' ';
  line += '\n';
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = ::write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

void report_failure(int notify, const StageFailure& failure) noexcept {
  try {
    write_line(notify, std::string(failed_word) + " " + std::to_string(failure.exit_code) + " " +
                           failure.message);
  } catch (...) {
  }
}

// Descriptors nsrun did not open: everything nsrun opens is close-on-exec, so one without the
// flag (above 0-2) came from whoever ran `nsrun run -d`, and the supervisor, which lives on
// without exec, must not keep it (a pipe its caller waits on to end, above all).
void close_inherited_descriptors() {
  std::vector<int> inherited;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (dirent* entry = ::readdir(dir)) {
      int fd = std::atoi(entry->d_name);
      if (fd > 2 && fd != ::dirfd(dir)) {
        int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) inherited.push_back(fd);
      }
    }
    ::closedir(dir);
  }
  for (int fd : inherited) ::close(fd);
}

// Passes what happens to the nsrun waiting on `notify`, and lets the logger finish before the
// teardown.
class SupervisorListener final : public RunListener {
 public:
  SupervisorListener(UniqueFd notify, UniqueFd control, pid_t logger, std::string state_dir)
      : notify_(std::move(notify)),
        control_(std::move(control)),
        logger_(logger),
        logger_pidfd_(static_cast<int>(::syscall(SYS_pidfd_open, logger, 0))),
        state_dir_(std::move(state_dir)) {}

  void started(pid_t) noexcept override {
    // Every stage has read its flags by now, relative paths against the caller's directory (as
    // a foreground run reads them: `--keep-changes kept`); the supervisor lives on and holds no
    // directory of the caller's busy from here.
    const int moved = ::chdir("/");  // "/" is always there; a failure only keeps a directory busy
    (void)moved;
    // The state directory exists: the logger may write there.
    char go = 1;
    ssize_t ignored = ::write(control_.get(), &go, 1);
    (void)ignored;
    control_.reset();
    write_line(notify_.get(), std::string(started_word));
    notify_.reset();
  }

  void failed(const StageFailure& failure) noexcept override {
    report_failure(notify_.get(), failure);
    notify_.reset();
    finish_logger();  // it drops what it held: the directory is gone
  }

  void exited(int) noexcept override {
    // The workload's processes are gone; this process's stdout and stderr are the pipe's last
    // writers: once they are let go, the logger reads to the end and exits.
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    if (null >= 0) ::close(null);
    finish_logger();
    // nsrun's own messages from now on (a teardown that failed) go to the container's log.
    int log =
        ::open((state_dir_ + "/" + container_log_name).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (log >= 0) {
      ::dup2(log, STDERR_FILENO);
      ::close(log);
    }
  }

  // Waits for the logger (control closed: it stops unless it was told to write), stopping it
  // when writers it cannot see the end of keep the pipe open.
  void finish_logger() noexcept {
    control_.reset();
    if (logger_ <= 0) return;
    if (logger_pidfd_ && !wait_for_exit(logger_pidfd_.get(), log_drain_timeout_ms))
      signal_process(logger_pidfd_.get(), SIGKILL);
    while (::waitpid(logger_, nullptr, 0) < 0 && errno == EINTR) {
    }
    logger_ = 0;
  }

 private:
  UniqueFd notify_;
  UniqueFd control_;
  pid_t logger_;
  UniqueFd logger_pidfd_;
  std::string state_dir_;
};

[[noreturn]] void become_supervisor(Orchestrator& orchestrator, ContainerRequest& request,
                                    const DetachOptions& options, UniqueFd notify) {
  auto give_up = [&](const std::string& why) {
    report_failure(notify.get(), {"run: cannot start the supervisor: " + why});
    ::_exit(exit_code::runtime_error);
  };
  close_inherited_descriptors();
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null || ::dup2(null.get(), STDIN_FILENO) < 0)
    give_up(std::string("/dev/null: ") + std::strerror(errno));
  int output[2], control[2];
  if (::pipe2(output, O_CLOEXEC) != 0) give_up(std::string("pipe: ") + std::strerror(errno));
  UniqueFd output_read(output[0]), output_write(output[1]);
  if (::pipe2(control, O_CLOEXEC) != 0) give_up(std::string("pipe: ") + std::strerror(errno));
  UniqueFd control_read(control[0]), control_write(control[1]);
  const std::string state_dir = StateDir(request.state_root, request.id).path();

  pid_t logger = ::fork();
  if (logger < 0) give_up(std::string("fork: ") + std::strerror(errno));
  if (logger == 0) {
    ::prctl(PR_SET_NAME, "nsrun-logger");  // what ps shows beside the supervisor
    // The logger holds no end of the pipe but the one it reads, and nothing of the caller's
    // (its directory neither: the state directory's path is absolute).
    if (::chdir("/") != 0) ::_exit(exit_code::runtime_error);
    ::dup2(null.get(), STDOUT_FILENO);
    ::dup2(null.get(), STDERR_FILENO);
    notify.reset();
    output_write.reset();
    control_write.reset();
    pump_container_log(output_read.get(), control_read.get(), state_dir, options.log_max_size);
    ::_exit(0);
  }
  output_read.reset();
  control_read.reset();
  // The workload inherits these, as a foreground run's workload inherits nsrun's.
  if (::dup2(output_write.get(), STDOUT_FILENO) < 0 ||
      ::dup2(output_write.get(), STDERR_FILENO) < 0)
    give_up(std::string("dup2: ") + std::strerror(errno));
  output_write.reset();

  SupervisorListener listener(std::move(notify), std::move(control_write), logger, state_dir);
  request.listener = &listener;
  request.detached = false;  // the foreground path, to the workload's exit
  int code = exit_code::runtime_error;
  try {
    code = orchestrator.run(request);
  } catch (const std::exception& e) {
    listener.failed({e.what(), exit_code::runtime_error});
  }
  if (options.finished) options.finished(code);
  listener.finish_logger();
  ::_exit(code);
}

}  // namespace

int run_detached(Orchestrator& orchestrator, ContainerRequest& request,
                 const DetachOptions& options, StderrLogger& log) {
  // The supervisor goes on in a session of its own whatever happens to this process: a signal
  // that ended this one while it waits would report a failure of a container that runs. Held
  // until the supervisor has said how the setup went, then discarded, as `nsrun create` does.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&stop_signals, sig);
  const SignalsHeld held(stop_signals);
  struct DiscardPending {
    const SignalsHeld& held;
    ~DiscardPending() { held.discard_pending(); }
  } discard_at_return{held};
  int notify[2];
  if (::pipe2(notify, O_CLOEXEC) != 0)
    throw Error(std::string("run: cannot create a pipe: ") + std::strerror(errno));
  UniqueFd notify_read(notify[0]), notify_write(notify[1]);
  std::fflush(nullptr);  // nothing buffered may be written twice, by a copy of this process
  pid_t middle = ::fork();
  if (middle < 0) throw Error(std::string("run: cannot fork: ") + std::strerror(errno));
  if (middle == 0) {
    ::sigprocmask(SIG_SETMASK, &held.original(), nullptr);  // the supervisor's are its own
    notify_read.reset();
    if (::setsid() < 0) {
      report_failure(notify_write.get(), {std::string("run: setsid: ") + std::strerror(errno)});
      ::_exit(exit_code::runtime_error);
    }
    pid_t supervisor = ::fork();
    if (supervisor < 0)
      report_failure(notify_write.get(),
                     {std::string("run: cannot fork the supervisor: ") + std::strerror(errno)});
    if (supervisor != 0) ::_exit(0);
    become_supervisor(orchestrator, request, options, std::move(notify_write));
  }
  notify_write.reset();
  while (::waitpid(middle, nullptr, 0) < 0 && errno == EINTR) {
  }

  // One line, or end-of-file when the supervisor died before it could say anything.
  std::string line;
  char c;
  while (true) {
    ssize_t n = ::read(notify_read.get(), &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    line += c;
  }
  if (line == started_word) return 0;
  if (line.starts_with(std::string(failed_word) + " ")) {
    StageFailure failure = parse_failure_report(line.substr(failed_word.size() + 1));
    log.error(failure.message);
    return failure.exit_code;
  }
  log.error("run: the supervisor of container \"" + request.id +
            "\" died before the workload started (see nsrun list; remove what it left with "
            "nsrun delete --force " +
            request.id + ")");
  return exit_code::runtime_error;
}

}  // namespace nsrun::core
