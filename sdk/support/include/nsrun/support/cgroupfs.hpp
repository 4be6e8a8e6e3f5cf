// nsrun support: the kernel's two texts about cgroups that both the cgroups stage (to make a
// container's cgroups) and the storage stage (to show them inside it) read: the cgroup mounts
// of /proc/<pid>/mountinfo and the lines of /proc/<pid>/cgroup.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nsrun::support {

/// A cgroup or cgroup2 filesystem as mountinfo lists it.
struct CgroupMountInfo {
  std::string mount_point;                 ///< e.g. "/sys/fs/cgroup/cpu,cpuacct"
  std::string root;                        ///< the cgroup the mount shows as its root, e.g. "/"
  bool v2 = false;                         ///< a cgroup2 filesystem
  std::vector<std::string> super_options;  ///< "rw", "cpu", "cpuacct", "name=systemd"...
};

/// The cgroup and cgroup2 mounts of a mountinfo text, in order, with its escapes (\040 for a
/// space...) undone. Other filesystems and malformed lines are skipped.
std::vector<CgroupMountInfo> parse_cgroup_mounts(std::string_view mountinfo);

/// One line of /proc/<pid>/cgroup: a hierarchy's controllers and the process's cgroup in it.
struct ProcessCgroup {
  std::vector<std::string> controllers;  ///< empty for the cgroup2 hierarchy ("0::/path")
  std::string path;                      ///< e.g. "/nsrun-c1"; may itself hold ':'
};

/// The lines of a /proc/<pid>/cgroup text; malformed ones are skipped.
std::vector<ProcessCgroup> parse_process_cgroups(std::string_view text);

}  // namespace nsrun::support
