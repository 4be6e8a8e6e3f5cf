// The cgroups plugin's `nsrun run` flags (docker's names) -> the spec's linux.resources,
// cgroupsPath and the cgroup driver annotation. Every bad value is refused here, with a one-line
// message naming the flag, before anything is created.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "nsrun/annotations.hpp"
#include "nsrun/spec.hpp"

namespace nsrun::cgroups {

/// The flags as typed; empty means not given.
struct ResourceFlags {
  std::string memory;         ///< --memory/-m SIZE: k, m, g, t suffixes (powers of 1024)
  std::string memory_swap;    ///< --memory-swap SIZE: memory plus swap; -1 = unlimited swap
  std::string cpus;           ///< --cpus N: fractional CPUs, turned into quota/period
  std::string cpu_quota;      ///< --cpu-quota MICROSECONDS (-1 = unlimited)
  std::string cpu_period;     ///< --cpu-period MICROSECONDS
  std::string cpu_shares;     ///< --cpu-shares/-c WEIGHT (2-262144)
  std::string pids_limit;     ///< --pids-limit N (-1 = unlimited)
  std::string cpuset_cpus;    ///< --cpuset-cpus LIST, e.g. 0-2,4
  std::string cpuset_mems;    ///< --cpuset-mems LIST
  std::string cgroup_parent;  ///< --cgroup-parent PATH: absolute, within the hierarchy
  std::string cgroup_driver;  ///< --cgroup-driver auto|v1|v2|hybrid
};

/// The flags nsrun handed the plugin ({"memory": "64m", ...}; see CgroupsStage::flags).
ResourceFlags resource_flags_from(const boost::json::object& given);

/// Validates the flags and writes them into `spec` (resources, annotations; the parent is only
/// checked: see cgroups_path_under). `online_cpus` bounds --cpus and --cpuset-cpus.
/// Throws StageError with a one-line message naming the flag.
void apply_resource_flags(const ResourceFlags& flags, ContainerSpec& spec, long online_cpus);

/// The container's cgroup for --cgroup-parent PARENT: "<PARENT>/nsrun-<id>", normalised.
std::string cgroups_path_under(const std::string& parent, const std::string& container_id);

/// Parses a docker-style size ("64m", "1.5g", "512k", "1048576"): bytes, or StageError naming
/// `flag`.
std::int64_t parse_size_flag(const std::string& flag, const std::string& value);

}  // namespace nsrun::cgroups
