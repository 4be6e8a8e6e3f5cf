#include "nsrun/cgroups/limits.hpp"

#include <charconv>
#include <cstdio>

#include "nsrun/cgroups/devices.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::cgroups {
namespace {

[[noreturn]] void bad(const std::string& field, const std::string& what) {
  throw StageError("config.json: linux.resources." + field + " " + what);
}

}  // namespace

std::optional<std::set<unsigned>> parse_cpu_list(std::string_view text, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<std::set<unsigned>> {
    if (why) *why = reason;
    return std::nullopt;
  };
  auto number = [](std::string_view digits, unsigned& out) {
    if (digits.empty() || digits.size() > 6) return false;
    for (char c : digits)
      if (c < '0' || c > '9') return false;
    auto result = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return result.ec == std::errc() && out < 65536;
  };
  std::set<unsigned> ids;
  if (text.empty()) return fail("it is empty");
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    std::size_t dash = item.find('-');
    unsigned first = 0, last = 0;
    if (dash == std::string_view::npos) {
      if (!number(item, first)) return fail("\"" + std::string(item) + "\" is not a number");
      last = first;
    } else if (!number(item.substr(0, dash), first) || !number(item.substr(dash + 1), last)) {
      return fail("\"" + std::string(item) + "\" is not a range such as 0-3");
    } else if (last < first) {
      return fail("the range " + std::string(item) + " runs backwards");
    }
    for (unsigned id = first; id <= last; ++id) ids.insert(id);
    start = end + 1;
  }
  return ids;
}

std::string format_bytes(std::int64_t bytes) {
  static constexpr struct {
    std::int64_t size;
    const char* unit;
  } units[] = {{1LL << 40, "TiB"}, {1LL << 30, "GiB"}, {1LL << 20, "MiB"}, {1LL << 10, "KiB"}};
  for (const auto& u : units) {
    if (bytes >= u.size) {
      if (bytes % u.size == 0) return std::to_string(bytes / u.size) + " " + u.unit;
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%.1f %s", static_cast<double>(bytes) / u.size, u.unit);
      return buffer;
    }
  }
  return std::to_string(bytes) + " bytes";
}

std::uint64_t cpu_shares_to_weight(std::uint64_t shares) {
  if (shares < min_cpu_shares) shares = min_cpu_shares;
  if (shares > max_cpu_shares) shares = max_cpu_shares;
  return 1 + ((shares - 2) * 9999) / 262142;
}

Needs needs_of(const ResourcesSpec& r) {
  Needs n;
  n.memory = (r.memory_limit && *r.memory_limit != -1) || (r.memory_swap && *r.memory_swap != -1);
  n.cpu = (r.cpu_quota && *r.cpu_quota != -1) || r.cpu_period || r.cpu_shares;
  n.cpuset = !r.cpuset_cpus.empty() || !r.cpuset_mems.empty();
  n.pids = r.pids_limit && *r.pids_limit != -1;
  n.devices = !r.devices.empty();
  return n;
}

void validate_resources(const ResourcesSpec& r) {
  if (r.memory_limit && *r.memory_limit != -1 && *r.memory_limit < min_memory_bytes)
    bad("memory.limit", std::to_string(*r.memory_limit) +
                            " is below the minimum of 6 MiB (6291456; use -1 for no limit)");
  if (r.memory_swap) {
    std::int64_t swap = *r.memory_swap;
    if (swap != -1) {
      if (swap < 0) bad("memory.swap", std::to_string(swap) + " is negative (use -1 for no limit)");
      if (!r.memory_limit || *r.memory_limit == -1)
        bad("memory.swap", "needs memory.limit too (swap is the limit of memory plus swap)");
      if (swap < *r.memory_limit)
        bad("memory.swap", std::to_string(swap) + " is below memory.limit " +
                               std::to_string(*r.memory_limit) +
                               " (it counts memory plus swap; use -1 for no swap limit)");
    }
  }
  if (r.cpu_quota && *r.cpu_quota != -1 && *r.cpu_quota < min_cpu_quota_us)
    bad("cpu.quota", std::to_string(*r.cpu_quota) +
                         " is below the minimum of 1000 microseconds (use -1 for no limit)");
  if (r.cpu_period && (*r.cpu_period < min_cpu_period_us || *r.cpu_period > max_cpu_period_us))
    bad("cpu.period", std::to_string(*r.cpu_period) + " is outside 1000-1000000 microseconds");
  if (r.cpu_shares && (*r.cpu_shares < min_cpu_shares || *r.cpu_shares > max_cpu_shares))
    bad("cpu.shares", std::to_string(*r.cpu_shares) + " is outside 2-262144");
  if (r.pids_limit && *r.pids_limit != -1 && *r.pids_limit <= 0)
    bad("pids.limit", std::to_string(*r.pids_limit) + " must be positive (use -1 for no limit)");
  std::string why;
  if (!r.cpuset_cpus.empty() && !parse_cpu_list(r.cpuset_cpus, &why))
    bad("cpu.cpus", "\"" + r.cpuset_cpus + "\" is not a CPU list such as 0-3,5: " + why);
  if (!r.cpuset_mems.empty() && !parse_cpu_list(r.cpuset_mems, &why))
    bad("cpu.mems", "\"" + r.cpuset_mems + "\" is not a node list such as 0-1: " + why);
  validate_device_rules(r.devices);
}

bool valid_cgroups_path(std::string_view path, std::string* why) {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  if (path.empty()) return true;
  if (path.front() != '/' && path.find(':') != std::string_view::npos)
    return fail("systemd-style \"slice:prefix:name\" paths are not supported (give a path)");
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") return fail("it must not contain \"..\" (it would escape the hierarchy)");
    if (part == ".") return fail("it must not contain \".\" components");
    start = end + 1;
  }
  if (path.find('\n') != std::string_view::npos || path.find('\0') != std::string_view::npos)
    return fail("it contains control characters");
  return true;
}

}  // namespace nsrun::cgroups
