// nsrun.security: what the stage will do, checked and resolved from the spec alone.
//
// make_plan does every check the stage's validate makes (names of capabilities, rlimits and
// sysctls, ranges, the namespaces a sysctl needs) without touching the host, and turns the
// config.json fields into what the kernel takes (capability and rlimit numbers, /proc/sys paths).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/security/seccomp.hpp"
#include "nsrun/spec.hpp"

namespace nsrun::security {

struct CapabilityPlan {
  std::vector<int> bounding, effective, permitted, inheritable, ambient;
};

struct RlimitPlan {
  std::string type;  ///< "RLIMIT_NOFILE", for messages
  int resource = 0;
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

struct UserPlan {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::optional<mode_t> umask;
};

struct SysctlPlan {
  std::string key;   ///< "net.ipv4.ip_forward"
  std::string path;  ///< "/proc/sys/net/ipv4/ip_forward"
  std::string value;
};

struct Plan {
  std::vector<SysctlPlan> sysctls;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::vector<RlimitPlan> rlimits;
  std::optional<int> oom_score_adj;
  std::optional<CapabilityPlan> capabilities;
  std::optional<UserPlan> user;
  bool no_new_privileges = false;
  /// linux.seccomp. A container-level field that `nsrun exec` applies too: a process that joins
  /// the container gets the container's filter.
  std::optional<SeccompPlan> seccomp;
  /// The same filter compiled on the host (compile_seccomp); loaded instead of building
  /// `seccomp` again in the container when the stage has it.
  std::shared_ptr<const CompiledSeccomp> compiled_seccomp;
  /// Capabilities libcap knows but the running kernel does not, left out as runc does
  /// ("process.capabilities.bounding: CAP_X"), for a warning.
  std::vector<std::string> unknown_to_kernel;
};

/// The capability number of an OCI name such as "CAP_CHOWN", or nullopt for a name that is not
/// one (OCI names are upper case with the CAP_ prefix; libcap would also take "chown" or "0").
std::optional<int> capability_number(const std::string& name);

/// "CAP_CHOWN" for 0, for messages.
std::string capability_name(int number);

/// The resource number of "RLIMIT_NOFILE" and the like, or nullopt.
std::optional<int> rlimit_resource(const std::string& type);

/// Checks the spec's security fields and resolves them; throws StageError with a one-line
/// message naming the field and the fix. `last_capability` is the running kernel's CAP_LAST_CAP.
/// The container-level fields (linux.sysctl, maskedPaths, readonlyPaths) are checked first, then
/// the process-level ones as make_process_plan checks them.
Plan make_plan(const ContainerSpec& spec, int last_capability, bool plan_seccomp = true);

/// linux.seccomp of `spec`, checked and resolved (make_seccomp_plan), or nullopt without one.
std::optional<SeccompPlan> seccomp_plan(const ContainerSpec& spec);

/// The process-level part of make_plan alone: process.rlimits, oomScoreAdj, capabilities, user
/// and noNewPrivileges, with the same checks and the same messages. What `nsrun exec` confines a
/// process that joins a running container with; the container-level fields of the result
/// (sysctls, masked_paths, readonly_paths) are empty.
Plan make_process_plan(const ProcessSpec& process, int last_capability);

}  // namespace nsrun::security
