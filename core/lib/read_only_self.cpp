// Re-executing nsrun from a read-only bind mount of itself (see read_only_self.hpp).
#include "nsrun/core/read_only_self.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "nsrun/core/json_util.hpp"

extern char** environ;

namespace nsrun::core {
namespace {

constexpr const char* binary_variable = "NSRUN_BINARY";

std::string& installed_path() {
  static std::string path;
  return path;
}

std::string read_self_exe() {
  char buffer[4096];
  ssize_t len = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  return len > 0 ? std::string(buffer, static_cast<std::size_t>(len)) : std::string();
}

// struct mount_attr as of Linux 5.12 (MOUNT_ATTR_SIZE_VER0).
struct MountAttributes {
  std::uint64_t attr_set;
  std::uint64_t attr_clr;
  std::uint64_t propagation;
  std::uint64_t userns_fd;
};

[[noreturn]] void fail(const char* step) {
  int err = errno;
  throw Error(std::string("cannot protect nsrun's binary from the container (CVE-2019-5736): ") +
              step + ": " + std::strerror(err) +
              (err == EPERM    ? " (nsrun must run as root)"
               : err == ENOSYS ? " (nsrun needs Linux 5.12 or later)"
                               : ""));
}

}  // namespace

void take_reexec_environment() {
  if (const char* path = std::getenv(binary_variable)) {
    installed_path() = path;
    ::unsetenv(binary_variable);
  }
}

std::string installed_binary_path() {
  if (!installed_path().empty()) return installed_path();
  return read_self_exe();
}

void reexec_from_read_only_binary(char** argv) {
  struct statvfs self {};
  if (::statvfs("/proc/self/exe", &self) == 0 && (self.f_flag & ST_RDONLY)) return;
  std::string binary = installed_binary_path();
  int tree = static_cast<int>(
      ::syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (tree < 0) fail("open_tree");
  MountAttributes read_only{MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0};
  if (::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &read_only, sizeof read_only) != 0)
    fail("mount_setattr");
  if (!binary.empty()) ::setenv(binary_variable, binary.c_str(), 1);
  ::syscall(SYS_execveat, tree, "", argv, environ, AT_EMPTY_PATH);
  ::unsetenv(binary_variable);
  fail("execveat");
}

}  // namespace nsrun::core
