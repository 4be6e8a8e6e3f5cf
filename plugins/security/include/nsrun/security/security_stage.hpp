// nsrun.security: the process's privileges and the container's protected paths, as the OCI
// runtime spec and runc apply them.
//
//   validate         every field below is checked and resolved (make_plan), and the flags
//                    (defaults.hpp); nothing else.
//   prepare          for a spec built from `nsrun run`'s flags only: the defaults and the flags'
//                    values are written into the spec (capabilities, no_new_privs, masked
//                    paths, seccomp profile, ...), then checked again as validate checks a
//                    bundle's.
//   start_container  inside the container, after the root switch, right before the exec stage:
//                    a new session keyring (unless --no-new-keyring), linux.sysctl,
//                    linux.maskedPaths, linux.readonlyPaths, process.rlimits, process.oomScoreAdj,
//                    then the bounding set, PR_SET_KEEPCAPS, process.user (groups, gid, uid,
//                    umask), the other capability sets, the ambient set and process.noNewPrivileges
//                    last.
//
// The order is the kernel's: sysctls are written before /proc/sys turns read-only; everything
// that needs root (mounts, raising limits, a negative OOM score) comes before the capabilities go;
// the bounding set is dropped while CAP_SETPCAP is still there; PR_SET_KEEPCAPS keeps the
// permitted set across the switch away from uid 0, after which capset(2) sets what the spec asks.
//
// A field the spec leaves out is left as nsrun runs (root with every capability). The stage has
// no config keys.
//
// `nsrun exec` (SDK 2.1) starts another process in the running container; ctx.spec is then the
// container's config.json with `process` replaced by the new process's. That process gets the
// same process-level confinement as the container's first one, and nothing else:
//
//   exec_prepare     host, before the process exists: the config and process.capabilities,
//                    user, rlimits, noNewPrivileges and oomScoreAdj are checked as validate
//                    checks them, with the same messages (make_process_plan), and the plan is
//                    kept in the stage object, which the forked process inherits.
//   exec_container   the new process, already in the container's namespaces and root, before
//                    the exec stage's execve: that plan is applied in start_container's order
//                    (rlimits, OOM score, bounding set, PR_SET_KEEPCAPS, user, capset, ambient,
//                    no_new_privs; apply_process_plan).
//
// linux.sysctl, maskedPaths and readonlyPaths are neither checked nor applied again: they belong
// to the container, were applied when it started, and hold in the mount namespace the process
// joins (mounting over them again would stack a second mount on each path, and /proc/sys is
// read-only by then). The exec'd process is confined by its own `process` fields only: what is
// absent there is left as nsrun runs, so whoever builds that `process` decides whether it
// inherits the container's capabilities, user and limits (runc's exec starts from the
// container's).
#pragma once

#include <memory>
#include <optional>

#include "nsrun/plugin.hpp"
#include "nsrun/security/defaults.hpp"
#include "nsrun/security/host.hpp"
#include "nsrun/security/plan.hpp"

namespace nsrun::security {

class SecurityStage final : public IStage {
 public:
  static constexpr const char* claims[] = {
      "process.capabilities", "process.noNewPrivileges", "process.rlimits",     "process.user",
      "process.oomScoreAdj",  "linux.maskedPaths",       "linux.readonlyPaths", "linux.sysctl",
      "linux.seccomp"};
  // The paths are the container's: with a storage stage, its root switch comes first.
  static constexpr nsrun_contract needs[] = {{"storage.root", NSRUN_NEED_OPTIONAL}};
  // `nsrun run`'s flags (defaults.hpp); a bundle's config.json decides instead, and refuses them.
  static constexpr nsrun_flag flags[] = {
      {"privileged", nullptr, NSRUN_FLAG_SWITCH, nullptr,
       "Every capability, no masked paths, no seccomp profile (default off)"},
      {"cap-add", nullptr, NSRUN_FLAG_STRINGS, "CAP", "Add a capability (or ALL), repeatable"},
      {"cap-drop", nullptr, NSRUN_FLAG_STRINGS, "CAP",
       "Drop a capability (or ALL) from the default eleven, repeatable"},
      {"security-opt", nullptr, NSRUN_FLAG_STRINGS, "OPT",
       "no-new-privileges[=true|false] (default true), seccomp=unconfined|PROFILE.json"},
      {"user", "u", NSRUN_FLAG_STRING, "UID[:GID]", "Run as this user (default 0:0)"},
      {"ulimit", nullptr, NSRUN_FLAG_STRINGS, "NAME=SOFT[:HARD]",
       "Resource limit, e.g. nofile=1024:2048, repeatable"},
      {"oom-score-adj", nullptr, NSRUN_FLAG_STRING, "N", "OOM score adjustment (-1000 to 1000)"},
      {"sysctl", nullptr, NSRUN_FLAG_STRINGS, "KEY=VALUE",
       "Namespaced sysctl (net.*, kernel.shm*/msg*/sem, fs.mqueue.*), repeatable"},
      {"no-new-keyring", nullptr, NSRUN_FLAG_SWITCH, nullptr,
       "Keep the caller's session keyring (default: a new one per container)"},
  };

  SecurityStage() : SecurityStage(std::make_unique<LinuxHost>()) {}
  explicit SecurityStage(std::unique_ptr<Host> host) : host_(std::move(host)) {}

  void validate(Context& ctx) override;
  void prepare(Context& ctx) override;
  void start_container(Context& ctx) override;
  void exec_prepare(Context& ctx) override;
  void exec_container(Context& ctx) override;

 private:
  std::unique_ptr<Host> host_;
  std::optional<Plan> exec_plan_;  ///< made in exec_prepare, applied in exec_container
  /// validate's: the filter the container gets (the bundle's, or nsrun run's) and its BPF.
  std::optional<SeccompSource> run_seccomp_;    ///< the filter validate compiled, by its key
  std::optional<SeccompSpec> written_seccomp_;  ///< linux.seccomp as prepare writes it
  std::shared_ptr<const CompiledSeccomp> compiled_seccomp_;
};

/// Applies `plan` through `host` in the order above; throws StageError naming the field.
void apply_plan(const Plan& plan, Host& host, Logger& log);

/// Applies the container-level part of `plan` only: sysctls, masked and read-only paths.
void apply_container_plan(const Plan& plan, Host& host, Logger& log);

/// Applies the process-level part of `plan` only (rlimits to no_new_privs, as apply_plan does
/// them), whatever its container-level fields hold: what exec_container does.
void apply_process_plan(const Plan& plan, Host& host);

}  // namespace nsrun::security
