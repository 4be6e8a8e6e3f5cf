// nsrun.cgroups: which cgroup hierarchies a host has, and where nsrun itself sits in them.
//
// Three kinds of host:
//   v2      one cgroup2 hierarchy (at /sys/fs/cgroup) holding every controller;
//   v1      one cgroup v1 hierarchy per controller (or co-mounted group, e.g. cpu,cpuacct);
//   hybrid  v1 controller hierarchies plus a cgroup2 mount beside them (systemd's "hybrid"
//           layout, /sys/fs/cgroup/unified), usually with no controller of its own.
// The kind is decided from /proc/self/mountinfo; in hybrid mode a controller that no v1
// hierarchy has is taken from the cgroup2 mount when its root's cgroup.controllers lists it.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/cgroups/host.hpp"

namespace nsrun::cgroups {

enum class Driver { automatic, v1, v2, hybrid };

/// "auto", "v1", "v2", "hybrid"; nullopt for anything else.
std::optional<Driver> parse_driver(std::string_view text);
const char* driver_name(Driver driver);

/// One cgroup filesystem mount from /proc/self/mountinfo.
struct CgroupMount {
  bool v2 = false;
  std::string mount_point;               ///< host path, e.g. /sys/fs/cgroup/memory
  std::string root;                      ///< the hierarchy path mounted there (usually "/")
  std::vector<std::string> controllers;  ///< v1: e.g. {"cpu", "cpuacct"}; "name=systemd" too
};

/// Every cgroup and cgroup2 mount, in mountinfo order (octal escapes such as \040 decoded).
std::vector<CgroupMount> parse_mountinfo(std::string_view mountinfo);

/// /proc/self/cgroup: the calling process's cgroup path in each hierarchy.
struct ProcCgroups {
  std::map<std::string, std::string> v1;  ///< controller (or name=...) -> path
  std::optional<std::string> v2;          ///< the "0::" line
};
ProcCgroups parse_proc_cgroup(std::string_view text);

/// True for a v1 controller that limits or tracks something (not a named hierarchy).
bool is_v1_controller(std::string_view name);

/// Decides the driver. `requested` automatic detects; any other value is checked against the
/// mounts and StageError explains why the host cannot do it.
Driver decide_driver(const std::vector<CgroupMount>& mounts, Driver requested);

/// A host's cgroup layout as the stage uses it.
struct Layout {
  Driver driver = Driver::v2;
  std::vector<CgroupMount> v1;    ///< v1 hierarchies with at least one real controller
  std::optional<CgroupMount> v2;  ///< the cgroup2 mount (v2 and hybrid)
  ProcCgroups self;               ///< where nsrun runs

  /// The v1 hierarchy holding `controller`, or null.
  const CgroupMount* v1_hierarchy(std::string_view controller) const;
  /// nsrun's own cgroup in a hierarchy, as a path relative to the mount point (starts with
  /// '/'); StageError when it is not visible under that mount.
  std::string own_path(const CgroupMount& mount) const;
};

/// Reads /proc/self/mountinfo and /proc/self/cgroup through `host` and decides the driver.
Layout detect_layout(Host& host, Driver requested);

}  // namespace nsrun::cgroups
