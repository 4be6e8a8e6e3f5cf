#include "nsrun/cgroups/host.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace nsrun::cgroups {
namespace {

int write_all(int fd, std::string_view value) {
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  return static_cast<std::size_t>(n) == value.size() ? 0 : EIO;
}

}  // namespace

int LinuxHost::read_file(const std::string& path, std::string& out) {
  int fd = ::open(real(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out.clear();
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      return error;
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return 0;
}

int LinuxHost::write_file(const std::string& path, std::string_view value) {
  // No O_CREAT: a cgroupfs file exists or its controller is missing. O_TRUNC is what runc does
  // (cgroupfs ignores it) and keeps one value in the regular files of a unit test's tree.
  int fd = ::open(real(path).c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno;
  int error = write_all(fd, value);
  ::close(fd);
  return error;
}

int LinuxHost::make_dir(const std::string& path) {
  return ::mkdir(real(path).c_str(), 0755) == 0 ? 0 : errno;
}

int LinuxHost::remove_dir(const std::string& path) {
  return ::rmdir(real(path).c_str()) == 0 ? 0 : errno;
}

bool LinuxHost::is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(real(path).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int LinuxHost::open_for_write(const std::string& path) {
  int fd = ::open(real(path).c_str(), O_WRONLY | O_CLOEXEC);
  return fd >= 0 ? fd : -errno;
}

int LinuxHost::write_fd(int fd, std::string_view value) {
  return write_all(fd, value);
}

void LinuxHost::close_fd(int fd) {
  ::close(fd);
}

int LinuxHost::kill_process(pid_t pid, int signal) {
  return ::kill(pid, signal) == 0 ? 0 : errno;
}

void LinuxHost::sleep_for(std::chrono::microseconds duration) {
  std::this_thread::sleep_for(duration);
}

int LinuxHost::attach_device_program(const std::string& dir, const std::vector<bpf_insn>& program,
                                     std::string& verifier_log) {
  // No libbpf: two bpf(2) calls are all it takes.
  static const char license[] = "Apache";
  char log_buffer[4096] = {};
  bpf_attr load;
  std::memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<std::uintptr_t>(program.data());
  load.insn_cnt = static_cast<std::uint32_t>(program.size());
  load.license = reinterpret_cast<std::uintptr_t>(license);
  load.log_buf = reinterpret_cast<std::uintptr_t>(log_buffer);
  load.log_size = sizeof log_buffer;
  load.log_level = 1;
  int program_fd = static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load));
  if (program_fd < 0) {
    int error = errno;
    verifier_log = log_buffer;
    while (!verifier_log.empty() && verifier_log.back() == '\n') verifier_log.pop_back();
    if (auto last = verifier_log.rfind('\n'); last != std::string::npos)
      verifier_log = verifier_log.substr(last + 1);  // the verifier's verdict is its last line
    return error;
  }
  int dir_fd = ::open(real(dir).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    int error = errno;
    ::close(program_fd);
    return error;
  }
  bpf_attr attach;
  std::memset(&attach, 0, sizeof attach);
  attach.target_fd = static_cast<std::uint32_t>(dir_fd);
  attach.attach_bpf_fd = static_cast<std::uint32_t>(program_fd);
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  int result = static_cast<int>(::syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach));
  int error = result < 0 ? errno : 0;
  // The attachment holds the program: both descriptors can go.
  ::close(dir_fd);
  ::close(program_fd);
  return error;
}

}  // namespace nsrun::cgroups
