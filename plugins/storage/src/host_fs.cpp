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

// tmpcopyup's copy (copy_tree). Each entry is reached relative to the descriptor of its
// directory and never through a symlink (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW): the image's symlinks
// are copied as symlinks, whatever they point at. An entry that vanishes or changes type between
// the listing and the copy (another container writing the same rootfs) is left out, as if it had
// gone a moment earlier. Hard links become separate files, and extended attributes are not
// copied: runc's copy keeps neither.
//
// Device nodes and sockets are skipped: a node of the image is not one linux.devices grants the
// container, and a socket file is only the name of a listener that is not running. FIFOs are
// recreated (mknodat needs no privilege for them).

// ELOOP: a symlink now stands where the entry was; ENOTDIR: no longer a directory.
bool vanished(int err) {
  return err == ENOENT || err == ENOTDIR || err == ELOOP;
}

// Owner first (a chown clears the set-user-ID and set-group-ID bits), then the mode, then the
// times, which writing the copy changed.
Errno set_owner_mode_times(int fd, const struct stat& st) {
  if (::fchown(fd, st.st_uid, st.st_gid) != 0) return errno;
  if (::fchmod(fd, st.st_mode & 07777) != 0) return errno;
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  return ::futimens(fd, times) == 0 ? 0 : errno;
}

// The same for an entry that is not opened: a symlink (which has no mode of its own) or a FIFO
// (which opening would block on), both just made in the new tmpfs, which no one else reaches.
Errno set_owner_mode_times_at(int dir, const char* name, const struct stat& st) {
  if (::fchownat(dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  if (!S_ISLNK(st.st_mode) && ::fchmodat(dir, name, st.st_mode & 07777, 0) != 0) return errno;
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  return ::utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

// Reading the image leaves its access times alone where the kernel lets it (O_NOATIME needs the
// file's owner or CAP_FOWNER).
int open_in_image(int dir, const char* name, int flags) {
  int fd = ::openat(dir, name, flags | O_NOATIME | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EPERM) fd = ::openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC);
  return fd;
}

Errno copy_bytes(int from, int to) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(from, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0 ? 0 : errno;
    for (ssize_t written = 0; written < n;) {
      ssize_t w = ::write(to, buffer + written, static_cast<std::size_t>(n - written));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return errno;
      written += w;
    }
  }
}

Errno copy_file(int from_dir, int to_dir, const char* name) {
  // O_NONBLOCK: should a FIFO have taken the file's place, opening it does not wait for a writer.
  int from = open_in_image(from_dir, name, O_RDONLY | O_NONBLOCK);
  if (from < 0) return vanished(errno) ? 0 : errno;
  struct stat st {};
  Errno err = ::fstat(from, &st) == 0 ? 0 : errno;
  if (err == 0 && S_ISREG(st.st_mode)) {
    int to = ::openat(to_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    err = to < 0 ? errno : copy_bytes(from, to);
    if (err == 0) err = set_owner_mode_times(to, st);
    if (to >= 0) ::close(to);
  }
  ::close(from);
  return err;
}

Errno copy_symlink(int from_dir, int to_dir, const char* name, const struct stat& st) {
  char target[PATH_MAX];
  ssize_t n = ::readlinkat(from_dir, name, target, sizeof target);
  // EINVAL: no longer a symlink.
  if (n < 0) return errno == ENOENT || errno == EINVAL ? 0 : errno;
  if (static_cast<std::size_t>(n) == sizeof target) return ENAMETOOLONG;
  target[n] = '\0';
  if (::symlinkat(target, to_dir, name) != 0) return errno;
  return set_owner_mode_times_at(to_dir, name, st);
}

Errno copy_entry(int from_dir, int to_dir, const char* name);

// Copies the entries of the directory `from`, a descriptor it takes and closes, into `to_dir`.
Errno copy_entries(int from, int to_dir) {
  DIR* listing = ::fdopendir(from);
  if (!listing) {
    Errno err = errno;
    ::close(from);
    return err;
  }
  ::rewinddir(listing);  // `from` may share its offset with the caller's descriptor
  Errno err = 0;
  while (err == 0) {
    errno = 0;
    const dirent* entry = ::readdir(listing);
    if (!entry) {
      err = errno;
      break;
    }
    if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
    err = copy_entry(::dirfd(listing), to_dir, entry->d_name);
  }
  ::closedir(listing);
  return err;
}

Errno copy_directory(int from_dir, int to_dir, const char* name) {
  int from = open_in_image(from_dir, name, O_RDONLY | O_DIRECTORY);
  if (from < 0) return vanished(errno) ? 0 : errno;
  struct stat st {};
  if (::fstat(from, &st) != 0 || ::mkdirat(to_dir, name, 0700) != 0) {
    Errno err = errno;
    ::close(from);
    return err;
  }
  // Made 0700 and given its own mode once filled, so that a read-only directory can be filled.
  int to = ::openat(to_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (to < 0) {
    Errno err = errno;
    ::close(from);
    return err;
  }
  Errno err = copy_entries(from, to);
  if (err == 0) err = set_owner_mode_times(to, st);
  ::close(to);
  return err;
}

Errno copy_entry(int from_dir, int to_dir, const char* name) {
  struct stat st {};
  if (::fstatat(from_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return vanished(errno) ? 0 : errno;
  if (S_ISDIR(st.st_mode)) return copy_directory(from_dir, to_dir, name);
  if (S_ISREG(st.st_mode)) return copy_file(from_dir, to_dir, name);
  if (S_ISLNK(st.st_mode)) return copy_symlink(from_dir, to_dir, name, st);
  if (S_ISFIFO(st.st_mode)) {
    if (::mknodat(to_dir, name, S_IFIFO | 0600, 0) != 0) return errno;
    return set_owner_mode_times_at(to_dir, name, st);
  }
  return 0;  // a device node or a socket: skipped (see above)
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
                                std::uint64_t attr_set, std::uint64_t attr_clr) {
  MountAttrV0 attr{attr_set, attr_clr, 0, 0};
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

Errno RealHostFs::open_directory(const std::string& path, int& fd) {
  int opened = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (opened < 0) return errno;
  fd = opened;
  return 0;
}

Errno RealHostFs::copy_tree(int from_fd, const std::string& to) {
  int to_fd = ::open(to.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (to_fd < 0) return errno;
  // The listing takes a descriptor of its own: the caller's stays open.
  int from = ::fcntl(from_fd, F_DUPFD_CLOEXEC, 0);
  Errno err = from < 0 ? errno : copy_entries(from, to_fd);
  ::close(to_fd);
  return err;
}

void RealHostFs::close(int fd) {
  ::close(fd);
}

}  // namespace nsrun::storage
