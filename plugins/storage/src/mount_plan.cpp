// Computing the mount plan (see mount_plan.hpp).
#include "nsrun/storage/mount_plan.hpp"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "nsrun/storage/mount_options.hpp"

namespace nsrun::storage {
namespace {

constexpr std::array<std::string_view, 6> stage_owned_destinations{"/proc",    "/dev", "/dev/pts",
                                                                   "/dev/shm", "/sys", "/tmp"};

MountpointType mountpoint_for_source(const std::string& source) {
  struct stat st {};
  // validate checked that the source exists; if it vanished since, mount(2) will say so.
  if (::stat(source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) return MountpointType::file;
  return MountpointType::directory;
}

// `spec_from_flags`: the mount is a `--mount` (or the default /app) of `nsrun run`.
PlannedMount plan_bind(const MountSpec& mount, std::string destination, bool spec_from_flags) {
  MountOptions options = translate_mount_options(mount.options);
  PlannedMount planned;
  planned.destination = std::move(destination);
  planned.source = mount.source;
  // mount(2) ignores every flag but MS_REC with MS_BIND; ro/nosuid/... come by a remount.
  planned.flags = MS_BIND | (options.flags & MS_REC);
  planned.remount_flags = bind_remount_flags(options.flags);
  planned.recursive_attributes = options.recursive_attributes;
  planned.recursive_attributes_cleared = options.recursive_attributes_cleared;
  // A bundle's "ro" stays the top mount's alone, as runc applies it; `--mount HOST:CTR:ro` is
  // docker's `-v`, whose submounts (a tmpfs or a disk mounted in HOST) are read-only too.
  if (spec_from_flags && (options.flags & MS_RDONLY) &&
      !(planned.recursive_attributes & MOUNT_ATTR_RDONLY)) {
    planned.recursive_attributes |= MOUNT_ATTR_RDONLY;
    planned.recursive_read_only_if_supported = true;
  }
  planned.propagation = options.propagation;
  planned.mountpoint = mountpoint_for_source(mount.source);
  planned.uid_mappings = mount.uid_mappings;
  planned.gid_mappings = mount.gid_mappings;
  planned.idmap_with_container_maps = options.idmap && mount.uid_mappings.empty();
  return planned;
}

PlannedMount plan_generic(const MountSpec& mount, std::string destination) {
  MountOptions options = translate_mount_options(mount.options);
  PlannedMount planned;
  planned.destination = std::move(destination);
  planned.source = mount.source.empty() ? mount.type : mount.source;
  planned.fstype = mount.type;
  planned.flags = options.flags;
  planned.data = std::move(options.data);
  planned.recursive_attributes = options.recursive_attributes;
  planned.recursive_attributes_cleared = options.recursive_attributes_cleared;
  planned.propagation = options.propagation;
  planned.copy_up = options.tmpcopyup;
  // The copy writes into the tmpfs: a read-only one is mounted writable, filled, then made
  // read-only, as runc fills it before moving it in place.
  if (planned.copy_up && (planned.flags & MS_RDONLY)) {
    planned.flags &= ~static_cast<unsigned long>(MS_RDONLY);
    planned.remount_flags = bind_remount_flags(options.flags);
  }
  return planned;
}

PlannedMount plan_cgroupfs(std::string destination, const std::vector<std::string>& options) {
  MountOptions translated = translate_mount_options(options);
  PlannedMount planned;
  planned.destination = std::move(destination);
  planned.source = "cgroup";
  planned.fstype = "cgroup";
  planned.cgroupfs = true;
  planned.flags = bind_remount_flags(translated.flags);
  planned.recursive_attributes = translated.recursive_attributes;
  planned.recursive_attributes_cleared = translated.recursive_attributes_cleared;
  planned.propagation = translated.propagation;
  return planned;
}

// Read-only with a read-only root, as docker makes /etc/hosts, /etc/resolv.conf and
// /etc/hostname under --read-only: nothing in the container writes where the root is read-only.
PlannedMount plan_generated_file(const GeneratedFile& file, bool read_only) {
  PlannedMount planned;
  planned.destination = file.destination;
  planned.source = file.source;
  planned.flags = MS_BIND;
  if (read_only) planned.remount_flags = MS_RDONLY;
  planned.mountpoint = MountpointType::file;
  return planned;
}

// The stage mounts /proc, /dev and /sys itself: a symlink there would make the mounts, and the
// masks laid on /proc and /sys later, land wherever the image (or a container sharing it) points.
void refuse_symlinked_system_directories(const std::string& rootfs,
                                         std::initializer_list<const char*> names) {
  for (const char* name : names) {
    std::string path = rootfs + "/" + name;
    char target[PATH_MAX];
    ssize_t n = ::readlink(path.c_str(), target, sizeof target);
    if (n < 0) continue;  // not a symlink, or missing (created in the container)
    throw StageError("the rootfs's /" + std::string(name) + " is a symlink (to " +
                     std::string(target, static_cast<std::size_t>(std::min<ssize_t>(n, 200))) +
                     "); nsrun mounts /" + name + " there itself (make it an empty directory)");
  }
}

void refuse_destination_at_root(const std::string& rootfs, const std::string& destination,
                                const char* what, bool file_bind) {
  // validate rejects "/" as written; a symlink in the image can still lead there.
  const std::string in_root = resolve_in_root(rootfs, destination).in_root();
  if (in_root == "/")
    throw StageError(std::string(what) + " \"" + destination +
                     "\" leads to the container root through a symlink in the rootfs (mount "
                     "somewhere else or fix the symlink)");
  if (in_root == "/proc" || is_strictly_beneath(in_root, "/proc"))
    refuse_mount_in_proc(destination, in_root, what, file_bind);
}

}  // namespace

bool is_file_bind(const PlannedMount& mount) {
  return (mount.flags & MS_BIND) && mount.mountpoint == MountpointType::file;
}

void refuse_mount_in_proc(const std::string& destination, const std::string& in_root,
                          const char* what, bool file_bind) {
  // LXCFS's files, bound over their /proc namesakes, as runc lets them be.
  static constexpr std::array<std::string_view, 10> bindable_proc_files{
      "/proc/cpuinfo", "/proc/diskstats",
      "/proc/meminfo", "/proc/stat",
      "/proc/swaps",   "/proc/uptime",
      "/proc/loadavg", "/proc/slabinfo",
      "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
  if (file_bind && std::find(bindable_proc_files.begin(), bindable_proc_files.end(), in_root) !=
                       bindable_proc_files.end())
    return;
  // What lies there is the kernel's view of the container, and where nsrun writes its
  // settings (oom_score_adj, sysctls): a mount over it would take those writes in their place
  // (CVE-2019-16884 did this to runc through an image's symlink).
  const std::string where = in_root == "/proc" ? "is /proc" : "is in /proc";
  if (in_root == clean_container_path(destination))
    throw StageError(std::string(what) + " \"" + destination + "\" " + where +
                     ", where nsrun mounts the container's procfs and writes its settings (mount "
                     "it somewhere else)");
  throw StageError(std::string(what) + " \"" + destination + "\" leads to " + in_root +
                   " through a symlink in the rootfs; nsrun mounts the container's procfs there "
                   "and writes its settings in it (mount it somewhere else or fix the symlink)");
}

bool is_stage_owned_destination(std::string_view cleaned_destination) {
  return std::find(stage_owned_destinations.begin(), stage_owned_destinations.end(),
                   cleaned_destination) != stage_owned_destinations.end();
}

bool spec_mounts_destination(const ContainerSpec& spec, std::string_view destination) {
  return std::any_of(spec.mounts.begin(), spec.mounts.end(), [&](const MountSpec& mount) {
    return clean_container_path(mount.destination) == destination;
  });
}

MountPlan plan_mounts(const ContainerSpec& spec, const std::string& rootfs,
                      const std::vector<GeneratedFile>& generated, Logger& log,
                      bool spec_from_flags) {
  refuse_symlinked_system_directories(rootfs, {"proc", "dev", "sys"});
  MountPlan plan;
  plan.rootfs = rootfs;
  plan.readonly_root = spec.root.readonly;
  plan.mount_tmp = spec_from_flags;
  auto add = [&](PlannedMount planned) {
    refuse_destination_at_root(rootfs, planned.destination, "mount destination",
                               is_file_bind(planned));
    plan.mounts.push_back(std::move(planned));
  };

  if (!spec_mounts_destination(spec, default_cgroupfs_destination)) {
    PlannedMount cgroupfs =
        plan_cgroupfs(default_cgroupfs_destination, {"ro", "nosuid", "noexec", "nodev"});
    cgroupfs.only_if_host_has_cgroups = true;
    add(std::move(cgroupfs));
  }
  for (const MountSpec& mount : spec.mounts) {
    std::string destination = clean_container_path(mount.destination);
    if (is_bind_mount(mount)) {
      if (is_stage_owned_destination(destination)) plan.own_mounts_replaced.insert(destination);
      add(plan_bind(mount, std::move(destination), spec_from_flags));
    } else if (is_cgroup_mount(mount)) {
      add(plan_cgroupfs(std::move(destination), mount.options));
    } else if (is_stage_owned_destination(destination)) {
      MountOptions options = translate_mount_options(mount.options);
      if (log.debug_enabled())
        log.debug("the spec's " + mount.type + " mount on " + destination + " gives the stage's " +
                  "own its options");
      if (destination == "/tmp") plan.mount_tmp = true;
      plan.own_mounts_replaced.erase(destination);  // the later mount of the spec wins
      plan.own_mount_options[destination] = {options.flags, std::move(options.data)};
    } else {
      add(plan_generic(mount, std::move(destination)));
    }
  }
  if (plan.mount_tmp) refuse_symlinked_system_directories(rootfs, {"tmp"});
  for (const GeneratedFile& file : generated) add(plan_generated_file(file, plan.readonly_root));
  return plan;
}

void append_file_mount(MountPlan& plan, const GeneratedFile& file) {
  PlannedMount planned = plan_generated_file(file, plan.readonly_root);
  planned.destination = clean_container_path(file.destination);
  refuse_destination_at_root(plan.rootfs, planned.destination, "file destination",
                             is_file_bind(planned));
  plan.mounts.push_back(std::move(planned));
}

PinnedPath pin_in_root(HostFs& fs, const std::string& rootfs, const std::string& destination,
                       MountpointType type, bool create) {
  int fd = -1;
  if (Errno err = fs.open_in_root(rootfs, destination, create, type == MountpointType::file, fd))
    throw StageError(std::string(create ? "cannot create the mountpoint " : "cannot open ") +
                     destination + " in the rootfs " + rootfs + ": " + std::strerror(err) +
                     (err == ENOSYS ? " (nsrun needs openat2, Linux 5.6 or later)" : ""));
  return PinnedPath(fs, fd);
}

}  // namespace nsrun::storage
