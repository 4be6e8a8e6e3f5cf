// nsrun.security: linux.seccomp, from the spec to a libseccomp filter.
//
//   make_seccomp_plan   checks linux.seccomp and resolves it into libseccomp's numbers (actions,
//                       architectures, syscall numbers, comparisons); no kernel call. A syscall
//                       name libseccomp does not know on any architecture is skipped (runc does
//                       the same, so that one profile serves old and new kernels), and listed
//                       in the plan for a debug line.
//   SeccompFilter       builds the libseccomp filter of a plan, in memory (validate builds it once
//                       so that libseccomp's own refusals are reported before anything runs);
//                       load() hands it to the kernel.
//
// The profiles nsrun itself provides for `nsrun run` (the stage's prepare picks one):
//   default_seccomp_profile      an allowlist after Docker's default profile (default_profile.cpp)
//   load_seccomp_profile_file    `--security-opt seccomp=FILE`: Docker's JSON profile format, or
//                                an OCI linux.seccomp object
#pragma once

#include <linux/filter.h>
#include <seccomp.h>

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/spec.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::security {

/// One argument comparison, as seccomp_rule_add(3) takes it.
struct SeccompArgPlan {
  unsigned index = 0;
  scmp_compare op = SCMP_CMP_EQ;
  std::uint64_t datum_a = 0;  ///< the value, or the mask of SCMP_CMP_MASKED_EQ
  std::uint64_t datum_b = 0;  ///< what the masked argument must equal (SCMP_CMP_MASKED_EQ only)
};

struct SeccompRulePlan {
  std::string field;  ///< "linux.seccomp.syscalls[3]", for messages
  std::string name;   ///< "mkdir"
  /// seccomp_syscall_resolve_name's number on this machine's architecture; negative for a
  /// syscall only other architectures have (libseccomp maps it for each one in the filter).
  int number = 0;
  std::uint32_t action = SCMP_ACT_ALLOW;
  std::vector<SeccompArgPlan> args;  ///< all must match
};

struct SeccompPlan {
  std::uint32_t default_action = SCMP_ACT_ALLOW;
  /// SCMP_ARCH_* tokens the filter covers besides this machine's own.
  std::vector<std::uint32_t> architectures;
  bool log = false;         ///< SECCOMP_FILTER_FLAG_LOG
  bool spec_allow = false;  ///< SECCOMP_FILTER_FLAG_SPEC_ALLOW
  bool tsync = false;       ///< SECCOMP_FILTER_FLAG_TSYNC
  std::vector<SeccompRulePlan> rules;
  /// "linux.seccomp.syscalls[2]: foo", names unknown to libseccomp, left out.
  std::vector<std::string> skipped;
  /// Rules left out because their action is the default action (libseccomp refuses them).
  std::size_t same_as_default = 0;
};

/// Checks `spec` (the value of linux.seccomp) and resolves it; throws StageError with a one-line
/// message naming the field (`field` is its name in messages) and the fix.
SeccompPlan make_seccomp_plan(const SeccompSpec& spec, const std::string& field = "linux.seccomp");

/// The action for an OCI action name and errnoRet, or a StageError naming `action_field` or
/// `errno_field` ("linux.seccomp.syscalls[3].action").
std::uint32_t seccomp_action(const std::string& action, std::optional<std::uint32_t> errno_ret,
                             const std::string& action_field, const std::string& errno_field);

/// "SCMP_ACT_ERRNO(38)", for messages and debug lines.
std::string seccomp_action_name(std::uint32_t action);

/// Debug lines: the names skipped, and a summary ("seccomp: default action
/// SCMP_ACT_ERRNO(38), 3 architectures, 412 rules").
void log_seccomp_plan(const SeccompPlan& plan, Logger& log);

/// A libseccomp filter built from a plan, not yet loaded.
class SeccompFilter {
 public:
  /// Throws StageError naming the rule libseccomp refuses.
  explicit SeccompFilter(const SeccompPlan& plan);
  ~SeccompFilter();
  SeccompFilter(const SeccompFilter&) = delete;
  SeccompFilter& operator=(const SeccompFilter&) = delete;

  /// seccomp_load(3): 0 or an errno value. Without no_new_privs this needs CAP_SYS_ADMIN.
  int load();
  /// The number of BPF instructions the kernel would get (it takes at most 4096).
  std::size_t instructions() const;
  /// The BPF program libseccomp generates for it (seccomp_export_bpf(3)).
  std::vector<sock_filter> program() const;

 private:
  scmp_filter_ctx ctx_ = nullptr;
};

/// A filter as the kernel takes it: what seccomp(2) SECCOMP_SET_MODE_FILTER loads.
struct CompiledSeccomp {
  std::vector<sock_filter> program;
  unsigned flags = 0;  ///< SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW, _TSYNC
  std::size_t rules = 0;
  bool from_cache = false;
};

/// Builds linux.seccomp's filter with libseccomp and takes its BPF: checked as make_seccomp_plan
/// and SeccompFilter check it (StageError naming the field). Building a profile of Docker's size
/// takes libseccomp milliseconds, so the result is kept in `cache_dir` (when not empty), keyed
/// by the profile's text, libseccomp's version and the kernel's: the same profile is built once
/// per machine, and later runs read its BPF (a cache entry is used only when its whole key
/// matches). The directory is created 0700: only root may write what is loaded as a filter.
std::shared_ptr<const CompiledSeccomp> compile_seccomp(const SeccompSpec& spec,
                                                       const std::string& cache_dir, Logger& log);

/// Keeps a filter compile_seccomp built (not one it read) in `cache_dir`. Separate, because
/// compile_seccomp runs in validate, which must leave nothing behind: this runs in prepare.
void cache_compiled_seccomp(const SeccompSpec& spec, const CompiledSeccomp& compiled,
                            const std::string& cache_dir);

/// A profile to compile, and the key its compiled program is cached under. `build` makes the
/// profile only when the cache has nothing for the key: for the default profile, building its
/// 466 rules and writing them out as the key took about a millisecond of every run.
struct SeccompSource {
  std::string key;                     ///< what the cached program must have been built from
  std::function<SeccompSpec()> build;  ///< the profile itself
};

/// A profile given in full (linux.seccomp, --security-opt seccomp=FILE): keyed by its own text.
SeccompSource seccomp_source(SeccompSpec spec);

/// The default profile, keyed by the digest of the source files that define it and turn it into
/// BPF (taken when the build is configured; default_profile.cpp and seccomp.cpp are configure
/// dependencies, so that an edit changes the key), and by what it depends on at run time.
SeccompSource default_seccomp_source();

/// compile_seccomp and cache_compiled_seccomp by a source's key.
std::shared_ptr<const CompiledSeccomp> compile_seccomp(const SeccompSource& source,
                                                       const std::string& cache_dir, Logger& log);
void cache_compiled_seccomp(const SeccompSource& source, const CompiledSeccomp& compiled,
                            const std::string& cache_dir);

/// Docker's default profile in spirit, for x86_64 with its x86 and x32 ABIs: see
/// default_profile.cpp for what it allows, refuses, and why.
SeccompSpec default_seccomp_profile();

/// Whether the default profile allows the ptrace family (kernels from 4.8, as Docker's).
bool default_profile_allows_ptrace();

/// Docker's JSON profile format (or an OCI linux.seccomp object, whose fields are a subset) as a
/// linux.seccomp value. Entries are kept or dropped by their `includes` and `excludes`: `arches`
/// against `arch` (Go's names: "amd64" on x86_64), `caps` against `bounding_caps` (the
/// container's bounding set, names such as "CAP_SYS_ADMIN"); `minKernel` is ignored (entries are
/// kept whatever the kernel: an unknown syscall fails with the default action anyway). Errors
/// are StageErrors "SOURCE: JSON.PATH ..." naming the field.
SeccompSpec seccomp_spec_from_docker_profile(const boost::json::value& profile,
                                             const std::vector<std::string>& bounding_caps,
                                             const std::string& source,
                                             const std::string& arch = "");

/// Reads and converts `path` as above, and checks it as make_seccomp_plan would; errors are
/// one line, "--security-opt seccomp=PATH: ...".
SeccompSpec load_seccomp_profile_file(const std::string& path,
                                      const std::vector<std::string>& bounding_caps);

}  // namespace nsrun::security
