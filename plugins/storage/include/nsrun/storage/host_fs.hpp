// nsrun.storage: every call that changes the host's (or the container's) filesystem or mount
// table goes through HostFs, so that unit tests can record the exact sequence without root, in
// the manner of youki's `Syscall` trait. Read-only look-ups into the rootfs (readlink, stat,
// realpath) are made directly: tests run them against a real temporary rootfs. Look-ups of the
// host's cgroup setup go through HostFs too, so that tests can play a cgroup v1 or v2 host.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nsrun::storage {

/// An errno value; 0 means success. HostFs methods report failure this way (never by throwing)
/// because callers branch on specific values (EEXIST, EPERM, EINVAL) to choose a fallback.
using Errno = int;

/// A symbolic link found in a directory: its name and what it points to.
struct SymlinkEntry {
  std::string name;
  std::string target;
  bool operator==(const SymlinkEntry&) const = default;
};

/// The host calls the storage stage makes. An empty string argument stands for a null pointer
/// where the system call accepts one (mount's source, fstype and data).
class HostFs {
 public:
  virtual ~HostFs() = default;

  /// mount(2).
  virtual Errno mount(const std::string& source, const std::string& target,
                      const std::string& fstype, unsigned long flags, const std::string& data) = 0;
  /// umount2(2).
  virtual Errno umount2(const std::string& target, int flags) = 0;
  /// mount_setattr(2) on `path` (relative to the working directory), setting `attr_set` and
  /// clearing `attr_clr` (MOUNT_ATTR_* bits). `at_flags` is 0 or AT_RECURSIVE.
  virtual Errno mount_setattr(const std::string& path, unsigned int at_flags,
                              std::uint64_t attr_set, std::uint64_t attr_clr) = 0;
  /// pivot_root(2).
  virtual Errno pivot_root(const std::string& new_root, const std::string& put_old) = 0;
  /// chdir(2).
  virtual Errno chdir(const std::string& path) = 0;
  /// chroot(2): only nsrun.storage.chroot, for comparisons (see MountPlan).
  virtual Errno chroot(const std::string& path) = 0;
  /// mkdir(2); the mode is subject to the umask.
  virtual Errno mkdir(const std::string& path, mode_t mode) = 0;
  /// mknod(2); the mode is subject to the umask.
  virtual Errno mknod(const std::string& path, mode_t mode, dev_t device) = 0;
  /// lchown(2).
  virtual Errno lchown(const std::string& path, uid_t uid, gid_t gid) = 0;
  /// symlink(2): creates `link_path` pointing at `target`.
  virtual Errno symlink(const std::string& target, const std::string& link_path) = 0;
  /// Creates an empty file (O_CREAT|O_EXCL, never following a symlink) to serve as a mountpoint.
  virtual Errno create_file(const std::string& path, mode_t mode) = 0;
  /// Replaces `path` with a new file holding `content` (removes any existing file first, so
  /// that neither a symlink nor a hard link placed there is written through).
  virtual Errno write_file(const std::string& path, std::string_view content, mode_t mode) = 0;
  /// umask(2); returns the previous mask.
  virtual mode_t umask(mode_t mask) = 0;
  /// True when the calling process shares the mount namespace of PID 1 of the /proc it sees,
  /// i.e. it did not get a mount namespace of its own. False when this cannot be determined.
  virtual bool in_host_mount_namespace() = 0;
  /// The calling process's mount namespace ("device:inode" of /proc/self/ns/mnt), or "" when it
  /// cannot be read.
  virtual std::string mount_namespace() = 0;
  /// statfs(2): the type (f_type, a *_MAGIC value) of the filesystem holding `path`.
  virtual Errno filesystem_type(const std::string& path, std::int64_t& type) = 0;
  /// Reads the whole file `path` into `content` (small kernel files: /proc/self/cgroup...).
  virtual Errno read_file(const std::string& path, std::string& content) = 0;
  /// The symbolic links directly in `dir`, sorted by name.
  virtual Errno read_symlinks(const std::string& dir, std::vector<SymlinkEntry>& links) = 0;
  /// Opens `container_path` beneath `root` as an O_PATH descriptor, resolving it with
  /// openat2(RESOLVE_IN_ROOT): "..", absolute symlinks and symlinks with ".." in them all stay
  /// beneath `root`. With `create` set, each missing component is created (a 0755 directory;
  /// the last one an empty 0644 file when `last_is_file`) relative to the descriptor of its
  /// resolved parent, never by a host path that a rename or a symlink could redirect. EEXIST
  /// is success (another container on the same rootfs may create it at the same moment).
  virtual Errno open_in_root(const std::string& root, const std::string& container_path,
                             bool create, bool last_is_file, int& fd) = 0;
  /// Opens the directory `path`, a pinned path (PinnedPath::path()), for reading its entries
  /// (O_RDONLY|O_DIRECTORY). Opened before a mount covers the directory, the descriptor goes on
  /// reading the covered directory: what tmpcopyup copies into the tmpfs.
  virtual Errno open_directory(const std::string& path, int& fd) = 0;
  /// tmpcopyup: copies the entries of the directory `from_fd` (open_directory's) into the
  /// directory `to` (a pinned path), recursively, each with its type, mode, owner, and access and
  /// modification times. Symlinks are copied as symlinks and never followed; FIFOs are made
  /// anew; device nodes and sockets are left out (host_fs.cpp says why).
  virtual Errno copy_tree(int from_fd, const std::string& to) = 0;
  /// close(2) of a descriptor open_in_root or open_directory returned.
  virtual void close(int fd) = 0;
};

/// The real thing: each method is the system call of the same name.
class RealHostFs final : public HostFs {
 public:
  Errno mount(const std::string& source, const std::string& target, const std::string& fstype,
              unsigned long flags, const std::string& data) override;
  Errno umount2(const std::string& target, int flags) override;
  Errno mount_setattr(const std::string& path, unsigned int at_flags, std::uint64_t attr_set,
                      std::uint64_t attr_clr) override;
  Errno chroot(const std::string& path) override;
  Errno pivot_root(const std::string& new_root, const std::string& put_old) override;
  Errno chdir(const std::string& path) override;
  Errno mkdir(const std::string& path, mode_t mode) override;
  Errno mknod(const std::string& path, mode_t mode, dev_t device) override;
  Errno lchown(const std::string& path, uid_t uid, gid_t gid) override;
  Errno symlink(const std::string& target, const std::string& link_path) override;
  Errno create_file(const std::string& path, mode_t mode) override;
  Errno write_file(const std::string& path, std::string_view content, mode_t mode) override;
  mode_t umask(mode_t mask) override;
  bool in_host_mount_namespace() override;
  std::string mount_namespace() override;
  Errno filesystem_type(const std::string& path, std::int64_t& type) override;
  Errno read_file(const std::string& path, std::string& content) override;
  Errno read_symlinks(const std::string& dir, std::vector<SymlinkEntry>& links) override;
  Errno open_in_root(const std::string& root, const std::string& container_path, bool create,
                     bool last_is_file, int& fd) override;
  Errno open_directory(const std::string& path, int& fd) override;
  Errno copy_tree(int from_fd, const std::string& to) override;
  void close(int fd) override;

 private:
  // open_in_root, after following `hops` dangling symlinks.
  Errno open_in_root_following(const std::string& root, const std::string& container_path,
                               bool create, bool last_is_file, int& fd, int hops);
};

}  // namespace nsrun::storage
