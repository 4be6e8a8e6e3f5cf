#include "nsrun/core/spec_json.hpp"

#include "nsrun/core/json_util.hpp"

namespace nsrun::core {
namespace {

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
    throw Error("config.json: " + name(key) + " must be " + std::string(expected));
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

void read_process(const object& process, ProcessSpec& out) {
  Field f(process, "process");
  out.args = f.strings("args");
  out.env = f.strings("env");
  if (auto cwd = f.string("cwd")) out.cwd = *cwd;
  if (auto terminal = f.boolean("terminal")) out.terminal = *terminal;
}

void read_mounts(const array& mounts, std::vector<MountSpec>& out) {
  for (std::size_t i = 0; i < mounts.size(); ++i) {
    std::string path = "mounts[" + std::to_string(i) + "]";
    if (!mounts[i].is_object()) throw Error("config.json: " + path + " must be an object");
    Field f(mounts[i].as_object(), path);
    MountSpec mount;
    auto destination = f.string("destination");
    if (!destination) throw Error("config.json: " + path + ".destination is required");
    mount.destination = *destination;
    mount.type = f.string("type").value_or("");
    mount.source = f.string("source").value_or("");
    mount.options = f.strings("options");
    // OCI lets "bind" be implied by the options alone.
    if (mount.type.empty() || mount.type == "none")
      for (const auto& option : mount.options)
        if (option == "bind" || option == "rbind") mount.type = "bind";
    out.push_back(std::move(mount));
  }
}

void read_resources(const object& resources, ResourcesSpec& out) {
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
}

}  // namespace

ContainerSpec spec_from_json(const value& config, const std::string& bundle_dir) {
  if (!config.is_object()) throw Error("config.json: the document must be a JSON object");
  Field top(config.as_object(), "");
  ContainerSpec spec;
  if (auto version = top.string("ociVersion")) spec.oci_version = *version;
  if (const object* process = top.child("process")) read_process(*process, spec.process);
  if (const object* root = top.child("root")) {
    Field r(*root, "root");
    spec.root.path = r.string("path").value_or("");
    spec.root.readonly = r.boolean("readonly").value_or(false);
  }
  if (!spec.root.path.empty() && spec.root.path.front() != '/')
    spec.root.path = bundle_dir + "/" + spec.root.path;
  spec.hostname = top.string("hostname").value_or("");
  if (const array* mounts = top.list("mounts")) read_mounts(*mounts, spec.mounts);
  if (const object* annotations = top.child("annotations")) {
    for (const auto& kv : *annotations) {
      if (!kv.value().is_string())
        throw Error("config.json: annotations." + std::string(kv.key()) + " must be a string");
      spec.annotations[std::string(kv.key())] = std::string(kv.value().as_string());
    }
  }
  if (const object* linux_section = top.child("linux")) {
    Field l(*linux_section, "linux");
    if (const array* namespaces = l.list("namespaces")) {
      for (std::size_t i = 0; i < namespaces->size(); ++i) {
        std::string path = "linux.namespaces[" + std::to_string(i) + "]";
        if (!(*namespaces)[i].is_object())
          throw Error("config.json: " + path + " must be an object");
        Field n((*namespaces)[i].as_object(), path);
        auto type = n.string("type");
        if (!type) throw Error("config.json: " + path + ".type is required");
        spec.namespaces.push_back({*type, n.string("path").value_or("")});
      }
    }
    if (const object* resources = l.child("resources")) read_resources(*resources, spec.resources);
    spec.cgroups_path = l.string("cgroupsPath").value_or("");
  }
  return spec;
}

ContainerSpec spec_from_bundle(const std::string& bundle_dir) {
  return spec_from_json(read_json_file(bundle_dir + "/config.json", "bundle"), bundle_dir);
}

boost::json::object spec_to_json(const ContainerSpec& spec) {
  object process{{"args", array(spec.process.args.begin(), spec.process.args.end())},
                 {"env", array(spec.process.env.begin(), spec.process.env.end())},
                 {"cwd", spec.process.cwd},
                 {"terminal", spec.process.terminal}};
  array mounts;
  for (const auto& m : spec.mounts)
    mounts.push_back(object{{"destination", m.destination},
                            {"type", m.type},
                            {"source", m.source},
                            {"options", array(m.options.begin(), m.options.end())}});
  array namespaces;
  for (const auto& n : spec.namespaces) {
    object entry{{"type", n.type}};
    if (!n.path.empty()) entry["path"] = n.path;
    namespaces.push_back(std::move(entry));
  }
  object resources;
  const auto& r = spec.resources;
  if (r.memory_limit || r.memory_swap) {
    object memory;
    if (r.memory_limit) memory["limit"] = *r.memory_limit;
    if (r.memory_swap) memory["swap"] = *r.memory_swap;
    resources["memory"] = std::move(memory);
  }
  if (r.cpu_quota || r.cpu_period || r.cpu_shares || !r.cpuset_cpus.empty() ||
      !r.cpuset_mems.empty()) {
    object cpu;
    if (r.cpu_quota) cpu["quota"] = *r.cpu_quota;
    if (r.cpu_period) cpu["period"] = *r.cpu_period;
    if (r.cpu_shares) cpu["shares"] = *r.cpu_shares;
    if (!r.cpuset_cpus.empty()) cpu["cpus"] = r.cpuset_cpus;
    if (!r.cpuset_mems.empty()) cpu["mems"] = r.cpuset_mems;
    resources["cpu"] = std::move(cpu);
  }
  if (r.pids_limit) resources["pids"] = object{{"limit", *r.pids_limit}};
  object annotations;
  for (const auto& [key, val] : spec.annotations) annotations[key] = val;
  return object{{"ociVersion", spec.oci_version},
                {"process", std::move(process)},
                {"root", object{{"path", spec.root.path}, {"readonly", spec.root.readonly}}},
                {"hostname", spec.hostname},
                {"mounts", std::move(mounts)},
                {"annotations", std::move(annotations)},
                {"linux", object{{"namespaces", std::move(namespaces)},
                                 {"resources", std::move(resources)},
                                 {"cgroupsPath", spec.cgroups_path}}}};
}

}  // namespace nsrun::core
