// Computing the mount plan (see mount_plan.hpp).
#include "nsrun/storage/mount_plan.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "nsrun/storage/mount_options.hpp"

namespace nsrun::storage {
namespace {

constexpr std::array<std::string_view, 6> stage_owned_destinations{"/proc",    "/dev", "/dev/pts",
                                                                   "/dev/shm", "/sys", "/tmp"};

// A mount already planned, as written and as resolved: a later destination beneath either is
// beneath the mount.
struct EarlierMount {
  std::string destination;
  std::string resolved;
};

bool beneath_any(const std::vector<EarlierMount>& earlier, std::string_view destination,
                 std::string_view resolved) {
  return std::any_of(earlier.begin(), earlier.end(), [&](const EarlierMount& mount) {
    return is_strictly_beneath(destination, mount.destination) ||
           is_strictly_beneath(resolved, mount.resolved);
  });
}

MountpointType mountpoint_for_source(const std::string& source) {
  struct stat st {};
  // validate checked that the source exists; if it vanished since, mount(2) will say so.
  if (::stat(source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) return MountpointType::file;
  return MountpointType::directory;
}

PlannedMount plan_bind(const MountSpec& mount, std::string destination) {
  MountOptions options = translate_mount_options(mount.options);
  PlannedMount planned;
  planned.destination = std::move(destination);
  planned.source = mount.source;
  // mount(2) ignores every flag but MS_REC with MS_BIND; ro/nosuid/... come by a remount.
  planned.flags = MS_BIND | (options.flags & MS_REC);
  planned.remount_flags = bind_remount_flags(options.flags);
  planned.recursive_attributes = options.recursive_attributes;
  planned.propagation = options.propagation;
  planned.mountpoint = mountpoint_for_source(mount.source);
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
  planned.propagation = options.propagation;
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
  planned.propagation = translated.propagation;
  return planned;
}

PlannedMount plan_generated_file(const GeneratedFile& file) {
  PlannedMount planned;
  planned.destination = file.destination;
  planned.source = file.source;
  planned.flags = MS_BIND;
  planned.mountpoint = MountpointType::file;
  return planned;
}

void check_created(Errno err, const ResolvedPath& target, std::size_t count) {
  if (err == 0 || err == EEXIST) return;
  throw StageError("cannot create the mountpoint " + target.in_root() +
                   " in the rootfs: " + target.host_path(count) + ": " + std::strerror(err));
}

}  // namespace

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
                      const std::vector<GeneratedFile>& generated, Logger& log) {
  MountPlan plan;
  plan.rootfs = rootfs;
  plan.readonly_root = spec.root.readonly;
  plan.proc = resolve_in_root(rootfs, "/proc");
  plan.dev = resolve_in_root(rootfs, "/dev");
  plan.sys = resolve_in_root(rootfs, "/sys");
  plan.tmp = resolve_in_root(rootfs, "/tmp");

  std::vector<EarlierMount> earlier{{"/proc", plan.proc.in_root()},
                                    {"/dev", plan.dev.in_root()},
                                    {"/sys", plan.sys.in_root()},
                                    {"/tmp", plan.tmp.in_root()}};
  auto add = [&](PlannedMount planned) {
    planned.target = resolve_in_root(rootfs, planned.destination);
    std::string resolved = planned.target.in_root();
    // validate rejects "/" as written; a symlink in the image can still lead there.
    if (resolved == "/")
      throw StageError("mount destination \"" + planned.destination +
                       "\" leads to the container root through a symlink in the rootfs (mount "
                       "somewhere else or fix the symlink)");
    planned.beneath_earlier_mount = beneath_any(earlier, planned.destination, resolved);
    earlier.push_back({planned.destination, std::move(resolved)});
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
      add(plan_bind(mount, std::move(destination)));
    } else if (is_cgroup_mount(mount)) {
      add(plan_cgroupfs(std::move(destination), mount.options));
    } else if (is_stage_owned_destination(destination)) {
      if (log.debug_enabled())
        log.debug("skipping the spec's " + mount.type + " mount on " + destination +
                  ": the stage mounts " + destination + " itself");
    } else {
      add(plan_generic(mount, std::move(destination)));
    }
  }
  for (const GeneratedFile& file : generated) add(plan_generated_file(file));
  return plan;
}

void append_file_mount(MountPlan& plan, const GeneratedFile& file, HostFs& fs) {
  PlannedMount planned = plan_generated_file(file);
  planned.destination = clean_container_path(file.destination);
  planned.target = resolve_in_root(plan.rootfs, planned.destination);
  std::string resolved = planned.target.in_root();
  if (resolved == "/")
    throw StageError("file destination \"" + file.destination +
                     "\" leads to the container root through a symlink in the rootfs");
  std::vector<EarlierMount> earlier{{"/proc", plan.proc.in_root()},
                                    {"/dev", plan.dev.in_root()},
                                    {"/sys", plan.sys.in_root()},
                                    {"/tmp", plan.tmp.in_root()}};
  for (const auto& mount : plan.mounts)
    earlier.push_back({mount.destination, mount.target.in_root()});
  planned.beneath_earlier_mount = beneath_any(earlier, planned.destination, resolved);
  if (!planned.beneath_earlier_mount) create_mountpoint(planned.target, planned.mountpoint, fs);
  plan.mounts.push_back(std::move(planned));
}

void create_mountpoint(const ResolvedPath& target, MountpointType type, HostFs& fs) {
  std::size_t count = target.components.size();
  for (std::size_t i = target.existing + 1; i < count; ++i)
    check_created(fs.mkdir(target.host_path(i), 0755), target, i);
  if (target.exists()) return;
  Errno err = type == MountpointType::file ? fs.create_file(target.host_path(), 0644)
                                           : fs.mkdir(target.host_path(), 0755);
  check_created(err, target, count);
}

void create_rootfs_mountpoints(const MountPlan& plan, HostFs& fs) {
  for (const ResolvedPath* own : {&plan.proc, &plan.dev, &plan.sys, &plan.tmp})
    create_mountpoint(*own, MountpointType::directory, fs);
  for (const PlannedMount& mount : plan.mounts)
    if (!mount.beneath_earlier_mount) create_mountpoint(mount.target, mount.mountpoint, fs);
}

}  // namespace nsrun::storage
