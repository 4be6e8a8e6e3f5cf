// nsrun.storage: OCI mount options ("nosuid", "ro", "mode=755", "rbind"...) as mount(2) flags.
#pragma once

#include <fcntl.h>
#include <sys/mount.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/spec.hpp"

// glibc gained these in 2.36; the values are the kernel's ABI.
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

namespace nsrun::storage {

/// What a list of OCI mount options means to mount(2).
struct MountOptions {
  unsigned long flags = 0;        ///< MS_* flags for the mount itself (MS_BIND|MS_REC for rbind)
  unsigned long propagation = 0;  ///< MS_PRIVATE, MS_SLAVE... (|MS_REC), set by a second mount(2)
  /// MOUNT_ATTR_* bits of "rro", "rnosuid", "rnodev", "rnoexec": set with mount_setattr and
  /// AT_RECURSIVE on the mount and every mount beneath it.
  std::uint64_t recursive_attributes = 0;
  /// MOUNT_ATTR_* bits of "rrw", "rsuid", "rdev", "rexec" (runc's): cleared the same way. Of an
  /// option and its opposite, the later one wins.
  std::uint64_t recursive_attributes_cleared = 0;
  std::string data;  ///< the options mount(2) has no flag for, e.g. "mode=755,size=1m"
  /// "idmap" (crun's, which podman's `-v SRC:DST:idmap` gives): a bind idmapped with the
  /// container's own maps, unless the mount gives uidMappings and gidMappings of its own.
  bool idmap = false;
  /// "tmpcopyup" (runc's and crun's, on podman's tmpfs mounts): what the image has in the
  /// destination directory is copied into the new tmpfs. "notmpcopyup" turns it off again.
  bool tmpcopyup = false;
};

/// The option that asks for an idmapped bind.
inline constexpr std::string_view idmap_option = "idmap";

/// Translates OCI options as runc does: a known flag name sets (or, for "rw", "suid", "dev"...
/// clears) its MS_* flag, later options override earlier ones, and any other option is passed
/// to the filesystem in `data`, in order. "nosuid,nodev,mode=755,size=65536k" gives
/// MS_NOSUID|MS_NODEV and "mode=755,size=65536k".
MountOptions translate_mount_options(const std::vector<std::string>& options);

/// The MS_* flags a bind mount takes only from a second, remounting mount(2)
/// (MS_BIND|MS_REMOUNT|flags): the kernel ignores all but MS_REC on the bind itself.
/// ro, nosuid, nodev, noexec and the atime options.
unsigned long bind_remount_flags(unsigned long flags);

/// True for a bind mount: type "bind", or any type with a "bind"/"rbind" option (OCI allows both).
bool is_bind_mount(const MountSpec& mount);

/// True for the container's view of its cgroups: type "cgroup" or "cgroup2" (which one the
/// container gets is the host's choice, as with runc).
bool is_cgroup_mount(const MountSpec& mount);

/// The first option a bind mount does not support, if any: a bind mount passes no data to a
/// filesystem, so every option must be a flag (rbind, bind, ro, rw, nosuid, suid, nodev, dev,
/// noexec, exec, the atime options, defaults), a propagation option (private, rprivate, slave,
/// rslave, shared, rshared, unbindable, runbindable) or a recursive one (rro, rrw, rnosuid, rsuid,
/// rnodev, rdev, rnoexec, rexec).
std::optional<std::string> first_unsupported_bind_option(const std::vector<std::string>& options);

/// The first option of any mount that names a feature of another runtime nsrun does not
/// implement (crun's "copy-symlink", "idmap=...", "ridmap"...): passed on as data it would reach
/// the filesystem, which would refuse it with a less helpful EINVAL.
std::optional<std::string> first_unimplemented_option(const std::vector<std::string>& options);

/// True for a tmpfs mount: type "tmpfs" and not a bind.
bool is_tmpfs_mount(const MountSpec& mount);

/// The first option only a tmpfs mount takes ("tmpcopyup", "notmpcopyup"), when `mount` is not
/// a tmpfs: what it asks has no meaning elsewhere (crun refuses it too).
std::optional<std::string> first_tmpfs_only_option(const MountSpec& mount);

}  // namespace nsrun::storage
