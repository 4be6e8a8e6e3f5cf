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

// The limits the flags ask for, as OCI linux.resources.
boost::json::object resources_from_flags(const UpdateOptions& o) {
  boost::json::object resources;
  auto section = [&](const char* name) -> boost::json::object& {
    auto& value = resources[name];
    if (!value.is_object()) value = boost::json::object();
    return value.as_object();
  };
  constexpr std::int64_t big = INT64_MAX;
  if (!o.memory.empty()) section("memory")["limit"] = byte_size("--memory", o.memory);
  if (!o.memory_swap.empty()) section("memory")["swap"] = byte_size("--memory-swap", o.memory_swap);
  if (!o.cpu_shares.empty())
    section("cpu")["shares"] = whole_number("--cpu-share", o.cpu_shares, 2, 262144);
  if (!o.cpu_quota.empty())
    section("cpu")["quota"] = whole_number("--cpu-quota", o.cpu_quota, -1, big);
  if (!o.cpu_period.empty())
    section("cpu")["period"] = whole_number("--cpu-period", o.cpu_period, 1000, 1000000);
  if (!o.cpuset_cpus.empty()) section("cpu")["cpus"] = o.cpuset_cpus;
  if (!o.cpuset_mems.empty()) section("cpu")["mems"] = o.cpuset_mems;
  if (!o.pids_limit.empty())
    section("pids")["limit"] = whole_number("--pids-limit", o.pids_limit, -1, big);
  return resources;
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
  boost::json::object from_flags = resources_from_flags(options);
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
  core::update_container(state, registry, log, resources);
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
