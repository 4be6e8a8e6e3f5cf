#include "e2e.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace nsrun::test {
namespace fs = std::filesystem;

CommandResult run(const std::vector<std::string>& argv, const std::string& input,
                  int timeout_seconds, const std::string& cwd) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) || ::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(120);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (!input.empty()) {
    ssize_t ignored = ::write(in_pipe[1], input.data(), input.size());
    (void)ignored;
  }
  ::close(in_pipe[1]);
  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  bool timed_out = false;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[4096];
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (timed_out)
    result.exit_code = -1;
  else if (WIFEXITED(status))
    result.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    result.exit_code = 128 + WTERMSIG(status);
  return result;
}

std::vector<std::string> delete_every_container(const std::string& state_root) {
  namespace fs = std::filesystem;
  for (const auto& entry : fs::directory_iterator(state_root)) {
    auto name = entry.path().filename().string();
    if (name.front() != '_') run({nsrun_binary(), "--root", state_root, "delete", "--force", name});
  }
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(state_root))
    if (entry.path().filename().string().front() != '_') left.push_back(entry.path().filename());
  return left;
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CommandResult sh(const std::string& command_line, int timeout_seconds) {
  return run({"/bin/sh", "-c", command_line}, "", timeout_seconds);
}

std::string nsrun_binary() {
  return NSRUN_TEST_BINARY;
}

std::string busybox_rootfs() {
  static const std::string path = [] {
    std::string dir = std::string(NSRUN_TEST_WORKDIR) + "/busybox-rootfs";
    // Several test binaries may start at once: one creates the rootfs, the others wait.
    std::string lock_path = dir + ".lock";
    int lock = ::open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    ::flock(lock, LOCK_EX);
    if (!fs::exists(dir + "/bin/busybox")) {
      fs::remove_all(dir);
      auto result = run({nsrun_binary(), "rootfs", "create", dir});
      if (result.exit_code != 0)
        throw std::runtime_error("cannot create the test rootfs: " + result.err);
    }
    ::close(lock);
    return dir;
  }();
  return path;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

CommandResult nsrun_run(const std::vector<std::string>& args, const std::string& state_root,
                        const std::string& input, int timeout_seconds, const std::string& cwd) {
  std::vector<std::string> argv{nsrun_binary(), "--root",   state_root,
                                "run",          "--rootfs", busybox_rootfs()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, input, timeout_seconds, cwd);
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execv(args[0], args.data());
    ::_exit(127);
  }
}

BackgroundProcess::~BackgroundProcess() {
  if (reaped_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

int BackgroundProcess::wait() {
  int status = 0;
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

NetnsGuard::NetnsGuard(const std::string& name) : name_(name) {
  auto result = run({"ip", "netns", "add", name_});
  if (result.exit_code != 0) throw std::runtime_error("ip netns add " + name_ + ": " + result.err);
  run({"ip", "netns", "exec", name_, "ip", "link", "set", "lo", "up"});
}

NetnsGuard::~NetnsGuard() {
  run({"ip", "netns", "delete", name_});
}

std::vector<std::string> NetnsGuard::exec(std::vector<std::string> argv) const {
  std::vector<std::string> full{"ip", "netns", "exec", name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> mounts_containing(const std::string& needle) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> found;
  std::string line;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) found.push_back(line);
  return found;
}

bool in_throwaway_netns() {
  struct stat self {};
  if (::stat("/proc/self/ns/net", &self) != 0 || !fs::is_directory("/run/netns")) return false;
  for (const auto& entry : fs::directory_iterator("/run/netns")) {
    struct stat other {};
    if (entry.path().filename().string().starts_with("nsrun-test-") &&
        ::stat(entry.path().c_str(), &other) == 0 && other.st_dev == self.st_dev &&
        other.st_ino == self.st_ino)
      return true;
  }
  return false;
}

}  // namespace nsrun::test
