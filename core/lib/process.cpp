#include "nsrun/core/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "nsrun/support/files.hpp"

namespace nsrun::core {
namespace {

std::optional<std::string> read_proc(pid_t pid, const char* entry) {
  return support::read_file("/proc/" + std::to_string(pid) + "/" + entry);
}

std::string link_target(const std::string& path) {
  char buffer[256];
  ssize_t n = ::readlink(path.c_str(), buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> pids;
  if (DIR* dir = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(dir)) {
      char* end = nullptr;
      long pid = std::strtol(entry->d_name, &end, 10);
      if (pid > 0 && end && *end == '\0') pids.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(dir);
  }
  return pids;
}

}  // namespace

std::optional<ProcessStat> read_process_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto text = read_proc(pid, "stat");
  if (!text) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. The start time is field 22, the 20th after the state.
  auto close = text->rfind(')');
  if (close == std::string::npos || close + 2 >= text->size()) return std::nullopt;
  ProcessStat stat;
  stat.state = (*text)[close + 2];
  const char* cursor = text->c_str() + close + 2;
  for (int field = 3; field < 22; ++field) {
    cursor = std::strchr(cursor, ' ');
    if (!cursor) return std::nullopt;
    ++cursor;
  }
  stat.start_time = std::strtoull(cursor, nullptr, 10);
  return stat;
}

pid_t pid_in_mounted_proc() {
  std::string self = link_target("/proc/self");
  char* end = nullptr;
  long pid = std::strtol(self.c_str(), &end, 10);
  return !self.empty() && end && *end == '\0' && pid > 0 ? static_cast<pid_t>(pid) : 0;
}

support::UniqueFd open_process(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0) return support::UniqueFd();
  support::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return pidfd;
  auto stat = read_process_stat(pid);
  if (!stat || stat->start_time != start_time || stat->state == 'Z' || stat->state == 'X')
    return support::UniqueFd();
  return pidfd;
}

bool signal_process(int pidfd, int signal) {
  return ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) == 0;
}

bool wait_for_exit(int pidfd, int timeout_ms) {
  pollfd fd{pidfd, POLLIN, 0};
  while (true) {
    int n = ::poll(&fd, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

std::vector<ProcessId> container_processes(pid_t init) {
  std::vector<ProcessId> out;
  const std::string init_dir = "/proc/" + std::to_string(init);
  std::string init_pid_ns = link_target(init_dir + "/ns/pid");
  if (init_pid_ns.empty()) return out;
  bool own_pid_namespace = init_pid_ns != link_target("/proc/self/ns/pid");
  auto init_cgroups = read_proc(init, "cgroup");
  for (pid_t pid : all_pids()) {
    bool member;
    if (own_pid_namespace) {
      member = link_target("/proc/" + std::to_string(pid) + "/ns/pid") == init_pid_ns;
    } else {
      // Without a pid namespace of its own, the container is its cgroups: a process is in it when
      // it is in the same cgroup of every hierarchy.
      auto cgroups = read_proc(pid, "cgroup");
      member = init_cgroups && cgroups && *cgroups == *init_cgroups;
    }
    if (member) {
      auto stat = read_process_stat(pid);
      if (stat && stat->state != 'Z') out.push_back({pid, stat->start_time});
    }
  }
  return out;
}

SignalsHeld::SignalsHeld(const sigset_t& held) : held_(held) {
  ::sigprocmask(SIG_BLOCK, &held_, &original_);
}

SignalsHeld::~SignalsHeld() {
  ::sigprocmask(SIG_SETMASK, &original_, nullptr);
}

void SignalsHeld::discard_pending() const {
  const timespec now{};
  while (::sigtimedwait(&held_, nullptr, &now) > 0) {
  }
}

std::optional<int> parse_signal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    if (text.size() > 3) return std::nullopt;
    int number = std::atoi(std::string(text).c_str());
    if (number <= 0 || number >= NSIG) return std::nullopt;
    return number;
  }
  std::string name(text);
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.starts_with("SIG")) name.erase(0, 3);
  for (int sig = 1; sig < NSIG; ++sig)
    if (const char* abbrev = ::sigabbrev_np(sig); abbrev && name == abbrev) return sig;
  return std::nullopt;
}

}  // namespace nsrun::core
