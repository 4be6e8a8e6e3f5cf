#include "nsrun/security/defaults.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "nsrun/security/plan.hpp"

namespace nsrun::security {

namespace {

std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

template <typename Number>
std::optional<Number> number(const std::string& text) {
  Number value{};
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::vector<std::string> strings(const boost::json::object& flags, const char* name) {
  std::vector<std::string> out;
  const auto* value = flags.if_contains(name);
  if (!value) return out;
  if (value->is_string()) {
    out.emplace_back(value->as_string());
  } else if (value->is_array()) {
    for (const auto& item : value->as_array())
      if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

std::optional<std::string> string(const boost::json::object& flags, const char* name) {
  const auto* value = flags.if_contains(name);
  if (!value || !value->is_string()) return std::nullopt;
  return std::string(value->as_string());
}

bool switch_on(const boost::json::object& flags, const char* name) {
  const auto* value = flags.if_contains(name);
  return value && value->is_bool() && value->as_bool();
}

// docker takes "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" alike.
std::string capability_flag(const std::string& value, const char* flag, int last_capability) {
  std::string name = upper(value);
  if (name == "ALL") return name;
  if (!name.starts_with("CAP_")) name = "CAP_" + name;
  auto number = capability_number(name);
  if (!number)
    throw StageError(std::string("--") + flag + " " + quoted(value) +
                     " is not a capability (e.g. NET_ADMIN or CAP_NET_ADMIN, or ALL; see "
                     "capabilities(7))");
  if (*number > last_capability)
    throw StageError(std::string("--") + flag + " " + quoted(value) +
                     ": this kernel does not know " + name + " (its last capability is " +
                     capability_name(last_capability) + ")");
  return name;
}

// --ulimit nofile=1024:2048; -1 and "unlimited" are RLIM_INFINITY, as docker takes them.
RlimitSpec ulimit_flag(const std::string& value) {
  auto fail = [&](const std::string& why) -> RlimitSpec {
    throw StageError("--ulimit " + quoted(value) + ": " + why);
  };
  auto equals = value.find('=');
  if (equals == std::string::npos || equals == 0)
    return fail("must be NAME=SOFT[:HARD] (e.g. nofile=1024:2048)");
  std::string type = "RLIMIT_" + upper(value.substr(0, equals));
  if (!rlimit_resource(type))
    return fail("unknown limit " + quoted(value.substr(0, equals)) +
                " (use as, core, cpu, data, fsize, locks, memlock, msgqueue, nice, nofile, "
                "nproc, rss, rtprio, rttime, sigpending or stack)");
  auto parse = [&](const std::string& text) -> std::uint64_t {
    if (text == "unlimited" || text == "-1") return std::numeric_limits<std::uint64_t>::max();
    auto n = number<std::uint64_t>(text);
    if (!n) fail(quoted(text) + " is not a number (or unlimited)");
    return *n;
  };
  std::string limits = value.substr(equals + 1);
  auto colon = limits.find(':');
  RlimitSpec out{type, 0, 0};
  out.soft = parse(limits.substr(0, colon));
  out.hard = colon == std::string::npos ? out.soft : parse(limits.substr(colon + 1));
  if (out.soft > out.hard)
    fail("the soft limit is above the hard limit (lower SOFT or raise HARD)");
  return out;
}

UserSpec user_flag(const std::string& value) {
  auto colon = value.find(':');
  auto uid = number<std::int64_t>(value.substr(0, colon));
  auto gid = colon == std::string::npos ? uid : number<std::int64_t>(value.substr(colon + 1));
  constexpr std::int64_t max_id = 4294967294;
  if (!uid || !gid || *uid < 0 || *gid < 0 || *uid > max_id || *gid > max_id)
    throw StageError("--user " + quoted(value) +
                     " is not UID[:GID] (numbers from 0 to 4294967294, e.g. 1000:1000; names "
                     "are not looked up in the rootfs)");
  UserSpec user;
  user.uid = *uid;
  user.gid = *gid;
  return user;
}

void security_opt(const std::string& value, RunOptions& options) {
  // docker writes both "name=value" and the older "name:value".
  auto separator = value.find_first_of("=:");
  std::string name = value.substr(0, separator);
  std::string setting = separator == std::string::npos ? "" : value.substr(separator + 1);
  if (name == "no-new-privileges") {
    if (setting.empty() || setting == "true") {
      options.no_new_privileges = true;
    } else if (setting == "false") {
      options.no_new_privileges = false;
    } else {
      throw StageError("--security-opt " + quoted(value) +
                       ": no-new-privileges takes true or false");
    }
    return;
  }
  if (name == "seccomp") {
    if (setting.empty())
      throw StageError("--security-opt " + quoted(value) +
                       ": give seccomp=unconfined or seccomp=PROFILE.json");
    options.seccomp = setting;
    return;
  }
  if (name == "apparmor" || name == "label" || name == "selinux")
    throw StageError("--security-opt " + quoted(value) +
                     ": nsrun applies no AppArmor or SELinux profile (remove it)");
  throw StageError("--security-opt " + quoted(value) +
                   ": unknown option (use no-new-privileges[=true|false], seccomp=unconfined or "
                   "seccomp=PROFILE.json)");
}

}  // namespace

const std::vector<std::string>& default_capabilities() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE",     "CAP_FOWNER",    "CAP_FSETID",
      "CAP_KILL",    "CAP_NET_BIND_SERVICE", "CAP_SETFCAP",   "CAP_SETGID",
      "CAP_SETPCAP", "CAP_SETUID",           "CAP_SYS_CHROOT"};
  return caps;
}

const std::vector<std::string>& default_masked_paths() {
  static const std::vector<std::string> paths = {
      "/proc/acpi",          "/proc/kcore",      "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
      "/proc/sched_debug",   "/proc/scsi",       "/sys/firmware"};
  return paths;
}

const std::vector<std::string>& default_readonly_paths() {
  static const std::vector<std::string> paths = {
      "/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  return paths;
}

RunOptions parse_run_options(const boost::json::object& flags, int last_capability) {
  RunOptions options;
  // --no-new-keyring is runc's too, for bundles as much as for flag-built specs.
  options.any = std::any_of(flags.begin(), flags.end(),
                            [](const auto& flag) { return flag.key() != "no-new-keyring"; });
  options.privileged = switch_on(flags, "privileged");
  options.no_new_keyring = switch_on(flags, "no-new-keyring");
  for (const auto& cap : strings(flags, "cap-add"))
    options.cap_add.push_back(capability_flag(cap, "cap-add", last_capability));
  for (const auto& cap : strings(flags, "cap-drop"))
    options.cap_drop.push_back(capability_flag(cap, "cap-drop", last_capability));
  for (const auto& opt : strings(flags, "security-opt")) security_opt(opt, options);
  if (auto user = string(flags, "user")) options.user = user_flag(*user);
  for (const auto& ulimit : strings(flags, "ulimit")) {
    RlimitSpec limit = ulimit_flag(ulimit);
    for (const auto& earlier : options.ulimits)
      if (earlier.type == limit.type)
        throw StageError("--ulimit " + quoted(ulimit) + ": " + lower(limit.type.substr(7)) +
                         " is given twice (keep one)");
    options.ulimits.push_back(limit);
  }
  if (auto adj = string(flags, "oom-score-adj")) {
    auto n = number<std::int64_t>(*adj);
    if (!n || *n < -1000 || *n > 1000)
      throw StageError("--oom-score-adj " + quoted(*adj) + " is not a number from -1000 to 1000");
    options.oom_score_adj = *n;
  }
  for (const auto& sysctl : strings(flags, "sysctl")) {
    auto equals = sysctl.find('=');
    if (equals == std::string::npos || equals == 0)
      throw StageError("--sysctl " + quoted(sysctl) +
                       " must be KEY=VALUE (e.g. net.ipv4.ip_forward=1)");
    // The same checks linux.sysctl gets, against a container with every namespace: whether the
    // namespace the key needs is really there is checked again once the pipeline has added it.
    ContainerSpec probe;
    probe.namespaces = {{"network", ""}, {"ipc", ""}, {"uts", ""}};
    probe.sysctl[sysctl.substr(0, equals)] = sysctl.substr(equals + 1);
    try {
      make_plan(probe, last_capability);
    } catch (const StageError& e) {
      throw StageError("--sysctl " + quoted(sysctl) + ": " + e.what());
    }
    options.sysctls[sysctl.substr(0, equals)] = sysctl.substr(equals + 1);
  }
  return options;
}

std::vector<std::string> run_capabilities(const RunOptions& options,
                                          const std::vector<int>& grantable) {
  std::vector<int> kept;
  auto has = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  auto all = [&] { return grantable; };
  auto known = [&](int cap) {
    return std::find(grantable.begin(), grantable.end(), cap) != grantable.end();
  };
  if (options.privileged) {
    kept = all();
  } else {
    for (const auto& name : default_capabilities())
      if (auto cap = capability_number(name); cap && known(*cap)) kept.push_back(*cap);
  }
  // docker's order: ALL dropped empties the set, ALL added fills it, then the named ones.
  if (has(options.cap_drop, "ALL")) kept.clear();
  if (has(options.cap_add, "ALL")) kept = all();
  for (const auto& name : options.cap_drop)
    if (auto cap = capability_number(name)) std::erase(kept, *cap);
  // A named one nsrun lacks is kept in the list: capset(2) then says so, naming the field.
  for (const auto& name : options.cap_add)
    if (auto cap = capability_number(name)) kept.push_back(*cap);
  std::sort(kept.begin(), kept.end());
  kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
  std::vector<std::string> names;
  for (int cap : kept) names.push_back(capability_name(cap));
  return names;
}

void apply_run_options(ContainerSpec& spec, const RunOptions& options,
                       const std::vector<int>& grantable) {
  ProcessSpec& process = spec.process;
  auto caps = run_capabilities(options, grantable);
  process.capabilities = CapabilitiesSpec{caps, caps, caps, {}, {}};
  process.no_new_privileges = options.no_new_privileges;
  if (!options.privileged) {
    for (const auto& path : default_masked_paths())
      if (std::find(spec.masked_paths.begin(), spec.masked_paths.end(), path) ==
          spec.masked_paths.end())
        spec.masked_paths.push_back(path);
    for (const auto& path : default_readonly_paths())
      if (std::find(spec.readonly_paths.begin(), spec.readonly_paths.end(), path) ==
          spec.readonly_paths.end())
        spec.readonly_paths.push_back(path);
  }
  if (options.user) process.user = options.user;
  for (const auto& limit : options.ulimits) {
    std::erase_if(process.rlimits, [&](const RlimitSpec& r) { return r.type == limit.type; });
    process.rlimits.push_back(limit);
  }
  if (options.oom_score_adj) process.oom_score_adj = options.oom_score_adj;
  for (const auto& [key, value] : options.sysctls) spec.sysctl[key] = value;
}

}  // namespace nsrun::security
