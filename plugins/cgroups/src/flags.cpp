#include "nsrun/cgroups/flags.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>

#include "nsrun/stage.hpp"

namespace nsrun::cgroups {
namespace {

constexpr std::int64_t min_memory = 6LL << 20;
constexpr std::uint64_t cpus_period = 100000;  // docker's period for --cpus

std::string quoted(const std::string& flag, const std::string& value) {
  return flag + " \"" + value + "\"";
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

// A whole number, optionally negative. nullopt when malformed; Error when it overflows.
std::optional<std::int64_t> parse_integer(const std::string& flag, const std::string& value) {
  std::string_view digits = value;
  if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
  if (!all_digits(digits)) return std::nullopt;
  std::int64_t out = 0;
  auto result = std::from_chars(value.data(), value.data() + value.size(), out);
  if (result.ec == std::errc::result_out_of_range)
    throw StageError(quoted(flag, value) + " is too large");
  if (result.ec != std::errc() || result.ptr != value.data() + value.size()) return std::nullopt;
  return out;
}

std::int64_t integer_flag(const std::string& flag, const std::string& value,
                          const std::string& example) {
  auto parsed = parse_integer(flag, value);
  if (!parsed)
    throw StageError(quoted(flag, value) + " is not a whole number (e.g. " + example + ")");
  return *parsed;
}

// "0-2,4" -> {0,1,2,4}; Error naming the flag when malformed.
std::set<long> parse_list_flag(const std::string& flag, const std::string& value,
                               const std::string& what) {
  std::set<long> ids;
  auto bad = [&]() {
    return StageError(quoted(flag, value) + " is not a " + what + " list (e.g. 0-2,4)");
  };
  if (value.empty()) throw bad();
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t end = value.find(',', start);
    if (end == std::string::npos) end = value.size();
    std::string item = value.substr(start, end - start);
    std::size_t dash = item.find('-');
    std::string first = item.substr(0, dash);
    std::string last = dash == std::string::npos ? first : item.substr(dash + 1);
    if (!all_digits(first) || !all_digits(last) || first.size() > 5 || last.size() > 5) throw bad();
    long a = std::stol(first), b = std::stol(last);
    if (b < a) throw StageError(quoted(flag, value) + ": the range " + item + " runs backwards");
    for (long id = a; id <= b; ++id) ids.insert(id);
    start = end + 1;
  }
  return ids;
}

bool escapes(const std::string& path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == ".." || part == ".") return true;
    start = end + 1;
  }
  return false;
}

std::string normalised(const std::string& path) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) out += "/" + path.substr(start, end - start);
    start = end + 1;
  }
  return out;
}

}  // namespace

ResourceFlags resource_flags_from(const boost::json::object& given) {
  ResourceFlags f;
  const std::pair<std::string*, const char*> all[] = {{&f.memory, "memory"},
                                                      {&f.memory_swap, "memory-swap"},
                                                      {&f.cpus, "cpus"},
                                                      {&f.cpu_quota, "cpu-quota"},
                                                      {&f.cpu_period, "cpu-period"},
                                                      {&f.cpu_shares, "cpu-shares"},
                                                      {&f.pids_limit, "pids-limit"},
                                                      {&f.cpuset_cpus, "cpuset-cpus"},
                                                      {&f.cpuset_mems, "cpuset-mems"},
                                                      {&f.cgroup_parent, "cgroup-parent"},
                                                      {&f.cgroup_driver, "cgroup-driver"}};
  for (const auto& [field, name] : all)
    if (const auto* v = given.if_contains(name); v && v->is_string()) *field = v->as_string();
  return f;
}

std::int64_t parse_size_flag(const std::string& flag, const std::string& value) {
  auto not_a_size = [&]() {
    return StageError(quoted(flag, value) +
                      " is not a size (use a number with an optional k, m or g suffix, e.g. 64m)");
  };
  if (!value.empty() && value.front() == '-')
    throw StageError(quoted(flag, value) + " is negative (use a size such as 64m)");
  std::size_t i = 0;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9') ++i;
  std::string whole = value.substr(0, i);
  std::string fraction;
  if (i < value.size() && value[i] == '.') {
    std::size_t start = ++i;
    while (i < value.size() && value[i] >= '0' && value[i] <= '9') ++i;
    fraction = value.substr(start, i - start);
    if (fraction.empty()) throw not_a_size();
  }
  if (whole.empty()) throw not_a_size();
  std::string suffix = value.substr(i);
  for (auto& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::int64_t unit = 1;
  if (!suffix.empty() && suffix != "b") {
    static constexpr std::string_view units = "kmgtp";
    auto at = units.find(suffix[0]);
    std::string rest = suffix.substr(1);
    if (at == std::string_view::npos || !(rest.empty() || rest == "b" || rest == "ib"))
      throw not_a_size();
    unit = std::int64_t{1} << (10 * (at + 1));
  }
  auto too_large = [&]() { return StageError(quoted(flag, value) + " is too large"); };
  if (whole.size() > 19) throw too_large();
  std::uint64_t whole_value = 0;
  if (std::from_chars(whole.data(), whole.data() + whole.size(), whole_value).ec != std::errc())
    throw too_large();
  std::int64_t bytes = 0;
  if (whole_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
      __builtin_mul_overflow(static_cast<std::int64_t>(whole_value), unit, &bytes))
    throw too_large();
  if (!fraction.empty()) {
    // Up to 9 fractional digits are exact enough for any unit (1.5g, 0.25m).
    std::string digits = fraction.substr(0, 9);
    long double part = std::stold("0." + digits) * static_cast<long double>(unit);
    if (__builtin_add_overflow(bytes, static_cast<std::int64_t>(part), &bytes)) throw too_large();
  }
  return bytes;
}

std::string cgroups_path_under(const std::string& parent, const std::string& container_id) {
  return normalised(parent) + "/nsrun-" + container_id;
}

void apply_resource_flags(const ResourceFlags& f, ContainerSpec& spec, long online_cpus) {
  ResourcesSpec& r = spec.resources;
  if (!f.memory.empty()) {
    std::int64_t bytes = parse_size_flag("--memory", f.memory);
    if (bytes < min_memory)
      throw StageError(quoted("--memory", f.memory) + " is below the minimum of 6 MiB (e.g. 64m)");
    r.memory_limit = bytes;
  }
  if (!f.memory_swap.empty()) {
    if (f.memory.empty())
      throw StageError("--memory-swap needs --memory too (it limits memory plus swap)");
    if (f.memory_swap == "-1") {
      r.memory_swap = -1;
    } else {
      std::int64_t bytes = parse_size_flag("--memory-swap", f.memory_swap);
      if (bytes < *r.memory_limit)
        throw StageError(quoted("--memory-swap", f.memory_swap) + " is below --memory " + f.memory +
                         " (it is memory plus swap; use -1 for unlimited swap)");
      r.memory_swap = bytes;
    }
  } else if (r.memory_limit) {
    // docker's default: as much swap as memory.
    std::int64_t doubled = 0;
    r.memory_swap = __builtin_mul_overflow(*r.memory_limit, 2, &doubled) ? -1 : doubled;
  }

  if (!f.cpus.empty()) {
    if (!f.cpu_quota.empty() || !f.cpu_period.empty())
      throw StageError(
          "--cpus cannot be combined with --cpu-quota or --cpu-period (use one or the "
          "other)");
    const std::string& v = f.cpus;
    std::size_t dot = v.find('.');
    std::string whole = v.substr(0, dot),
                fraction = dot == std::string::npos ? "" : v.substr(dot + 1);
    if (!all_digits(whole) || (dot != std::string::npos && !all_digits(fraction)) ||
        whole.size() > 6)
      throw StageError(quoted("--cpus", v) + " is not a positive number of CPUs (e.g. 1.5)");
    double cpus = std::stod(v);
    if (cpus <= 0)
      throw StageError("--cpus " + v + " must be more than 0 (e.g. 0.5 for half a CPU)");
    if (cpus > static_cast<double>(online_cpus))
      throw StageError("--cpus " + v + " is more than the " + std::to_string(online_cpus) +
                       " online CPUs");
    auto quota = static_cast<std::int64_t>(std::llround(cpus * cpus_period));
    if (quota < 1000) throw StageError("--cpus " + v + " is below the minimum of 0.01");
    r.cpu_quota = quota;
    r.cpu_period = cpus_period;
  }
  if (!f.cpu_quota.empty()) {
    std::int64_t quota = integer_flag("--cpu-quota", f.cpu_quota, "50000");
    if (quota != -1 && quota < 1000)
      throw StageError("--cpu-quota " + f.cpu_quota +
                       " is below the minimum of 1000 microseconds (use -1 for no limit)");
    r.cpu_quota = quota;
  }
  if (!f.cpu_period.empty()) {
    std::int64_t period = integer_flag("--cpu-period", f.cpu_period, "100000");
    if (period < 1000 || period > 1000000)
      throw StageError("--cpu-period " + f.cpu_period + " is outside 1000-1000000 microseconds");
    r.cpu_period = static_cast<std::uint64_t>(period);
  }
  if (!f.cpu_shares.empty()) {
    std::int64_t shares = integer_flag("--cpu-shares", f.cpu_shares, "512");
    if (shares < 2 || shares > 262144)
      throw StageError("--cpu-shares " + f.cpu_shares +
                       " is outside 2-262144 (the default is 1024)");
    r.cpu_shares = static_cast<std::uint64_t>(shares);
  }
  if (!f.pids_limit.empty()) {
    std::int64_t pids = integer_flag("--pids-limit", f.pids_limit, "100");
    if (pids != -1 && pids <= 0)
      throw StageError("--pids-limit " + f.pids_limit + " must be positive (use -1 for no limit)");
    r.pids_limit = pids;
  }
  if (!f.cpuset_cpus.empty()) {
    for (long cpu : parse_list_flag("--cpuset-cpus", f.cpuset_cpus, "CPU"))
      if (cpu >= online_cpus)
        throw StageError("--cpuset-cpus " + f.cpuset_cpus + " names CPU " + std::to_string(cpu) +
                         ", but only CPUs 0-" + std::to_string(online_cpus - 1) + " are online");
    r.cpuset_cpus = f.cpuset_cpus;
  }
  if (!f.cpuset_mems.empty()) {
    parse_list_flag("--cpuset-mems", f.cpuset_mems, "memory node");
    r.cpuset_mems = f.cpuset_mems;  // the cgroups stage checks the nodes are online
  }
  if (!f.cgroup_parent.empty()) {
    const std::string& p = f.cgroup_parent;
    if (p.front() != '/')
      throw StageError(quoted("--cgroup-parent", p) + " must be an absolute path (e.g. /ci/jobs)");
    if (escapes(p))
      throw StageError(quoted("--cgroup-parent", p) +
                       " must not contain \"..\" or \".\" (it would leave the cgroup hierarchy)");
    for (char c : p)
      if (static_cast<unsigned char>(c) < 0x20)
        throw StageError("--cgroup-parent must not contain control characters");
  }
  if (!f.cgroup_driver.empty()) {
    const std::string& d = f.cgroup_driver;
    if (d != "auto" && d != "v1" && d != "v2" && d != "hybrid")
      throw StageError(quoted("--cgroup-driver", d) +
                       " is not a driver (use auto, v1, v2 or hybrid)");
    spec.annotations[annotation::cgroup_driver] = d;
  }
}

}  // namespace nsrun::cgroups
