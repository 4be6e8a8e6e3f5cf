// nsrun.storage: the container's view of its own cgroups (a "cgroup" mount, /sys/fs/cgroup), as
// runc gives it: on a cgroup v1 host a tmpfs holding one mount per hierarchy, each showing only
// the container's cgroup, plus the host's links for co-mounted controllers (cpu -> cpu,cpuacct);
// on a cgroup v2 host the container's cgroup directory itself.
//
// Each hierarchy is a bind of the host's directory of the container's cgroup, never a fresh
// cgroup mount: the namespaces stage makes the cgroup namespace in start_container, after the
// root switch, so when the storage stage mounts, the process is not yet in a cgroup namespace of
// its own and a fresh mount would show the host's whole tree. The bind shows what a fresh mount
// inside the namespace would.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/storage/host_fs.hpp"
#include "nsrun/support/cgroupfs.hpp"

namespace nsrun::storage {

inline constexpr std::int64_t cgroup2_super_magic = 0x63677270;
inline constexpr std::int64_t tmpfs_magic = 0x01021994;
/// Where the host's cgroup filesystems are, and where a container expects its own.
inline constexpr const char* host_cgroup_root = "/sys/fs/cgroup";

/// A cgroup or cgroup2 filesystem mounted on the host, and a line of /proc/<pid>/cgroup, as the
/// support library reads them (the cgroups stage reads the same texts).
using CgroupMountEntry = support::CgroupMountInfo;
using support::parse_cgroup_mounts;
using support::parse_process_cgroups;
using support::ProcessCgroup;

/// Which cgroup filesystem the host has at /sys/fs/cgroup.
enum class CgroupVersion { none, v1, v2 };

/// The version a statfs type of /sys/fs/cgroup stands for: a tmpfs holds v1 hierarchies.
CgroupVersion cgroup_version_of(std::int64_t filesystem_type);

/// One hierarchy, as a bind of the host's directory of the container's cgroup.
struct CgroupfsBind {
  std::string name;    ///< its directory in the container's /sys/fs/cgroup; "" on v2
  std::string source;  ///< host path, e.g. "/sys/fs/cgroup/pids/nsrun-c1"
  bool operator==(const CgroupfsBind&) const = default;
};

/// What the container's cgroup mount is made of.
struct CgroupfsView {
  CgroupVersion version = CgroupVersion::none;
  std::vector<CgroupfsBind> binds;  ///< v1: one per hierarchy, host order; v2: one, unnamed
  std::vector<SymlinkEntry> links;  ///< v1: the host's links to co-mounted hierarchies
};

/// The host directory showing cgroup `path` of a hierarchy mounted as `mount`: nullopt when the
/// mount does not show it (its root is elsewhere).
std::optional<std::string> cgroup_directory(const CgroupMountEntry& mount, const std::string& path);

/// Reads, through `fs`, the host's cgroup filesystem (statfs of /sys/fs/cgroup), its mounts and
/// this process's cgroups (/proc/self/mountinfo, /proc/self/cgroup), and the links in
/// /sys/fs/cgroup. Call it in the container process, after it joined its cgroups and before the
/// root switch. Throws StageError when a file cannot be read or, on v2, the container's cgroup
/// cannot be found.
CgroupfsView container_cgroupfs_view(HostFs& fs);

}  // namespace nsrun::storage
