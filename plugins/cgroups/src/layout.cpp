#include "nsrun/cgroups/layout.hpp"

#include <cerrno>
#include <cstring>

#include "nsrun/stage.hpp"
#include "nsrun/support/cgroupfs.hpp"

namespace nsrun::cgroups {
namespace {

std::string describe_mounts(const std::vector<CgroupMount>& mounts) {
  std::string out;
  for (const auto& m : mounts) {
    if (!out.empty()) out += ", ";
    out += m.mount_point + (m.v2 ? " (cgroup2)" : " (cgroup)");
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::optional<Driver> parse_driver(std::string_view text) {
  if (text == "auto" || text.empty()) return Driver::automatic;
  if (text == "v1") return Driver::v1;
  if (text == "v2") return Driver::v2;
  if (text == "hybrid") return Driver::hybrid;
  return std::nullopt;
}

const char* driver_name(Driver driver) {
  switch (driver) {
    case Driver::automatic:
      return "auto";
    case Driver::v1:
      return "v1";
    case Driver::v2:
      return "v2";
    case Driver::hybrid:
      return "hybrid";
  }
  return "?";
}

bool is_v1_controller(std::string_view name) {
  static constexpr std::string_view known[] = {
      "cpuset",  "cpu",        "cpuacct",  "blkio",   "memory", "devices", "freezer",
      "net_cls", "perf_event", "net_prio", "hugetlb", "pids",   "rdma",    "misc"};
  for (auto k : known)
    if (k == name) return true;
  return false;
}

// The texts are read by the support library, which the storage stage shares; this stage keeps
// of a v1 mount only the options that name a hierarchy.
std::vector<CgroupMount> parse_mountinfo(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (auto& entry : support::parse_cgroup_mounts(mountinfo)) {
    CgroupMount mount;
    mount.v2 = entry.v2;
    mount.root = std::move(entry.root);
    mount.mount_point = std::move(entry.mount_point);
    if (!mount.v2)
      for (auto& option : entry.super_options)
        if (is_v1_controller(option) || option.starts_with("name="))
          mount.controllers.push_back(std::move(option));
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

ProcCgroups parse_proc_cgroup(std::string_view text) {
  ProcCgroups out;
  for (auto& line : support::parse_process_cgroups(text)) {
    if (line.controllers.empty())
      out.v2 = line.path;
    else
      for (const auto& controller : line.controllers) out.v1[controller] = line.path;
  }
  return out;
}

Driver decide_driver(const std::vector<CgroupMount>& mounts, Driver requested) {
  bool has_v1 = false, has_v2 = false;
  for (const auto& m : mounts) {
    if (m.v2) has_v2 = true;
    for (const auto& c : m.controllers)
      if (is_v1_controller(c)) has_v1 = true;
  }
  auto refuse = [&](const std::string& why, const char* instead) {
    return StageError(std::string("cgroup driver ") + driver_name(requested) +
                      " was asked for, but " + why + " (cgroup mounts: " + describe_mounts(mounts) +
                      "; use --cgroup-driver " + instead + ")");
  };
  switch (requested) {
    case Driver::automatic:
      if (has_v1 && has_v2) return Driver::hybrid;
      if (has_v1) return Driver::v1;
      if (has_v2) return Driver::v2;
      throw StageError(
          "no cgroup filesystem is mounted (mount cgroup2 on /sys/fs/cgroup, or run without "
          "resource limits and with a pid namespace)");
    case Driver::v1:
      if (!has_v1) throw refuse("no cgroup v1 controller is mounted", has_v2 ? "v2" : "auto");
      return Driver::v1;
    case Driver::v2:
      if (!has_v2) throw refuse("no cgroup2 filesystem is mounted", has_v1 ? "v1" : "auto");
      return Driver::v2;
    case Driver::hybrid:
      if (!has_v1 || !has_v2)
        throw refuse(has_v1 ? "no cgroup2 filesystem is mounted beside the v1 controllers"
                            : "no cgroup v1 controller is mounted",
                     has_v1 ? "v1" : "v2");
      return Driver::hybrid;
  }
  return requested;
}

const CgroupMount* Layout::v1_hierarchy(std::string_view controller) const {
  for (const auto& m : v1)
    for (const auto& c : m.controllers)
      if (c == controller) return &m;
  return nullptr;
}

std::string Layout::own_path(const CgroupMount& mount) const {
  std::optional<std::string> path;
  std::string hierarchy;
  if (mount.v2) {
    path = self.v2;
    hierarchy = "cgroup2";
  } else {
    for (const auto& c : mount.controllers) {
      auto it = self.v1.find(c);
      if (it != self.v1.end()) {
        path = it->second;
        break;
      }
    }
    hierarchy = mount.controllers.empty() ? "?" : mount.controllers.front();
  }
  if (!path)
    throw StageError("/proc/self/cgroup has no line for the " + hierarchy +
                     " hierarchy mounted at " + mount.mount_point +
                     " (pass --cgroup-parent, or check the cgroup mounts)");
  const std::string& root = mount.root;
  if (root == "/") return *path;
  if (*path == root) return "/";
  if (path->size() > root.size() && path->compare(0, root.size(), root) == 0 &&
      (*path)[root.size()] == '/')
    return path->substr(root.size());
  throw StageError("nsrun's own " + hierarchy + " cgroup " + *path +
                   " is outside the part of the hierarchy mounted at " + mount.mount_point + " (" +
                   root + ") (pass an absolute --cgroup-parent beneath " + root + ")");
}

Layout detect_layout(Host& host, Driver requested) {
  std::string mountinfo, proc_cgroup;
  if (int error = host.read_file("/proc/self/mountinfo", mountinfo))
    throw StageError(std::string("cannot read /proc/self/mountinfo: ") + std::strerror(error) +
                     " (is /proc mounted?)");
  if (int error = host.read_file("/proc/self/cgroup", proc_cgroup))
    throw StageError(std::string("cannot read /proc/self/cgroup: ") + std::strerror(error) +
                     " (is /proc mounted?)");
  std::vector<CgroupMount> mounts = parse_mountinfo(mountinfo);
  Layout layout;
  layout.driver = decide_driver(mounts, requested);
  layout.self = parse_proc_cgroup(proc_cgroup);
  for (auto& m : mounts) {
    if (m.v2) {
      if (!layout.v2) layout.v2 = std::move(m);
      continue;
    }
    bool real = false;
    for (const auto& c : m.controllers) real = real || is_v1_controller(c);
    if (!real) continue;
    // The same hierarchy may be mounted twice (bind mounts): the first one wins.
    bool seen = false;
    for (const auto& known : layout.v1) seen = seen || known.controllers == m.controllers;
    if (!seen) layout.v1.push_back(std::move(m));
  }
  if (layout.driver == Driver::v1) layout.v2.reset();
  if (layout.driver == Driver::v2) layout.v1.clear();
  return layout;
}

}  // namespace nsrun::cgroups
