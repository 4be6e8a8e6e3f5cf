// The container's view of its cgroups (see cgroupfs.hpp).
#include "nsrun/storage/cgroupfs.hpp"

#include <algorithm>
#include <cstring>

#include "nsrun/stage.hpp"

namespace nsrun::storage {
namespace {

std::string read_or_throw(HostFs& fs, const std::string& path) {
  std::string content;
  if (Errno err = fs.read_file(path, content))
    throw StageError("cannot read " + path +
                     " to find the container's cgroups: " + std::strerror(err));
  return content;
}

// The container's line for a hierarchy mounted as `mount`: the v2 line for a cgroup2 mount,
// otherwise the line whose controllers the mount's super options all name.
const ProcessCgroup* line_for(const CgroupMountEntry& mount,
                              const std::vector<ProcessCgroup>& cgroups) {
  for (const ProcessCgroup& cgroup : cgroups) {
    if (mount.v2 != cgroup.controllers.empty()) continue;
    bool all_named = std::all_of(
        cgroup.controllers.begin(), cgroup.controllers.end(), [&](const std::string& controller) {
          return std::find(mount.super_options.begin(), mount.super_options.end(), controller) !=
                 mount.super_options.end();
        });
    if (all_named) return &cgroup;
  }
  return nullptr;
}

std::string basename_of(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

std::string parent_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

CgroupVersion cgroup_version_of(std::int64_t filesystem_type) {
  if (filesystem_type == cgroup2_super_magic) return CgroupVersion::v2;
  if (filesystem_type == tmpfs_magic) return CgroupVersion::v1;
  return CgroupVersion::none;
}

std::optional<std::string> cgroup_directory(const CgroupMountEntry& mount,
                                            const std::string& path) {
  std::string relative;
  if (mount.root == "/")
    relative = path;
  else if (path == mount.root)
    relative = "/";
  else if (path.starts_with(mount.root + "/"))
    relative = path.substr(mount.root.size());
  else
    return std::nullopt;
  return relative == "/" ? mount.mount_point : mount.mount_point + relative;
}

CgroupfsView container_cgroupfs_view(HostFs& fs) {
  CgroupfsView view;
  std::int64_t type = 0;
  if (fs.filesystem_type(host_cgroup_root, type) != 0) return view;
  view.version = cgroup_version_of(type);
  if (view.version == CgroupVersion::none) return view;

  std::vector<CgroupMountEntry> mounts =
      parse_cgroup_mounts(read_or_throw(fs, "/proc/self/mountinfo"));
  std::vector<ProcessCgroup> cgroups =
      parse_process_cgroups(read_or_throw(fs, "/proc/self/cgroup"));

  if (view.version == CgroupVersion::v2) {
    for (const CgroupMountEntry& mount : mounts) {
      if (!mount.v2 || mount.mount_point != host_cgroup_root) continue;
      const ProcessCgroup* line = line_for(mount, cgroups);
      std::optional<std::string> source = line ? cgroup_directory(mount, line->path) : std::nullopt;
      if (!source) break;
      view.binds.push_back({"", *source});
      return view;
    }
    throw StageError(
        "cannot find the container's cgroup in the host's cgroup2 filesystem at /sys/fs/cgroup "
        "(is /proc/self/cgroup's \"0::\" line beneath the mount's root?)");
  }

  // v1: each hierarchy mounted directly beneath /sys/fs/cgroup, named as on the host ("pids",
  // "cpu,cpuacct", "systemd", "unified"). One the container is not in, or cannot see, is left
  // out, as is a second mount of the same hierarchy.
  for (const CgroupMountEntry& mount : mounts) {
    if (parent_of(mount.mount_point) != host_cgroup_root) continue;
    std::string name = basename_of(mount.mount_point);
    bool seen = std::any_of(view.binds.begin(), view.binds.end(),
                            [&](const CgroupfsBind& bind) { return bind.name == name; });
    const ProcessCgroup* line = line_for(mount, cgroups);
    if (seen || !line) continue;
    if (std::optional<std::string> source = cgroup_directory(mount, line->path))
      view.binds.push_back({name, *source});
  }
  std::vector<SymlinkEntry> links;
  if (fs.read_symlinks(host_cgroup_root, links) == 0)
    for (SymlinkEntry& link : links) {
      bool to_a_hierarchy =
          std::any_of(view.binds.begin(), view.binds.end(),
                      [&](const CgroupfsBind& bind) { return bind.name == link.target; });
      if (to_a_hierarchy) view.links.push_back(std::move(link));
    }
  return view;
}

}  // namespace nsrun::storage
