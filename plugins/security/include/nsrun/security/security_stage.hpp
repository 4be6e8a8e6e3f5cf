// nsrun.security: the process's privileges and the container's protected paths, as the OCI
// runtime spec and runc apply them.
//
//   validate         every field below is checked and resolved (make_plan); nothing else.
//   start_container  inside the container, after the root switch, right before the exec stage:
//                    linux.sysctl, linux.maskedPaths, linux.readonlyPaths, process.rlimits,
//                    process.oomScoreAdj, then the bounding set, PR_SET_KEEPCAPS, process.user
//                    (groups, gid, uid, umask), the other capability sets, the ambient set and
//                    process.noNewPrivileges last.
//
// The order is the kernel's: sysctls are written before /proc/sys turns read-only; everything
// that needs root (mounts, raising limits, a negative OOM score) comes before the capabilities go;
// the bounding set is dropped while CAP_SETPCAP is still there; PR_SET_KEEPCAPS keeps the
// permitted set across the switch away from uid 0, after which capset(2) sets what the spec asks.
//
// A field the spec leaves out is left as nsrun runs (root with every capability). The stage has
// no config keys.
#pragma once

#include <memory>

#include "nsrun/plugin.hpp"
#include "nsrun/security/host.hpp"
#include "nsrun/security/plan.hpp"

namespace nsrun::security {

class SecurityStage final : public IStage {
 public:
  static constexpr const char* claims[] = {
      "process.capabilities", "process.noNewPrivileges", "process.rlimits",     "process.user",
      "process.oomScoreAdj",  "linux.maskedPaths",       "linux.readonlyPaths", "linux.sysctl"};
  // The paths are the container's: with a storage stage, its root switch comes first.
  static constexpr nsrun_contract needs[] = {{"storage.root", NSRUN_NEED_OPTIONAL}};

  SecurityStage() : SecurityStage(std::make_unique<LinuxHost>()) {}
  explicit SecurityStage(std::unique_ptr<Host> host) : host_(std::move(host)) {}

  void validate(Context& ctx) override;
  void start_container(Context& ctx) override;

 private:
  std::unique_ptr<Host> host_;
};

/// Applies `plan` through `host` in the order above; throws StageError naming the field.
void apply_plan(const Plan& plan, Host& host, Logger& log);

}  // namespace nsrun::security
