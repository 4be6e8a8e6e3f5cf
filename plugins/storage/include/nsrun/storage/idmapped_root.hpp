// nsrun.storage: the rootfs as the root of a user namespace sees it, without chowning a file.
//
// In a user namespace, files owned by host uid 0 belong to an id the container does not map: they
// show as nobody, and the container's root may not change them. An idmapped mount (Linux 5.12)
// shows them through the container's own maps instead: host-root files are owned by the
// container's root, and what the container writes lands on disk as host root. runc and crun
// build it the same way:
//
//   prepare           (host, before the clone) a throwaway user namespace with the container's
//                     maps (a helper process made in it, whose /proc/<pid>/ns/user is kept open
//                     once the helper is gone), a detached private copy of the rootfs's mount tree
//                     (open_tree OPEN_TREE_CLONE), idmapped to that namespace (mount_setattr
//                     MOUNT_ATTR_IDMAP). The container process inherits the descriptor.
//   create_container  (inside) move_mount attaches the copy at the rootfs path, where the storage
//                     stage otherwise binds the rootfs onto itself.
//   create_runtime    (host, after the clone) the host's descriptor is closed.
//
// A kernel or filesystem without idmapped mounts (EINVAL, EPERM, ENOSYS, EOPNOTSUPP) is not an
// error: the rootfs is bound as before and one warning says it is not idmapped.
#pragma once

#include <memory>
#include <string>

#include "nsrun/spec.hpp"
#include "nsrun/stage.hpp"
#include "nsrun/storage/host_fs.hpp"
#include "nsrun/storage/mount_plan.hpp"

namespace nsrun::storage {

/// The system calls an idmapped rootfs takes, behind a seam like HostFs's so that unit tests
/// record them. Each returns an errno value, 0 on success.
class IdmapCalls {
 public:
  virtual ~IdmapCalls() = default;
  /// A new user namespace with these maps (/proc/<pid>/uid_map text), as a descriptor.
  virtual Errno user_namespace(const std::string& uid_map, const std::string& gid_map, int& fd) = 0;
  /// open_tree(path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC), with AT_RECURSIVE when `recursive`
  /// (the mounts beneath too, as an rbind takes them).
  virtual Errno clone_tree(const std::string& path, bool recursive, int& fd) = 0;
  /// mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE) to private propagation.
  virtual Errno make_private(int tree) = 0;
  /// mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE) with MOUNT_ATTR_IDMAP to `userns`.
  virtual Errno idmap(int tree, int userns) = 0;
  /// move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS).
  virtual Errno attach(int tree, const std::string& target) = 0;
  virtual void close(int fd) = 0;
};

/// The real system calls.
class RealIdmapCalls final : public IdmapCalls {
 public:
  Errno user_namespace(const std::string& uid_map, const std::string& gid_map, int& fd) override;
  Errno clone_tree(const std::string& path, bool recursive, int& fd) override;
  Errno make_private(int tree) override;
  Errno idmap(int tree, int userns) override;
  Errno attach(int tree, const std::string& target) override;
  void close(int fd) override;
};

/// The idmapped copy of one container's rootfs (see the top of this file).
class IdmappedRoot {
 public:
  explicit IdmappedRoot(std::unique_ptr<IdmapCalls> calls = std::make_unique<RealIdmapCalls>());
  ~IdmappedRoot();
  IdmappedRoot(const IdmappedRoot&) = delete;
  IdmappedRoot& operator=(const IdmappedRoot&) = delete;

  /// Host, before the clone: makes the copy of `rootfs` when `spec` has a user namespace. Warns
  /// through `log` and makes none when the kernel or filesystem refuses; throws StageError on
  /// any other failure.
  void prepare(const ContainerSpec& spec, const std::string& rootfs, Logger& log);
  /// True when prepare made a copy (and release has not closed it).
  bool ready() const { return tree_ >= 0; }
  /// In the container's mount namespace: attaches the copy at `rootfs` and returns true, or
  /// returns false when there is none (the caller binds the rootfs as without a user namespace).
  /// Throws StageError when the attach fails.
  bool attach(const std::string& rootfs, Logger& log);
  /// Host, once the container process has its own copy of the descriptor: closes it.
  void release();

 private:
  std::unique_ptr<IdmapCalls> calls_;
  int tree_ = -1;
};

/// The idmapped binds of one container: mounts[].uidMappings/gidMappings (runtime-spec 1.1), or
/// crun's "idmap" option, which podman's `-v SRC:DST:idmap` gives, with the container's own maps.
/// Made as the idmapped rootfs is: on the host before the clone, a detached copy of the source
/// (recursive for an rbind) idmapped to a throwaway user namespace with the mount's maps, which
/// the container attaches where it would bind the source. Unlike the rootfs, an idmap asked for
/// is never dropped: a kernel or filesystem that refuses it fails the run, naming the mount.
class IdmappedBinds {
 public:
  explicit IdmappedBinds(std::unique_ptr<IdmapCalls> calls = std::make_unique<RealIdmapCalls>());
  ~IdmappedBinds();
  IdmappedBinds(const IdmappedBinds&) = delete;
  IdmappedBinds& operator=(const IdmappedBinds&) = delete;

  /// Host, before the clone: a copy for each idmapped bind of `plan` (its idmapped_tree is set).
  /// The "idmap" option takes the maps of `spec`'s user namespace, and without one is an error.
  /// Throws StageError.
  void prepare(MountPlan& plan, const ContainerSpec& spec, Logger& log);
  /// In the container: attaches `mount`'s copy at `target` (a pinned mountpoint) and closes it.
  void attach(const PlannedMount& mount, const std::string& target, Logger& log);
  /// Host, once the container process has its own copies: closes the host's.
  void release();

 private:
  std::unique_ptr<IdmapCalls> calls_;
  std::vector<int> trees_;
};

}  // namespace nsrun::storage
