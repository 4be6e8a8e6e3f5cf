// The container-side mount sequence (see enter_rootfs.hpp).
#include "nsrun/storage/enter_rootfs.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <tuple>

#include "nsrun/storage/cgroupfs.hpp"
#include "nsrun/storage/mount_options.hpp"

namespace nsrun::storage {
namespace {

// A device node of /dev; `name` is also the host node bind-mounted when mknod is refused.
struct DeviceNode {
  const char* name;
  unsigned int major;
  unsigned int minor;
};

constexpr std::array<DeviceNode, 6> device_nodes{{
    {"null", 1, 3},
    {"zero", 1, 5},
    {"full", 1, 7},
    {"random", 1, 8},
    {"urandom", 1, 9},
    {"tty", 5, 0},
}};

struct DevLink {
  const char* name;
  const char* target;
};

constexpr std::array<DevLink, 4> dev_links{{
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
}};

constexpr const char* dev_tmpfs_data = "mode=755,size=65536k";  // docker's /dev
constexpr const char* devpts_data = "newinstance,ptmxmode=0666,mode=0620,gid=5";
constexpr const char* shm_data = "mode=1777,size=65536k";  // docker's default 64m
constexpr const char* tmp_data = "mode=1777";
constexpr const char* cgroupfs_tmpfs_data = "mode=755";
constexpr std::int64_t tmpfs_super_magic = 0x01021994;  // statfs(2)'s f_type of a tmpfs
constexpr std::uint64_t read_only_sys_attributes =
    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;

// Throws "cannot <what>: <errno text>" unless err is 0.
void check(Errno err, const std::string& what) {
  if (err != 0) throw StageError("cannot " + what + ": " + std::strerror(err));
}

// Mount calls with a debug trace of each.
class Mounter {
 public:
  Mounter(HostFs& fs, Logger& log) : fs_(fs), log_(log) {}

  Errno try_mount(const std::string& source, const std::string& target, const std::string& fstype,
                  unsigned long flags, const std::string& data, const std::string& shown_as) {
    if (log_.debug_enabled())
      log_.debug("mount " + (fstype.empty() ? "bind " + source : fstype) + " on " + shown_as +
                 (data.empty() ? "" : " (" + data + ")"));
    return fs_.mount(source, target, fstype, flags, data);
  }

  void mount(const std::string& source, const std::string& target, const std::string& fstype,
             unsigned long flags, const std::string& data, const std::string& shown_as) {
    check(try_mount(source, target, fstype, flags, data, shown_as),
          "mount " + (fstype.empty() ? source : fstype) + " on " + shown_as);
  }

  void set_attributes(const std::string& target, unsigned int at_flags, std::uint64_t attrs,
                      const std::string& shown_as) {
    check(try_set_attributes(target, at_flags, attrs, 0, shown_as),
          "make " + shown_as + " " + attribute_names(attrs, 0));
  }

  /// Sets `attrs` and clears `cleared` (MOUNT_ATTR_*) with mount_setattr(2).
  Errno try_set_attributes(const std::string& target, unsigned int at_flags, std::uint64_t attrs,
                           std::uint64_t cleared, const std::string& shown_as) {
    if (log_.debug_enabled())
      log_.debug("make " + shown_as + (at_flags & AT_RECURSIVE ? " (recursively)" : "") + " " +
                 attribute_names(attrs, cleared));
    return fs_.mount_setattr(target, at_flags, attrs, cleared);
  }

  /// Sets the per-mount flags of a bind (ro, nosuid...), which the bind itself ignored.
  void remount_bind(const std::string& target, unsigned long flags, const std::string& shown_as) {
    std::string what = "make " + shown_as + " " + flag_names(flags);
    if (log_.debug_enabled()) log_.debug(what);
    check(fs_.mount("", target, "", MS_BIND | MS_REMOUNT | flags, ""), what);
  }

  /// Changes the propagation type (MS_PRIVATE, MS_SLAVE..., with MS_REC for the subtree).
  void set_propagation(const std::string& target, unsigned long propagation,
                       const std::string& shown_as) {
    std::string what = "make " + shown_as + " " + propagation_name(propagation);
    if (log_.debug_enabled()) log_.debug(what);
    check(fs_.mount("", target, "", propagation, ""), what);
  }

  /// "read-only,nosuid" for what is set, "read-write,suid" for what is cleared.
  static std::string attribute_names(std::uint64_t attrs, std::uint64_t cleared) {
    std::string out;
    for (auto [bit, name, opposite] : {std::tuple{MOUNT_ATTR_RDONLY, "read-only", "read-write"},
                                       std::tuple{MOUNT_ATTR_NOSUID, "nosuid", "suid"},
                                       std::tuple{MOUNT_ATTR_NODEV, "nodev", "dev"},
                                       std::tuple{MOUNT_ATTR_NOEXEC, "noexec", "exec"}}) {
      if (attrs & bit) out += (out.empty() ? "" : ",") + std::string(name);
      if (cleared & bit) out += (out.empty() ? "" : ",") + std::string(opposite);
    }
    return out;
  }

  HostFs& fs() { return fs_; }
  Logger& log() { return log_; }

 private:
  static std::string propagation_name(unsigned long propagation) {
    std::string name = (propagation & MS_REC) ? "r" : "";
    if (propagation & MS_PRIVATE) return name + "private";
    if (propagation & MS_SLAVE) return name + "slave";
    if (propagation & MS_SHARED) return name + "shared";
    return name + "unbindable";
  }

  static std::string flag_names(unsigned long flags) {
    std::string out;
    for (auto [bit, name] :
         {std::pair{MS_RDONLY, "read-only"}, std::pair{MS_NOSUID, "nosuid"},
          std::pair{MS_NODEV, "nodev"}, std::pair{MS_NOEXEC, "noexec"},
          std::pair{MS_NOATIME, "noatime"}, std::pair{MS_NODIRATIME, "nodiratime"},
          std::pair{MS_RELATIME, "relatime"}, std::pair{MS_STRICTATIME, "strictatime"}})
      if (flags & bit) out += (out.empty() ? "" : ",") + std::string(name);
    return out;
  }

  HostFs& fs_;
  Logger& log_;
};

// Sets the umask to 0 so that device nodes get exactly 0666, and restores it.
class UmaskZero {
 public:
  explicit UmaskZero(HostFs& fs) : fs_(fs), saved_(fs.umask(0)) {}
  void restore() {
    if (!restored_) fs_.umask(saved_);
    restored_ = true;
  }
  ~UmaskZero() { restore(); }
  UmaskZero(const UmaskZero&) = delete;
  UmaskZero& operator=(const UmaskZero&) = delete;

 private:
  HostFs& fs_;
  mode_t saved_;
  bool restored_ = false;
};

// The second line of defence after validate_storage: whatever the spec said, never mount or
// switch root in the namespace of PID 1 or of the nsrun that made the container.
void refuse_host_mount_namespace(HostFs& fs, const std::string& caller_mount_namespace) {
  const std::string current = fs.mount_namespace();
  if (fs.in_host_mount_namespace() || current.empty() ||
      (!caller_mount_namespace.empty() && current == caller_mount_namespace))
    throw StageError(
        "refusing to set up mounts in the caller's or the host's mount namespace (the pipeline "
        "needs a namespaces stage that creates a mount namespace before the storage stage)");
}

void make_mounts_private(Mounter& m) {
  m.set_propagation("/", MS_REC | MS_PRIVATE, "/");
}

void bind_rootfs_onto_itself(Mounter& m, const std::string& rootfs) {
  m.mount(rootfs, rootfs, "", MS_BIND | MS_REC, "", rootfs);
}

// A directory the stage mounts on, pinned inside the rootfs (created when missing).
PinnedPath pin_directory(Mounter& m, const std::string& rootfs, const std::string& destination) {
  return pin_in_root(m.fs(), rootfs, destination, MountpointType::directory, true);
}

// The mount just made on `destination`, pinned: the descriptor the mount was made on is the
// directory beneath it.
PinnedPath pin_mounted(Mounter& m, const std::string& rootfs, const std::string& destination) {
  return pin_in_root(m.fs(), rootfs, destination, MountpointType::directory, false);
}

void mount_proc(Mounter& m, const std::string& rootfs) {
  m.mount("proc", pin_directory(m, rootfs, "/proc").path(), "proc",
          MS_NOSUID | MS_NODEV | MS_NOEXEC, "", "/proc");
}

// mknod is one syscall and needs no host path; in a user namespace it fails with EPERM, and
// the host's node is bind-mounted onto an empty file instead, as runc does.
void make_device_node(Mounter& m, const std::string& dev, const DeviceNode& node) {
  std::string path = dev + "/" + node.name;
  Errno err = m.fs().mknod(path, S_IFCHR | 0666, makedev(node.major, node.minor));
  if (err == EPERM) {
    if (m.log().debug_enabled())
      m.log().debug(std::string("mknod /dev/") + node.name + " refused, binding the host's node");
    check(m.fs().create_file(path, 0666), std::string("create /dev/") + node.name);
    m.mount(std::string("/dev/") + node.name, path, "", MS_BIND, "",
            std::string("/dev/") + node.name);
    return;
  }
  check(err, std::string("create the device node /dev/") + node.name);
}

// The flags and data of a mount the stage makes itself: the spec's own for `destination` when
// it has one (MountPlan::own_mount_options), else the stage's defaults.
MountPlan::OwnMountOptions own_options(const MountPlan& plan, std::string_view destination,
                                       unsigned long default_flags, const char* default_data) {
  auto found = plan.own_mount_options.find(destination);
  if (found != plan.own_mount_options.end()) return found->second;
  return {default_flags, default_data};
}

// `data` without its gid=N option.
std::string without_gid(const std::string& data) {
  std::string out;
  std::string_view rest(data);
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view option = rest.substr(0, comma);
    if (!option.starts_with("gid=")) out.append(out.empty() ? "" : ",").append(option);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

// devpts refuses a gid that is not mapped (gid=5 in a user namespace): retry without it.
void mount_devpts(Mounter& m, const MountPlan& plan, const std::string& pts) {
  const auto options = own_options(plan, "/dev/pts", MS_NOSUID | MS_NOEXEC, devpts_data);
  Errno err = m.try_mount("devpts", pts, "devpts", options.flags, options.data, "/dev/pts");
  if (err == EINVAL && options.data.find("gid=") != std::string::npos)
    err =
        m.try_mount("devpts", pts, "devpts", options.flags, without_gid(options.data), "/dev/pts");
  check(err, "mount devpts on /dev/pts");
}

void mount_dev(Mounter& m, const MountPlan& plan) {
  const std::string& rootfs = plan.rootfs;
  const auto options = own_options(plan, "/dev", MS_NOSUID | MS_STRICTATIME, dev_tmpfs_data);
  m.mount("tmpfs", pin_directory(m, rootfs, "/dev").path(), "tmpfs", options.flags, options.data,
          "/dev");
  // The new tmpfs, which no one else can reach yet: paths beneath it are safe.
  const PinnedPath dev_tmpfs = pin_mounted(m, rootfs, "/dev");
  const std::string dev = dev_tmpfs.path();
  for (const DeviceNode& node : device_nodes) make_device_node(m, dev, node);

  check(m.fs().mkdir(dev + "/pts", 0755), "create /dev/pts");
  if (!plan.own_mounts_replaced.contains("/dev/pts")) mount_devpts(m, plan, dev + "/pts");
  check(m.fs().symlink("pts/ptmx", dev + "/ptmx"), "create the /dev/ptmx link");

  check(m.fs().mkdir(dev + "/shm", 01777), "create /dev/shm");
  if (!plan.own_mounts_replaced.contains("/dev/shm")) {
    const auto shm = own_options(plan, "/dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC, shm_data);
    m.mount("shm", dev + "/shm", "tmpfs", shm.flags, shm.data, "/dev/shm");
  }

  for (const DevLink& link : dev_links)
    check(m.fs().symlink(link.target, dev + "/" + link.name),
          std::string("create the /dev/") + link.name + " link");
}

void bind_host_sys(Mounter& m, const std::string& rootfs, const PinnedPath& sys) {
  m.mount("/sys", sys.path(), "", MS_BIND | MS_REC, "", "/sys");
  m.set_attributes(pin_mounted(m, rootfs, "/sys").path(), AT_RECURSIVE, read_only_sys_attributes,
                   "/sys");
}

// sysfs shows the network devices of its mounter's network namespace and may only be mounted
// by one owning it: a container sharing the host's gets a read-only rbind of the host's /sys,
// as runc gives it. Mounting sysfs may be refused in a network namespace too (one owned by
// another user namespace): the rbind is the next best thing there as well.
void mount_sys(Mounter& m, const MountPlan& plan) {
  if (plan.own_mounts_replaced.contains("/sys")) return;
  const std::string& rootfs = plan.rootfs;
  const PinnedPath sys = pin_directory(m, rootfs, "/sys");
  if (plan.bind_host_sys) {
    if (m.log().debug_enabled())
      m.log().debug("no network namespace of its own, binding the host's /sys");
    bind_host_sys(m, rootfs, sys);
    return;
  }
  const auto options = own_options(plan, "/sys", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "");
  Errno err = m.try_mount("sysfs", sys.path(), "sysfs", options.flags, options.data, "/sys");
  if (err == 0) return;
  if (err != EPERM) check(err, "mount sysfs on /sys");
  if (m.log().debug_enabled()) m.log().debug("sysfs refused, binding the host's /sys");
  bind_host_sys(m, rootfs, sys);
}

void mount_tmp(Mounter& m, const MountPlan& plan) {
  if (!plan.mount_tmp || plan.own_mounts_replaced.contains("/tmp")) return;
  const auto options = own_options(plan, "/tmp", MS_NOSUID | MS_NODEV, tmp_data);
  m.mount("tmpfs", pin_directory(m, plan.rootfs, "/tmp").path(), "tmpfs", options.flags,
          options.data, "/tmp");
}

// Each hierarchy is bound with MS_REC, as a bind of the host's cgroup directory may have
// submounts (a nested container's), then remounted with the mount's flags.
void bind_cgroup_directory(Mounter& m, const CgroupfsBind& bind, const std::string& path,
                           unsigned long flags, const std::string& shown_as) {
  m.mount(bind.source, path, "", MS_BIND | MS_REC, "", shown_as);
  if (flags != 0) m.remount_bind(path, flags, shown_as);
}

// The container's cgroups (see cgroupfs.hpp). On v1 the tmpfs holding the hierarchies is made
// read-only last, after its directories and links were created in it.
void mount_cgroupfs(Mounter& m, const PlannedMount& mount, const CgroupfsView& view,
                    const std::string& mountpoint, const std::string& rootfs) {
  const std::string& shown = mount.destination;
  if (view.version == CgroupVersion::v2) {
    m.mount(view.binds.front().source, mountpoint, "", MS_BIND | MS_REC, "", shown);
    if (mount.flags != 0) m.remount_bind(pin_mounted(m, rootfs, shown).path(), mount.flags, shown);
    return;
  }
  m.mount("tmpfs", mountpoint, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, cgroupfs_tmpfs_data,
          shown);
  // The new tmpfs, which no one else can reach yet: paths beneath it are safe.
  const PinnedPath tmpfs = pin_mounted(m, rootfs, shown);
  const std::string path = tmpfs.path();
  for (const CgroupfsBind& bind : view.binds) {
    const std::string hierarchy = path + "/" + bind.name;
    check(m.fs().mkdir(hierarchy, 0755), "create " + shown + "/" + bind.name);
    bind_cgroup_directory(m, bind, hierarchy, mount.flags, shown + "/" + bind.name);
  }
  for (const SymlinkEntry& link : view.links)
    check(m.fs().symlink(link.target, path + "/" + link.name),
          "create the " + shown + "/" + link.name + " link");
  if (mount.flags & MS_RDONLY)
    m.remount_bind(path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, shown);
}

// The host's cgroups as the container is to see them; nullopt when there are none and `mount`
// is the stage's own cgroupfs, which such a host goes without.
std::optional<CgroupfsView> cgroupfs_view_for(Mounter& m, const PlannedMount& mount) {
  CgroupfsView view = container_cgroupfs_view(m.fs());
  if (view.version != CgroupVersion::none) return view;
  if (!mount.only_if_host_has_cgroups)
    throw StageError("cannot mount cgroup on " + mount.destination +
                     ": the host has no cgroup filesystem at /sys/fs/cgroup");
  if (m.log().debug_enabled())
    m.log().debug("the host has no cgroup filesystem at /sys/fs/cgroup; none in the container");
  return std::nullopt;
}

// tmpcopyup: the directory the tmpfs is about to cover, opened through its pin. The descriptor
// goes on reading the covered directory once the tmpfs is on it, where no path leads any more.
PinnedPath open_to_copy_up(Mounter& m, const PinnedPath& mountpoint,
                           const std::string& destination) {
  int fd = -1;
  check(m.fs().open_directory(mountpoint.path(), fd),
        "open " + destination + " to copy its contents into the tmpfs (tmpcopyup)");
  return PinnedPath(m.fs(), fd);
}

void copy_up(Mounter& m, const std::string& rootfs, const std::string& destination,
             const PinnedPath& covered) {
  const PinnedPath tmpfs = pin_mounted(m, rootfs, destination);
  const std::string what = "copy the contents of " + destination + " into its tmpfs (tmpcopyup)";
  // The path is resolved again to reach the new mount: had a component been swapped for a
  // symlink meanwhile (a container sharing the rootfs), it would lead elsewhere in the rootfs,
  // and the copy must never be written into the image.
  if (std::int64_t type = 0;
      m.fs().filesystem_type(tmpfs.path(), type) != 0 || type != tmpfs_super_magic)
    throw StageError("cannot " + what + ": " + destination +
                     " no longer leads to a tmpfs (the rootfs changed during the mount; retry)");
  if (m.log().debug_enabled()) m.log().debug(what);
  check(m.fs().copy_tree(covered.fd(), tmpfs.path()), what);
}

// "rro", "rrw"... on the mount and every mount beneath it. A kernel without mount_setattr (before
// 5.12) fails a bundle's, as runc does; `--mount HOST:CTR:ro` keeps its top mount read-only
// (the remount before this) and goes on, as docker does there.
void set_recursive_attributes(Mounter& m, const std::string& path, const PlannedMount& mount) {
  Errno err = m.try_set_attributes(path, AT_RECURSIVE, mount.recursive_attributes,
                                   mount.recursive_attributes_cleared, mount.destination);
  if (err == ENOSYS && mount.recursive_read_only_if_supported) {
    if (m.log().debug_enabled())
      m.log().debug("the kernel has no mount_setattr (Linux 5.12): only the top mount of " +
                    mount.destination + " is read-only, not the mounts beneath it");
    return;
  }
  const std::string what =
      "make " + mount.destination + " (recursively) " +
      Mounter::attribute_names(mount.recursive_attributes, mount.recursive_attributes_cleared);
  if (err == ENOSYS)
    throw StageError("cannot " + what + ": " + std::strerror(err) +
                     " (mount_setattr needs Linux 5.12 or later)");
  check(err, what);
}

// The mountpoint is resolved and created now, inside the rootfs as the earlier mounts left it,
// and mounted on through its descriptor: a path swapped for a symlink after the check (by a
// container sharing a volume) can no longer send the mkdir or the mount out of the rootfs.
void mount_planned(Mounter& m, const std::string& rootfs, const PlannedMount& mount,
                   IdmappedBinds* idmapped_binds) {
  std::optional<CgroupfsView> cgroupfs;
  if (mount.cgroupfs && !(cgroupfs = cgroupfs_view_for(m, mount))) return;
  {
    const PinnedPath mountpoint =
        pin_in_root(m.fs(), rootfs, mount.destination, mount.mountpoint, true);
    // prepare refused a destination in /proc; the rootfs may have changed since (a container
    // sharing it), and only now is the container's procfs there to be seen.
    if (std::int64_t type = 0;
        m.fs().filesystem_type(mountpoint.path(), type) == 0 && type == proc_super_magic)
      refuse_mount_in_proc(mount.destination, resolve_in_root(rootfs, mount.destination).in_root(),
                           "mount destination", is_file_bind(mount));
    std::optional<PinnedPath> covered;
    if (mount.copy_up) covered.emplace(open_to_copy_up(m, mountpoint, mount.destination));
    if (cgroupfs) {
      mount_cgroupfs(m, mount, *cgroupfs, mountpoint.path(), rootfs);
    } else if (mount.idmapped_tree >= 0 && idmapped_binds) {
      idmapped_binds->attach(mount, mountpoint.path(), m.log());
    } else {
      m.mount(mount.source, mountpoint.path(), mount.fstype, mount.flags, mount.data,
              mount.destination);
    }
    if (covered) copy_up(m, rootfs, mount.destination, *covered);
  }
  if (mount.remount_flags == 0 && mount.recursive_attributes == 0 &&
      mount.recursive_attributes_cleared == 0 && mount.propagation == 0)
    return;
  // The descriptor above is the directory beneath the new mount; these act on the mount itself.
  const PinnedPath mounted =
      pin_in_root(m.fs(), rootfs, mount.destination, mount.mountpoint, false);
  const std::string path = mounted.path();
  if (mount.remount_flags != 0 && !cgroupfs)
    m.remount_bind(path, mount.remount_flags, mount.destination);
  if (mount.recursive_attributes != 0 || mount.recursive_attributes_cleared != 0)
    set_recursive_attributes(m, path, mount);
  if (mount.propagation != 0) m.set_propagation(path, mount.propagation, mount.destination);
}

// Only the rootfs's own mount: the mounts on top of it (/proc, /tmp, rw binds) stay writable.
void make_root_read_only(Mounter& m, const std::string& rootfs) {
  m.set_attributes(rootfs, 0, MOUNT_ATTR_RDONLY, "the root");
}

// pivot_root(".", ".") stacks the old root on top of the new one at "/"; unmounting "." then
// detaches the old root, without needing a directory for it inside the rootfs.
void switch_root(Mounter& m, const std::string& rootfs) {
  HostFs& fs = m.fs();
  if (m.log().debug_enabled()) m.log().debug("pivot_root into " + rootfs);
  check(fs.chdir(rootfs), "enter the rootfs " + rootfs);
  check(fs.pivot_root(".", "."), "pivot_root into " + rootfs);
  check(fs.umount2(".", MNT_DETACH), "detach the old root");
  check(fs.chdir("/"), "enter / of the container");
}

// nsrun.storage.chroot only (see MountPlan): the old root stays beneath the new one.
void switch_root_with_chroot(Mounter& m, const std::string& rootfs) {
  HostFs& fs = m.fs();
  if (m.log().debug_enabled()) m.log().debug("chroot into " + rootfs + " (not pivot_root)");
  check(fs.chdir(rootfs), "enter the rootfs " + rootfs);
  check(fs.chroot("."), "chroot into " + rootfs);
  check(fs.chdir("/"), "enter / of the container");
}

// runc's mkdir -p of process.cwd (docker's of --workdir). Resolved in the root as every
// mountpoint is (open_in_root: no symlink or ".." leads out of it, no /proc magic link is
// followed), each missing directory made 0755 relative to its resolved parent. Only a missing
// one is made: whether an existing path is a usable working directory (a file, a path through a
// /proc/self/fd link) is the exec stage's check, at its chdir.
void create_working_directory(const MountPlan& plan, HostFs& fs, Logger& log) {
  const std::string& cwd = plan.working_directory;
  if (cwd.empty() || cwd == "/") return;
  int fd = -1;
  Errno err = fs.open_in_root(plan.rootfs, cwd, false, false, fd);
  if (err == 0) fs.close(fd);
  if (err != ENOENT) return;
  if (log.debug_enabled()) log.debug("create the working directory " + cwd);
  err = fs.open_in_root(plan.rootfs, cwd, true, false, fd);
  if (err != 0)
    throw StageError(
        "working directory " + cwd + " (" + plan.working_directory_from +
        ") does not exist and cannot be created in the container: " + std::strerror(err) +
        " (create it in the rootfs, or give another " + plan.working_directory_from + ")");
  fs.close(fd);
}

}  // namespace

void enter_rootfs(const MountPlan& plan, HostFs& fs, Logger& log,
                  const std::string& caller_mount_namespace, IdmappedRoot* idmapped_root,
                  IdmappedBinds* idmapped_binds) {
  refuse_host_mount_namespace(fs, caller_mount_namespace);
  Mounter m(fs, log);
  make_mounts_private(m);
  if (!idmapped_root || !idmapped_root->attach(plan.rootfs, log))
    bind_rootfs_onto_itself(m, plan.rootfs);

  UmaskZero umask(fs);
  mount_proc(m, plan.rootfs);
  mount_dev(m, plan);
  mount_sys(m, plan);
  mount_tmp(m, plan);
  for (const PlannedMount& mount : plan.mounts)
    mount_planned(m, plan.rootfs, mount, idmapped_binds);
  create_device_nodes(plan.devices, plan.rootfs, fs, log);  // with the umask at 0: exact modes
  create_working_directory(plan, fs, log);                  // likewise: 0755
  umask.restore();

  if (plan.readonly_root) make_root_read_only(m, plan.rootfs);
  if (plan.chroot_instead_of_pivot_root)
    switch_root_with_chroot(m, plan.rootfs);
  else
    switch_root(m, plan.rootfs);
}

}  // namespace nsrun::storage
