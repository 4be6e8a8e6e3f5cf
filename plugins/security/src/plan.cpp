#include "nsrun/security/plan.hpp"

#include <sys/capability.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "nsrun/stage.hpp"

namespace nsrun::security {

namespace {

constexpr std::array<std::pair<const char*, int>, 16> rlimit_types{{
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
}};

constexpr std::int64_t max_id = 4294967294;  // (uid_t)-1 means "unchanged" to the kernel

bool contains(const std::vector<int>& list, int value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

// One capability set of the spec as numbers, in the spec's order without repeats. Names the
// kernel does not know are left out and remembered for a warning.
std::vector<int> capability_set(const std::vector<std::string>& names, const char* set,
                                int last_capability, Plan& plan) {
  std::vector<int> out;
  const std::string field = std::string("process.capabilities.") + set;
  for (const auto& name : names) {
    auto number = capability_number(name);
    if (!number)
      throw StageError(field + ": unknown capability " + quoted(name) + " (see capabilities(7))");
    if (*number > last_capability) {
      plan.unknown_to_kernel.push_back(field + ": " + name);
      continue;
    }
    if (!contains(out, *number)) out.push_back(*number);
  }
  return out;
}

CapabilityPlan capability_plan(const CapabilitiesSpec& spec, int last_capability, Plan& plan) {
  CapabilityPlan caps;
  caps.bounding = capability_set(spec.bounding, "bounding", last_capability, plan);
  caps.effective = capability_set(spec.effective, "effective", last_capability, plan);
  caps.permitted = capability_set(spec.permitted, "permitted", last_capability, plan);
  caps.inheritable = capability_set(spec.inheritable, "inheritable", last_capability, plan);
  caps.ambient = capability_set(spec.ambient, "ambient", last_capability, plan);
  // What capset(2) and PR_CAP_AMBIENT_RAISE would refuse, said before anything is done.
  auto name = capability_name;
  for (int cap : caps.effective)
    if (!contains(caps.permitted, cap))
      throw StageError("process.capabilities.effective: " + name(cap) +
                       " is not in process.capabilities.permitted (only a permitted capability "
                       "can be effective; add it to permitted)");
  for (int cap : caps.inheritable)
    if (!contains(caps.bounding, cap))
      throw StageError("process.capabilities.inheritable: " + name(cap) +
                       " is not in process.capabilities.bounding (the kernel refuses it; add it "
                       "to bounding or remove it)");
  for (int cap : caps.ambient)
    if (!contains(caps.permitted, cap) || !contains(caps.inheritable, cap))
      throw StageError("process.capabilities.ambient: " + name(cap) +
                       " must also be in permitted and inheritable (add it to both, or remove "
                       "it from ambient)");
  return caps;
}

std::vector<RlimitPlan> rlimit_plan(const std::vector<RlimitSpec>& rlimits) {
  std::vector<RlimitPlan> out;
  for (std::size_t i = 0; i < rlimits.size(); ++i) {
    const auto& r = rlimits[i];
    const std::string field = "process.rlimits[" + std::to_string(i) + "]";
    auto resource = rlimit_resource(r.type);
    if (!resource)
      throw StageError(field + ".type: unknown rlimit " + quoted(r.type) +
                       " (use one of RLIMIT_AS, RLIMIT_CORE, ..., RLIMIT_STACK; see getrlimit(2))");
    if (r.soft > r.hard)
      throw StageError(field + ": the soft limit " + std::to_string(r.soft) + " of " + r.type +
                       " is above its hard limit " + std::to_string(r.hard) +
                       " (lower soft or raise hard)");
    for (const auto& earlier : out)
      if (earlier.resource == *resource)
        throw StageError(field + ": " + r.type + " is set twice (keep one entry per type)");
    out.push_back({r.type, *resource, r.soft, r.hard});
  }
  return out;
}

gid_t checked_id(std::int64_t id, const std::string& field, const char* what) {
  if (id < 0 || id > max_id)
    throw StageError(field + ": " + std::to_string(id) + " is not a valid " + what +
                     " (use 0 to 4294967294)");
  return static_cast<gid_t>(id);
}

UserPlan user_plan(const UserSpec& user) {
  UserPlan out;
  out.uid = checked_id(user.uid, "process.user.uid", "user id");
  out.gid = checked_id(user.gid, "process.user.gid", "group id");
  for (std::size_t i = 0; i < user.additional_gids.size(); ++i)
    out.additional_gids.push_back(
        checked_id(user.additional_gids[i],
                   "process.user.additionalGids[" + std::to_string(i) + "]", "group id"));
  if (user.umask) {
    if (*user.umask < 0 || *user.umask > 0777)
      throw StageError("process.user.umask: " + std::to_string(*user.umask) +
                       " is not a umask (use 0 to 511, i.e. octal 0 to 0777; 18 is 022)");
    out.umask = static_cast<mode_t>(*user.umask);
  }
  return out;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

// The namespace that makes a sysctl the container's own rather than the host's, after runc's
// list (validateSysctl); empty for one that no namespace isolates.
std::string namespace_of(const std::vector<std::string>& parts) {
  if (parts.size() < 2) return "";
  const std::string& top = parts[0];
  const std::string& name = parts[1];
  if (top == "net") return "network";
  if (top == "fs" && name == "mqueue") return "ipc";
  if (top == "kernel") {
    if (name == "sem" || name.starts_with("shm") || name.starts_with("msg")) return "ipc";
    if (name == "hostname" || name == "domainname") return "uts";
  }
  return "";
}

std::vector<SysctlPlan> sysctl_plan(const ContainerSpec& spec) {
  std::vector<SysctlPlan> out;
  for (const auto& [key, value] : spec.sysctl) {
    // sysctl(8) takes "net.ipv4.ip_forward" and, for names with a dot in a part (an interface
    // such as eth0.100), "net/ipv4/conf/eth0.100/forwarding".
    auto parts = split(key, key.find('/') != std::string::npos ? '/' : '.');
    for (const auto& part : parts)
      if (part.empty() || part == "." || part == "..")
        throw StageError("linux.sysctl: " + quoted(key) +
                         " is not a sysctl name (e.g. net.ipv4.ip_forward)");
    std::string ns = namespace_of(parts);
    if (ns.empty())
      throw StageError("linux.sysctl: " + quoted(key) +
                       " is not namespaced: setting it in a container would change the host "
                       "(remove it; only net.*, kernel.shm*, kernel.msg*, kernel.sem, "
                       "fs.mqueue.*, kernel.hostname and kernel.domainname are allowed)");
    // The namespaces the bundle asks for: a network stage may add one later, in prepare, but
    // what a container asks for is what its config.json says.
    if (!spec.has_namespace(ns))
      throw StageError("linux.sysctl: " + quoted(key) + " needs its own " + ns +
                       " namespace, or it would change the host's (add {\"type\": \"" + ns +
                       "\"} to linux.namespaces)");
    std::string path = "/proc/sys";
    for (const auto& part : parts) path += "/" + part;
    out.push_back({key, path, value});
  }
  return out;
}

std::vector<std::string> container_paths(const std::vector<std::string>& paths, const char* field) {
  for (std::size_t i = 0; i < paths.size(); ++i)
    if (paths[i].empty() || paths[i].front() != '/')
      throw StageError(std::string(field) + "[" + std::to_string(i) + "]: " + quoted(paths[i]) +
                       " is not an absolute path in the container (e.g. /proc/kcore)");
  return paths;
}

}  // namespace

std::optional<int> capability_number(const std::string& name) {
  if (!name.starts_with("CAP_") || name.size() == 4) return std::nullopt;
  for (char c : name)
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return std::nullopt;
  if (name[4] >= '0' && name[4] <= '9') return std::nullopt;
  cap_value_t value = 0;
  if (cap_from_name(name.c_str(), &value) != 0) return std::nullopt;
  return static_cast<int>(value);
}

std::string capability_name(int number) {
  char* text = cap_to_name(static_cast<cap_value_t>(number));
  std::string out = text ? text : std::to_string(number);
  cap_free(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<int> rlimit_resource(const std::string& type) {
  for (const auto& [name, resource] : rlimit_types)
    if (type == name) return resource;
  return std::nullopt;
}

Plan make_plan(const ContainerSpec& spec, int last_capability, bool plan_seccomp) {
  // The container-level fields are checked before the process-level ones, so a spec with a fault
  // in both names the same field it always did.
  auto sysctls = sysctl_plan(spec);
  auto masked_paths = container_paths(spec.masked_paths, "linux.maskedPaths");
  auto readonly_paths = container_paths(spec.readonly_paths, "linux.readonlyPaths");
  Plan plan = make_process_plan(spec.process, last_capability);
  plan.sysctls = std::move(sysctls);
  plan.masked_paths = std::move(masked_paths);
  plan.readonly_paths = std::move(readonly_paths);
  if (plan_seccomp) plan.seccomp = seccomp_plan(spec);
  return plan;
}

std::optional<SeccompPlan> seccomp_plan(const ContainerSpec& spec) {
  if (!spec.seccomp) return std::nullopt;
  SeccompPlan plan = make_seccomp_plan(*spec.seccomp);
  // Built once here, without loading it, so that what libseccomp refuses is reported before
  // anything runs.
  SeccompFilter check(plan);
  return plan;
}

Plan make_process_plan(const ProcessSpec& process, int last_capability) {
  Plan plan;
  plan.rlimits = rlimit_plan(process.rlimits);
  if (process.oom_score_adj) {
    if (*process.oom_score_adj < -1000 || *process.oom_score_adj > 1000)
      throw StageError("process.oomScoreAdj: " + std::to_string(*process.oom_score_adj) +
                       " is out of range (use -1000 to 1000)");
    plan.oom_score_adj = static_cast<int>(*process.oom_score_adj);
  }
  if (process.capabilities)
    plan.capabilities = capability_plan(*process.capabilities, last_capability, plan);
  if (process.user) plan.user = user_plan(*process.user);
  plan.no_new_privileges = process.no_new_privileges;
  return plan;
}

}  // namespace nsrun::security
