// nsrun.cgroups: checking linux.resources and turning it into cgroup file values.
//
// `nsrun run` flags are checked by the core (resource_flags.cpp) with messages that name the
// flag; a bundle's config.json reaches the stage unchecked, so validate() checks the same rules
// here with messages that name the config.json field. Both run before anything is created.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "nsrun/spec.hpp"

namespace nsrun::cgroups {

inline constexpr std::int64_t min_memory_bytes = 6 * 1024 * 1024;  // docker's and runc's floor
inline constexpr std::int64_t min_cpu_quota_us = 1000;             // the kernel's floor (1 ms)
inline constexpr std::uint64_t min_cpu_period_us = 1000;
inline constexpr std::uint64_t max_cpu_period_us = 1000000;
inline constexpr std::uint64_t min_cpu_shares = 2;
inline constexpr std::uint64_t max_cpu_shares = 262144;
inline constexpr std::uint64_t default_cpu_period_us = 100000;

/// Throws StageError naming the config.json field of the first invalid value.
void validate_resources(const ResourcesSpec& resources);

/// Parses a cpuset list ("0-3,5"); nullopt (with `why`) when malformed.
std::optional<std::set<unsigned>> parse_cpu_list(std::string_view text, std::string* why = nullptr);

/// "64 MiB", "1.5 GiB" style, for messages.
std::string format_bytes(std::int64_t bytes);

/// cgroup v2 cpu.weight for v1 cpu.shares (runc's conversion: [2, 262144] -> [1, 10000]).
std::uint64_t cpu_shares_to_weight(std::uint64_t shares);

/// What the resources ask of each controller. A value equal to a fresh cgroup's default
/// ("unlimited", -1) needs no cgroup and is not written.
struct Needs {
  bool memory = false;
  bool cpu = false;
  bool cpuset = false;
  bool pids = false;
  bool devices = false;  ///< linux.resources.devices (devices.hpp)
  bool any() const { return memory || cpu || cpuset || pids || devices; }
};
Needs needs_of(const ResourcesSpec& resources);

/// True when `path` (linux.cgroupsPath) is acceptable; `why` says what is wrong otherwise.
bool valid_cgroups_path(std::string_view path, std::string* why);

}  // namespace nsrun::cgroups
