// The real kernel calls behind nsrun::security::Host.
#include "nsrun/security/host.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace nsrun::security {

namespace {

int result(int rc) {
  return rc == 0 ? 0 : errno;
}

}  // namespace

int LinuxHost::last_capability() {
  return static_cast<int>(cap_max_bits()) - 1;
}

std::vector<int> LinuxHost::permitted_capabilities() {
  std::vector<int> held;
  cap_t caps = cap_get_proc();  // one capget(2) for all of them
  if (!caps) return held;
  for (int cap = 0; cap <= last_capability(); ++cap) {
    cap_flag_value_t value = CAP_CLEAR;
    cap_get_flag(caps, static_cast<cap_value_t>(cap), CAP_PERMITTED, &value);
    if (value == CAP_SET) held.push_back(cap);
  }
  cap_free(caps);
  return held;
}

int LinuxHost::write_file(const std::string& path, std::string_view value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno;
  // /proc files take a value in one write(2); a short write is a refusal, not progress.
  ssize_t written = ::write(fd, value.data(), value.size());
  int error = written < 0 ? errno : (static_cast<std::size_t>(written) == value.size() ? 0 : EIO);
  ::close(fd);
  return error;
}

int LinuxHost::path_kind(const std::string& path, PathKind& kind) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) return errno;
    kind = PathKind::missing;
    return 0;
  }
  kind = S_ISDIR(st.st_mode) ? PathKind::directory : PathKind::file;
  return 0;
}

int LinuxHost::bind_mount(const std::string& source, const std::string& target, bool recursive) {
  unsigned long flags = MS_BIND | (recursive ? MS_REC : 0);
  return result(::mount(source.c_str(), target.c_str(), nullptr, flags, nullptr));
}

int LinuxHost::mount_readonly_tmpfs(const std::string& target) {
  return result(::mount("tmpfs", target.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, ""));
}

int LinuxHost::make_readonly(const std::string& target) {
  // mount_setattr(2) with AT_RECURSIVE makes the whole subtree read-only in one call; a plain
  // MS_REMOUNT would leave the submounts (e.g. binfmt_misc under /proc/sys) writable.
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(AT_FDCWD, target.c_str(), AT_RECURSIVE, &attr, sizeof attr) == 0) return 0;
  if (errno != ENOSYS) return errno;
  // Kernels before 5.12: the top mount only, keeping the flags a remount would otherwise clear.
  struct statvfs st {};
  if (::statvfs(target.c_str(), &st) != 0) return errno;
  unsigned long kept = st.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC);
  return result(
      ::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | kept, nullptr));
}

int LinuxHost::set_rlimit(int resource, std::uint64_t soft, std::uint64_t hard) {
  rlimit limit{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
  return result(::setrlimit(static_cast<__rlimit_resource>(resource), &limit));
}

int LinuxHost::drop_bounding(int capability) {
  return result(cap_drop_bound(static_cast<cap_value_t>(capability)));
}

int LinuxHost::set_keep_capabilities() {
  return result(::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
}

int LinuxHost::set_groups(const std::vector<gid_t>& groups) {
  return result(::setgroups(groups.size(), groups.data()));
}

int LinuxHost::set_gid(gid_t gid) {
  return result(::setresgid(gid, gid, gid));
}

int LinuxHost::set_uid(uid_t uid) {
  return result(::setresuid(uid, uid, uid));
}

void LinuxHost::set_umask(mode_t mask) {
  ::umask(mask);
}

int LinuxHost::set_capabilities(const CapabilitySets& sets) {
  cap_t caps = cap_init();  // all three sets empty
  if (!caps) return errno;
  auto raise = [&](cap_flag_t flag, const std::vector<int>& list) {
    for (int capability : list) {
      cap_value_t value = static_cast<cap_value_t>(capability);
      if (cap_set_flag(caps, flag, 1, &value, CAP_SET) != 0) return false;
    }
    return true;
  };
  int error = 0;
  if (!raise(CAP_EFFECTIVE, sets.effective) || !raise(CAP_PERMITTED, sets.permitted) ||
      !raise(CAP_INHERITABLE, sets.inheritable) || cap_set_proc(caps) != 0)
    error = errno;
  cap_free(caps);
  return error;
}

int LinuxHost::reset_ambient() {
  // One prctl(2): libcap's cap_reset_ambient() first asks about each of the 41 capabilities
  // with PR_CAP_AMBIENT_IS_SET, 41 system calls in every container process.
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0) return 0;
  // Before Linux 4.3 there is no ambient set, so nothing to clear.
  return errno == EINVAL ? 0 : errno;
}

int LinuxHost::raise_ambient(int capability) {
  return result(cap_set_ambient(static_cast<cap_value_t>(capability), CAP_SET));
}

int LinuxHost::set_no_new_privileges() {
  return result(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

int LinuxHost::join_session_keyring(const std::string& name) {
  // glibc has no wrapper; libkeyutils would be a dependency for this one call.
  // It returns the keyring's serial number, a positive number, on success.
  long serial = ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.c_str());
  return serial < 0 ? errno : 0;
}

int LinuxHost::load_seccomp_program(const CompiledSeccomp& compiled) {
  sock_fprog program{static_cast<unsigned short>(compiled.program.size()),
                     const_cast<sock_filter*>(compiled.program.data())};
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, compiled.flags, &program);
  return rc < 0 ? errno : 0;
}

int LinuxHost::load_seccomp(const SeccompPlan& plan) {
  try {
    SeccompFilter filter(plan);
    return filter.load();
  } catch (const std::exception&) {
    // validate built the same plan's filter: only memory can fail here.
    return ENOMEM;
  }
}

}  // namespace nsrun::security
