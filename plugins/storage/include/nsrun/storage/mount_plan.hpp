// nsrun.storage: the mount plan, computed on the host in `prepare` and carried out in the
// container process in `create_container` (a fork of the host process, so it inherits the plan).
#pragma once

#include <cstdint>
#include <map>
#include <set>
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
  /// The flags (ro, nosuid...) set by MS_BIND|MS_REMOUNT after the mount; 0 for no remount.
  /// Binds, which ignore them, and a read-only tmpfs with tmpcopyup, which is filled first.
  unsigned long remount_flags = 0;
  /// MOUNT_ATTR_* bits ("rro"...) set with mount_setattr(AT_RECURSIVE) after the mount.
  std::uint64_t recursive_attributes = 0;
  /// MOUNT_ATTR_* bits ("rrw"...) cleared by the same call.
  std::uint64_t recursive_attributes_cleared = 0;
  /// `nsrun run --mount HOST:CONTAINER:ro`: read-only with every mount beneath it, as docker
  /// (25 and later) makes its `-v HOST:CONTAINER:ro`, where the kernel has mount_setattr (Linux
  /// 5.12); on an older kernel only the top mount is (the remount), with a debug line, as docker
  /// falls back. A bundle's "rro" has no such fallback: runc fails it too.
  bool recursive_read_only_if_supported = false;
  unsigned long propagation = 0;  ///< MS_PRIVATE, MS_SLAVE... set after the mount; 0 for none
  /// The container's view of its cgroups (a "cgroup" or "cgroup2" mount, see cgroupfs.hpp),
  /// made of a tmpfs and binds decided in the container process.
  bool cgroupfs = false;
  /// The stage's own cgroupfs, which a host without cgroups at /sys/fs/cgroup goes without (one
  /// the spec asks for is an error there).
  bool only_if_host_has_cgroups = false;
  MountpointType mountpoint = MountpointType::directory;
  /// tmpcopyup (a tmpfs): what the image has in the destination directory is copied into the
  /// new tmpfs (HostFs::copy_tree).
  bool copy_up = false;
  /// An idmapped bind (mounts[].uidMappings/gidMappings, or the "idmap" option with the
  /// container's maps, filled in by prepare): the source's ids on disk show through these maps.
  std::vector<IdMapping> uid_mappings, gid_mappings;
  bool idmap_with_container_maps = false;  ///< "idmap" without maps of the mount's own
  /// The detached idmapped copy of the source (open_tree), made on the host before the clone and
  /// attached in the container instead of a bind (idmapped_root.hpp); -1 for none.
  int idmapped_tree = -1;

  bool is_bind() const { return fstype.empty() && !cgroupfs; }
  bool is_idmapped() const { return !uid_mappings.empty() || idmap_with_container_maps; }
};

/// A file nsrun generated in the state dir and bind-mounts into the container.
struct GeneratedFile {
  std::string destination;  ///< container path, e.g. "/etc/hosts"
  std::string source;       ///< host path in the state dir
};

/// Everything create_container needs. Destinations stay container paths: the container process
/// resolves each inside the rootfs just before mounting on it (see pin_in_root), because what a
/// path leads to changes with every mount made before it, and with whatever else writes to the
/// rootfs (another container sharing it, a shared volume) meanwhile.
struct MountPlan {
  std::string rootfs;                ///< canonical host path of the rootfs
  std::vector<PlannedMount> mounts;  ///< spec.mounts in spec order, then the generated files
  bool readonly_root = false;
  /// nsrun.storage.chroot: switch root with chroot(2), as the program nsrun grew from did,
  /// instead of pivot_root. The host's root stays mounted beneath, and a process with
  /// CAP_SYS_CHROOT escapes to it: for comparing isolation strategies only.
  bool chroot_instead_of_pivot_root = false;
  /// /sys is a read-only rbind of the host's, not a fresh sysfs: a container sharing the host's
  /// network namespace cannot mount sysfs (it shows the network namespace of its mounter). Set
  /// in create_container, once every stage's prepare has said which namespaces there are.
  bool bind_host_sys = false;
  /// linux.devices, created after the mounts (devices.hpp). Set in create_container from the
  /// final spec.
  std::vector<PlannedDevice> devices;
  /// The spec's own mount on a destination the stage mounts itself (/dev, /dev/pts, /dev/shm,
  /// /sys, /tmp): its flags and data replace the stage's defaults, as an OCI runtime follows
  /// the spec (docker's --shm-size, podman's noexec /dev come this way). The stage keeps its
  /// filesystem type and its setup (device nodes, links); /proc stays the stage's own.
  struct OwnMountOptions {
    unsigned long flags = 0;
    std::string data;
  };
  std::map<std::string, OwnMountOptions, std::less<>> own_mount_options;
  /// Destinations among those the spec binds something onto: the stage makes no mount of its
  /// own there (/dev/shm, /dev/pts, /sys, /tmp), the bind in `mounts` takes its place.
  std::set<std::string, std::less<>> own_mounts_replaced;
  /// /tmp gets a tmpfs of the stage's for a spec `nsrun run` built from flags (as the program
  /// nsrun grew from gave it), or when the spec mounts one there. A bundle without one keeps the
  /// image's /tmp, as runc leaves it (read-only with `root.readonly`).
  bool mount_tmp = true;
  /// process.cwd (a cleaned container path), made when missing as runc makes it: a mkdir -p in
  /// the container's root, as the container's root user, 0755 directories, after the mounts (so
  /// it may lie in one) and before the root turns read-only. Empty: nothing to make.
  std::string working_directory;
  /// What gave the working directory ("--workdir", "process.cwd"), for an error's fix.
  std::string working_directory_from;
};

/// Where the stage gives the container its cgroups when the spec mounts nothing there.
inline constexpr const char* default_cgroupfs_destination = "/sys/fs/cgroup";

/// The destinations the stage mounts itself: a non-bind mount of spec.mounts onto one of them
/// gives the stage's own mount its flags and data (MountPlan::own_mount_options), a bind
/// replaces it.
bool is_stage_owned_destination(std::string_view cleaned_destination);

/// True when some spec mount (any type) targets `destination` (a cleaned container path).
bool spec_mounts_destination(const ContainerSpec& spec, std::string_view destination);

/// Builds the plan: checks that no destination leads to the container root through a symlink
/// (an error before anything exists) and that the rootfs's /proc, /dev and /sys are not
/// symlinks. Unless the spec mounts something at /sys/fs/cgroup, the plan
/// starts with a read-only cgroupfs there (docker and podman always ask for one; `nsrun run`
/// gets the same). Reads the rootfs (readlink) and bind sources (stat); changes
/// nothing. Skipped mounts are logged at debug. `spec_from_flags` (`nsrun run FLAGS CMD`): /tmp
/// gets the stage's tmpfs, and a read-only bind is read-only recursively (docker's `:ro`).
MountPlan plan_mounts(const ContainerSpec& spec, const std::string& rootfs,
                      const std::vector<GeneratedFile>& generated, Logger& log,
                      bool spec_from_flags = false);

/// True for a bind mount of a file (not a directory).
bool is_file_bind(const PlannedMount& mount);

/// Refuses a mount whose `destination` (`what`: "mount destination", "file destination") is,
/// once resolved in the rootfs, `in_root`, in /proc: the container's procfs, where nsrun
/// writes its settings. LXCFS's files bound over /proc/meminfo, /proc/cpuinfo... (`file_bind`)
/// pass, as runc lets them. Throws StageError naming the destination.
void refuse_mount_in_proc(const std::string& destination, const std::string& in_root,
                          const char* what, bool file_bind);

/// procfs's f_type (statfs(2)).
inline constexpr std::int64_t proc_super_magic = 0x9fa0;

/// Adds a bind mount of `file` (a file another stage added to the container's view) at the end
/// of the plan.
void append_file_mount(MountPlan& plan, const GeneratedFile& file);

/// An O_PATH descriptor on a path inside the rootfs (HostFs::open_in_root): `path()`,
/// "/proc/self/fd/N", names the very directory or file that was resolved, so a mount made on it
/// lands there even if a component is swapped for a symlink meanwhile (runc does the same).
/// Also holds a directory opened for reading through one (HostFs::open_directory).
class PinnedPath {
 public:
  PinnedPath(HostFs& fs, int fd) : fs_(&fs), fd_(fd) {}
  PinnedPath(PinnedPath&& other) noexcept : fs_(other.fs_), fd_(other.fd_) { other.fd_ = -1; }
  PinnedPath& operator=(PinnedPath&&) = delete;
  PinnedPath(const PinnedPath&) = delete;
  ~PinnedPath() {
    if (fd_ >= 0) fs_->close(fd_);
  }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  int fd() const { return fd_; }

 private:
  HostFs* fs_;
  int fd_;
};

/// Resolves `destination` inside `rootfs` and pins it, first creating what is missing (parent
/// directories 0755, the mountpoint a 0755 directory or an empty 0644 file) when `create` is
/// set. Called in the container process right before the mount, and again right after it to
/// reach the new mount (to remount it read-only...). Throws "cannot create the mountpoint ...".
PinnedPath pin_in_root(HostFs& fs, const std::string& rootfs, const std::string& destination,
                       MountpointType type, bool create);

}  // namespace nsrun::storage
