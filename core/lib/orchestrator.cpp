#include "nsrun/core/orchestrator.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>

#include "nsrun/core/hooks.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/lifecycle.hpp"
#include "nsrun/core/process.hpp"
#include "nsrun/core/spec_json.hpp"
#include "nsrun/core/terminal.hpp"
#include "nsrun/support/fd.hpp"

namespace nsrun::core {
namespace {

// The state of one call across the C boundary: what the host table's functions reach through
// `opaque`, and the failure the plugin reported.
struct CallState {
  const BoundStage* stage;
  const CallSite* site;
  Phase phase;
  std::string failure;
  int exit_code = exit_code::runtime_error;
};

CallState& state_of(void* opaque) {
  return *static_cast<CallState*>(opaque);
}

int host_log_enabled(void* opaque, int level) {
  return plugin_log_enabled(*state_of(opaque).site->log, level) ? 1 : 0;
}

void host_log(void* opaque, int level, const char* message) {
  auto& call = state_of(opaque);
  if (message) plugin_log(*call.site->log, level, call.stage->kind() + ": " + message);
}

// The first failure of a call is its cause: a refusal the core recorded (refuse() below) is kept
// when the plugin then reports the exception it turned that refusal into.
void host_fail(void* opaque, const char* message, int exit_code) {
  auto& call = state_of(opaque);
  if (!call.failure.empty()) return;
  try {
    call.failure = message ? message : "failed without a message";
  } catch (...) {
  }
  call.exit_code = exit_code;
}

// Records why the core refused a service call; returns 0, the refusal value of plugin.h.
int refuse(CallState& call, std::string why) {
  if (call.failure.empty()) call.failure = std::move(why);
  return 0;
}

int host_journal_append(void* opaque, const char* type, const char* data_json) {
  auto& call = state_of(opaque);
  if (!call.site->journal || !type || !data_json) return 0;
  try {
    boost::system::error_code ec;
    auto data = boost::json::parse(data_json, ec);
    if (ec || !data.is_object()) return 0;  // a malformed record would poison the journal
    return call.site->journal->append(call.stage->plugin(), type, data.as_object()) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int host_journal_read(void* opaque, nsrun_record_fn each, void* user) {
  auto& call = state_of(opaque);
  if (!call.site->journal || !each) return 0;
  try {
    for (const auto& record : call.site->journal->records_of(call.stage->plugin())) {
      std::string data = boost::json::serialize(record.data);
      each(user, record.type.c_str(), data.c_str());
    }
    return 1;
  } catch (...) {
    return 0;
  }
}

std::uint64_t host_replace_spec(void* opaque, const char* spec_json) {
  auto& call = state_of(opaque);
  if (call.phase != Phase::prepare)
    return refuse(
        call, std::string("the spec may change only in prepare, not in ") + phase_name(call.phase));
  if (!call.site->spec || !spec_json) return refuse(call, "no spec to replace");
  try {
    call.site->spec->replace(spec_json);
    return call.site->spec->revision();
  } catch (const std::exception& e) {
    return refuse(call, e.what());
  }
}

int host_set_output(void* opaque, const char* key, const char* value_json) {
  auto& call = state_of(opaque);
  try {
    if (!key || !value_json || !call.site->exchange) return refuse(call, "no output to set");
    if (call.phase != Phase::validate && call.phase != Phase::prepare)
      return refuse(call, std::string("output \"") + key + "\" set in " + phase_name(call.phase) +
                              "; outputs are set in validate or prepare");
    if (!call.stage->provides_key(key))
      return refuse(call,
                    std::string("output \"") + key + "\" is not declared in the plugin's provides");
    boost::system::error_code ec;
    boost::json::parse(value_json, ec);
    if (ec) return refuse(call, std::string("output \"") + key + "\" is not JSON");
    call.site->exchange->outputs[key] = value_json;
    return 1;
  } catch (const std::exception& e) {
    return refuse(call, e.what());
  }
}

const char* host_get_output(void* opaque, const char* key) {
  auto& call = state_of(opaque);
  if (!key || !call.site->exchange) return nullptr;
  if (!call.stage->needs_key(key) && !call.stage->provides_key(key)) {
    refuse(call, std::string("output \"") + key + "\" read without declaring it in needs");
    return nullptr;
  }
  if (std::string_view(key) == "files") return call.site->exchange->files_text.c_str();
  auto it = call.site->exchange->outputs.find(key);
  return it == call.site->exchange->outputs.end() ? nullptr : it->second.c_str();
}

int host_add_file(void* opaque, const char* destination, const char* content, size_t size,
                  uint32_t mode) {
  auto& call = state_of(opaque);
  try {
    if (!destination || (!content && size) || !call.site->exchange)
      return refuse(call, "no file to add");
    std::string where = destination;
    if (call.phase != Phase::prepare)
      return refuse(call, "add_file(" + where + ") in " + phase_name(call.phase) +
                              "; files are added in prepare");
    if (!call.stage->needs_key("files"))
      return refuse(call,
                    "add_file(" + where + "): the plugin does not declare it needs \"files\"");
    std::filesystem::path path(where);
    if (!path.is_absolute() || where.find("/../") != std::string::npos || where.ends_with("/..") ||
        path.filename().empty())
      return refuse(call, "add_file(" + where + "): the destination must be an absolute file path");
    if (mode & ~07777u) return refuse(call, "add_file(" + where + "): mode is not a file mode");
    auto& files = call.site->exchange->files;
    const std::string dir = call.site->state_dir + "/files";
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return refuse(call, "cannot create " + dir + ": " + std::strerror(errno));
    const std::string source = dir + "/" + std::to_string(files.size());
    write_file_atomically(source, std::string_view(content ? content : "", size), mode);
    files.push_back(boost::json::object{{"destination", where},
                                        {"source", source},
                                        {"mode", mode},
                                        {"stage", call.stage->plugin()}});
    call.site->exchange->files_text = boost::json::serialize(files);
    return 1;
  } catch (const std::exception& e) {
    return refuse(call, e.what());
  }
}

void host_trace_span(void* opaque, const char* name, uint64_t start_ns, uint64_t end_ns) {
  Tracer* tracer = state_of(opaque).site->tracer;
  if (!tracer || !name) return;
  auto at = [](uint64_t ns) { return TraceClock::time_point(std::chrono::nanoseconds(ns)); };
  tracer->add_stage_span(name, at(start_ns), at(end_ns));
}

nsrun_host host_table(CallState& call) {
  nsrun_host host{};
  host.struct_size = sizeof host;
  host.opaque = &call;
  host.log_enabled = &host_log_enabled;
  host.log = &host_log;
  host.fail = &host_fail;
  host.journal_append = &host_journal_append;
  host.journal_read = &host_journal_read;
  host.replace_spec = &host_replace_spec;
  host.set_output = &host_set_output;
  host.get_output = &host_get_output;
  host.add_file = &host_add_file;
  host.trace_span = &host_trace_span;
  return host;
}

// Signals a foreground nsrun passes on to the container, as docker and runc do.
constexpr int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

sigset_t forwarded_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : forwarded_signals) sigaddset(&set, sig);
  return set;
}

int pidfd_send(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

using Fd = support::UniqueFd;

// The child reports a failure as "<exit code> <message>" in one datagram, then exits.
[[noreturn]] void report_failure_and_exit(int sync_fd, const StageFailure& failure) {
  std::string datagram = std::to_string(failure.exit_code) + " " + failure.message;
  ssize_t ignored = ::send(sync_fd, datagram.data(), datagram.size(), MSG_NOSIGNAL);
  (void)ignored;
  ::_exit(failure.exit_code);
}

// Until execve, a process in the container is nsrun: the host's binary, with the host's
// descriptors and memory. Not dumpable, the container's processes (even root without
// CAP_SYS_PTRACE) cannot open its /proc/PID/exe, fd/ or mem, which is how CVE-2019-5736 reached
// runc's binary on the host. execve makes the workload dumpable again.
void make_undumpable() {
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

// In the process that becomes the workload: the pty, its master sent over `channel` (see
// terminal.hpp); a failure is reported on the sync socket. Without a pty of its own the workload
// still leaves the caller's session: it must not share the caller's controlling terminal, on
// which it could push input with TIOCSTI or take the foreground. Its stdio may still be that
// terminal, as a program run with `< /dev/tty` would.
// The sockets between nsrun and a process it clones: the sync socket, and for a terminal the
// socket its pty's master comes back through to be relayed, unless an engine's console socket
// takes it.
struct ProcessChannels {
  Fd host_end, process_end;
  Fd terminal_host_end, terminal_process_end;
  int terminal_channel = -1;  ///< where the process sends its pty's master
};

// nullopt once made; otherwise what failed.
std::optional<std::string> open_process_channels(const TerminalRequest& terminal,
                                                 int console_socket, ProcessChannels& channels) {
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0)
    return std::string("cannot create the sync socket: ") + std::strerror(errno);
  channels.host_end.reset(sockets[0]);
  channels.process_end.reset(sockets[1]);
  if (terminal.terminal && console_socket < 0) {
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0)
      return std::string("cannot create the terminal socket: ") + std::strerror(errno);
    channels.terminal_host_end.reset(sockets[0]);
    channels.terminal_process_end.reset(sockets[1]);
  }
  channels.terminal_channel =
      console_socket >= 0 ? console_socket : channels.terminal_process_end.get();
  return std::nullopt;
}

void attach_terminal_or_exit(const TerminalRequest& terminal, int channel, int sync_fd) {
  if (!terminal.terminal) {
    if (::setsid() < 0)
      report_failure_and_exit(sync_fd, {std::string("cannot start a session of the container's "
                                                    "own: ") +
                                        std::strerror(errno)});
    return;
  }
  if (auto why = become_terminal_session(channel, terminal.size))
    report_failure_and_exit(sync_fd, {*why});
  ::close(channel);
}

}  // namespace

StageFailure parse_failure_report(std::string_view datagram) {
  StageFailure failure;
  auto space = datagram.find(' ');
  if (space != std::string_view::npos) {
    failure.exit_code = std::atoi(std::string(datagram.substr(0, space)).c_str());
    failure.message = datagram.substr(space + 1);
  } else {
    failure.message = datagram;
  }
  return failure;
}

namespace {

// A peer that closed its end with datagrams of ours unread (a container process that failed
// while the host still released stages) leaves ECONNRESET, which the kernel reports once, before
// what the peer sent and is still queued: its failure report.
bool reset_by_peer(ssize_t result) {
  return result < 0 && errno == ECONNRESET;
}

}  // namespace

ssize_t receive_datagram(int fd, std::string& out) {
  // MSG_TRUNC with MSG_PEEK gives the datagram's whole length without consuming it.
  ssize_t size;
  do size = ::recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC);
  while (reset_by_peer(size));
  if (size < 0) return size;
  out.resize(std::max<std::size_t>(static_cast<std::size_t>(size), 1));
  ssize_t len = ::recv(fd, out.data(), out.size(), 0);
  out.resize(len > 0 ? static_cast<std::size_t>(len) : 0);
  return len;
}

namespace {

// The host releases the container process by sending, after a create_runtime, how many stages
// may now run their create_container: one datagram holding the count.
using ReleaseCount = std::uint32_t;

bool send_release(int sync_fd, ReleaseCount stages) {
  return ::send(sync_fd, &stages, sizeof stages, MSG_NOSIGNAL) == sizeof stages;
}

// In the container process: waits until at least `stages` stages are released; *blocked says
// whether it had to wait for the host (false: a release was already queued). False when the host
// is gone (it closed the socket, or died).
bool wait_for_release(int sync_fd, ReleaseCount stages, ReleaseCount& released,
                      bool* blocked = nullptr) {
  int flags = blocked ? MSG_DONTWAIT : 0;
  while (released < stages) {
    ReleaseCount count = 0;
    ssize_t len = ::recv(sync_fd, &count, sizeof count, flags);
    if (len < 0 && errno == EINTR) continue;
    if (len < 0 && errno == EAGAIN && flags) {
      *blocked = true;
      flags = 0;
      continue;
    }
    if (len != sizeof count) return false;
    released = count;
  }
  return true;
}

// A listening socket bound in the state directory (see lifecycle.hpp), through /proc/self/fd so
// that a long state root fits sun_path.
Fd listen_for_start(const StateDir& state) {
  Fd dir(::open(state.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw Error("cannot open " + state.path() + ": " + std::strerror(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "/proc/self/fd/%d/%s", dir.get(),
                start_socket_name);
  Fd listener(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!listener ||
      ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener.get(), 1) != 0)
    throw Error("cannot create the start socket in " + state.path() + ": " + std::strerror(errno));
  return listener;
}

// Signals whose default action ends a process. The container process is its PID namespace's
// init, which the kernel shields from every signal it has no handler for: `nsrun kill ID TERM`
// of a created container would do nothing, where runc's waiting process ends (engines stop a
// container they created and never started that way).
constexpr int ending_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};

void end_as_signalled(int sig) {
  ::_exit(128 + sig);
}

// The container process of a created container: waits for `nsrun start` to connect and send a
// byte, and returns the connection, on which it then reports like on the sync socket. Until
// then an ending signal ends it (128+N), as it would end a process that is not an init; so does
// the removal of its state directory (`state_directory`, open), which leaves no `nsrun start`
// or `delete` a way to find it (a `delete` of a container whose record was damaged).
Fd wait_for_start(int listener, int state_directory, char& go) {
  struct sigaction ending {};
  ending.sa_handler = &end_as_signalled;
  for (int sig : ending_signals) ::sigaction(sig, &ending, nullptr);
  struct RestoreDefaults {
    ~RestoreDefaults() {
      for (int sig : ending_signals) ::signal(sig, SIG_DFL);
    }
  } restore;
  while (true) {
    pollfd incoming{listener, POLLIN, 0};
    const int ready = ::poll(&incoming, 1, 1000);
    if (ready <= 0) {
      struct stat directory {};
      if (state_directory >= 0 && ::fstat(state_directory, &directory) == 0 &&
          directory.st_nlink == 0)
        ::_exit(exit_code::runtime_error);
      continue;
    }
    Fd connection(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      ::_exit(exit_code::runtime_error);
    }
    ssize_t n;
    while ((n = ::read(connection.get(), &go, 1)) < 0 && errno == EINTR) {
    }
    if (n == 1) return connection;
    // A start that died before sending its byte: keep waiting for another.
  }
}

// Writes the pid file as engines read it: the bare pid, complete before `create` returns (a
// regular file is replaced whole; /dev/null is written, not replaced).
void write_pid_file(const std::string& path, pid_t pid) {
  write_output_file("--pid-file", path, std::to_string(pid), 0644);
}

std::size_t thread_count() {
  std::size_t count = 0;
  if (DIR* dir = ::opendir("/proc/self/task")) {
    while (dirent* entry = ::readdir(dir))
      if (entry->d_name[0] != '.') ++count;
    ::closedir(dir);
  }
  return count;
}

int exit_code_of(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return info.si_status;
  return 128 + info.si_status;  // killed or dumped: 128+N, as shells report it
}

// A process that ended before its execve: `what` it is called ("core: the container process
// died during setup"), its exit status, and 128+N for a signal N.
StageFailure died_before_exec(std::string_view what, int status) {
  return {std::string(what) + " (exit status " + std::to_string(status) + ")",
          status > 128 ? status : exit_code::runtime_error};
}

constexpr std::string_view container_died_during_setup =
    "core: the container process died during setup";

int reap(int pidfd) {
  siginfo_t info{};
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED) != 0 && errno == EINTR) {
  }
  return exit_code_of(info);
}

// A span of the core's own for the trace, from construction to destruction (or end()).
class TraceStep {
 public:
  TraceStep(Tracer* tracer, const char* name)
      : tracer_(tracer), name_(name), start_(TraceClock::now()) {}
  ~TraceStep() { end(); }
  TraceStep(const TraceStep&) = delete;
  TraceStep& operator=(const TraceStep&) = delete;
  void end() {
    if (tracer_) tracer_->add(name_, start_, TraceClock::now(), TraceProcess::host);
    tracer_ = nullptr;
  }

 private:
  Tracer* tracer_;
  const char* name_;
  TraceClock::time_point start_;
};

// How a process that is to exec a command ends, as the nsrun that waits for it sees it.
struct Supervision {
  int pidfd = -1;
  /// The sync socket: a failure report, or the exec announcement then end-of-file at execve.
  int sync_fd = -1;
  /// The socket the process sends its pty's master on (a foreground terminal), or -1.
  int terminal_channel = -1;
  const sigset_t* forwarded = nullptr;
  /// What a death before execve is called: "core: the container process died during setup".
  std::string_view died_before_exec;
  /// Return as soon as the command runs (its exit is someone else's to wait for).
  bool stop_when_started = false;
  /// Run once the command runs; a failure kills the process.
  std::function<std::optional<StageFailure>()> on_started;
  /// Merges the container process's trace report and closes its open span at execve (on_started
  /// renders the trace so far).
  Tracer* tracer = nullptr;
};

struct SupervisionResult {
  std::optional<StageFailure> failure;  ///< setup failed; the process is reaped
  int exit_code = 0;                    ///< the command's, once it ran and exited
};

// The one wait loop of `nsrun run` and `nsrun exec`: forwards signals, reads the sync socket
// until execve, relays a terminal, and reaps.
SupervisionResult supervise(const Supervision& s, StderrLogger& log) {
  Fd signals(::signalfd(-1, s.forwarded, SFD_CLOEXEC));
  std::optional<TerminalRelay> terminal;
  bool waiting_for_master = s.terminal_channel >= 0;
  bool terminal_output_open = true;
  bool announced = false, started = false;
  auto died = [&](int status) {
    return SupervisionResult{died_before_exec(s.died_before_exec, status)};
  };
  while (true) {
    pollfd fds[6];
    nfds_t count = 0;
    auto watch = [&](int fd) {
      fds[count] = {fd, POLLIN, 0};
      return static_cast<int>(count++);
    };
    const int signal_slot = watch(signals.get());
    const int process_slot = watch(s.pidfd);
    // Once the exec is announced, only the end-of-file (POLLHUP, at execve or death) wakes
    // nsrun: what the process sends meanwhile (its trace report, a failure) is read then. Taken
    // in and rendered as it came, the report kept nsrun busy while the process execed, and a
    // traced run saw the execve 0.5 ms late (docs/tracing.md).
    const int sync_slot = started ? -1 : watch(s.sync_fd);
    if (announced && sync_slot >= 0) fds[sync_slot].events = 0;
    const int channel_slot = waiting_for_master ? watch(s.terminal_channel) : -1;
    const int output_slot = terminal && terminal_output_open ? watch(terminal->master()) : -1;
    const int input_slot = terminal && terminal->input() >= 0 ? watch(terminal->input()) : -1;
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      log.warn(std::string("core: poll: ") + std::strerror(errno));
    }
    if (fds[signal_slot].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGWINCH && terminal) {
          terminal->copy_window_size();  // the pty signals the container's foreground itself
        } else {
          log.debug("core: forwarding signal " + std::to_string(info.ssi_signo));
          pidfd_send(s.pidfd, static_cast<int>(info.ssi_signo));
        }
      }
    }
    if (channel_slot >= 0 && fds[channel_slot].revents) {
      waiting_for_master = false;
      if (Fd master = receive_descriptor(s.terminal_channel)) terminal.emplace(std::move(master));
    }
    if (output_slot >= 0 && fds[output_slot].revents)
      terminal_output_open = terminal->pump_output();
    if (input_slot >= 0 && fds[input_slot].revents) terminal->pump_input();
    if (sync_slot >= 0 && fds[sync_slot].revents) {
      std::string datagram;
      ssize_t len = receive_datagram(s.sync_fd, datagram);
      if (len < 0 && errno == EINTR) continue;
      if (datagram.size() == 1 && datagram[0] == exec_announcement_byte) {
        announced = true;
        continue;
      }
      if (len > 0 && s.tracer && s.tracer->merge(datagram)) continue;
      if (len > 0) {
        if (s.tracer) s.tracer->close_open_span(TraceClock::now(), /*failed=*/true);
        reap(s.pidfd);
        return {parse_failure_report(datagram)};
      }
      if (!announced) return died(reap(s.pidfd));
      started = true;  // end-of-file after the announcement: execve closed the socket
      if (s.tracer) s.tracer->close_open_span(TraceClock::now());
      if (s.on_started) {
        if (auto failure = s.on_started()) {
          pidfd_send(s.pidfd, SIGKILL);
          reap(s.pidfd);
          return {failure};
        }
      }
      if (s.stop_when_started) return {};
    }
    if (fds[process_slot].revents & POLLIN) {
      int status = reap(s.pidfd);
      // Reaped before its sync socket reported (poll saw both at once): it died during setup.
      if (!started) return died(status);
      if (terminal) terminal->drain();
      return {std::nullopt, status};
    }
  }
}

// What a hook of this container reads on stdin (see hooks.hpp).
HookState hook_state_of(const std::string& id, const std::string& bundle, const SpecDocument& spec,
                        Status status, pid_t pid) {
  HookState state{id, status, pid, bundle, {}};
  if (const auto* annotations = spec.document().if_contains("annotations");
      annotations && annotations->is_object())
    state.annotations = annotations->as_object();
  return state;
}

}  // namespace

namespace {

int namespace_flag(const std::string& type) {
  static const std::map<std::string, int> flags{
      {"pid", CLONE_NEWPID},   {"mount", CLONE_NEWNS},    {"uts", CLONE_NEWUTS},
      {"ipc", CLONE_NEWIPC},   {"network", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP},
      {"user", CLONE_NEWUSER}, {"time", CLONE_NEWTIME}};
  auto it = flags.find(type);
  if (it == flags.end())
    throw Error("namespaces: unknown namespace type \"" + type +
                "\" (known: pid, mount, uts, ipc, network, cgroup, user, time)");
  return it->second;
}

long clone_process(int extra_flags) {
  clone_args args{};
  args.flags = static_cast<std::uint64_t>(extra_flags);
  args.exit_signal = (extra_flags & CLONE_PARENT) ? 0 : SIGCHLD;
  return ::syscall(SYS_clone3, &args, sizeof args);
}

// A namespace the container joins (linux.namespaces[].path), opened on the host.
struct NamespaceToJoin {
  std::string type;
  std::string path;
  int flag = 0;
  support::UniqueFd fd;
};

// Every path is opened before any is joined: once a mount namespace is joined, the others' paths
// would resolve in it. The namespaces stage checked them in validate; this is the act.
std::vector<NamespaceToJoin> open_namespaces_to_join(const ContainerSpec& spec) {
  std::vector<NamespaceToJoin> out;
  for (const auto& ns : spec.namespaces) {
    if (ns.path.empty()) continue;
    NamespaceToJoin join{ns.type, ns.path, namespace_flag(ns.type),
                         support::UniqueFd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC))};
    if (!join.fd)
      throw Error("namespaces: cannot open the " + ns.type + " namespace " + ns.path + ": " +
                  std::strerror(errno));
    out.push_back(std::move(join));
  }
  // The user namespace last: nsrun, root of the host's user namespace, may join any of the
  // others first, and what the container is then cloned with belongs to the joined one.
  std::stable_partition(out.begin(), out.end(),
                        [](const NamespaceToJoin& join) { return join.flag != CLONE_NEWUSER; });
  return out;
}

// Clones a process that first joins namespaces (`join`, run in a short-lived intermediate), then
// gets new ones (`clone_flags`). Joining a pid namespace takes effect for children only, and a
// user namespace must be joined before the namespaces that belong to it are made, so the
// intermediate joins and clones the process as its sibling: CLONE_PARENT makes it nsrun's child.
// `run` uses it for a container with namespaces to join, `exec` for every process. Messages begin
// with `what` ("namespaces", "exec") and call the process `process`. Returns the pid in nsrun
// (with *pidfd), 0 in the new process, -1 with *failure.
long clone_through_intermediate(const std::function<std::optional<StageFailure>()>& join,
                                int clone_flags, int host_end, int child_end, int* pidfd,
                                StageFailure* failure, std::string_view what,
                                std::string_view process) {
  const std::string prefix = std::string(what) + ": ";
  long intermediate = clone_process(0);
  if (intermediate < 0) {
    *failure = {prefix + "cannot create a process: " + std::strerror(errno)};
    return -1;
  }
  if (intermediate == 0) {
    make_undumpable();  // before it joins; the process it clones inherits it
    if (auto joined = join()) report_failure_and_exit(child_end, *joined);
    long pid = clone_process(clone_flags | CLONE_PARENT);
    if (pid < 0)
      report_failure_and_exit(child_end, {prefix + "cannot create " + std::string(process) + ": " +
                                          std::strerror(errno)});
    if (pid > 0) {
      std::string message = "P" + std::to_string(pid);
      ::send(child_end, message.data(), message.size(), MSG_NOSIGNAL);
      ::_exit(0);
    }
    return 0;
  }
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(intermediate), &info, WEXITED) != 0 && errno == EINTR) {
  }
  // What the intermediate said, queued before it exited.
  char buffer[4096];
  ssize_t len = ::recv(host_end, buffer, sizeof buffer, MSG_DONTWAIT);
  if (len <= 0) {
    *failure = {prefix + "the process joining the namespaces died"};
    return -1;
  }
  if (buffer[0] != 'P') {
    *failure = parse_failure_report(std::string_view(buffer, static_cast<std::size_t>(len)));
    return -1;
  }
  long pid = std::atol(std::string(buffer + 1, static_cast<std::size_t>(len - 1)).c_str());
  *pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (*pidfd < 0) {
    *failure = {prefix + "cannot watch " + std::string(process) + ": " + std::strerror(errno)};
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return -1;
  }
  return pid;
}

}  // namespace

int clone_flags_for(const ContainerSpec& spec) {
  int result = 0;
  for (const auto& ns : spec.namespaces) {
    int flag = namespace_flag(ns.type);
    if (ns.path.empty()) result |= flag;
  }
  return result;
}

// --- SpecDocument --------------------------------------------------------------------------

// The document is kept normalised (every modelled field written as spec_to_json writes it), so
// that a stage's C++ face, which compares what it would write back with what it was given, sees
// a change only when the stage made one.
SpecDocument::SpecDocument(boost::json::object document) {
  // From the command line a word may be any bytes (`nsrun run ls $'\xff'`); a bundle's are JSON's.
  if (auto field = first_text_not_utf8(document))
    throw Error(*field + " is not UTF-8 text, and nsrun hands the spec to its stages as JSON, " +
                "which holds UTF-8 only (give it in UTF-8; a file of another name, by a glob)");
  spec_ = spec_from_json(document, "");
  document_ = spec_to_json(spec_, std::move(document));
  text_ = boost::json::serialize(document_);
  revision_ = 1;
}

void SpecDocument::replace(std::string_view text) {
  auto value = parse_json_document(text, "the spec a stage returned");
  ContainerSpec spec = spec_from_json(value, "");
  if (!value.is_object()) throw Error("the spec a stage returned is not a JSON object");
  document_ = spec_to_json(spec, std::move(value.as_object()));
  text_ = boost::json::serialize(document_);
  spec_ = std::move(spec);
  ++revision_;
}

void DebugLogObserver::on_phase(const PhaseEvent& event) noexcept {
  if (!log_.debug_enabled()) return;
  try {
    log_.debug(std::string(event.plugin) + ": " + phase_name(event.phase) + " " +
               std::to_string(event.duration_ms) + " ms" + (event.succeeded ? "" : " (failed)"));
  } catch (...) {
  }
}

// --- BoundStage ----------------------------------------------------------------------------

BoundStage::BoundStage(PipelineStage stage, const nsrun_plugin* descriptor)
    : stage_(std::move(stage)),
      config_text_(boost::json::serialize(stage_.config)),
      descriptor_(descriptor) {}

BoundStage::BoundStage(BoundStage&& other) noexcept
    : stage_(std::move(other.stage_)),
      config_text_(std::move(other.config_text_)),
      flags_text_(std::move(other.flags_text_)),
      spec_from_flags_(other.spec_from_flags_),
      descriptor_(other.descriptor_),
      instance_(other.instance_),
      spec_revision_seen_(other.spec_revision_seen_) {
  other.instance_ = nullptr;
}

BoundStage::~BoundStage() {
  release();
}

void BoundStage::release() {
  if (instance_) descriptor_->destroy(instance_);
  instance_ = nullptr;
}

void BoundStage::set_flags(const boost::json::object& flags) {
  for (const auto& [name, value] : flags)
    if (first_text_not_utf8(value))
      throw Error("--" + std::string(name) +
                  " is not UTF-8 text, and nsrun hands flags to its stages as JSON, which holds "
                  "UTF-8 only (give it in UTF-8)");
  flags_text_ = boost::json::serialize(flags);
}

std::vector<std::string> BoundStage::provides() const {
  std::vector<std::string> out;
  for (const nsrun_contract* c = descriptor_->provides; c && c->key; ++c) out.emplace_back(c->key);
  return out;
}

std::vector<std::pair<std::string, std::uint32_t>> BoundStage::needs() const {
  std::vector<std::pair<std::string, std::uint32_t>> out;
  for (const nsrun_contract* c = descriptor_->needs; c && c->key; ++c)
    out.emplace_back(c->key, c->flags);
  return out;
}

std::vector<std::string> BoundStage::claims() const {
  std::vector<std::string> out;
  for (const char* const* c = descriptor_->claims; c && *c; ++c) out.emplace_back(*c);
  return out;
}

bool BoundStage::provides_key(std::string_view key) const {
  for (const nsrun_contract* c = descriptor_->provides; c && c->key; ++c)
    if (key == c->key) return true;
  return false;
}

bool BoundStage::needs_key(std::string_view key) const {
  for (const nsrun_contract* c = descriptor_->needs; c && c->key; ++c)
    if (key == c->key) return true;
  return false;
}

std::optional<StageFailure> BoundStage::instantiate(const CallSite& site) {
  release();
  spec_revision_seen_ = 0;  // a fresh stage object has read no spec
  CallState call{this, &site, Phase::validate, {}, exit_code::runtime_error};
  nsrun_host host = host_table(call);
  instance_ = descriptor_->create(&host);
  if (instance_) return std::nullopt;
  if (call.failure.empty()) call.failure = "create returned no stage object";
  return StageFailure{stage_.kind + ": plugin " + stage_.plugin + ": " + call.failure,
                      exit_code::runtime_error};
}

std::optional<StageFailure> BoundStage::invoke(Phase phase, const CallSite& site) {
  if (!instance_)
    if (auto failure = instantiate(site)) return failure;
  CallState call{this, &site, phase, {}, exit_code::runtime_error};
  nsrun_host host = host_table(call);
  const std::string id(site.container_id);
  nsrun_call args{};
  args.struct_size = sizeof args;
  args.phase = static_cast<std::int32_t>(phase);
  args.container_id = id.c_str();
  args.state_dir = site.state_dir.c_str();
  args.state_root = site.state_root.c_str();
  args.spec_json = site.spec ? site.spec->text().c_str() : "{}";
  args.spec_revision = site.spec ? site.spec->revision() : 0;
  args.config_json = config_text_.c_str();
  args.pid = site.pid;
  args.flags_json = flags_text_.c_str();
  args.spec_source = spec_from_flags_ ? NSRUN_SPEC_FROM_FLAGS : NSRUN_SPEC_FROM_BUNDLE;
  if (descriptor_->invoke(instance_, &args, &host) == 0) {
    // After the call: a spec the stage itself replaced in prepare is one it has seen.
    spec_revision_seen_ = site.spec ? site.spec->revision() : 0;
    return std::nullopt;
  }
  if (call.failure.empty()) call.failure = "failed without a message";
  return StageFailure{stage_.kind + ": " + call.failure, call.exit_code};
}

std::vector<BoundStage> bind_pipeline(const Pipeline& pipeline, const PluginRegistry& registry) {
  std::vector<BoundStage> bound;
  for (const auto& stage : pipeline.stages) {
    const PluginRecord* plugin = registry.find(stage.plugin);
    if (!plugin) {
      if (const PluginRecord* refused = registry.find_refused(stage.plugin))
        throw Error(stage.kind + ": plugin " + stage.plugin + " was refused: " + refused->refusal);
      // Only the pipeline's plugins are loaded: which others there are, `nsrun plugins` says.
      throw Error(stage.kind + ": unknown plugin \"" + stage.plugin + "\" (no " + stage.plugin +
                  ".so in the plugin directories; nsrun plugins lists the installed ones)");
    }
    if (plugin->kind != stage.kind)
      throw Error(stage.kind + ": plugin " + stage.plugin + " (" + plugin->path +
                  ") is of kind \"" + plugin->kind + "\" and cannot fill the " + stage.kind +
                  " stage");
    bound.emplace_back(stage, plugin->descriptor);
  }
  check_contracts(bound);
  return bound;
}

namespace {

std::string stage_name(const BoundStage& stage) {
  return "the " + stage.kind() + " stage (" + stage.plugin() + ")";
}

}  // namespace

void check_contracts(const std::vector<BoundStage>& stages) {
  std::map<std::string, std::size_t> provider;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].descriptor().placement == NSRUN_PLACE_LAST && i + 1 < stages.size())
      throw Error("pipeline: " + stage_name(stages[i]) +
                  " runs the workload and must be last, but " + stage_name(stages[i + 1]) +
                  " comes after it (move it before " + stages[i].kind() + ")");
    for (const auto& key : stages[i].provides()) {
      if (key == "files" || provider.count(key) == 0) {
        provider.emplace(key, i);
        continue;
      }
      throw Error("pipeline: " + stage_name(stages[provider[key]]) + " and " +
                  stage_name(stages[i]) + " both provide \"" + key +
                  "\" (keep one of them in the pipeline)");
    }
  }
  for (std::size_t i = 0; i < stages.size(); ++i) {
    for (const auto& [key, flags] : stages[i].needs()) {
      auto it = provider.find(key);
      if (it == provider.end()) {
        if (flags & NSRUN_NEED_OPTIONAL) continue;
        throw Error("pipeline: " + stage_name(stages[i]) + " needs \"" + key +
                    "\", which no stage of the pipeline provides (add a stage that provides it)");
      }
      if (it->second > i && !(flags & NSRUN_NEED_AFTER_PREPARE))
        throw Error("pipeline: " + stage_name(stages[i]) + " needs \"" + key + "\" from " +
                    stage_name(stages[it->second]) + ", which comes after it (move " +
                    stages[it->second].kind() + " before " + stages[i].kind() + ")");
    }
  }
}

namespace {

// The config.json fields of the OCI runtime spec (1.0-1.1) that some stage has to implement for
// a spec to be honoured. ociVersion, annotations, hooks (hooks.hpp), process.terminal and
// process.consoleSize (terminal.hpp: the runtime's plumbing of stdio) are the core's; everything
// else is a stage's.
constexpr const char* claimable_fields[] = {"root",
                                            "mounts",
                                            "hostname",
                                            "domainname",
                                            "process.user",
                                            "process.args",
                                            "process.commandLine",
                                            "process.env",
                                            "process.cwd",
                                            "process.capabilities",
                                            "process.rlimits",
                                            "process.noNewPrivileges",
                                            "process.apparmorProfile",
                                            "process.oomScoreAdj",
                                            "process.selinuxLabel",
                                            "process.ioPriority",
                                            "process.scheduler",
                                            "process.execCPUAffinity",
                                            "linux.namespaces",
                                            "linux.uidMappings",
                                            "linux.gidMappings",
                                            "linux.timeOffsets",
                                            "linux.devices",
                                            "linux.cgroupsPath",
                                            "linux.resources",
                                            "linux.rootfsPropagation",
                                            "linux.seccomp",
                                            "linux.sysctl",
                                            "linux.maskedPaths",
                                            "linux.readonlyPaths",
                                            "linux.mountLabel",
                                            "linux.intelRdt",
                                            "linux.personality",
                                            "linux.memoryPolicy",
                                            "solaris",
                                            "windows",
                                            "vm",
                                            "zos"};

// Set: present with a value that asks for something. Empty strings and arrays, false, null, and
// objects of only such values ask for nothing, and neither does running as root (uid 0, gid 0),
// which is what a runtime without a user stage does.
bool asks_for_something(std::string_view path, const boost::json::value& value) {
  if (value.is_null()) return false;
  if (value.is_bool()) return value.as_bool();
  if (value.is_string()) return !value.as_string().empty();
  if (value.is_array()) return !value.as_array().empty();
  if (value.is_object()) {
    const auto& object = value.as_object();
    if (object.empty()) return false;
    if (path == "process.user") {
      for (const auto& kv : object) {
        bool root_id = (kv.key() == "uid" || kv.key() == "gid") && kv.value().is_number() &&
                       kv.value().to_number<double>() == 0;
        if (!root_id && asks_for_something("", kv.value())) return true;
      }
      return false;
    }
    for (const auto& kv : object)
      if (asks_for_something("", kv.value())) return true;
    return false;
  }
  return true;
}

const boost::json::value* field_at(const boost::json::object& spec, std::string_view path) {
  const boost::json::object* parent = &spec;
  while (true) {
    auto dot = path.find('.');
    const boost::json::value* v = parent->if_contains(path.substr(0, dot));
    if (!v || dot == std::string_view::npos) return v;
    if (!v->is_object()) return nullptr;
    parent = &v->as_object();
    path.remove_prefix(dot + 1);
  }
}

}  // namespace

void check_claims(const std::vector<BoundStage>& stages, const boost::json::object& spec,
                  bool spec_from_flags) {
  std::vector<std::string> claimed;
  for (const auto& stage : stages)
    for (const auto& claim : stage.claims()) claimed.push_back(claim);
  for (std::string_view field : claimable_fields) {
    const boost::json::value* value = field_at(spec, field);
    if (!value || !asks_for_something(field, *value)) continue;
    bool covered = false;
    for (const auto& claim : claimed)
      covered |= field == claim || (field.starts_with(claim) && field[claim.size()] == '.');
    if (!covered && spec_from_flags)
      throw Error("the pipeline has no stage for " + std::string(field) +
                  ", which nsrun run sets from its flags or their defaults (add a stage that "
                  "implements it to the pipeline, e.g. the default pipeline's)");
    if (!covered)
      throw Error("config.json: " + std::string(field) +
                  " is set but no stage in the pipeline implements it (add a stage that does, "
                  "or remove the field)");
  }
}

// --- Orchestrator --------------------------------------------------------------------------

Orchestrator::Orchestrator(std::vector<BoundStage> stages, StderrLogger& log)
    : stages_(std::move(stages)), log_(log), debug_log_(log) {
  observers_.push_back(&debug_log_);
}

int Orchestrator::run(ContainerRequest& request) {
  StateDir state(request.state_root, request.id);
  JournalFile journal_file(state.journal_path());
  auto fail = [&](const StageFailure& failure) {
    log_.error(failure.message);
    if (request.listener) request.listener->failed(failure);
    return failure.exit_code;
  };
  SpecDocument spec;
  TerminalRequest terminal;
  Hooks hooks;
  TraceStep read_spec(tracer_, "core: read the spec, check its claims and hooks");
  try {
    spec = SpecDocument(request.spec);
    check_claims(stages_, spec.document(), !stages_.empty() && stages_.front().spec_from_flags());
    terminal = terminal_request(spec.document());
    hooks = parse_hooks(spec.document());
    // As runc: a created container's terminal has nowhere to go but an engine's console socket,
    // and a console socket without a terminal would never hear from the container.
    if (terminal.terminal && request.detached && !request.console_socket)
      throw Error(
          "create: process.terminal is true but no --console-socket was given (give the "
          "socket that receives the terminal, or set process.terminal to false)");
    if (!terminal.terminal && request.console_socket)
      throw Error(
          "--console-socket was given but process.terminal is false (set it to true, "
          "or drop --console-socket)");
  } catch (const Error& e) {
    return fail({e.what(), exit_code::runtime_error});
  }
  read_spec.end();
  StageExchange exchange;
  CallSite site{request.id, state.path(), request.state_root, &spec, &journal_file, &log_,
                0,          &exchange};
  site.tracer = tracer_;

  // 1. Every stage validates before any stage acts.
  if (auto failure = run_phase(Phase::validate, site, ProcessSide::host)) return fail(*failure);

  // 2. The state directory exists from here on; everything after this point is undone by
  //    teardown, which works from what is persisted in it.
  // The lock is held until this function returns, after teardown: while it is held, `gc` and
  // `delete` know a live nsrun owns the container.
  StateLock lock;
  TraceStep create_state(tracer_, "core: create the state directory");
  try {
    lock = state.create();
  } catch (const Error& e) {
    return fail({e.what(), exit_code::runtime_error});
  }
  // Once the state directory is gone the container is deleted, and its poststop hooks run.
  auto teardown_then_poststop = [&](StateAfterTeardown after) {
    auto failures = teardown(state, spec, after);
    if (failures.empty())
      run_hooks_warning_only(hooks, HookKind::poststop,
                             hook_state_of(request.id, request.bundle, spec, Status::stopped, 0),
                             log_);
    return failures;
  };
  auto abort = [&](const StageFailure& failure) {
    log_.error(failure.message);  // the original error first, cleanup errors after it
    for (const auto& cleanup : teardown_then_poststop(StateAfterTeardown::removed))
      log_.error(cleanup.message);
    if (request.listener) request.listener->failed(failure);
    return failure.exit_code;
  };
  try {
    // state.json is written once, when the workload runs: replacing a file makes ext4 flush it
    // (auto_da_alloc), which costs a run milliseconds. Until then pipeline.json alone marks a
    // container being created, which is all teardown and `nsrun delete` need.
    state.write_pipeline(request.pipeline.to_json());
    if (!request.plugin_paths.empty()) state.write_plugin_paths(request.plugin_paths);
  } catch (const Error& e) {
    return abort({e.what(), exit_code::runtime_error});
  }
  create_state.end();

  if (auto failure = run_phase(Phase::prepare, site, ProcessSide::host)) return abort(*failure);
  if (auto failure = hand_out_final_spec(site)) return abort(*failure);
  TraceStep before_clone(tracer_, "core: save the spec, open the sockets");
  int clone_flags = 0;
  std::vector<NamespaceToJoin> joins;
  try {
    write_file_atomically(state.path() + "/config.json", spec.text());
    clone_flags = clone_flags_for(spec.spec());
    joins = open_namespaces_to_join(spec.spec());
    hooks = parse_hooks(spec.document());  // as saved: a stage's prepare may have added some
  } catch (const Error& e) {
    return abort({e.what(), exit_code::runtime_error});
  }

  // clone copies the calling thread only: a thread a stage started in validate or prepare would
  // be missing in the container process, holding whatever lock it held. Refused, not risked.
  if (std::size_t threads = thread_count(); threads > 1)
    return abort({"core: " + std::to_string(threads) +
                  " threads run before clone; a stage started a thread in validate or prepare "
                  "(stages may not: only the calling thread is copied into the container)"});

  // 3. Clone the container process. Forwarded signals are blocked first so none is lost between
  //    now and the wait loop; the child unblocks them before it runs anything.
  const SignalsHeld signals_held(forwarded_signal_set());
  const sigset_t& forwarded = signals_held.held();
  const sigset_t& original_mask = signals_held.original();

  Fd start_listener, state_directory;
  if (request.detached) {
    try {
      start_listener = listen_for_start(state);
      state_directory.reset(::open(state.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    } catch (const Error& e) {
      return abort({e.what(), exit_code::runtime_error});
    }
  }

  ProcessChannels channels;
  if (auto why = open_process_channels(terminal, request.console_socket.get(), channels))
    return abort({*why});

  int pidfd_number = -1;
  before_clone.end();
  if (tracer_) tracer_->mark_clone();
  auto start = std::chrono::steady_clock::now();
  long pid;
  if (joins.empty()) {
    clone_args args{};
    args.flags = static_cast<std::uint64_t>(clone_flags) | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd_number);
    args.exit_signal = SIGCHLD;
    pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
      return abort({std::string("namespaces: cannot create the container process: ") +
                    std::strerror(errno) + (errno == EPERM ? " (nsrun must run as root)" : "")});
  } else {
    auto join = [&joins]() -> std::optional<StageFailure> {
      for (const auto& ns : joins)
        if (::setns(ns.fd.get(), ns.flag) != 0)
          return StageFailure{"namespaces: cannot join the " + ns.type + " namespace " + ns.path +
                              ": " + std::strerror(errno)};
      return std::nullopt;
    };
    StageFailure failure;
    pid = clone_through_intermediate(join, clone_flags, channels.host_end.get(),
                                     channels.process_end.get(), &pidfd_number, &failure,
                                     "namespaces", "the container process");
    if (pid < 0) return abort(failure);
  }
  const std::size_t joins_count = joins.size();
  joins.clear();  // in both processes: the joined namespaces are held by the container process

  if (pid == 0) {
    const auto child_start = std::chrono::steady_clock::now();
    // The container process. Under a foreground `nsrun run` it dies with nsrun; a created
    // container outlives the `nsrun create` that made it.
    if (!request.detached) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    make_undumpable();
    // Its inherited copy of the state lock would hold the lock until execve.
    if (lock.fd() >= 0) ::close(lock.fd());
    ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    // The CLI ignores SIGPIPE so that a closed stderr cannot kill nsrun mid-setup; an ignored
    // signal stays ignored across execve, and the workload must get the default.
    ::signal(SIGPIPE, SIG_DFL);
    channels.host_end.reset();
    channels.terminal_host_end.reset();
    ReleaseCount released = 0;
    if (!wait_for_release(channels.process_end.get(), 1, released))
      ::_exit(exit_code::runtime_error);
    if (tracer_) {
      const auto now = std::chrono::steady_clock::now();
      tracer_->add("core: clone (in the container process)", start, child_start,
                   TraceProcess::container);
      tracer_->add("core: wait for the host's create_runtime", child_start, now,
                   TraceProcess::container);
    }
    // The state the container's own hooks read, made only when it has some: here every page
    // written is a copy-on-write fault, and making it cost about 50 µs a run. Our host pid is
    // read while /proc is still the host's (a stage mounts the container's).
    const bool container_hooks = !hooks.of(HookKind::create_container).empty() ||
                                 !hooks.of(HookKind::start_container).empty();
    HookState hook_state = container_hooks ? hook_state_of(request.id, request.bundle, spec,
                                                           Status::creating, pid_in_mounted_proc())
                                           : HookState{};
    if (auto failure = run_hooks(hooks, HookKind::create_container, hook_state, &log_))
      fail_in_container(channels.process_end.get(), {*failure});
    create_container_as_released(site, channels.process_end.get(), released);
    // The pty is opened once the container's root and /dev are in place.
    attach_terminal_or_exit(terminal, channels.terminal_channel, channels.process_end.get());
    if (request.detached) {
      // Created: tell `nsrun create` (after the spans it traces, if it does), then wait for
      // `nsrun start`, which from then on hears what happens here (its connection replaces the
      // sync socket).
      if (tracer_) tracer_->send_container_report(channels.process_end.get());
      ::send(channels.process_end.get(), &created_byte, 1, MSG_NOSIGNAL);
      char go = 0;
      Fd connection = wait_for_start(start_listener.get(), state_directory.get(), go);
      start_listener.reset();
      state_directory.reset();
      channels.process_end = std::move(connection);
      // The start is traced when `nsrun start --trace` asks, by a tracer of its own: create's
      // spans went to create.
      static Tracer start_tracer;
      set_tracer(go == start_traced_byte ? &start_tracer : nullptr);
      site.tracer = tracer_;
    }
    hook_state.status = Status::created;
    if (auto failure = run_hooks(hooks, HookKind::start_container, hook_state, &log_))
      fail_in_container(channels.process_end.get(), {*failure});
    run_to_exec(Phase::start_container, site, channels.process_end.get(),
                "exec: no stage started the workload (the pipeline needs an exec stage, e.g. "
                "nsrun.exec, last)");
  }

  channels.process_end.reset();
  start_listener.reset();  // the container process is the only one that waits on it
  state_directory.reset();
  channels.terminal_process_end.reset();
  request.console_socket.reset();  // the engine hears from the container process alone
  Fd pidfd(pidfd_number);
  if (tracer_)
    tracer_->add("core: clone", start, std::chrono::steady_clock::now(), TraceProcess::host,
                 {{"flags", clone_flags}, {"joined", joins_count}});
  if (log_.debug_enabled())
    log_.debug("core: container process " + std::to_string(pid) + " cloned in " +
               std::to_string(elapsed_ms(start)) + " ms");
  site.pid = static_cast<pid_t>(pid);
  ContainerRecord record;
  record.pid = site.pid;
  record.bundle = request.bundle;
  if (const auto* annotations = spec.document().if_contains("annotations");
      annotations && annotations->is_object())
    record.annotations = annotations->as_object();
  if (request.detached) {
    // Recorded at once, so that a `delete --force` after this nsrun is killed finds the process.
    record.status = "creating";
    record.created = rfc3339_now();
    if (auto stat = read_process_stat(site.pid)) record.pid_start_time = stat->start_time;
    try {
      state.write_state(record);
    } catch (const Error& e) {
      pidfd_send(pidfd.get(), SIGKILL);
      siginfo_t info{};
      ::waitid(P_PIDFD, static_cast<id_t>(pidfd.get()), &info, WEXITED);
      return abort({e.what(), exit_code::runtime_error});
    }
  }

  auto kill_and_abort = [&](const StageFailure& failure) {
    pidfd_send(pidfd.get(), SIGKILL);
    reap(pidfd.get());
    return abort(failure);
  };

  // 4. Host-side setup while the container process waits, then release it: stage by stage when
  //    the pipeline allows it, so that the container's create_container of the first stages
  //    runs on the other CPU while the host's create_runtime of the later ones does.
  const bool stage_by_stage = releases_stage_by_stage(hooks);
  if (log_.debug_enabled())
    log_.debug(stage_by_stage ? "core: the container process is released stage by stage"
                              : "core: the container process is released once every "
                                "create_runtime and hook ran");
  // What the container process reported before it ended (its create_container of a released
  // stage failed): it explains what the host sees next, such as the process being gone.
  auto container_report = [&]() -> std::optional<StageFailure> {
    std::string datagram;
    for (;;) {
      ssize_t queued = ::recv(channels.host_end.get(), nullptr, 0, MSG_PEEK | MSG_DONTWAIT);
      if (reset_by_peer(queued)) continue;
      if (queued < 0 || receive_datagram(channels.host_end.get(), datagram) <= 0)
        return std::nullopt;
      if (!tracer_ || !tracer_->merge(datagram)) return parse_failure_report(datagram);
    }
  };
  // A release it cannot hear: it closed its end, so it is ending; its report, or how it ended.
  auto release_or_failure = [&](std::size_t stages) -> std::optional<StageFailure> {
    if (send_release(channels.host_end.get(), static_cast<ReleaseCount>(stages)))
      return std::nullopt;
    const int send_error = errno;
    if (auto report = container_report()) return report;
    if (send_error != EPIPE && send_error != ECONNRESET)
      return StageFailure{std::string("cannot release the container process: ") +
                          std::strerror(send_error)};
    return died_before_exec(container_died_during_setup, reap(pidfd.get()));
  };
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (auto failure = run_stage(i, Phase::create_runtime, site, ProcessSide::host))
      return kill_and_abort(container_report().value_or(*failure));
    if (stage_by_stage && i + 1 < stages_.size())
      if (auto failure = release_or_failure(i + 1)) return kill_and_abort(*failure);
  }
  for (HookKind kind : {HookKind::prestart, HookKind::create_runtime})
    if (auto failure = run_hooks(
            hooks, kind,
            hook_state_of(request.id, request.bundle, spec, Status::creating, site.pid), &log_))
      return kill_and_abort({*failure});
  if (auto failure = release_or_failure(stages_.size())) return kill_and_abort(*failure);

  if (request.detached) {
    // `nsrun create`: wait until the process reports it is created (or fails), record it, and
    // leave it waiting for `nsrun start`.
    while (true) {
      std::string datagram;
      ssize_t len = receive_datagram(channels.host_end.get(), datagram);
      if (len < 0 && errno == EINTR) continue;
      if (datagram.size() == 1 && datagram[0] == created_byte) break;
      if (len > 0 && tracer_ && tracer_->merge(datagram)) continue;
      if (len > 0) {
        StageFailure failure = parse_failure_report(datagram);
        reap(pidfd.get());
        return abort(failure);
      }
      return abort(died_before_exec(container_died_during_setup, reap(pidfd.get())));
    }
    try {
      record.status = "created";
      state.write_state(record);
      if (!request.pid_file.empty()) write_pid_file(request.pid_file, site.pid);
    } catch (const Error& e) {
      return kill_and_abort({e.what(), exit_code::runtime_error});
    }
    // Created: a TERM sent meanwhile would end this nsrun as it unblocks it, and say "killed"
    // of a container that exists. runc's create finishes and says so; so does this one.
    signals_held.discard_pending();
    return 0;
  }

  // 5. Wait for execve (the sync socket closes on exec) or a failure report, forwarding signals,
  //    then for the workload's exit.
  Supervision supervision;
  supervision.pidfd = pidfd.get();
  supervision.sync_fd = channels.host_end.get();
  supervision.terminal_channel = channels.terminal_host_end.get();
  supervision.forwarded = &forwarded;
  supervision.died_before_exec = container_died_during_setup;
  supervision.tracer = tracer_;
  const auto released = std::chrono::steady_clock::now();
  auto workload_started = released;
  supervision.on_started = [&]() -> std::optional<StageFailure> {
    workload_started = std::chrono::steady_clock::now();
    if (tracer_)
      tracer_->add("core: wait for the container to exec", released, workload_started,
                   TraceProcess::host);
    if (log_.debug_enabled())
      log_.debug("core: workload started " + std::to_string(elapsed_ms(start)) + " ms after clone");
    try {
      record.status = "running";
      record.created = rfc3339_now();
      if (auto stat = read_process_stat(site.pid)) record.pid_start_time = stat->start_time;
      state.write_state(record);
    } catch (const Error& e) {
      log_.warn(e.what());
    }
    // `run --pid-file` (runc's): complete once the workload runs, before `run -d` returns.
    if (!request.pid_file.empty()) {
      try {
        write_pid_file(request.pid_file, site.pid);
      } catch (const Error& e) {
        return StageFailure{e.what(), exit_code::runtime_error};
      }
    }
    if (auto failure = run_phase(Phase::poststart, site, ProcessSide::host)) return failure;
    run_hooks_warning_only(
        hooks, HookKind::poststart,
        hook_state_of(request.id, request.bundle, spec, Status::running, site.pid), log_);
    if (request.listener) request.listener->started(site.pid);
    if (tracer_) tracer_->render_ahead();  // while the workload runs
    return std::nullopt;
  };
  SupervisionResult result = supervise(supervision, log_);
  if (result.failure) return abort(*result.failure);
  const int exit_code = result.exit_code;
  if (tracer_)
    tracer_->add("workload", workload_started, std::chrono::steady_clock::now(),
                 TraceProcess::container, {{"exit code", exit_code}});

  // 6. Teardown. Errors are reported, but the workload's exit code stays nsrun's exit code.
  if (request.listener) request.listener->exited(exit_code);
  // A pause, resume or update of another nsrun may be changing the container (it does not wait
  // for this nsrun's lock while the workload runs): it finishes first (StateDir's changes lock).
  std::optional<StateLock> changes;
  try {
    changes = state.lock_changes_within(10000);
    if (!changes) log_.warn("core: another nsrun still changes the container; tearing it down");
  } catch (const Error& e) {
    log_.warn(e.what());
  }
  const auto after =
      request.keep_record ? StateAfterTeardown::record_kept : StateAfterTeardown::removed;
  for (const auto& failure : teardown_then_poststop(after)) log_.error(failure.message);
  if (request.keep_record) {
    record.status = "stopped";
    record.exit_code = exit_code;
    record.finished = rfc3339_now();
    try {
      state.write_state(record);
    } catch (const Error& e) {
      log_.warn(e.what());
    }
  }
  return exit_code;
}

void Orchestrator::run_to_exec(Phase phase, const CallSite& site, int sync_fd,
                               const char* none_ran) {
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    // Announce the hand-over to the last (exec) stage: an EOF after this means execve ran; an
    // EOF before it means the process died during setup.
    if (i + 1 == stages_.size()) {
      ::send(sync_fd, &exec_announcement_byte, 1, MSG_NOSIGNAL);
      // After the announcement: the host, which from then on waits for the end-of-file alone
      // (supervise), reads the report once execve ran, not while this process execs.
      if (tracer_)
        tracer_->send_container_report(sync_fd, stages_[i].plugin(), stages_[i].kind(),
                                       phase_name(phase));
    }
    if (auto failure = run_stage(i, phase, site, ProcessSide::container))
      fail_in_container(sync_fd, *failure);
  }
  fail_in_container(sync_fd, {none_ran});
}

void Orchestrator::fail_in_container(int sync_fd, const StageFailure& failure) {
  if (tracer_) tracer_->send_container_report(sync_fd);
  report_failure_and_exit(sync_fd, failure);
}

// A stage before the last one to change the spec in prepare holds an older spec. It would read
// the final one in its first call after the clone, in both processes, where every page it writes
// is copied; it reads it here instead, once, and the container process inherits what it read.
std::optional<StageFailure> Orchestrator::hand_out_final_spec(const CallSite& site) {
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    const BoundStage& stage = stages_[i];
    if (stage.descriptor().api_minor < spec_final_minor) continue;  // reads it in its next call
    if (site.spec && stage.spec_revision_seen() == site.spec->revision()) continue;
    if (auto failure = run_stage(i, Phase::spec_final, site, ProcessSide::host)) return failure;
  }
  return std::nullopt;
}

bool Orchestrator::releases_stage_by_stage(const Hooks& hooks) const {
  // OCI: createRuntime and prestart hooks run once the whole runtime environment exists, and
  // createContainer hooks before any of the container's setup.
  for (HookKind kind : {HookKind::prestart, HookKind::create_runtime, HookKind::create_container})
    if (!hooks.of(kind).empty()) return false;
  // Before SDK 2.5 a stage's create_container was promised every stage's create_runtime.
  return std::all_of(stages_.begin(), stages_.end(), [](const BoundStage& stage) {
    return stage.descriptor().api_minor >= stage_by_stage_release_minor;
  });
}

void Orchestrator::create_container_as_released(const CallSite& site, int sync_fd,
                                                std::uint32_t released) {
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    if (released <= i) {
      const auto wait_start = std::chrono::steady_clock::now();
      bool blocked = false;
      if (!wait_for_release(sync_fd, static_cast<ReleaseCount>(i + 1), released, &blocked))
        ::_exit(exit_code::runtime_error);
      if (tracer_ && blocked)
        tracer_->add({"core: wait for the host's create_runtime of ", stages_[i].plugin()},
                     wait_start, std::chrono::steady_clock::now(), TraceProcess::container);
    }
    if (auto failure = run_stage(i, Phase::create_container, site, ProcessSide::container))
      fail_in_container(sync_fd, *failure);
  }
}

std::optional<StageFailure> Orchestrator::run_phase(Phase phase, const CallSite& site,
                                                    ProcessSide side) {
  for (std::size_t i = 0; i < stages_.size(); ++i)
    if (auto failure = run_stage(i, phase, site, side)) return failure;
  return std::nullopt;
}

// Every phase call of every stage passes here: the instrumentation hook.
std::optional<StageFailure> Orchestrator::run_stage(std::size_t index, Phase phase,
                                                    const CallSite& site, ProcessSide side) {
  // The phases SDK 2.1 added reach only plugins built against 2.1 or later: a 2.0 plugin's
  // dispatcher would refuse a phase it does not know.
  if (phase >= Phase::exec_prepare && stages_[index].descriptor().api_minor < 1)
    return std::nullopt;
  if (tracer_)
    tracer_->begin_phase(stages_[index].plugin(), stages_[index].kind(), phase_name(phase),
                         side == ProcessSide::host ? TraceProcess::host : TraceProcess::container);
  auto start = std::chrono::steady_clock::now();
  std::optional<StageFailure> failure;
  if (phase == Phase::teardown || phase == Phase::pause || phase == Phase::resume ||
      phase == Phase::update) {
    // A fresh stage object: teardown must work from the persisted journal alone, as it does
    // after a crash, so it is never allowed to lean on memory from setup.
    failure = stages_[index].instantiate(site);
  }
  if (!failure) failure = stages_[index].invoke(phase, site);
  if (tracer_) tracer_->end_phase(!failure);
  PhaseEvent event{stages_[index].plugin(),
                   stages_[index].kind(),
                   phase,
                   side,
                   start,
                   elapsed_ms(start),
                   !failure};
  for (auto* observer : observers_) observer->on_phase(event);
  return failure;
}

std::vector<StageFailure> Orchestrator::teardown(const StateDir& state, SpecDocument& spec,
                                                 StateAfterTeardown after) {
  std::vector<StageFailure> failures;
  JournalFile journal_file(state.journal_path());
  CallSite site{state.id(), state.path(), state.root(), &spec, &journal_file, &log_, 0};
  site.tracer = tracer_;
  for (std::size_t i = stages_.size(); i-- > 0;)
    if (auto failure = run_stage(i, Phase::teardown, site, ProcessSide::host))
      failures.push_back(*failure);
  if (failures.empty()) {
    TraceStep remove_state(tracer_, "core: remove the state directory");
    try {
      if (after == StateAfterTeardown::record_kept)
        state.remove_all_but_record();
      else
        state.remove();
    } catch (const Error& e) {
      failures.push_back({e.what()});
    }
  } else {
    failures.push_back({"core: state kept in " + state.path() +
                        " so the teardown can be retried (nsrun delete --force " + state.id() +
                        ")"});
  }
  return failures;
}

std::vector<StageFailure> Orchestrator::run_on_state(Phase phase, const StateDir& state,
                                                     SpecDocument& spec) {
  std::vector<StageFailure> failures;
  JournalFile journal_file(state.journal_path());
  CallSite site{state.id(), state.path(), state.root(), &spec, &journal_file, &log_, 0};
  site.tracer = tracer_;
  for (std::size_t i = 0; i < stages_.size(); ++i)
    if (auto failure = run_stage(i, phase, site, ProcessSide::host)) failures.push_back(*failure);
  return failures;
}

namespace {

// The namespaces of `target` that differ from ours, as setns flags. Joining one we share is
// pointless, and for the user namespace an error.
int namespaces_to_join(pid_t target) {
  static const std::pair<const char*, int> kinds[] = {
      {"mnt", CLONE_NEWNS},    {"uts", CLONE_NEWUTS},  {"ipc", CLONE_NEWIPC},
      {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID},  {"cgroup", CLONE_NEWCGROUP},
      {"user", CLONE_NEWUSER}, {"time", CLONE_NEWTIME}};
  auto link = [](const std::string& path) {
    char buffer[128];
    ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  };
  int flags = 0;
  for (const auto& [name, flag] : kinds) {
    std::string theirs = link("/proc/" + std::to_string(target) + "/ns/" + name);
    if (!theirs.empty() && theirs != link(std::string("/proc/self/ns/") + name)) flags |= flag;
  }
  return flags;
}

}  // namespace

int Orchestrator::exec(const StateDir& state, int container_pidfd, pid_t container_pid,
                       ExecRequest& request) {
  JournalFile journal_file(state.journal_path());
  SpecDocument spec;
  TerminalRequest terminal;
  try {
    spec = SpecDocument(std::move(request.spec));
    terminal = terminal_request(spec.document());
    if (terminal.terminal && request.detached && !request.console_socket)
      throw Error(
          "exec: a terminal (--tty) with --detach needs --console-socket (the socket that "
          "receives the terminal)");
    if (!terminal.terminal && request.console_socket)
      throw Error(
          "exec: --console-socket was given without --tty (add --tty, or drop "
          "--console-socket)");
  } catch (const Error& e) {
    log_.error(e.what());
    return exit_code::runtime_error;
  }
  StageExchange exchange;
  CallSite site{state.id(), state.path(), state.root(), &spec, &journal_file, &log_, 0, &exchange};
  site.tracer = tracer_;
  auto fail = [&](const StageFailure& failure) {
    log_.error(naming_flags(failure.message, request.fields_from_flags));
    return failure.exit_code;
  };
  // exec_prepare runs before the process exists: its stages see the container's (init's) pid,
  // to read what the container holds as root through /proc/PID/root (the exec stage's HOME).
  site.pid = container_pid;
  if (auto failure = run_phase(Phase::exec_prepare, site, ProcessSide::host)) return fail(*failure);
  site.pid = 0;
  if (std::size_t threads = thread_count(); threads > 1)
    return fail({"core: " + std::to_string(threads) +
                 " threads run before clone; a stage started a thread in exec_prepare"});
  const int join_flags = namespaces_to_join(container_pid);

  const SignalsHeld signals_held(forwarded_signal_set());
  const sigset_t& forwarded = signals_held.held();
  const sigset_t& original_mask = signals_held.original();

  ProcessChannels channels;
  if (auto why = open_process_channels(terminal, request.console_socket.get(), channels))
    return fail({*why});

  // A process joins the container's namespaces and clones the one that runs the command, which
  // this nsrun waits for and reaps (clone_through_intermediate).
  if (tracer_) tracer_->mark_clone();
  const auto clone_start = std::chrono::steady_clock::now();
  auto join = [&]() -> std::optional<StageFailure> {
    if (::setns(container_pidfd, join_flags) != 0)
      return StageFailure{std::string("exec: cannot join the container's namespaces: ") +
                          std::strerror(errno)};
    return std::nullopt;
  };
  StageFailure clone_failure;
  int pidfd_number = -1;
  long cloned =
      clone_through_intermediate(join, 0, channels.host_end.get(), channels.process_end.get(),
                                 &pidfd_number, &clone_failure, "exec", "the process");
  if (cloned < 0) return fail(clone_failure);
  if (cloned == 0) {
    // The process that becomes the command, in every namespace of the container.
    const auto process_start = std::chrono::steady_clock::now();
    channels.host_end.reset();
    channels.terminal_host_end.reset();
    if (!request.detached) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    char go = 0;
    if (::read(channels.process_end.get(), &go, 1) != 1) ::_exit(exit_code::runtime_error);
    if (tracer_)
      tracer_->add("core: wait for the host's exec_runtime", process_start,
                   std::chrono::steady_clock::now(), TraceProcess::container);
    attach_terminal_or_exit(terminal, channels.terminal_channel, channels.process_end.get());
    run_to_exec(Phase::exec_container, site, channels.process_end.get(),
                "exec: no stage ran the command (the pipeline's exec stage must be built against "
                "SDK 2.1 or later)");
  }
  channels.process_end.reset();
  channels.terminal_process_end.reset();
  request.console_socket.reset();
  const pid_t pid = static_cast<pid_t>(cloned);
  Fd pidfd(pidfd_number);
  auto kill_and_fail = [&](const StageFailure& failure) {
    pidfd_send(pidfd.get(), SIGKILL);
    reap(pidfd.get());
    return fail(failure);
  };
  if (tracer_)
    tracer_->add("core: join the container (a process joins its namespaces, clones the command's)",
                 clone_start, std::chrono::steady_clock::now(), TraceProcess::host,
                 {{"namespaces", join_flags}});
  site.pid = pid;
  if (auto failure = run_phase(Phase::exec_runtime, site, ProcessSide::host))
    return kill_and_fail(*failure);
  char go = 1;
  if (::write(channels.host_end.get(), &go, 1) != 1)
    return kill_and_fail(
        {std::string("exec: cannot release the process: ") + std::strerror(errno)});

  Supervision supervision;
  supervision.pidfd = pidfd.get();
  supervision.sync_fd = channels.host_end.get();
  supervision.terminal_channel = channels.terminal_host_end.get();
  supervision.forwarded = &forwarded;
  supervision.died_before_exec = "exec: the process died before it ran the command";
  supervision.stop_when_started = request.detached;
  supervision.tracer = tracer_;
  const auto released = std::chrono::steady_clock::now();
  auto command_started = released;
  supervision.on_started = [&]() -> std::optional<StageFailure> {
    command_started = std::chrono::steady_clock::now();
    if (tracer_)
      tracer_->add("core: wait for the command to exec", released, command_started,
                   TraceProcess::host);
    // Detached, it lives on; its parent after us is whoever adopts orphans (an engine).
    // runc writes it with or without --detach: an engine reads it while the command runs.
    if (!request.pid_file.empty()) {
      try {
        write_pid_file(request.pid_file, pid);
      } catch (const Error& e) {
        return StageFailure{e.what(), exit_code::runtime_error};
      }
    }
    if (tracer_ && !request.detached) tracer_->render_ahead();  // while the command runs
    return std::nullopt;
  };
  SupervisionResult result = supervise(supervision, log_);
  if (result.failure) return fail(*result.failure);
  if (tracer_ && !request.detached)
    tracer_->add("command", command_started, std::chrono::steady_clock::now(),
                 TraceProcess::container, {{"exit code", result.exit_code}});
  return result.exit_code;
}

std::vector<std::string> teardown_from_state(const StateDir& state, const PluginRegistry& registry,
                                             StderrLogger& log) {
  // The stages to undo are pipeline.json's. Should it be missing or damaged (a crash, a disk, a
  // hand), the journal still names every plugin that created something, in creation order, and
  // teardown needs nothing else: those stages are torn down, in reverse order, with the kinds
  // their plugins declare. With neither, no stage created anything: only the directory is left.
  std::optional<Pipeline> pipeline;
  const std::string pipeline_path = state.path() + "/pipeline.json";
  if (::access(pipeline_path.c_str(), F_OK) == 0) {
    try {
      pipeline = Pipeline::from_json(state.read_pipeline(), pipeline_path);
    } catch (const Error& e) {
      log.warn(std::string(e.what()) + "; tearing down the stages the journal names instead");
    }
  }
  if (!pipeline) {
    pipeline.emplace();
    for (const auto& plugin : JournalFile(state.journal_path()).stages()) {
      const PluginRecord* record = registry.find(plugin);
      if (!record)
        return {"the journal names plugin " + plugin +
                ", which is not installed here, and pipeline.json is gone (install it and run "
                "nsrun delete again)"};
      pipeline->stages.push_back({record->kind, plugin, {}});
    }
    if (pipeline->stages.empty()) {
      if (!state.is_nsruns())
        return {state.path() + " is not a container of nsrun's; left as it is"};
      try {
        state.remove();
      } catch (const Error& e) {
        return {e.what()};
      }
      return {};
    }
  }
  SpecDocument spec;
  try {
    auto document = read_json_file(state.path() + "/config.json", "state");
    if (document.is_object()) spec = SpecDocument(std::move(document.as_object()));
  } catch (const Error&) {
    // prepare never finished, so no stage created anything that needs the spec to be found.
  }
  // The poststop hooks and what they read, taken before the teardown removes the directory.
  Hooks hooks;
  try {
    hooks = parse_hooks(spec.document());
  } catch (const Error& e) {
    log.warn(std::string("poststop hooks: ") + e.what());
  }
  std::optional<ContainerRecord> record = state.read_record();
  Orchestrator orchestrator(bind_pipeline(*pipeline, registry), log);
  std::vector<std::string> errors;
  for (const auto& failure : orchestrator.teardown(state, spec)) errors.push_back(failure.message);
  if (errors.empty())
    run_hooks_warning_only(
        hooks, HookKind::poststop,
        hook_state_of(state.id(), record ? record->bundle : "", spec, Status::stopped, 0), log);
  return errors;
}

}  // namespace nsrun::core
