// nsrun update [--resources FILE|-] [--memory N] [--cpu-quota N] ... ID: runc's update, as
// engines call it (podman update, the containerd shim) and as people type it: new limits for a
// container, applied by the stage that owns them. The flags are written over the file's values.
#include <cctype>
#include <iostream>
#include <iterator>
#include <optional>

#include "commands.hpp"
#include "nsrun/core/json_util.hpp"
#include "nsrun/core/lifecycle.hpp"
#include "nsrun/core/spec_json.hpp"

namespace nsrun::cli {
namespace {

struct UpdateOptions {
  std::string id;
  std::string resources_file;
  // runc's flags for the limits the cgroups stage applies, as text: each is checked and
  // converted with its name in the error. (runc's realtime, kernel-memory and blkio flags are
  // left out: no stage applies those limits.)
  std::string memory, memory_swap;
  std::string cpu_shares, cpu_quota, cpu_period, cpuset_cpus, cpuset_mems;
  std::string pids_limit;
};

// "512m", "1g", "1048576" or "-1" (no limit), as runc and docker read a size.
std::int64_t byte_size(const std::string& flag, const std::string& text) {
  auto refuse = [&]() -> std::int64_t {
    throw core::Error("update: " + flag + " " + text +
                      " is not a size (bytes, or a number with k, m, g or t, e.g. 512m; -1 for "
                      "no limit)");
  };
  if (text == "-1") return -1;
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 18) return refuse();
  std::string unit = text.substr(digits);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() == 2 && unit[1] == 'b') unit.pop_back();
  std::int64_t scale = 1;
  if (unit == "k")
    scale = 1LL << 10;
  else if (unit == "m")
    scale = 1LL << 20;
  else if (unit == "g")
    scale = 1LL << 30;
  else if (unit == "t")
    scale = 1LL << 40;
  else if (!unit.empty() && unit != "b")
    return refuse();
  std::int64_t value = std::stoll(text.substr(0, digits));
  if (value > INT64_MAX / scale) return refuse();
  return value * scale;
}

// A whole number within [minimum, maximum], or Error naming the flag.
std::int64_t whole_number(const std::string& flag, const std::string& text, std::int64_t minimum,
                          std::int64_t maximum) {
  std::size_t used = 0;
  std::int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || value < minimum || value > maximum)
    throw core::Error("update: " + flag + " " + text + " must be a whole number from " +
                      std::to_string(minimum) + " to " + std::to_string(maximum));
  return value;
}

// The limits the flags ask for, as OCI linux.resources, and which flag filled which field: the
// cgroups stage judges the limits and names the fields, as it must for a --resources file.
struct LimitsFromFlags {
  boost::json::object resources;
  std::vector<core::FieldFromFlag> fields;
};

LimitsFromFlags resources_from_flags(const UpdateOptions& o) {
  LimitsFromFlags out;
  auto set = [&](const char* section, const char* field, const char* flag, const std::string& text,
                 boost::json::value value) {
    auto& slot = out.resources[section];
    if (!slot.is_object()) slot = boost::json::object();
    // As the stage writes the value after the field: a number as it is, a string quoted.
    std::string shown = value.is_string() ? "\"" + text + "\"" : boost::json::serialize(value);
    out.fields.push_back({std::string("linux.resources.") + section + "." + field,
                          std::string(flag) + " " + text, std::move(shown)});
    slot.as_object()[field] = std::move(value);
  };
  constexpr std::int64_t big = INT64_MAX;
  if (!o.memory.empty())
    set("memory", "limit", "--memory", o.memory, byte_size("--memory", o.memory));
  if (!o.memory_swap.empty())
    set("memory", "swap", "--memory-swap", o.memory_swap,
        byte_size("--memory-swap", o.memory_swap));
  if (!o.cpu_shares.empty())
    set("cpu", "shares", "--cpu-share", o.cpu_shares,
        whole_number("--cpu-share", o.cpu_shares, 2, 262144));
  if (!o.cpu_quota.empty())
    set("cpu", "quota", "--cpu-quota", o.cpu_quota,
        whole_number("--cpu-quota", o.cpu_quota, -1, big));
  if (!o.cpu_period.empty())
    set("cpu", "period", "--cpu-period", o.cpu_period,
        whole_number("--cpu-period", o.cpu_period, 1000, 1000000));
  if (!o.cpuset_cpus.empty())
    set("cpu", "cpus", "--cpuset-cpus", o.cpuset_cpus, boost::json::string(o.cpuset_cpus));
  if (!o.cpuset_mems.empty())
    set("cpu", "mems", "--cpuset-mems", o.cpuset_mems, boost::json::string(o.cpuset_mems));
  if (!o.pids_limit.empty())
    set("pids", "limit", "--pids-limit", o.pids_limit,
        whole_number("--pids-limit", o.pids_limit, -1, big));
  return out;
}

// `from` written over `into`, section by section.
void merge_resources(boost::json::object& into, const boost::json::object& from) {
  for (const auto& [key, value] : from) {
    auto* old = into.if_contains(key);
    if (old && old->is_object() && value.is_object())
      for (const auto& [field, v] : value.as_object()) old->as_object()[field] = v;
    else
      into[key] = value;
  }
}

int update(const UpdateOptions& options, const GlobalOptions& global) {
  LimitsFromFlags limits = resources_from_flags(options);
  const boost::json::object& from_flags = limits.resources;
  boost::json::object resources;
  if (!options.resources_file.empty()) {
    std::string text;
    if (options.resources_file == "-")
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    else
      text = core::read_text_file(options.resources_file, "--resources");
    auto value = core::parse_json_document(text, "--resources " + options.resources_file);
    if (!value.is_object())
      throw core::Error("update: --resources " + options.resources_file +
                        " is not a JSON object (give OCI linux.resources, e.g. {\"pids\": "
                        "{\"limit\": 64}})");
    resources = std::move(value.as_object());
  } else if (from_flags.empty()) {
    throw core::Error(
        "update: give the new limits with --resources FILE (or - for stdin), as OCI "
        "linux.resources JSON, or with flags such as --memory 512m or --pids-limit 64");
  }
  merge_resources(resources, from_flags);
  core::StderrLogger log(global.level());
  core::StateDir state(global.state_root, options.id);
  core::inspect(state);  // "does not exist" before plugins are loaded
  auto registry = global.load_plugins_for(state, Installation::locate());
  try {
    core::update_container(state, registry, log, resources);
  } catch (const core::Error& e) {
    throw core::Error(core::naming_flags(e.what(), limits.fields));
  }
  return 0;
}

}  // namespace

void add_update_command(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto* command = app.add_subcommand("update", "Change a container's resource limits");
  auto o = std::make_shared<UpdateOptions>();
  command->add_option("id", o->id, "Container id")->required();
  command->add_option("--resources,-r", o->resources_file,
                      "OCI linux.resources JSON with the new limits (- reads stdin)");
  command->add_option("--memory", o->memory, "Memory limit (e.g. 512m; -1: none)");
  command->add_option("--memory-swap", o->memory_swap, "Memory plus swap limit (-1: none)");
  command->add_option("--cpu-share", o->cpu_shares, "CPU shares (relative weight)");
  command->add_option("--cpu-quota", o->cpu_quota, "CPU time in microseconds per period");
  command->add_option("--cpu-period", o->cpu_period, "CPU period in microseconds");
  command->add_option("--cpuset-cpus", o->cpuset_cpus, "CPUs the container may use (e.g. 0-1)");
  command->add_option("--cpuset-mems", o->cpuset_mems, "Memory nodes the container may use");
  command->add_option("--pids-limit", o->pids_limit, "Maximum number of tasks (-1: none)");
  command->callback([o, &global, &exit_code] {
    try {
      exit_code = update(*o, global);
    } catch (const core::Error& e) {
      exit_code = report_error(e.what());
    }
  });
}

}  // namespace nsrun::cli
