// nsrun.cgroups: the v1, v2 and hybrid drivers.
//
// A Plan lists one Placement per hierarchy the container joins: its cgroup directory and the
// files to write there. make_plan() maps linux.resources onto the driver's files:
//
//   resource        v1 file (hierarchy)                       v2 file
//   memory.limit    memory.limit_in_bytes (memory)            memory.max
//   memory.swap     memory.memsw.limit_in_bytes (memory)      memory.swap.max (= swap - limit)
//   cpu.quota/period cpu.cfs_quota_us, cpu.cfs_period_us (cpu) cpu.max ("quota period")
//   cpu.shares      cpu.shares (cpu)                          cpu.weight (converted)
//   cpu.cpus/mems   cpuset.cpus, cpuset.mems (cpuset)         cpuset.cpus, cpuset.mems
//   pids.limit      pids.max (pids)                           pids.max
//   devices         devices.deny, devices.allow (devices)     an eBPF device program
//
// Only hierarchies with a limit to apply are joined (every one, for an engine's container: see
// make_plan's `every_hierarchy`), plus, when `track` is set (the container
// has no pid namespace of its own, or the config asks for a cgroup always), one hierarchy that
// lets teardown find and kill every process: the cgroup2 one on v2 and hybrid hosts (cgroup.kill),
// freezer on v1. Whenever any cgroup is made, the container also gets a freezer for `nsrun pause`:
// the v1 freezer hierarchy where one is mounted (v1 and hybrid), else its cgroup2 cgroup
// (cgroup.freeze). See docs/cgroups.md for why.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/cgroups/host.hpp"
#include "nsrun/cgroups/layout.hpp"
#include "nsrun/spec.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::cgroups {

struct CgroupWrite {
  std::string file;   ///< e.g. "memory.max"
  std::string value;  ///< ignored when copy_from_parent
  /// Skip silently (debug line) when the file does not exist: swap accounting may be off.
  bool optional = false;
  /// Write the parent cgroup's value (v1 cpuset.cpus/mems start empty and must be filled).
  bool copy_from_parent = false;
};

struct Placement {
  std::string hierarchy;  ///< "memory", "cpu,cpuacct", "pids", "freezer", "cgroup2"
  bool v2 = false;
  std::string mount_point;
  std::string path;                      ///< the container's cgroup, relative to the mount point
  std::vector<std::string> controllers;  ///< v2: to enable in the parent's subtree_control
  bool v1_cpuset = false;     ///< v1 cpuset hierarchy: new cgroups need cpus and mems copied
  bool holds_memory = false;  ///< the memory limit (and its OOM counter) lives here
  /// linux.resources.devices applies here (v1 devices hierarchy, or the v2 device program);
  /// written in create_runtime, once every stage's prepare is done (devices.hpp).
  bool holds_devices = false;
  std::vector<CgroupWrite> writes;

  std::string dir() const { return path == "/" ? mount_point : mount_point + path; }
};

struct Plan {
  Driver driver = Driver::v2;
  std::vector<Placement> placements;
  std::optional<std::int64_t> memory_limit;  ///< for the OOM message
};

/// Where the container's cgroup goes (a path relative to the hierarchy root, as in
/// /proc/self/cgroup): `cgroups_path` when given (absolute: from the hierarchy root; relative:
/// from nsrun's own cgroup), else `<nsrun's own cgroup>/nsrun-<id>`.
std::string container_cgroup_path(const Layout& layout, const CgroupMount& mount,
                                  std::string_view cgroups_path, std::string_view container_id);

/// Builds the plan. Reads nothing but the unified root's cgroup.controllers (hybrid hosts, for a
/// controller no v1 hierarchy has) and, with `every_hierarchy` on v2, what the parent cgroup
/// delegates. StageError when a needed controller is missing. `every_hierarchy` gives the
/// container a cgroup in every v1 controller hierarchy (v1, hybrid), or on v2 its one cgroup with
/// the cpu, io, memory and pids controllers where they can be delegated: what runc makes, and what
/// engines read the container's use from.
Plan make_plan(Host& host, const Layout& layout, const ResourcesSpec& resources,
               std::string_view cgroups_path, std::string_view container_id, bool track,
               bool every_hierarchy = false);

/// Read-only checks that creating the plan can work (v2: controllers delegated to the parent,
/// no-internal-processes rule; cpusets online). StageError says why not and what to do.
void check_plan(Host& host, const Plan& plan);

/// Checks --cpuset-cpus/--cpuset-mems against /sys/devices/system/{cpu,node}/online.
void check_cpusets(Host& host, const ResourcesSpec& resources);

/// Journals and creates every cgroup of the plan and writes the limits.
void create_cgroups(Host& host, const Plan& plan, std::string_view driver_note, Journal& journal,
                    Logger& log);

/// A v1 cgroup's `tasks` file, opened on the host before the container process exists.
struct TasksFile {
  int fd = -1;
  std::string path;
};

/// Opens the `tasks` file of every v1 cgroup of the plan (prepare, on the host). The container
/// process inherits the descriptors and moves itself with join_cgroups(): a thread moving itself
/// is the one cgroup migration the kernel does without write-locking the global
/// cgroup_threadgroup_rwsem, whose RCU grace period is most of what moving another process
/// costs (0.3-4 ms per run on this host, against about 0.1 ms).
std::vector<TasksFile> open_tasks_files(Host& host, const Plan& plan);

/// Inside the (single-threaded) container process, before any workload code: writes "0" to
/// every tasks file, which moves the caller into those v1 cgroups, then closes them.
void join_cgroups(Host& host, std::vector<TasksFile>& files, Logger& log);

void close_tasks_files(Host& host, std::vector<TasksFile>& files) noexcept;

/// Moves `pid` into every cgroup2 cgroup of the plan (cgroup.procs; the v1 ones are joined
/// from inside with join_cgroups).
void attach_process(Host& host, const Plan& plan, pid_t pid, Logger& log);

/// Removes those of `dirs` that exist and hold no process, deepest first, naming each in a
/// warning: the container's cgroups found without a journal (see CgroupsStage::teardown).
/// Nothing is killed, and nothing that is busy or not empty is touched.
void remove_unrecorded_cgroups(Host& host, const std::vector<std::string>& dirs, Logger& log);

/// Teardown from the journal alone: reports an OOM kill, kills what is left, removes the
/// directories (retrying while busy). Idempotent. StageError when a directory stays.
void remove_cgroups(Host& host, const std::vector<JournalRecord>& records, Logger& log,
                    std::string_view container_id);

/// nsrun exec (exec_runtime): moves `pid`, a new process already in the container's namespaces,
/// into every cgroup the journal says the container is in, v1 and v2, by writing it to each
/// cgroup.procs. Returns how many: 0 when nsrun made the container no cgroup (nothing to join).
/// StageError names the cgroup and the fix.
std::size_t join_recorded_cgroups(Host& host, const std::vector<JournalRecord>& records, pid_t pid,
                                  Logger& log);

/// How long pause waits for the kernel to report every process frozen.
inline constexpr std::chrono::milliseconds freeze_timeout{2000};

/// nsrun pause, from the journal alone: freezes the container's freezer cgroup (v1 freezer.state
/// FROZEN, or v2 cgroup.freeze 1) and waits until the kernel reports it frozen, within
/// freeze_timeout (thawed again and StageError otherwise). StageError when the container has no
/// cgroup or no freezer.
void freeze_container(Host& host, const std::vector<JournalRecord>& records, Logger& log);

/// nsrun resume: thaws what freeze_container froze. A container without a freezer cgroup cannot
/// have been frozen by nsrun, so there is nothing to do (debug line).
void thaw_container(Host& host, const std::vector<JournalRecord>& records, Logger& log);

/// nsrun update, from the journal alone: writes `resources` (validated, the container's merged
/// linux.resources) into the container's existing cgroups, v1 and v2, with the files and order
/// create_cgroups uses (v1 memory and memory+swap ordered for growing or shrinking). Every given
/// value is written, -1 as unlimited. StageError, before anything is written, when a limit needs a
/// controller the container has no cgroup for (no cgroup is created; see driver.cpp) or a cgroup
/// is gone. Journals a new memory limit (record_memory_limit) for teardown's OOM message.
void update_limits(Host& host, Journal& journal, const ResourcesSpec& resources, Logger& log);

/// Journal record types.
inline constexpr const char* record_cgroups = "cgroups";
inline constexpr const char* record_ancestors = "cgroup-ancestors";
inline constexpr const char* record_existed = "cgroup-existed";
/// {"dir", "memory_limit" (absent: unlimited)}: a memory limit nsrun update set later.
inline constexpr const char* record_memory_limit = "cgroup-memory-limit";

}  // namespace nsrun::cgroups
