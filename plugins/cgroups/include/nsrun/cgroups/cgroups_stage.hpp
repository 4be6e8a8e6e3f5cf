// nsrun.cgroups: the stage that puts a container into its own cgroups with its limits.
//
//   validate        config (driver, alwaysCreate), linux.resources, cgroupsPath, cpusets online,
//                   the host's layout and, on v2, that the controllers can be delegated.
//                   Reads only; nothing is created when anything is wrong.
//   prepare         journals, then creates the cgroups and writes the limits.
//   create_runtime  applies linux.resources.devices from the final spec (v1 devices.allow/deny,
//                   or the v2 eBPF device program; devices.hpp), then moves the waiting container
//                   process into its cgroup2 cgroups (cgroup.procs).
//   create_container inside the container process, before any workload code: it moves itself
//                   into its v1 cgroups through `tasks` files opened in prepare (much cheaper
//                   for the kernel than moving another process; see join_cgroups).
//   teardown        from the journal alone: reports an OOM kill, kills what is left, removes the
//                   directories. Idempotent.
//   exec_runtime    (nsrun exec) moves the new process into every cgroup the journal lists.
//   pause, resume   (nsrun pause/resume) freeze and thaw the container's freezer cgroup, from the
//                   journal alone like teardown.
//   update          (nsrun update) checks the merged linux.resources as validate does and
//                   writes it into the container's existing cgroups (from the journal); a limit
//                   for a controller the container has no cgroup for fails (none is created).
//
// For `nsrun run FLAGS CMD` (SpecSource::flags) validate gives linux.resources.devices runc's
// defaults when the spec has none, and prepare records them; a bundle's list is applied as is.
//
// Config keys: "driver" (auto|v1|v2|hybrid, overridden per container by the annotation
// nsrun.cgroups.driver that --cgroup-driver sets) and "alwaysCreate" (create a cgroup even when
// no limit is set and the container has its own pid namespace; default false).
#pragma once

#include <memory>

#include "nsrun/annotations.hpp"
#include "nsrun/cgroups/driver.hpp"
#include "nsrun/cgroups/host.hpp"
#include "nsrun/plugin.hpp"

namespace nsrun::cgroups {

class CgroupsStage final : public IStage {
 public:
  static constexpr const char* claims[] = {"linux.resources", "linux.cgroupsPath"};
  /// The container process is in its cgroups once this stage's create_container ran: a stage
  /// that shows the process its cgroup (storage mounts /sys/fs/cgroup) must come after it.
  static constexpr nsrun_contract provides[] = {{"cgroups.membership", 0}};
  /// docker's resource flags; they override a bundle's linux.resources field by field.
  static constexpr nsrun_flag flags[] = {
      {"memory", "m", NSRUN_FLAG_STRING, "SIZE",
       "Memory limit, e.g. 64m (k, m, g: powers of 1024)"},
      {"memory-swap", nullptr, NSRUN_FLAG_STRING, "SIZE",
       "Memory plus swap limit (default: twice --memory; -1: unlimited swap)"},
      {"cpus", nullptr, NSRUN_FLAG_STRING, "N",
       "CPUs, fractional, e.g. 0.5 (quota over a 100 ms period)"},
      {"cpu-quota", nullptr, NSRUN_FLAG_STRING, "MICROSECONDS", "CPU time per period (-1: none)"},
      {"cpu-period", nullptr, NSRUN_FLAG_STRING, "MICROSECONDS", "CPU period (1000-1000000)"},
      {"cpu-shares", "c", NSRUN_FLAG_STRING, "WEIGHT",
       "Relative CPU weight (2-262144, default 1024)"},
      {"pids-limit", nullptr, NSRUN_FLAG_STRING, "N", "Most processes at once (-1: unlimited)"},
      {"cpuset-cpus", nullptr, NSRUN_FLAG_STRING, "LIST", "CPUs allowed, e.g. 0-1,3"},
      {"cpuset-mems", nullptr, NSRUN_FLAG_STRING, "LIST", "Memory nodes allowed, e.g. 0"},
      {"cgroup-parent", nullptr, NSRUN_FLAG_STRING, "PATH",
       "Absolute cgroup under which nsrun-<id> is made (default: nsrun's own)"},
      {"cgroup-driver", nullptr, NSRUN_FLAG_STRING, "DRIVER", "auto, v1, v2 or hybrid"},
  };

  CgroupsStage() : CgroupsStage(std::make_unique<LinuxHost>()) {}
  explicit CgroupsStage(std::unique_ptr<Host> host) : host_(std::move(host)) {}
  ~CgroupsStage() override { close_tasks_files(*host_, tasks_); }
  CgroupsStage(const CgroupsStage&) = delete;
  CgroupsStage& operator=(const CgroupsStage&) = delete;

  void validate(Context& ctx) override;
  void prepare(Context& ctx) override;
  void create_runtime(Context& ctx) override;
  void create_container(Context& ctx) override;
  void teardown(Context& ctx) override;
  void exec_runtime(Context& ctx) override;
  void pause(Context& ctx) override;
  void resume(Context& ctx) override;
  void update(Context& ctx) override;

  const Plan& plan() const { return plan_; }

 private:
  std::unique_ptr<Host> host_;
  /// The spec's resources, cgroupsPath and driver annotation with the flags applied (validate);
  /// prepare writes them into the spec.
  ContainerSpec effective_;
  Plan plan_;
  std::vector<TasksFile> tasks_;  ///< v1 tasks files, opened in prepare for create_container
  /// The host shows no cgroup filesystem, so the default device rules were dropped (validate).
  bool devices_unavailable_ = false;
};

}  // namespace nsrun::cgroups
