// nsrun SDK: OCI config.json <-> ContainerSpec, compiled into whoever includes it.
//
// The core hands every stage the container's spec as config.json text (plugin.h); the C++ face
// (plugin.hpp) reads it into a ContainerSpec with spec_from_json and, after prepare, writes the
// stage's changes back with spec_to_json, which keeps every field ContainerSpec does not model
// (a stage that adds a mount does not drop the bundle's linux.seccomp).
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nsrun/spec.hpp"
#include "nsrun/stage.hpp"

namespace nsrun {

/// "line 3, column 14": where the byte at `offset` of a JSON `text` is, for a syntax error (what
/// boost::json::stream_parser::write returns as the bytes it used).
inline std::string json_text_position(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

/// A config.json field of the wrong type or shape; the message names the field by its path.
class SpecError : public StageError {
 public:
  using StageError::StageError;
};

namespace detail {

using boost::json::array;
using boost::json::object;
using boost::json::value;

// Typed field access with errors that name the field by its config.json path.
class Field {
 public:
  Field(const object& parent, std::string path) : parent_(parent), path_(std::move(path)) {}

  const value* get(std::string_view key) const { return parent_.if_contains(key); }
  std::string name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  [[noreturn]] void wrong(std::string_view key, std::string_view expected) const {
    throw SpecError("config.json: " + name(key) + " must be " + std::string(expected));
  }
  std::optional<std::string> string(std::string_view key) const {
    const value* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) wrong(key, "a string");
    return std::string(v->as_string());
  }
  std::optional<bool> boolean(std::string_view key) const {
    const value* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_bool()) wrong(key, "true or false");
    return v->as_bool();
  }
  std::optional<std::int64_t> integer(std::string_view key) const {
    const value* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
      return static_cast<std::int64_t>(v->as_uint64());
    wrong(key, "an integer");
  }
  /// A non-negative integer up to UINT64_MAX (rlimits use UINT64_MAX for "unlimited").
  std::optional<std::uint64_t> unsigned_integer(std::string_view key) const {
    const value* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
    wrong(key, "an integer from 0 to 18446744073709551615");
  }
  std::vector<std::int64_t> integers(std::string_view key) const {
    std::vector<std::int64_t> out;
    const value* v = get(key);
    if (!v || v->is_null()) return out;
    if (!v->is_array()) wrong(key, "an array of integers");
    for (const auto& item : v->as_array()) {
      if (item.is_int64())
        out.push_back(item.as_int64());
      else if (item.is_uint64() && item.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        out.push_back(static_cast<std::int64_t>(item.as_uint64()));
      else
        wrong(key, "an array of integers");
    }
    return out;
  }
  std::vector<std::string> strings(std::string_view key) const {
    std::vector<std::string> out;
    const value* v = get(key);
    if (!v || v->is_null()) return out;
    if (!v->is_array()) wrong(key, "an array of strings");
    for (const auto& item : v->as_array()) {
      if (!item.is_string()) wrong(key, "an array of strings");
      out.emplace_back(item.as_string());
    }
    return out;
  }
  const object* child(std::string_view key) const {
    const value* v = get(key);
    if (!v || v->is_null()) return nullptr;
    if (!v->is_object()) wrong(key, "an object");
    return &v->as_object();
  }
  const array* list(std::string_view key) const {
    const value* v = get(key);
    if (!v || v->is_null()) return nullptr;
    if (!v->is_array()) wrong(key, "an array");
    return &v->as_array();
  }

 private:
  const object& parent_;
  std::string path_;
};

inline void read_process(const object& process, ProcessSpec& out) {
  Field f(process, "process");
  out.args = f.strings("args");
  out.env = f.strings("env");
  if (auto cwd = f.string("cwd")) out.cwd = *cwd;
  if (auto terminal = f.boolean("terminal")) out.terminal = *terminal;
  if (const object* capabilities = f.child("capabilities")) {
    Field c(*capabilities, "process.capabilities");
    out.capabilities =
        CapabilitiesSpec{c.strings("bounding"), c.strings("effective"), c.strings("permitted"),
                         c.strings("inheritable"), c.strings("ambient")};
  }
  if (auto no_new_privileges = f.boolean("noNewPrivileges"))
    out.no_new_privileges = *no_new_privileges;
  if (const array* rlimits = f.list("rlimits")) {
    for (std::size_t i = 0; i < rlimits->size(); ++i) {
      std::string path = "process.rlimits[" + std::to_string(i) + "]";
      if (!(*rlimits)[i].is_object())
        throw SpecError("config.json: " + path + " must be an object");
      Field r((*rlimits)[i].as_object(), path);
      RlimitSpec rlimit;
      auto type = r.string("type");
      auto soft = r.unsigned_integer("soft");
      auto hard = r.unsigned_integer("hard");
      if (!type || !soft || !hard)
        throw SpecError("config.json: " + path + " needs type, soft and hard");
      out.rlimits.push_back({*type, *soft, *hard});
    }
  }
  if (const object* user = f.child("user")) {
    Field u(*user, "process.user");
    out.user = UserSpec{u.integer("uid").value_or(0), u.integer("gid").value_or(0),
                        u.integer("umask"), u.integers("additionalGids")};
  }
  out.oom_score_adj = f.integer("oomScoreAdj");
}

inline std::optional<std::uint32_t> uint32_field(const Field& f, std::string_view key) {
  const value* v = f.get(key);
  if (!v || v->is_null()) return std::nullopt;
  if (v->is_uint64() && v->as_uint64() <= UINT32_MAX)
    return static_cast<std::uint32_t>(v->as_uint64());
  if (v->is_int64() && v->as_int64() >= 0 && v->as_int64() <= INT64_C(4294967295))
    return static_cast<std::uint32_t>(v->as_int64());
  f.wrong(key, "an integer from 0 to 4294967295");
}

// The object at `items[i]` of the array at `path`, or a SpecError naming it.
inline const object& object_item(const array& items, std::size_t i, const std::string& path) {
  if (!items[i].is_object())
    throw SpecError("config.json: " + path + "[" + std::to_string(i) + "] must be an object");
  return items[i].as_object();
}

// ---- linux.uidMappings, linux.gidMappings, and a mount's own (mounts[].uidMappings) ----

inline std::vector<IdMapping> read_id_mappings(const Field& linux_section, std::string_view key) {
  std::vector<IdMapping> out;
  const array* mappings = linux_section.list(key);
  if (!mappings) return out;
  const std::string path = linux_section.name(key);
  for (std::size_t i = 0; i < mappings->size(); ++i) {
    std::string entry_path = path + "[" + std::to_string(i) + "]";
    Field m(object_item(*mappings, i, path), entry_path);
    auto container_id = uint32_field(m, "containerID");
    auto host_id = uint32_field(m, "hostID");
    auto size = uint32_field(m, "size");
    if (!container_id || !host_id || !size)
      throw SpecError("config.json: " + entry_path + " needs containerID, hostID and size");
    out.push_back({*container_id, *host_id, *size});
  }
  return out;
}

// A bind mount, as runc tells one: type "bind", or a "bind" or "rbind" option whatever the type.
inline bool is_bind_mount(const MountSpec& mount) {
  if (mount.type == "bind") return true;
  for (const auto& option : mount.options)
    if (option == "bind" || option == "rbind") return true;
  return false;
}

inline void read_mounts(const array& mounts, std::vector<MountSpec>& out) {
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    std::string path = "mounts[" + std::to_string(i) + "]";
    if (!mounts[i].is_object()) throw SpecError("config.json: " + path + " must be an object");
    Field f(mounts[i].as_object(), path);
    MountSpec mount;
    auto destination = f.string("destination");
    if (!destination) throw SpecError("config.json: " + path + ".destination is required");
    mount.destination = *destination;
    mount.type = f.string("type").value_or("");
    mount.source = f.string("source").value_or("");
    mount.options = f.strings("options");
    mount.uid_mappings = read_id_mappings(f, "uidMappings");
    mount.gid_mappings = read_id_mappings(f, "gidMappings");
    // OCI lets "bind" be implied by the options alone.
    if (mount.type.empty() || mount.type == "none")
      for (const auto& option : mount.options)
        if (option == "bind" || option == "rbind") mount.type = "bind";
    out.push_back(std::move(mount));
  }
}

// --- Devices (linux.resources.devices, linux.devices) -----------------------------------------

// The object at list[i], or SpecError naming "<path>[i]".
inline const object& entry_object(const array& list, std::size_t i, const std::string& path) {
  if (!list[i].is_object()) throw SpecError("config.json: " + path + " must be an object");
  return list[i].as_object();
}

inline void read_device_rules(const Field& resources, std::vector<DeviceRuleSpec>& out) {
  const array* rules = resources.list("devices");
  if (!rules) return;
  for (std::size_t i = 0; i < rules->size(); ++i) {
    std::string path = "linux.resources.devices[" + std::to_string(i) + "]";
    Field d(entry_object(*rules, i, path), path);
    DeviceRuleSpec rule;
    auto allow = d.boolean("allow");
    if (!allow) throw SpecError("config.json: " + path + ".allow is required (true or false)");
    rule.allow = *allow;
    if (auto type = d.string("type")) rule.type = *type;
    rule.major = d.integer("major");
    rule.minor = d.integer("minor");
    rule.access = d.string("access").value_or("");
    out.push_back(std::move(rule));
  }
}

inline void read_devices(const Field& linux_section, std::vector<DeviceSpec>& out) {
  const array* devices = linux_section.list("devices");
  if (!devices) return;
  for (std::size_t i = 0; i < devices->size(); ++i) {
    std::string path = "linux.devices[" + std::to_string(i) + "]";
    Field d(entry_object(*devices, i, path), path);
    DeviceSpec device;
    auto device_path = d.string("path");
    auto type = d.string("type");
    if (!device_path || !type) throw SpecError("config.json: " + path + " needs path and type");
    device.path = *device_path;
    device.type = *type;
    device.major = d.integer("major");
    device.minor = d.integer("minor");
    device.file_mode = d.integer("fileMode");
    device.uid = d.integer("uid");
    device.gid = d.integer("gid");
    out.push_back(std::move(device));
  }
}

// ----------------------------------------------------------------------------------------------

inline void read_resources(const object& resources, ResourcesSpec& out) {
  Field f(resources, "linux.resources");
  if (const object* memory = f.child("memory")) {
    Field m(*memory, "linux.resources.memory");
    out.memory_limit = m.integer("limit");
    out.memory_swap = m.integer("swap");
  }
  if (const object* cpu = f.child("cpu")) {
    Field c(*cpu, "linux.resources.cpu");
    out.cpu_quota = c.integer("quota");
    if (auto period = c.integer("period")) out.cpu_period = static_cast<std::uint64_t>(*period);
    if (auto shares = c.integer("shares")) out.cpu_shares = static_cast<std::uint64_t>(*shares);
    out.cpuset_cpus = c.string("cpus").value_or("");
    out.cpuset_mems = c.string("mems").value_or("");
  }
  if (const object* pids = f.child("pids"))
    out.pids_limit = Field(*pids, "linux.resources.pids").integer("limit");
  read_device_rules(f, out.devices);
}

// Sets parent[key] to `v`, or removes the key when `keep` is false.
inline void set_or_erase(object& parent, std::string_view key, value v, bool keep = true) {
  if (keep)
    parent[key] = std::move(v);
  else
    parent.erase(key);
}

// The object at parent[key], made (or replaced, when not an object) if needed.
inline object& child_object(object& parent, std::string_view key) {
  value& v = parent[key];
  if (!v.is_object()) v = object(parent.storage());
  return v.as_object();
}

// Every value the writers make lives where the document they write into lives (`storage`): a
// value of another storage would be copied into it, and the stages write into a parse arena.
inline array string_array(const std::vector<std::string>& items, boost::json::storage_ptr storage) {
  return array(items.begin(), items.end(), std::move(storage));
}

// --- Devices: writing ---

// The entries of parent[key] as written before (matched by position, so that an entry's
// unmodelled keys stay with it), or none.
inline array previous_entries(object& parent, std::string_view key) {
  if (auto* v = parent.if_contains(key); v && v->is_array()) return std::move(v->as_array());
  return array(parent.storage());
}

inline object previous_entry(array& previous, std::size_t i) {
  if (i < previous.size() && previous[i].is_object()) return std::move(previous[i].as_object());
  return object(previous.storage());
}

// Writes linux.resources.devices; the list is left out when empty and absent before, and a
// default (type "a", access "") is written only where the entry had the key, so that an
// unchanged spec gives back an unchanged document.
inline void write_device_rules(const std::vector<DeviceRuleSpec>& rules, object& resources) {
  array previous = previous_entries(resources, "devices");
  array out(resources.storage());
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    object entry = previous_entry(previous, i);
    entry["allow"] = r.allow;
    set_or_erase(entry, "type", value(r.type, entry.storage()),
                 r.type != "a" || entry.contains("type"));
    set_or_erase(entry, "major", r.major.value_or(0), r.major.has_value());
    set_or_erase(entry, "minor", r.minor.value_or(0), r.minor.has_value());
    set_or_erase(entry, "access", value(r.access, entry.storage()),
                 !r.access.empty() || entry.contains("access"));
    out.push_back(std::move(entry));
  }
  bool keep = !out.empty() || resources.contains("devices");
  set_or_erase(resources, "devices", std::move(out), keep);
}

inline void write_devices(const std::vector<DeviceSpec>& devices, object& linux_section) {
  array previous = previous_entries(linux_section, "devices");
  array out(linux_section.storage());
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const auto& d = devices[i];
    object entry = previous_entry(previous, i);
    entry["path"] = d.path;
    entry["type"] = d.type;
    set_or_erase(entry, "major", d.major.value_or(0), d.major.has_value());
    set_or_erase(entry, "minor", d.minor.value_or(0), d.minor.has_value());
    set_or_erase(entry, "fileMode", d.file_mode.value_or(0), d.file_mode.has_value());
    set_or_erase(entry, "uid", d.uid.value_or(0), d.uid.has_value());
    set_or_erase(entry, "gid", d.gid.value_or(0), d.gid.has_value());
    out.push_back(std::move(entry));
  }
  bool keep = !out.empty() || linux_section.contains("devices");
  set_or_erase(linux_section, "devices", std::move(out), keep);
}

// ----------------------------------------------------------------------------------------------

// Writes the process fields the security stage implements; a field the spec leaves unset is
// removed, and an empty list is written only where the document already had the key (so that an
// unchanged spec gives back an unchanged document).
inline void write_process_security(const ProcessSpec& spec, object& process) {
  auto keep_list = [](const object& parent, std::string_view key, bool empty) {
    return !empty || parent.contains(key);
  };
  if (spec.capabilities) {
    object& capabilities = child_object(process, "capabilities");
    const std::pair<const char*, const std::vector<std::string>*> sets[] = {
        {"bounding", &spec.capabilities->bounding},
        {"effective", &spec.capabilities->effective},
        {"permitted", &spec.capabilities->permitted},
        {"inheritable", &spec.capabilities->inheritable},
        {"ambient", &spec.capabilities->ambient}};
    for (const auto& [key, names] : sets)
      set_or_erase(capabilities, key, string_array(*names, process.storage()),
                   keep_list(capabilities, key, names->empty()));
  } else {
    process.erase("capabilities");
  }
  set_or_erase(process, "noNewPrivileges", spec.no_new_privileges,
               spec.no_new_privileges || process.contains("noNewPrivileges"));
  array rlimits(process.storage());
  for (const auto& r : spec.rlimits)
    rlimits.push_back(
        object({{"type", r.type}, {"soft", r.soft}, {"hard", r.hard}}, process.storage()));
  set_or_erase(process, "rlimits", std::move(rlimits),
               keep_list(process, "rlimits", spec.rlimits.empty()));
  if (spec.user) {
    object& user = child_object(process, "user");
    user["uid"] = spec.user->uid;
    user["gid"] = spec.user->gid;
    set_or_erase(user, "umask", spec.user->umask.value_or(0), spec.user->umask.has_value());
    array gids(spec.user->additional_gids.begin(), spec.user->additional_gids.end(),
               process.storage());
    set_or_erase(user, "additionalGids", std::move(gids),
                 keep_list(user, "additionalGids", spec.user->additional_gids.empty()));
  } else {
    process.erase("user");
  }
  set_or_erase(process, "oomScoreAdj", spec.oom_score_adj.value_or(0),
               spec.oom_score_adj.has_value());
}

// ---- linux.seccomp ----

inline SeccompSpec read_seccomp(const object& seccomp) {
  const std::string path = "linux.seccomp";
  Field f(seccomp, path);
  SeccompSpec out;
  auto default_action = f.string("defaultAction");
  if (!default_action) throw SpecError("config.json: " + path + ".defaultAction is required");
  out.default_action = *default_action;
  out.default_errno_ret = uint32_field(f, "defaultErrnoRet");
  out.architectures = f.strings("architectures");
  out.flags = f.strings("flags");
  out.listener_path = f.string("listenerPath").value_or("");
  if (const array* syscalls = f.list("syscalls")) {
    for (std::size_t i = 0; i < syscalls->size(); ++i) {
      std::string entry_path = path + ".syscalls[" + std::to_string(i) + "]";
      Field s(object_item(*syscalls, i, path + ".syscalls"), entry_path);
      SeccompSyscallSpec syscall;
      syscall.names = s.strings("names");
      auto action = s.string("action");
      if (syscall.names.empty() || !action)
        throw SpecError("config.json: " + entry_path + " needs names and action");
      syscall.action = *action;
      syscall.errno_ret = uint32_field(s, "errnoRet");
      if (const array* args = s.list("args")) {
        for (std::size_t j = 0; j < args->size(); ++j) {
          std::string arg_path = entry_path + ".args[" + std::to_string(j) + "]";
          Field a(object_item(*args, j, entry_path + ".args"), arg_path);
          auto index = uint32_field(a, "index");
          auto value = a.unsigned_integer("value");
          auto op = a.string("op");
          if (!index || !value || !op)
            throw SpecError("config.json: " + arg_path + " needs index, value and op");
          syscall.args.push_back({*index, *value, a.unsigned_integer("valueTwo").value_or(0), *op});
        }
      }
      out.syscalls.push_back(std::move(syscall));
    }
  }
  return out;
}

// Writes `spec` into the linux.seccomp object `out`, keeping its keys the model leaves out
// (listenerMetadata, ...) and, by position, those of its syscalls entries.
inline void write_seccomp(const SeccompSpec& spec, object& out) {
  out["defaultAction"] = spec.default_action;
  set_or_erase(out, "defaultErrnoRet", spec.default_errno_ret.value_or(0),
               spec.default_errno_ret.has_value());
  set_or_erase(out, "architectures", string_array(spec.architectures, out.storage()),
               !spec.architectures.empty() || out.contains("architectures"));
  set_or_erase(out, "flags", string_array(spec.flags, out.storage()),
               !spec.flags.empty() || out.contains("flags"));
  set_or_erase(out, "listenerPath", value(spec.listener_path, out.storage()),
               !spec.listener_path.empty());
  array old_syscalls = previous_entries(out, "syscalls");
  array syscalls(out.storage());
  for (std::size_t i = 0; i < spec.syscalls.size(); ++i) {
    const auto& syscall = spec.syscalls[i];
    object entry = previous_entry(old_syscalls, i);
    entry["names"] = string_array(syscall.names, out.storage());
    entry["action"] = syscall.action;
    set_or_erase(entry, "errnoRet", syscall.errno_ret.value_or(0), syscall.errno_ret.has_value());
    array args(out.storage());
    for (const auto& arg : syscall.args) {
      object a({{"index", arg.index}, {"value", arg.value}, {"op", arg.op}}, out.storage());
      if (arg.value_two != 0) a["valueTwo"] = arg.value_two;
      args.push_back(std::move(a));
    }
    set_or_erase(entry, "args", std::move(args), !syscall.args.empty() || entry.contains("args"));
    syscalls.push_back(std::move(entry));
  }
  set_or_erase(out, "syscalls", std::move(syscalls),
               !spec.syscalls.empty() || out.contains("syscalls"));
}

// Written when there are mappings, or as an empty list where the document had the key.
inline void write_id_mappings(const std::vector<IdMapping>& mappings, object& linux_section,
                              std::string_view key) {
  array out(linux_section.storage());
  for (const auto& m : mappings)
    out.push_back(object({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}},
                         linux_section.storage()));
  bool keep = !out.empty() || linux_section.contains(key);
  set_or_erase(linux_section, key, std::move(out), keep);
}

}  // namespace detail

/// Reads the modelled subset of an OCI runtime-spec config.json; a modelled field of the wrong
/// type throws SpecError naming it (fields ContainerSpec does not model are left to the core's
/// check that some stage claims them). `bundle_dir` resolves a relative root.path, as the OCI
/// spec says, and a relative bind mount source, as runc does (an empty `bundle_dir` leaves both).
inline ContainerSpec spec_from_json(const boost::json::value& config,
                                    const std::string& bundle_dir = "") {
  if (!config.is_object()) throw SpecError("config.json: the document must be a JSON object");
  detail::Field top(config.as_object(), "");
  ContainerSpec spec;
  if (auto version = top.string("ociVersion")) spec.oci_version = *version;
  if (const boost::json::object* process = top.child("process"))
    detail::read_process(*process, spec.process);
  if (const boost::json::object* root = top.child("root")) {
    detail::Field r(*root, "root");
    spec.root.path = r.string("path").value_or("");
    spec.root.readonly = r.boolean("readonly").value_or(false);
  }
  if (!spec.root.path.empty() && spec.root.path.front() != '/')
    spec.root.path = bundle_dir + "/" + spec.root.path;
  spec.hostname = top.string("hostname").value_or("");
  if (const boost::json::array* mounts = top.list("mounts"))
    detail::read_mounts(*mounts, spec.mounts);
  if (!bundle_dir.empty())
    for (auto& mount : spec.mounts)
      if (detail::is_bind_mount(mount) && !mount.source.empty() && mount.source.front() != '/')
        mount.source = bundle_dir + "/" + mount.source;
  if (const boost::json::object* annotations = top.child("annotations")) {
    for (const auto& kv : *annotations) {
      if (!kv.value().is_string())
        throw SpecError("config.json: annotations." + std::string(kv.key()) + " must be a string");
      spec.annotations[std::string(kv.key())] = std::string(kv.value().as_string());
    }
  }
  if (const boost::json::object* linux_section = top.child("linux")) {
    detail::Field l(*linux_section, "linux");
    if (const boost::json::array* namespaces = l.list("namespaces")) {
      for (std::size_t i = 0; i < namespaces->size(); ++i) {
        std::string path = "linux.namespaces[" + std::to_string(i) + "]";
        if (!(*namespaces)[i].is_object())
          throw SpecError("config.json: " + path + " must be an object");
        detail::Field n((*namespaces)[i].as_object(), path);
        auto type = n.string("type");
        if (!type) throw SpecError("config.json: " + path + ".type is required");
        spec.namespaces.push_back({*type, n.string("path").value_or("")});
      }
    }
    spec.uid_mappings = detail::read_id_mappings(l, "uidMappings");
    spec.gid_mappings = detail::read_id_mappings(l, "gidMappings");
    if (const boost::json::object* resources = l.child("resources"))
      detail::read_resources(*resources, spec.resources);
    spec.cgroups_path = l.string("cgroupsPath").value_or("");
    spec.masked_paths = l.strings("maskedPaths");
    spec.readonly_paths = l.strings("readonlyPaths");
    if (const boost::json::object* sysctl = l.child("sysctl")) {
      for (const auto& kv : *sysctl) {
        if (!kv.value().is_string())
          throw SpecError("config.json: linux.sysctl." + std::string(kv.key()) +
                          " must be a string");
        spec.sysctl[std::string(kv.key())] = std::string(kv.value().as_string());
      }
    }
    // --- Devices ---
    detail::read_devices(l, spec.devices);
    if (const boost::json::object* seccomp = l.child("seccomp"))
      spec.seccomp = detail::read_seccomp(*seccomp);
  }
  return spec;
}

/// The spec as config.json. Every field of `base` that ContainerSpec does not model is kept;
/// the modelled ones are written from `spec` (an unset optional removes the field).
inline boost::json::object spec_to_json(const ContainerSpec& spec, boost::json::object base = {}) {
  using namespace detail;
  base["ociVersion"] = spec.oci_version;
  object& process = child_object(base, "process");
  const boost::json::storage_ptr& storage = base.storage();
  process["args"] = string_array(spec.process.args, storage);
  process["env"] = string_array(spec.process.env, storage);
  process["cwd"] = spec.process.cwd;
  process["terminal"] = spec.process.terminal;
  write_process_security(spec.process, process);
  object& root = child_object(base, "root");
  root["path"] = spec.root.path;
  root["readonly"] = spec.root.readonly;
  base["hostname"] = spec.hostname;
  // Mounts are matched by position: a stage adds or removes whole entries, and an entry's
  // unmodelled keys stay with it.
  array old_mounts = previous_entries(base, "mounts");
  array mounts(storage);
  for (std::size_t i = 0; i < spec.mounts.size(); ++i) {
    const auto& m = spec.mounts[i];
    object entry = previous_entry(old_mounts, i);
    entry["destination"] = m.destination;
    entry["type"] = m.type;
    entry["source"] = m.source;
    entry["options"] = string_array(m.options, storage);
    detail::write_id_mappings(m.uid_mappings, entry, "uidMappings");
    detail::write_id_mappings(m.gid_mappings, entry, "gidMappings");
    mounts.push_back(std::move(entry));
  }
  base["mounts"] = std::move(mounts);
  object annotations(storage);
  for (const auto& [key, val] : spec.annotations) annotations[key] = val;
  base["annotations"] = std::move(annotations);

  object& linux_section = child_object(base, "linux");
  array namespaces(storage);
  for (const auto& n : spec.namespaces) {
    object entry({{"type", n.type}}, storage);
    if (!n.path.empty()) entry["path"] = n.path;
    namespaces.push_back(std::move(entry));
  }
  linux_section["namespaces"] = std::move(namespaces);
  write_id_mappings(spec.uid_mappings, linux_section, "uidMappings");
  write_id_mappings(spec.gid_mappings, linux_section, "gidMappings");
  linux_section["cgroupsPath"] = spec.cgroups_path;
  set_or_erase(linux_section, "maskedPaths", string_array(spec.masked_paths, storage),
               !spec.masked_paths.empty() || linux_section.contains("maskedPaths"));
  set_or_erase(linux_section, "readonlyPaths", string_array(spec.readonly_paths, storage),
               !spec.readonly_paths.empty() || linux_section.contains("readonlyPaths"));
  {
    object sysctl(storage);
    for (const auto& [key, val] : spec.sysctl) sysctl[key] = val;
    bool keep = !sysctl.empty() || linux_section.contains("sysctl");
    set_or_erase(linux_section, "sysctl", std::move(sysctl), keep);
  }
  if (spec.seccomp)
    write_seccomp(*spec.seccomp, child_object(linux_section, "seccomp"));
  else
    linux_section.erase("seccomp");
  const auto& r = spec.resources;
  object& resources = child_object(linux_section, "resources");
  {
    object& memory = child_object(resources, "memory");
    set_or_erase(memory, "limit", r.memory_limit.value_or(0), r.memory_limit.has_value());
    set_or_erase(memory, "swap", r.memory_swap.value_or(0), r.memory_swap.has_value());
    if (memory.empty()) resources.erase("memory");
  }
  {
    object& cpu = child_object(resources, "cpu");
    set_or_erase(cpu, "quota", r.cpu_quota.value_or(0), r.cpu_quota.has_value());
    set_or_erase(cpu, "period", r.cpu_period.value_or(0), r.cpu_period.has_value());
    set_or_erase(cpu, "shares", r.cpu_shares.value_or(0), r.cpu_shares.has_value());
    set_or_erase(cpu, "cpus", value(r.cpuset_cpus, storage), !r.cpuset_cpus.empty());
    set_or_erase(cpu, "mems", value(r.cpuset_mems, storage), !r.cpuset_mems.empty());
    if (cpu.empty()) resources.erase("cpu");
  }
  {
    object& pids = child_object(resources, "pids");
    set_or_erase(pids, "limit", r.pids_limit.value_or(0), r.pids_limit.has_value());
    if (pids.empty()) resources.erase("pids");
  }
  // --- Devices ---
  write_device_rules(r.devices, resources);
  write_devices(spec.devices, linux_section);
  return base;
}

}  // namespace nsrun
