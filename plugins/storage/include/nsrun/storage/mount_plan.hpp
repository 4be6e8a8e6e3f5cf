// nsrun.storage: the mount plan, computed on the host in `prepare` and carried out in the
// container process in `create_container` (a fork of the host process, so it inherits the plan).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/spec.hpp"
#include "nsrun/stage.hpp"
#include "nsrun/storage/devices.hpp"
#include "nsrun/storage/host_fs.hpp"
#include "nsrun/storage/secure_join.hpp"

namespace nsrun::storage {

/// What to create when a mount's destination is missing: a bind of a file needs a file.
enum class MountpointType { directory, file };

/// One mount from spec.mounts or a generated /etc file, ready to be made.
struct PlannedMount {
  std::string destination;  ///< cleaned container path, as the spec wrote it
  std::string source;       ///< host path for binds; the device name ("tmpfs") otherwise
  std::string fstype;       ///< empty for a bind; "cgroup" for the container's cgroupfs
  unsigned long flags =
      0;             ///< mount(2) flags; for the cgroupfs, those its binds are remounted with
  std::string data;  ///< mount(2) data
  /// Binds only: the flags (ro, nosuid...) set by MS_BIND|MS_REMOUNT after the bind, which
  /// ignores them; 0 for no remount.
  unsigned long remount_flags = 0;
  /// MOUNT_ATTR_* bits ("rro"...) set with mount_setattr(AT_RECURSIVE) after the mount.
  std::uint64_t recursive_attributes = 0;
  unsigned long propagation = 0;  ///< MS_PRIVATE, MS_SLAVE... set after the mount; 0 for none
  /// The container's view of its cgroups (a "cgroup" or "cgroup2" mount, see cgroupfs.hpp),
  /// made of a tmpfs and binds decided in the container process.
  bool cgroupfs = false;
  /// The stage's own cgroupfs, which a host without cgroups at /sys/fs/cgroup goes without (one
  /// the spec asks for is an error there).
  bool only_if_host_has_cgroups = false;
  MountpointType mountpoint = MountpointType::directory;
  ResolvedPath target;  ///< the destination resolved inside the rootfs during prepare
  /// The destination lies beneath an earlier mount (/dev/mqueue beneath the /dev tmpfs, a bind
  /// into a tmpfs from the bundle): what it resolves to depends on that mount, so it is resolved
  /// again, and its mountpoint created, in the container after the earlier mount is made.
  bool beneath_earlier_mount = false;

  bool is_bind() const { return fstype.empty() && !cgroupfs; }
};

/// A file nsrun generated in the state dir and bind-mounts into the container.
struct GeneratedFile {
  std::string destination;  ///< container path, e.g. "/etc/hosts"
  std::string source;       ///< host path in the state dir
};

/// Everything create_container needs, all paths resolved inside the rootfs.
struct MountPlan {
  std::string rootfs;                ///< canonical host path of the rootfs
  ResolvedPath proc, dev, sys, tmp;  ///< the stage's own mounts (dev also gets pts and shm)
  std::vector<PlannedMount> mounts;  ///< spec.mounts in spec order, then the generated files
  bool readonly_root = false;
  /// /sys is a read-only rbind of the host's, not a fresh sysfs: a container sharing the host's
  /// network namespace cannot mount sysfs (it shows the network namespace of its mounter). Set
  /// in create_container, once every stage's prepare has said which namespaces there are.
  bool bind_host_sys = false;
  /// linux.devices, created after the mounts (devices.hpp). Set in create_container from the
  /// final spec.
  std::vector<PlannedDevice> devices;
};

/// Where the stage gives the container its cgroups when the spec mounts nothing there.
inline constexpr const char* default_cgroupfs_destination = "/sys/fs/cgroup";

/// The destinations the stage mounts itself: a non-bind mount of spec.mounts onto one of them
/// is skipped, so that the stage's own, known-good setup wins over a bundle's.
bool is_stage_owned_destination(std::string_view cleaned_destination);

/// True when some spec mount (any type) targets `destination` (a cleaned container path).
bool spec_mounts_destination(const ContainerSpec& spec, std::string_view destination);

/// Builds the plan: resolves every destination inside `rootfs` (canonical) and decides which
/// lie beneath an earlier mount. Unless the spec mounts something at /sys/fs/cgroup, the plan
/// starts with a read-only cgroupfs there (docker and podman always ask for one; `nsrun run`
/// gets the same). Reads the rootfs (readlink) and bind sources (stat); changes
/// nothing. Skipped mounts are logged at debug.
MountPlan plan_mounts(const ContainerSpec& spec, const std::string& rootfs,
                      const std::vector<GeneratedFile>& generated, Logger& log);

/// Adds a bind mount of `file` (a file another stage added to the container's view) at the end
/// of the plan, resolved inside the rootfs, and creates its mountpoint when it is missing and not
/// beneath an earlier mount (which the container process creates after that mount).
void append_file_mount(MountPlan& plan, const GeneratedFile& file, HostFs& fs);

/// Creates the missing part of `target`: its missing parent directories (0755) and the
/// mountpoint itself (a 0755 directory or an empty 0644 file). Existing ones are left alone
/// (EEXIST is success: another container on the same rootfs may create them concurrently).
void create_mountpoint(const ResolvedPath& target, MountpointType type, HostFs& fs);

/// Creates the missing mountpoints in the base rootfs for every planned mount that is not
/// beneath an earlier mount. They are left in place afterwards, as runc and crun leave them:
/// removing a mountpoint that another container on the same rootfs still uses would detach
/// that container's mount.
void create_rootfs_mountpoints(const MountPlan& plan, HostFs& fs);

}  // namespace nsrun::storage
