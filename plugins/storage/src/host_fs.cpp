// The real host calls behind HostFs.
#include "nsrun/storage/host_fs.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "nsrun/storage/mount_options.hpp"
#include "nsrun/storage/secure_join.hpp"

#ifndef SYS_openat2
#define SYS_openat2 437  // the same number on every architecture (unified table)
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442  // the same number on every architecture (unified table)
#endif

namespace nsrun::storage {
namespace {

const char* or_null(const std::string& s) {
  return s.empty() ? nullptr : s.c_str();
}

Errno result(int rc) {
  return rc == 0 ? 0 : errno;
}

// struct mount_attr as of Linux 5.12 (MOUNT_ATTR_SIZE_VER0); declared here because glibc before
// 2.36 lacks it and <linux/mount.h> clashes with <sys/mount.h> on some glibc versions.
struct MountAttrV0 {
  std::uint64_t attr_set;
  std::uint64_t attr_clr;
  std::uint64_t propagation;
  std::uint64_t userns_fd;
};

// Resolves `relative` beneath `root_fd` as the container would see it: no ".." above it, an
// absolute symlink starts again from it, no /proc magic link followed.
int open_beneath(int root_fd, const std::string& relative) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how));
}

// Creates `name` in the directory `parent_fd`: a file when `file`, else a directory. An existing
// entry (even a symlink planted there) is left alone; resolving the path again then decides.
Errno create_in(int parent_fd, const std::string& name, bool file) {
  if (file) {
    int fd = ::openat(parent_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0644);
    if (fd >= 0) ::close(fd);
    return fd >= 0 || errno == EEXIST ? 0 : errno;
  }
  return ::mkdirat(parent_fd, name.c_str(), 0755) == 0 || errno == EEXIST ? 0 : errno;
}

}  // namespace

Errno RealHostFs::mount(const std::string& source, const std::string& target,
                        const std::string& fstype, unsigned long flags, const std::string& data) {
  return result(::mount(or_null(source), target.c_str(), or_null(fstype), flags, or_null(data)));
}

Errno RealHostFs::umount2(const std::string& target, int flags) {
  return result(::umount2(target.c_str(), flags));
}

Errno RealHostFs::mount_setattr(const std::string& path, unsigned int at_flags,
                                std::uint64_t attr_set) {
  MountAttrV0 attr{attr_set, 0, 0, 0};
  return result(static_cast<int>(
      ::syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), at_flags, &attr, sizeof attr)));
}

Errno RealHostFs::chroot(const std::string& path) {
  return result(::chroot(path.c_str()));
}

Errno RealHostFs::pivot_root(const std::string& new_root, const std::string& put_old) {
  return result(static_cast<int>(::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str())));
}

Errno RealHostFs::chdir(const std::string& path) {
  return result(::chdir(path.c_str()));
}

Errno RealHostFs::mkdir(const std::string& path, mode_t mode) {
  return result(::mkdir(path.c_str(), mode));
}

Errno RealHostFs::mknod(const std::string& path, mode_t mode, dev_t device) {
  return result(::mknod(path.c_str(), mode, device));
}

Errno RealHostFs::lchown(const std::string& path, uid_t uid, gid_t gid) {
  return result(::lchown(path.c_str(), uid, gid));
}

Errno RealHostFs::symlink(const std::string& target, const std::string& link_path) {
  return result(::symlink(target.c_str(), link_path.c_str()));
}

Errno RealHostFs::create_file(const std::string& path, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

// Replaces rather than truncates: a fresh inode is never a hard link planted elsewhere, and
// ext4 flushes a file rewritten through O_TRUNC on close (auto_da_alloc), which costs ~1 ms.
Errno RealHostFs::write_file(const std::string& path, std::string_view content, mode_t mode) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return errno;
  Errno err = 0;
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::close(fd) != 0 && err == 0) err = errno;
  return err;
}

mode_t RealHostFs::umask(mode_t mask) {
  return ::umask(mask);
}

bool RealHostFs::in_host_mount_namespace() {
  struct stat self {};
  struct stat init {};
  if (::stat("/proc/self/ns/mnt", &self) != 0 || ::stat("/proc/1/ns/mnt", &init) != 0) return false;
  return self.st_dev == init.st_dev && self.st_ino == init.st_ino;
}

std::string RealHostFs::mount_namespace() {
  struct stat self {};
  if (::stat("/proc/self/ns/mnt", &self) != 0) return "";
  return std::to_string(self.st_dev) + ":" + std::to_string(self.st_ino);
}

Errno RealHostFs::filesystem_type(const std::string& path, std::int64_t& type) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return errno;
  type = static_cast<std::int64_t>(st.f_type);
  return 0;
}

Errno RealHostFs::read_file(const std::string& path, std::string& content) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  content.clear();
  char buffer[4096];
  Errno err = 0;
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return err;
}

Errno RealHostFs::read_symlinks(const std::string& dir, std::vector<SymlinkEntry>& links) {
  DIR* stream = ::opendir(dir.c_str());
  if (!stream) return errno;
  links.clear();
  while (const dirent* entry = ::readdir(stream)) {
    if (entry->d_type != DT_LNK) continue;
    char target[PATH_MAX];
    std::string path = dir + "/" + entry->d_name;
    ssize_t n = ::readlink(path.c_str(), target, sizeof target);
    if (n < 0 || static_cast<std::size_t>(n) == sizeof target) continue;
    links.push_back({entry->d_name, std::string(target, static_cast<std::size_t>(n))});
  }
  ::closedir(stream);
  std::sort(links.begin(), links.end(),
            [](const SymlinkEntry& a, const SymlinkEntry& b) { return a.name < b.name; });
  return 0;
}

Errno RealHostFs::open_in_root(const std::string& root, const std::string& container_path,
                               bool create, bool last_is_file, int& fd) {
  return open_in_root_following(root, container_path, create, last_is_file, fd, 0);
}

Errno RealHostFs::open_in_root_following(const std::string& root, const std::string& container_path,
                                         bool create, bool last_is_file, int& fd, int hops) {
  int root_fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return errno;
  std::vector<std::string> components;
  const std::string cleaned = clean_container_path(container_path);
  for (std::string_view rest = cleaned; !rest.empty();) {
    rest.remove_prefix(1);  // the '/' a cleaned path starts each component with
    std::size_t end = std::min(rest.find('/'), rest.size());
    components.emplace_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  // Each prefix is resolved from the root again, so that a symlink met on the way is followed
  // as the container would follow it; each creation is relative to the parent just resolved.
  int current = ::dup(root_fd);
  Errno err = current < 0 ? errno : 0;
  std::string prefix;
  for (std::size_t i = 0; i < components.size() && err == 0; ++i) {
    const bool last = i + 1 == components.size();
    prefix += (i == 0 ? "" : "/") + components[i];
    int next = open_beneath(root_fd, prefix);
    if (next < 0 && errno == ENOENT && create) {
      err = create_in(current, components[i], last && last_is_file);
      if (err == 0) next = open_beneath(root_fd, prefix);
      if (err == 0 && next < 0 && errno == ENOENT) {
        // The name is there and leads nowhere: a symlink to what does not exist yet (an
        // image's /etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf). What it names
        // is made, inside the root, as runc makes it: the path is resolved in the root as far
        // as it exists, and the rest created from there.
        ::close(current);
        ::close(root_fd);
        if (hops >= max_symlink_hops) return ELOOP;
        std::string resolved;
        try {
          resolved = resolve_in_root(root, cleaned).in_root();
        } catch (const std::exception&) {  // a symlink loop
          return ELOOP;
        }
        return open_in_root_following(root, resolved, create, last_is_file, fd, hops + 1);
      }
    }
    if (err == 0 && next < 0) err = errno;
    struct stat st {};
    if (err == 0 && !last && (::fstat(next, &st) != 0 || !S_ISDIR(st.st_mode))) err = ENOTDIR;
    ::close(current);
    current = next;
  }
  ::close(root_fd);
  if (err != 0) {
    if (current >= 0) ::close(current);
    return err;
  }
  fd = current;
  return 0;
}

void RealHostFs::close(int fd) {
  ::close(fd);
}

}  // namespace nsrun::storage
