// nsrun.security: what `nsrun run FLAGS CMD` gets by default, and the flags that change it.
//
// A bundle's config.json is applied exactly as written (an engine decides, as with runc). A spec
// built from `nsrun run`'s flags says nothing about privileges, so the stage fills in, in its
// prepare, what docker and podman users expect and what runc's `spec` writes:
//
//   capabilities   podman's eleven (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE,
//                  SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT) in the bounding, permitted and
//                  effective sets; inheritable and ambient empty. --cap-add / --cap-drop change
//                  it (ALL accepted, as docker: drops first, then adds).
//   no_new_privs   on (--security-opt no-new-privileges=false turns it off).
//   masked paths   /proc/acpi, kcore, keys, latency_stats, timer_list, timer_stats,
//                  sched_debug, scsi and /sys/firmware; read-only /proc/asound, bus, fs, irq,
//                  sys and sysrq-trigger.
//   seccomp        the default profile (--security-opt seccomp=FILE|unconfined).
//
// --privileged keeps every capability the kernel knows and nsrun holds and drops the masks and the
// seccomp profile (no_new_privs stays unless turned off, as with docker's flag). --user, --ulimit,
// --oom-score-adj and --sysctl set process.user, process.rlimits, process.oomScoreAdj and
// linux.sysctl. Every value is checked in validate, with a one-line error naming the flag.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/spec.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::security {

/// The security stage's `nsrun run` flags, parsed and checked.
struct RunOptions {
  bool privileged = false;
  std::vector<std::string> cap_add;   ///< "CAP_NET_ADMIN" or "ALL"
  std::vector<std::string> cap_drop;  ///< likewise
  bool no_new_privileges = true;
  /// --security-opt seccomp=: "unconfined", a profile file, or empty for the default profile.
  std::string seccomp;
  std::optional<UserSpec> user;
  std::vector<RlimitSpec> ulimits;
  std::optional<std::int64_t> oom_score_adj;
  std::map<std::string, std::string> sysctls;
  bool no_new_keyring = false;
  /// Whether a flag other than --no-new-keyring was given (a bundle refuses them: its
  /// config.json decides).
  bool any = false;
};

/// Parses the given flags ({"cap-add": [...], ...}); throws StageError naming the flag.
/// `last_capability` is the running kernel's CAP_LAST_CAP.
RunOptions parse_run_options(const boost::json::object& flags, int last_capability);

/// The capabilities a container of `nsrun run` keeps by default (podman's eleven).
const std::vector<std::string>& default_capabilities();
const std::vector<std::string>& default_masked_paths();
const std::vector<std::string>& default_readonly_paths();

/// The capability names a container of `nsrun run` gets with `options` (flags applied to the
/// defaults), in capability-number order. `grantable` is what --privileged and ALL give: every
/// capability the kernel knows and nsrun itself holds (a machine may withhold some from root).
std::vector<std::string> run_capabilities(const RunOptions& options,
                                          const std::vector<int>& grantable);

/// Fills in the defaults and the flags' values for a spec built from flags (see above). Leaves
/// linux.seccomp to the caller (the profile needs a file read). Throws StageError.
void apply_run_options(ContainerSpec& spec, const RunOptions& options,
                       const std::vector<int>& grantable);

}  // namespace nsrun::security
