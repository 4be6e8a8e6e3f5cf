// nsrun SDK: the container description every stage receives.
//
// A plain-struct model of the OCI runtime-spec `config.json` (the subset nsrun supports so far).
// `nsrun run FLAGS CMD` builds one from flags and `nsrun run --bundle DIR` reads one from
// DIR/config.json; after that both take the same code path. Field names follow the OCI spec so
// that a reader of the spec knows what each one means.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nsrun {

/// `process.capabilities`: the five capability sets, each a list of names such as "CAP_CHOWN".
/// A set the document leaves out is empty, as in runc.
struct CapabilitiesSpec {
  std::vector<std::string> bounding;
  std::vector<std::string> effective;
  std::vector<std::string> permitted;
  std::vector<std::string> inheritable;
  std::vector<std::string> ambient;
  bool operator==(const CapabilitiesSpec&) const = default;
};

/// One entry of `process.rlimits`.
struct RlimitSpec {
  std::string type;  ///< "RLIMIT_NOFILE", ...
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
  bool operator==(const RlimitSpec&) const = default;
};

/// `process.user`. The ids are kept as the document gives them (range checks belong to the
/// stage that applies them, so that its message can name the fix).
struct UserSpec {
  std::int64_t uid = 0;
  std::int64_t gid = 0;
  std::optional<std::int64_t> umask;
  std::vector<std::int64_t> additional_gids;
  bool operator==(const UserSpec&) const = default;
};

/// `process` of config.json: what is executed as the container's PID 1.
struct ProcessSpec {
  std::vector<std::string> args;  ///< argv; args[0] is looked up in the container's PATH
  std::vector<std::string> env;   ///< "KEY=VALUE" entries; the complete environment
  std::string cwd = "/";          ///< absolute path inside the container
  bool terminal = false;  ///< a pseudo-terminal (the core opens it: a stage need not claim it)
  /// Unset: the process keeps the capabilities nsrun runs with.
  std::optional<CapabilitiesSpec> capabilities;
  bool no_new_privileges = false;
  std::vector<RlimitSpec> rlimits;
  /// Unset: the process keeps nsrun's user, groups and umask.
  std::optional<UserSpec> user;
  std::optional<std::int64_t> oom_score_adj;

  /// The value of environment variable `key`, or nullptr.
  const std::string* env_value(const std::string& key) const {
    for (const auto& entry : env)
      if (entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 &&
          entry[key.size()] == '=')
        return &entry;
    return nullptr;
  }
  /// Sets `key` unless it is already set (by the user's -e, a bundle, or an earlier stage), and
  /// says whether it did. The user's choice wins: use this for a stage's defaults.
  bool set_env_default(const std::string& key, const std::string& value) {
    if (env_value(key)) return false;
    env.push_back(key + "=" + value);
    return true;
  }
  /// Sets `key`, replacing any value: only for what the stage must impose.
  void set_env(const std::string& key, const std::string& value) {
    std::erase_if(env, [&](const std::string& e) {
      return e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=';
    });
    env.push_back(key + "=" + value);
  }
  bool operator==(const ProcessSpec&) const = default;
};

/// `root` of config.json.
struct RootSpec {
  std::string path;  ///< absolute host path of the root filesystem
  bool readonly = false;
  bool operator==(const RootSpec&) const = default;
};

/// One entry of `mounts` in config.json.
/// One entry of `linux.uidMappings` or `linux.gidMappings`: ids `container_id` to
/// `container_id + size - 1` of the container's user namespace are host ids `host_id` onwards
/// (one line of /proc/<pid>/uid_map).
struct IdMapping {
  std::uint32_t container_id = 0;  ///< `containerID`
  std::uint32_t host_id = 0;       ///< `hostID`
  std::uint32_t size = 0;
  bool operator==(const IdMapping&) const = default;
};

struct MountSpec {
  std::string destination;           ///< absolute path inside the container
  std::string type;                  ///< "bind", "proc", "tmpfs", ...
  std::string source;                ///< host path for binds, a device name otherwise
  std::vector<std::string> options;  ///< e.g. "rbind", "ro", "nosuid"
  /// `uidMappings` and `gidMappings` (runtime-spec 1.1): an idmapped bind mount, whose files
  /// with id `container_id`... on disk show as id `host_id`... (empty: not idmapped).
  /// Default-initialised, so that code built against SDK 2.3 that lists the first four fields
  /// still compiles cleanly with -Wextra.
  std::vector<IdMapping> uid_mappings = {};
  std::vector<IdMapping> gid_mappings = {};
  bool operator==(const MountSpec&) const = default;
};

/// One entry of `linux.namespaces`. An empty `path` means "create a new one".
struct NamespaceSpec {
  std::string type;  ///< pid, mount, uts, ipc, network, cgroup, user
  std::string path;
  bool operator==(const NamespaceSpec&) const = default;
};

// --- Devices (linux.resources.devices, linux.devices) -----------------------------------------

/// One entry of `linux.resources.devices`: a rule of the container's device allowlist (the v1
/// devices cgroup, or the v2 eBPF device program). Rules apply in order; for each access a
/// process asks for, the last rule that matches the device and names that access decides.
struct DeviceRuleSpec {
  bool allow = false;
  std::string type = "a";             ///< "a" (all), "c" (char) or "b" (block)
  std::optional<std::int64_t> major;  ///< unset (or -1): any major
  std::optional<std::int64_t> minor;  ///< unset (or -1): any minor
  std::string access;                 ///< a subset of "rwm"; empty means "rwm"
  bool operator==(const DeviceRuleSpec&) const = default;
};

/// One entry of `linux.devices`: a device node created in the container.
struct DeviceSpec {
  std::string path;  ///< absolute path inside the container, e.g. "/dev/fuse"
  std::string type;  ///< "c" (char), "b" (block), "u" (unbuffered char), "p" (FIFO)
  std::optional<std::int64_t> major;  ///< required for c, b and u
  std::optional<std::int64_t> minor;
  std::optional<std::int64_t> file_mode;  ///< permission bits; unset: 0666
  std::optional<std::int64_t> uid;        ///< unset: 0
  std::optional<std::int64_t> gid;        ///< unset: 0
  bool operator==(const DeviceSpec&) const = default;
};

// ----------------------------------------------------------------------------------------------

/// `linux.resources`: limits applied by the cgroups stage. Unset fields mean "no limit".
struct ResourcesSpec {
  std::optional<std::int64_t> memory_limit;  ///< bytes
  std::optional<std::int64_t> memory_swap;   ///< bytes, memory plus swap as in OCI
  std::optional<std::int64_t> cpu_quota;     ///< microseconds per period
  std::optional<std::uint64_t> cpu_period;   ///< microseconds
  std::optional<std::uint64_t> cpu_shares;
  std::optional<std::int64_t> pids_limit;  ///< -1 means unlimited
  std::string cpuset_cpus;
  std::string cpuset_mems;
  /// `linux.resources.devices`: the device allowlist, in order. Empty: the cgroups stage leaves
  /// the devices cgroup as inherited (its defaults for `nsrun run`: see docs/cgroups.md).
  std::vector<DeviceRuleSpec> devices;
  bool operator==(const ResourcesSpec&) const = default;
};

// ---- linux.seccomp (the security stage's seccomp filter) ----

/// One entry of `linux.seccomp.syscalls[].args`: compare syscall argument `index` (0 to 5) with
/// `value` by `op` ("SCMP_CMP_EQ", ...). For SCMP_CMP_MASKED_EQ, `value` is the mask and
/// `value_two` what the masked argument must equal, as in libseccomp.
struct SeccompArgSpec {
  std::uint32_t index = 0;
  std::uint64_t value = 0;
  std::uint64_t value_two = 0;
  std::string op;
  bool operator==(const SeccompArgSpec&) const = default;
};

/// One entry of `linux.seccomp.syscalls`: `action` for every syscall in `names` whose arguments
/// match all of `args`.
struct SeccompSyscallSpec {
  std::vector<std::string> names;
  std::string action;                      ///< "SCMP_ACT_ERRNO", ...
  std::optional<std::uint32_t> errno_ret;  ///< `errnoRet`
  std::vector<SeccompArgSpec> args;
  bool operator==(const SeccompSyscallSpec&) const = default;
};

/// `linux.seccomp`, kept as the document gives it (names are checked by the stage that applies
/// the filter, so that its message can list the valid ones).
struct SeccompSpec {
  std::string default_action;
  std::optional<std::uint32_t> default_errno_ret;  ///< `defaultErrnoRet`
  std::vector<std::string> architectures;          ///< "SCMP_ARCH_X86_64", ...
  std::vector<std::string> flags;                  ///< "SECCOMP_FILTER_FLAG_LOG", ...
  std::vector<SeccompSyscallSpec> syscalls;
  std::string listener_path;  ///< `listenerPath` (SCMP_ACT_NOTIFY's agent)
  bool operator==(const SeccompSpec&) const = default;
};

/// The container as described by an OCI config.json.
struct ContainerSpec {
  std::string oci_version = "1.0.2";
  ProcessSpec process;
  RootSpec root;
  std::string hostname;
  std::vector<MountSpec> mounts;
  std::vector<NamespaceSpec> namespaces;
  /// `linux.uidMappings` and `linux.gidMappings`: the user namespace's id maps (with a "user"
  /// entry in `namespaces`; the namespaces stage checks and writes them).
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  ResourcesSpec resources;
  /// `linux.cgroupsPath`: where the container's cgroup goes. Empty: the cgroups stage's default
  /// (beneath the cgroup nsrun runs in). Absolute paths are relative to each hierarchy's root.
  std::string cgroups_path;
  std::map<std::string, std::string> annotations;
  /// `linux.maskedPaths` and `linux.readonlyPaths`: container paths.
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  /// `linux.sysctl`: "net.ipv4.ip_forward" -> "1".
  std::map<std::string, std::string> sysctl;
  /// `linux.seccomp`. Unset: no filter.
  std::optional<SeccompSpec> seccomp;

  // --- Devices ---
  /// `linux.devices`: device nodes the storage stage creates in the container.
  std::vector<DeviceSpec> devices;

  /// True when `linux.namespaces` asks for a namespace of this type.
  bool has_namespace(const std::string& type) const {
    for (const auto& ns : namespaces)
      if (ns.type == type) return true;
    return false;
  }
  /// The path of the namespace of this type the container joins (`linux.namespaces[].path`):
  /// someone else's, which outlives the container. Empty when it gets a new one, or none.
  std::string joined_namespace(std::string_view type) const {
    for (const auto& ns : namespaces)
      if (ns.type == type) return ns.path;
    return {};
  }
  /// True when the container gets a new namespace of this type, its own (listed, no path).
  bool has_own_namespace(std::string_view type) const {
    for (const auto& ns : namespaces)
      if (ns.type == type) return ns.path.empty();
    return false;
  }
  bool operator==(const ContainerSpec&) const = default;
};

}  // namespace nsrun
