#include "nsrun/cgroups/driver.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <set>

#include "nsrun/cgroups/limits.hpp"

namespace nsrun::cgroups {
namespace {

using boost::json::array;
using boost::json::object;

std::string parent_of(const std::string& dir) {
  auto slash = dir.find_last_of('/');
  return slash == 0 || slash == std::string::npos ? "/" : dir.substr(0, slash);
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\n' && text[i] != '\t') ++i;
    if (i > start) out.emplace_back(text.substr(start, i - start));
  }
  return out;
}

// "key value" lines (memory.events, memory.oom_control): the value of `key`, or -1.
long long keyed_value(std::string_view text, std::string_view key) {
  auto w = words(text);
  for (std::size_t i = 0; i + 1 < w.size(); ++i)
    if (w[i] == key) return std::atoll(w[i + 1].c_str());
  return -1;
}

std::string error_text(int error) {
  return std::strerror(error);
}

// Normalises an absolute or relative cgroup path: no empty components, no trailing '/'.
std::string normalise(std::string_view path) {
  std::string out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out += "/" + std::string(path.substr(start, end - start));
    start = end + 1;
  }
  return out.empty() ? "/" : out;
}

std::string join(const std::string& base, const std::string& relative) {
  return base == "/" ? relative : base + relative;
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

void debug_write(Logger& log, const std::string& path, std::string_view value) {
  if (log.debug_enabled()) log.debug(path + " = " + std::string(value));
}

// Why a write to a cgroup file may fail, and what to do.
std::string write_hint(const std::string& file, int error) {
  if (error == EACCES || error == EPERM) return " (nsrun must run as root)";
  if (error == EBUSY && file == "cgroup.subtree_control")
    return " (cgroup v2's no-internal-processes rule: a cgroup with processes cannot delegate "
           "controllers; run nsrun in a leaf cgroup of its own, or pass --cgroup-parent)";
  if (error == EINVAL && file.starts_with("cpuset."))
    return " (the parent cgroup does not allow these CPUs or nodes; choose ones within its own "
           "cpuset)";
  if (error == EINVAL && file.starts_with("cpu."))
    return " (the parent cgroup's CPU limit is lower, or the value is out of range)";
  if ((error == EBUSY || error == EINVAL) && file.starts_with("memory."))
    return " (the memory in use is already above it, or it is out of range)";
  if (error == ENOENT) return " (the controller is not enabled for this cgroup)";
  return "";
}

[[noreturn]] void write_failed(const std::string& dir, const std::string& file,
                               std::string_view value, int error) {
  throw StageError("cannot write \"" + std::string(value) + "\" to " + dir + "/" + file + ": " +
                   error_text(error) + write_hint(file, error));
}

// Enables `controllers` in `dir`'s cgroup.subtree_control (only those not on yet). Returns
// ENOENT when `dir` does not exist; throws for any other failure.
int enable_controllers(Host& host, const std::string& dir, const std::vector<std::string>& wanted,
                       Logger& log) {
  std::string current;
  if (int error = host.read_file(dir + "/cgroup.subtree_control", current)) {
    if (error == ENOENT) return ENOENT;
    throw StageError("cannot read " + dir + "/cgroup.subtree_control: " + error_text(error));
  }
  auto enabled = words(current);
  std::string request;
  for (const auto& c : wanted)
    if (!contains(enabled, c)) request += (request.empty() ? "+" : " +") + c;
  if (request.empty()) return 0;
  debug_write(log, dir + "/cgroup.subtree_control", request);
  if (int error = host.write_file(dir + "/cgroup.subtree_control", request)) {
    if (error == ENOENT)
      throw StageError("cannot enable " + request + " in " + dir +
                       "/cgroup.subtree_control: its parent does not delegate the controller "
                       "(enable it in the parent's cgroup.subtree_control, or pass "
                       "--cgroup-parent where it is available)");
    write_failed(dir, "cgroup.subtree_control", request, error);
  }
  return 0;
}

// v1 cpuset: a new cgroup has empty cpus and mems and accepts no process until both are set.
void copy_cpuset(Host& host, const std::string& dir, Logger& log) {
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    std::string value;
    if (int error = host.read_file(parent_of(dir) + "/" + file, value))
      throw StageError("cannot read " + parent_of(dir) + "/" + file + ": " + error_text(error));
    value = trim(value);
    debug_write(log, dir + "/" + file, value);
    if (int error = host.write_file(dir + "/" + file, value)) write_failed(dir, file, value, error);
  }
}

// The cgroup controllers a limit of linux.resources goes to, in the order limits are written.
enum class Controller { cpuset, cpu, memory, pids };

// The writes that put `r`'s limits for one controller into a cgroup, v1 or v2, in the order they
// must be written (docs/cgroups.md, "File mapping"): the one mapping create_cgroups (through
// make_plan) and update_limits share. For a new cgroup (`update` false) a value equal to its
// default (-1, unlimited) is not written, and a v1 cpuset the spec leaves empty is copied from
// the parent (a new one starts empty). For a running container's cgroup (`update`) every value
// given is written, -1 as the file's "unlimited" (-1 or max), since it may replace a limit; a
// cpuset not given is left as it is. v1 memory's order on update: see order_memory_writes.
std::vector<CgroupWrite> limit_writes(Controller controller, const ResourcesSpec& r, bool v2,
                                      bool update) {
  std::vector<CgroupWrite> out;
  auto add = [&](std::string file, std::string value, bool optional = false, bool copy = false) {
    out.push_back({std::move(file), std::move(value), optional, copy});
  };
  // Given, and on a new cgroup not the default.
  auto wanted = [&](const std::optional<std::int64_t>& v) { return v && (update || *v != -1); };
  auto unlimited = [&](std::int64_t v) { return v == -1 ? std::string(v2 ? "max" : "-1") : ""; };
  auto text = [&](std::int64_t v) { return v == -1 ? unlimited(v) : std::to_string(v); };
  switch (controller) {
    case Controller::cpuset:
      if (!v2 && !update) {
        // v1: both must be set before a process can join; an empty one copies the parent's.
        add("cpuset.cpus", r.cpuset_cpus, false, r.cpuset_cpus.empty());
        add("cpuset.mems", r.cpuset_mems, false, r.cpuset_mems.empty());
      } else {
        if (!r.cpuset_cpus.empty()) add("cpuset.cpus", r.cpuset_cpus);
        if (!r.cpuset_mems.empty()) add("cpuset.mems", r.cpuset_mems);
      }
      break;
    case Controller::cpu: {
      bool quota = wanted(r.cpu_quota);
      if (!v2) {
        if (r.cpu_period) add("cpu.cfs_period_us", std::to_string(*r.cpu_period));
        if (quota) add("cpu.cfs_quota_us", text(*r.cpu_quota));
        if (r.cpu_shares) add("cpu.shares", std::to_string(*r.cpu_shares));
      } else {
        if (quota || r.cpu_period) {
          std::string value =
              quota && *r.cpu_quota != -1 ? std::to_string(*r.cpu_quota) : std::string("max");
          if (r.cpu_period) value += " " + std::to_string(*r.cpu_period);
          add("cpu.max", value);
        }
        if (r.cpu_shares) add("cpu.weight", std::to_string(cpu_shares_to_weight(*r.cpu_shares)));
      }
      break;
    }
    case Controller::memory: {
      bool limit = wanted(r.memory_limit);
      bool swap = wanted(r.memory_swap);
      if (!v2) {
        if (limit) add("memory.limit_in_bytes", text(*r.memory_limit));
        if (swap) add("memory.memsw.limit_in_bytes", text(*r.memory_swap), true);
      } else {
        if (limit) add("memory.max", text(*r.memory_limit));
        // v2 limits swap alone; OCI's swap is memory plus swap (validate_resources: a swap limit
        // comes with a memory limit).
        if (swap && *r.memory_swap == -1)
          add("memory.swap.max", "max", true);
        else if (swap && r.memory_limit && *r.memory_limit != -1)
          add("memory.swap.max", std::to_string(*r.memory_swap - *r.memory_limit), true);
      }
      break;
    }
    case Controller::pids:
      if (wanted(r.pids_limit))
        add("pids.max", *r.pids_limit == -1 ? std::string("max") : std::to_string(*r.pids_limit));
      break;
  }
  return out;
}

// Writes limits into an existing cgroup, in order. A missing optional file (swap accounting
// off) is skipped with a debug line; any other failure throws, naming the file and value.
void write_limits(Host& host, const std::string& dir, const std::vector<CgroupWrite>& writes,
                  Logger& log) {
  for (const auto& w : writes) {
    std::string value = w.value;
    if (w.copy_from_parent) {
      if (int read_error = host.read_file(parent_of(dir) + "/" + w.file, value))
        throw StageError("cannot read " + parent_of(dir) + "/" + w.file + ": " +
                         error_text(read_error));
      value = trim(value);
    }
    int write_error = host.write_file(dir + "/" + w.file, value);
    if (write_error == ENOENT && w.optional) {
      if (log.debug_enabled())
        log.debug(dir + "/" + w.file +
                  " does not exist (swap accounting is off); swap is not limited");
      continue;
    }
    if (write_error) write_failed(dir, w.file, value, write_error);
    debug_write(log, dir + "/" + w.file, value);
  }
}

std::string mkdir_failed(const std::string& dir, int error) {
  std::string hint;
  if (error == EACCES || error == EPERM) hint = " (nsrun must run as root)";
  if (error == EROFS)
    hint = " (the cgroup filesystem is read-only: inside a container, mount it read-write)";
  return "cannot create cgroup " + dir + ": " + error_text(error) + hint;
}

// Creates the missing ancestors of a placement's directory (a --cgroup-parent that does not
// exist yet), journalled first; on v2 each level delegates the controllers to the next.
void create_ancestors(Host& host, const Placement& p, Journal& journal, Logger& log) {
  std::vector<std::string> missing;  // deepest first
  std::string dir = parent_of(p.dir());
  while (dir.size() > p.mount_point.size() && !host.is_dir(dir)) {
    missing.push_back(dir);
    dir = parent_of(dir);
  }
  if (missing.empty()) return;
  std::reverse(missing.begin(), missing.end());
  array dirs;
  for (const auto& m : missing) dirs.emplace_back(m);
  journal.record(record_ancestors, object{{"dirs", std::move(dirs)}});
  bool delegate = p.v2 && !p.controllers.empty();
  if (delegate) enable_controllers(host, parent_of(missing.front()), p.controllers, log);
  for (const auto& m : missing) {
    if (log.debug_enabled()) log.debug("creating parent cgroup " + m);
    int error = host.make_dir(m);
    if (error && error != EEXIST) throw StageError(mkdir_failed(m, error));
    if (p.v1_cpuset) copy_cpuset(host, m, log);
    if (delegate) enable_controllers(host, m, p.controllers, log);
  }
}

std::vector<pid_t> processes_in(Host& host, const std::string& dir) {
  std::string text;
  std::vector<pid_t> pids;
  if (host.read_file(dir + "/cgroup.procs", text) != 0) return pids;
  for (const auto& w : words(text)) {
    pid_t pid = static_cast<pid_t>(std::atol(w.c_str()));
    if (pid > 0) pids.push_back(pid);  // 0: a process outside our pid namespace
  }
  return pids;
}

struct Recorded {
  std::string dir;
  std::string hierarchy;
  bool v2 = false;
  std::optional<std::int64_t> memory_limit;
  bool existed = false;  ///< joined, not made: never killed or removed
};

// What create_cgroups journaled: every cgroup the container is in (in plan order, existing ones
// marked) and the parents it created.
struct Journalled {
  std::vector<Recorded> cgroups;
  std::vector<std::string> ancestors;
};

Journalled read_journal(const std::vector<JournalRecord>& records) {
  Journalled out;
  std::set<std::string> existed;
  // nsrun update's later memory limits, by cgroup (none: updated to unlimited).
  std::map<std::string, std::optional<std::int64_t>> updated_limits;
  for (const auto& record : records) {
    if (record.type == record_memory_limit) {
      const auto* dir = record.data.if_contains("dir");
      if (!dir || !dir->is_string()) continue;
      std::optional<std::int64_t> limit;
      if (const auto* m = record.data.if_contains("memory_limit"); m && m->is_int64())
        limit = m->as_int64();
      updated_limits[std::string(dir->as_string())] = limit;
    } else if (record.type == record_existed) {
      if (const auto* dir = record.data.if_contains("dir"); dir && dir->is_string())
        existed.insert(std::string(dir->as_string()));
    } else if (record.type == record_ancestors) {
      if (const auto* dirs = record.data.if_contains("dirs"); dirs && dirs->is_array())
        for (const auto& d : dirs->as_array())
          if (d.is_string()) out.ancestors.emplace_back(d.as_string());
    } else if (record.type == record_cgroups) {
      const auto* list = record.data.if_contains("cgroups");
      if (!list || !list->is_array()) continue;
      for (const auto& item : list->as_array()) {
        if (!item.is_object()) continue;
        const auto& o = item.as_object();
        const auto* dir = o.if_contains("dir");
        if (!dir || !dir->is_string()) continue;
        Recorded r;
        r.dir = std::string(dir->as_string());
        if (const auto* h = o.if_contains("hierarchy"); h && h->is_string())
          r.hierarchy = std::string(h->as_string());
        if (const auto* v2 = o.if_contains("v2"); v2 && v2->is_bool()) r.v2 = v2->as_bool();
        if (const auto* m = o.if_contains("memory_limit"); m && m->is_int64())
          r.memory_limit = m->as_int64();
        out.cgroups.push_back(std::move(r));
      }
    }
  }
  for (auto& r : out.cgroups) {
    r.existed = existed.count(r.dir) > 0;
    if (auto it = updated_limits.find(r.dir); it != updated_limits.end())
      r.memory_limit = it->second;
  }
  return out;
}

// Whether a v1 hierarchy's name lists `controller` (co-mounted ones read "cpu,cpuacct").
bool hierarchy_has(std::string_view hierarchy, std::string_view controller) {
  while (!hierarchy.empty()) {
    auto comma = hierarchy.find(',');
    if (hierarchy.substr(0, comma) == controller) return true;
    if (comma == std::string_view::npos) break;
    hierarchy.remove_prefix(comma + 1);
  }
  return false;
}

bool is_v1_freezer(const Recorded& r) {
  return !r.v2 && hierarchy_has(r.hierarchy, "freezer");
}

void kill_listed(Host& host, const std::string& dir, Logger& log) {
  for (pid_t pid : processes_in(host, dir)) {
    if (log.debug_enabled())
      log.debug("killing process " + std::to_string(pid) + " left in " + dir);
    host.kill_process(pid, SIGKILL);
  }
}

// Kills every process left in the container's cgroups: cgroup.kill on cgroup v2 (atomic, forks
// included), else freeze, kill, thaw with the v1 freezer, else kill what each cgroup lists.
void kill_remaining(Host& host, const std::vector<Recorded>& owned, Logger& log) {
  for (const auto& r : owned) {
    if (!r.v2) continue;
    if (host.write_file(r.dir + "/cgroup.kill", "1") == 0) {
      debug_write(log, r.dir + "/cgroup.kill", "1");
      // A paused container (hybrid: frozen by its v1 freezer) cannot act on the SIGKILL until
      // it is thawed. cgroup v2's own freezer lets a fatal signal through, v1's does not.
      for (const auto& f : owned) {
        std::string state;
        if (!is_v1_freezer(f) || host.read_file(f.dir + "/freezer.state", state) != 0 ||
            trim(state) == "THAWED")
          continue;
        if (host.write_file(f.dir + "/freezer.state", "THAWED") == 0)
          debug_write(log, f.dir + "/freezer.state", "THAWED");
      }
      return;
    }
  }
  for (const auto& r : owned) {
    if (!is_v1_freezer(r)) continue;
    std::string state = r.dir + "/freezer.state";
    if (host.write_file(state, "FROZEN") != 0) break;
    debug_write(log, state, "FROZEN");
    std::string now;
    for (int i = 0; i < 1000; ++i) {
      if (host.read_file(state, now) != 0 || trim(now) == "FROZEN") break;
      host.sleep_for(std::chrono::milliseconds(1));
    }
    kill_listed(host, r.dir, log);
    host.write_file(state, "THAWED");
    debug_write(log, state, "THAWED");
    return;
  }
  for (const auto& r : owned) kill_listed(host, r.dir, log);
}

// The controllers a v2 cgroup made for accounting alone gets, where it can have them: cpu, io,
// memory and pids as the nearest existing ancestor offers them. That ancestor may delegate what it
// has not yet only when it is the hierarchy's root or has no process of its own (v2's
// no-internal-processes rule); otherwise the cgroup gets what is already delegated, and is made
// all the same (its cpu.stat, cgroup.kill and cgroup.freeze need no controller).
std::vector<std::string> accounting_controllers(Host& host, const Placement& p) {
  std::string dir = parent_of(p.dir());
  while (dir.size() > p.mount_point.size() && !host.is_dir(dir)) dir = parent_of(dir);
  std::string available, enabled;
  if (host.read_file(dir + "/cgroup.controllers", available) != 0) return {};
  const bool may_delegate = dir == p.mount_point || processes_in(host, dir).empty();
  if (!may_delegate) host.read_file(dir + "/cgroup.subtree_control", enabled);
  std::vector<std::string> out;
  for (const char* c : {"cpu", "io", "memory", "pids"})
    if (contains(words(available), c) && (may_delegate || contains(words(enabled), c)))
      out.emplace_back(c);
  return out;
}

}  // namespace

std::string container_cgroup_path(const Layout& layout, const CgroupMount& mount,
                                  std::string_view cgroups_path, std::string_view container_id) {
  if (cgroups_path.empty())
    return join(layout.own_path(mount), "/nsrun-" + std::string(container_id));
  std::string path = normalise(cgroups_path);
  if (cgroups_path.front() != '/') return join(layout.own_path(mount), path);
  if (mount.root == "/") return path;
  if (path.size() > mount.root.size() && path.compare(0, mount.root.size(), mount.root) == 0 &&
      path[mount.root.size()] == '/')
    return path.substr(mount.root.size());
  throw StageError("cgroup path " + path + " is outside the part of the hierarchy mounted at " +
                   mount.mount_point + " (" + mount.root + "); choose one beneath " + mount.root);
}

Plan make_plan(Host& host, const Layout& layout, const ResourcesSpec& r,
               std::string_view cgroups_path, std::string_view container_id, bool track,
               bool every_hierarchy) {
  Plan plan;
  plan.driver = layout.driver;
  Needs needs = needs_of(r);
  if (!needs.any() && !track && !every_hierarchy) return plan;

  auto v1_placement = [&](const CgroupMount& mount) -> Placement& {
    std::string name;
    for (const auto& c : mount.controllers) name += (name.empty() ? "" : ",") + c;
    for (auto& p : plan.placements)
      if (!p.v2 && p.hierarchy == name) return p;
    Placement p;
    p.hierarchy = name;
    p.mount_point = mount.mount_point;
    p.path = container_cgroup_path(layout, mount, cgroups_path, container_id);
    p.v1_cpuset = contains(mount.controllers, "cpuset");
    plan.placements.push_back(std::move(p));
    return plan.placements.back();
  };
  auto v2_placement = [&]() -> Placement& {
    for (auto& p : plan.placements)
      if (p.v2) return p;
    Placement p;
    p.hierarchy = "cgroup2";
    p.v2 = true;
    p.mount_point = layout.v2->mount_point;
    p.path = container_cgroup_path(layout, *layout.v2, cgroups_path, container_id);
    plan.placements.push_back(std::move(p));
    return plan.placements.back();
  };
  std::optional<std::vector<std::string>> unified_controllers;  // hybrid, read when needed
  auto placement_for = [&](const char* controller, const char* what) -> Placement& {
    if (layout.driver != Driver::v2) {
      if (const CgroupMount* mount = layout.v1_hierarchy(controller)) return v1_placement(*mount);
      if (layout.driver == Driver::hybrid && layout.v2) {
        if (!unified_controllers) {
          std::string text;
          host.read_file(layout.v2->mount_point + "/cgroup.controllers", text);
          unified_controllers = words(text);
        }
        if (contains(*unified_controllers, controller)) {
          Placement& p = v2_placement();
          if (!contains(p.controllers, controller)) p.controllers.emplace_back(controller);
          return p;
        }
      }
      throw StageError(std::string("the ") + controller + " controller is not mounted, so " + what +
                       " cannot be applied (mount the cgroup " + controller +
                       " hierarchy, or remove the limit)");
    }
    Placement& p = v2_placement();
    if (!contains(p.controllers, controller)) p.controllers.emplace_back(controller);
    return p;
  };
  auto add_limits = [&](Placement& p, Controller c) {
    auto writes = limit_writes(c, r, p.v2, /*update=*/false);
    p.writes.insert(p.writes.end(), writes.begin(), writes.end());
  };

  if (needs.cpuset)
    add_limits(placement_for("cpuset", "--cpuset-cpus/--cpuset-mems"), Controller::cpuset);
  if (needs.cpu)
    add_limits(placement_for("cpu", "--cpus/--cpu-quota/--cpu-period/--cpu-shares"),
               Controller::cpu);
  if (needs.memory) {
    Placement& p = placement_for("memory", "--memory/--memory-swap");
    p.holds_memory = true;
    if (r.memory_limit && *r.memory_limit != -1) plan.memory_limit = *r.memory_limit;
    add_limits(p, Controller::memory);
  }
  if (needs.pids) add_limits(placement_for("pids", "--pids-limit"), Controller::pids);
  if (needs.devices) {
    // The v1 devices hierarchy where one is mounted (a hybrid host's device programs on its
    // cgroup2 mount would apply as well, but the v1 list is what tools there read); else the
    // cgroup2 cgroup, whose device program needs no controller.
    if (const CgroupMount* devices = layout.v1_hierarchy("devices");
        devices && layout.driver != Driver::v2)
      v1_placement(*devices).holds_devices = true;
    else if (layout.v2)
      v2_placement().holds_devices = true;
    else
      throw StageError(
          "the devices controller is not mounted, so linux.resources.devices cannot be applied "
          "(mount the cgroup devices hierarchy, or remove the rules)");
  }

  if (track) {
    if (layout.driver != Driver::v1 && layout.v2) {
      v2_placement();
    } else if (const CgroupMount* freezer = layout.v1_hierarchy("freezer")) {
      v1_placement(*freezer);
    } else if (plan.placements.empty()) {
      const CgroupMount* pids = layout.v1_hierarchy("pids");
      v1_placement(pids ? *pids : layout.v1.front());
    }
  }
  if (every_hierarchy) {
    // As runc: a cgroup in every hierarchy, whether or not it limits anything, where an engine's
    // `stats` reads the container's use (memory, cpuacct, pids, blkio) and `update` writes.
    if (layout.driver != Driver::v2) {
      for (const CgroupMount& mount : layout.v1) {
        Placement& p = v1_placement(mount);
        // A new v1 cpuset cgroup accepts no process until it has cpus and mems: the parent's.
        if (p.v1_cpuset && !needs.cpuset) add_limits(p, Controller::cpuset);
      }
    }
    if (layout.driver == Driver::v2) {
      Placement& p = v2_placement();
      for (auto& c : accounting_controllers(host, p))
        if (!contains(p.controllers, c)) p.controllers.push_back(std::move(c));
    }
  }
  // Every container that has cgroups gets a freezer too, so that `nsrun pause` works: the v1
  // freezer hierarchy where it is mounted (v1 and hybrid: joined by the cheap self-move with the
  // other v1 cgroups, and on any kernel), else the cgroup2 cgroup, whose cgroup.freeze (Linux 5.2)
  // needs no controller. It costs one more mkdir, tasks write and rmdir per run with limits.
  // A container that gets no cgroup at all (no limit, a pid namespace of its own) gets no freezer
  // either: that fast path is the common `nsrun run`, pausing is rare, and a freezer alone would
  // add most of the cost of a cgroup (mkdir, join, rmdir: about half of the 1 ms the stage costs
  // with limits, against 0.2 ms without; docs/cgroups.md). pause then says how to get one.
  if (!plan.placements.empty()) {
    if (const CgroupMount* freezer = layout.v1_hierarchy("freezer"))
      v1_placement(*freezer);
    else if (layout.v2)
      v2_placement();
  }
  return plan;
}

void check_plan(Host& host, const Plan& plan) {
  for (const auto& p : plan.placements) {
    if (!p.v2 || p.controllers.empty()) continue;
    // The nearest existing ancestor is where controllers must be delegated from.
    std::string dir = parent_of(p.dir());
    while (dir.size() > p.mount_point.size() && !host.is_dir(dir)) dir = parent_of(dir);
    std::string available, enabled;
    if (int error = host.read_file(dir + "/cgroup.controllers", available))
      throw StageError("cannot read " + dir + "/cgroup.controllers: " + error_text(error));
    for (const auto& c : p.controllers) {
      if (contains(words(available), c)) continue;
      if (dir == p.mount_point)
        throw StageError("the " + c + " controller is not available in the cgroup2 hierarchy at " +
                         dir +
                         " (on a hybrid host the controllers belong to cgroup v1: use "
                         "--cgroup-driver auto or v1)");
      throw StageError("the " + c + " controller is not available in " + dir +
                       " (its parent does not delegate it: enable it in the parent's "
                       "cgroup.subtree_control, or pass a --cgroup-parent where it is)");
    }
    host.read_file(dir + "/cgroup.subtree_control", enabled);
    std::string missing;
    for (const auto& c : p.controllers)
      if (!contains(words(enabled), c)) missing += (missing.empty() ? "" : ", ") + c;
    bool hierarchy_root = dir == p.mount_point;
    if (missing.empty() || hierarchy_root) continue;
    if (!processes_in(host, dir).empty())
      throw StageError(
          "cannot delegate " + missing + " to the container's cgroup: " + dir +
          " has processes, and cgroup v2 lets only a cgroup without processes enable "
          "controllers for its children (run nsrun in a leaf cgroup of its own, e.g. systemd-run "
          "--scope -p Delegate=yes nsrun ..., or pass --cgroup-parent to a cgroup without "
          "processes)");
  }
}

void check_cpusets(Host& host, const ResourcesSpec& r) {
  auto check = [&](const std::string& list, const char* online_file, const char* what,
                   const char* field) {
    if (list.empty()) return;
    auto wanted = parse_cpu_list(list);
    if (!wanted) return;  // validate_resources reported it
    std::string text;
    // Without NUMA support there is no node list: node 0 is the only one.
    if (host.read_file(online_file, text) != 0) text = "0";
    auto online = parse_cpu_list(trim(text));
    if (!online) return;
    for (unsigned id : *wanted)
      if (!online->count(id))
        throw StageError(std::string("cpuset ") + field + " \"" + list + "\" names " + what + " " +
                         std::to_string(id) + ", which is not online (online: " + trim(text) + ")");
  };
  check(r.cpuset_cpus, "/sys/devices/system/cpu/online", "CPU", "cpus");
  check(r.cpuset_mems, "/sys/devices/system/node/online", "node", "mems");
}

void create_cgroups(Host& host, const Plan& plan, std::string_view driver_note, Journal& journal,
                    Logger& log) {
  if (plan.placements.empty()) return;
  array entries;
  for (const auto& p : plan.placements) {
    object entry{{"dir", p.dir()}, {"hierarchy", p.hierarchy}, {"v2", p.v2}};
    if (p.holds_memory && plan.memory_limit) entry["memory_limit"] = *plan.memory_limit;
    entries.emplace_back(std::move(entry));
  }
  // One record for every directory, written before the first is created.
  journal.record(record_cgroups, object{{"driver", driver_note}, {"cgroups", std::move(entries)}});

  for (const auto& p : plan.placements) {
    std::string dir = p.dir();
    if (log.debug_enabled()) log.debug("creating " + dir);
    bool delegate = p.v2 && !p.controllers.empty();
    bool ancestors_done = false;
    if (delegate && enable_controllers(host, parent_of(dir), p.controllers, log) == ENOENT) {
      create_ancestors(host, p, journal, log);
      ancestors_done = true;
    }
    int error = host.make_dir(dir);
    if (error == ENOENT && !ancestors_done) {
      create_ancestors(host, p, journal, log);
      error = host.make_dir(dir);
    }
    if (error == EEXIST) {
      // Someone else's cgroup (a shared cgroupsPath, or a leftover): join it, but teardown
      // leaves it alone. One with processes belongs to a running container.
      journal.record(record_existed, object{{"dir", dir}});
      if (!processes_in(host, dir).empty())
        throw StageError("cgroup " + dir +
                         " already exists and has processes (another container uses it; choose "
                         "another cgroupsPath or --name)");
      if (log.debug_enabled()) log.debug("joining the existing cgroup " + dir);
    } else if (error) {
      throw StageError(mkdir_failed(dir, error));
    }
    write_limits(host, dir, p.writes, log);
  }
}

std::vector<TasksFile> open_tasks_files(Host& host, const Plan& plan) {
  std::vector<TasksFile> files;
  for (const auto& p : plan.placements) {
    if (p.v2) continue;
    std::string path = p.dir() + "/tasks";
    int fd = host.open_for_write(path);
    if (fd < 0) {
      close_tasks_files(host, files);
      throw StageError("cannot open " + path + ": " + error_text(-fd));
    }
    files.push_back({fd, path});
  }
  return files;
}

void join_cgroups(Host& host, std::vector<TasksFile>& files, Logger& log) {
  for (const auto& f : files) {
    if (int error = host.write_fd(f.fd, "0")) {
      std::string hint;
      if (error == ENOSPC) hint = " (the cgroup's cpuset.cpus or cpuset.mems is empty)";
      std::string path = f.path;
      close_tasks_files(host, files);
      throw StageError("the container process cannot join cgroup " +
                       path.substr(0, path.size() - 6) + ": " + error_text(error) + hint);
    }
    debug_write(log, f.path, "0 (the container process joins)");
  }
  close_tasks_files(host, files);
}

void close_tasks_files(Host& host, std::vector<TasksFile>& files) noexcept {
  for (const auto& f : files)
    if (f.fd >= 0) host.close_fd(f.fd);
  files.clear();
}

void attach_process(Host& host, const Plan& plan, pid_t pid, Logger& log) {
  std::string value = std::to_string(pid);
  for (const auto& p : plan.placements) {
    if (!p.v2) continue;
    std::string dir = p.dir();
    if (int error = host.write_file(dir + "/cgroup.procs", value)) {
      std::string hint;
      if (error == EBUSY)
        hint = " (the cgroup delegates controllers to children, so it cannot hold processes)";
      throw StageError("cannot move the container process " + value + " into cgroup " + dir + ": " +
                       error_text(error) + hint);
    }
    debug_write(log, dir + "/cgroup.procs", value);
  }
}

void remove_unrecorded_cgroups(Host& host, const std::vector<std::string>& dirs, Logger& log) {
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (!host.is_dir(*it) || !processes_in(host, *it).empty()) continue;
    if (host.remove_dir(*it) == 0)
      log.warn("removed cgroup " + *it + ", which the container's journal no longer listed");
  }
}

void remove_cgroups(Host& host, const std::vector<JournalRecord>& records, Logger& log,
                    std::string_view container_id) {
  Journalled journalled = read_journal(records);
  std::vector<Recorded>& owned = journalled.cgroups;
  const std::vector<std::string>& ancestors = journalled.ancestors;
  std::erase_if(owned, [](const Recorded& r) { return r.existed; });
  std::erase_if(owned, [&](const Recorded& r) { return !host.is_dir(r.dir); });
  if (owned.empty() && ancestors.empty()) return;

  // 1. An OOM kill is counted in the memory cgroup; read it before the cgroup goes.
  for (const auto& r : owned) {
    if (!r.memory_limit) continue;
    std::string text;
    long long kills = -1;
    if (r.v2 && host.read_file(r.dir + "/memory.events", text) == 0)
      kills = keyed_value(text, "oom_kill");
    else if (!r.v2 && host.read_file(r.dir + "/memory.oom_control", text) == 0)
      kills = keyed_value(text, "oom_kill");
    if (log.debug_enabled()) log.debug(r.dir + ": oom_kill " + std::to_string(kills));
    if (kills > 0) {
      log.error("container killed: out of memory (limit " + format_bytes(*r.memory_limit) + ")");
      break;
    }
  }

  // 2. Whatever still runs in the cgroups (a container without its own pid namespace, or a
  //    teardown after a crash) is killed.
  bool populated = false;
  for (const auto& r : owned) populated = populated || !processes_in(host, r.dir).empty();
  if (populated) kill_remaining(host, owned, log);

  // 3. Remove, deepest first; a cgroup whose processes are still exiting is busy for a moment.
  std::vector<std::string> failures;
  for (auto it = owned.rbegin(); it != owned.rend(); ++it) {
    const std::string& dir = it->dir;
    auto delay = std::chrono::microseconds(500);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    int error;
    while ((error = host.remove_dir(dir)) == EBUSY && std::chrono::steady_clock::now() < deadline) {
      kill_listed(host, dir, log);
      host.sleep_for(delay);
      delay = std::min(delay * 2, std::chrono::microseconds(50000));
    }
    if (error == 0 && log.debug_enabled()) log.debug("removed " + dir);
    if (error && error != ENOENT) {
      std::string left;
      for (pid_t pid : processes_in(host, dir)) left += " " + std::to_string(pid);
      failures.push_back(dir + ": " + error_text(error) +
                         (left.empty() ? "" : " (processes left:" + left + ")"));
    }
  }
  // Parents created for a --cgroup-parent go too, unless another container uses them.
  for (auto it = ancestors.rbegin(); it != ancestors.rend(); ++it) {
    int error = host.remove_dir(*it);
    if (error == 0 && log.debug_enabled()) log.debug("removed parent " + *it);
  }
  if (!failures.empty()) {
    std::string all;
    for (const auto& f : failures) all += (all.empty() ? "" : "; ") + f;
    throw StageError("cannot remove cgroup " + all + " (retry with: nsrun delete --force " +
                     std::string(container_id) + ")");
  }
}

namespace {

// The hint for a failed write to a cgroup the container is already in (exec, pause, resume).
std::string running_hint(Host& host, const std::string& dir, const std::string& file, int error) {
  if (error == EACCES || error == EPERM) return " (nsrun must run as root)";
  if (error == ENOENT && !host.is_dir(dir))
    return " (the cgroup is gone: the container has stopped or was deleted; see nsrun list)";
  if (error == ENOENT && file == "cgroup.freeze")
    return " (the kernel's cgroup v2 freezer needs Linux 5.2 or later)";
  if (error == ESRCH) return " (the process exited before it could join)";
  if (error == EBUSY && file == "cgroup.procs")
    return " (the cgroup delegates controllers to children, so it cannot hold processes)";
  if (error == ENOSPC) return " (the cgroup's cpuset.cpus or cpuset.mems is empty)";
  return "";
}

std::string no_cgroup_message(const char* action) {
  return std::string("cannot ") + action +
         ": the container has no cgroup (nsrun made none: it had no resource limit, and no "
         "cgroup filesystem was in sight; run it where /sys/fs/cgroup is mounted, or set the "
         "stage's config \"alwaysCreate\": true)";
}

// The cgroup that freezes the container: its v1 freezer cgroup, else its cgroup2 one (v2 hosts,
// and a hybrid host without a v1 freezer). Null when it has neither.
const Recorded* freezer_of(const std::vector<Recorded>& cgroups) {
  for (const auto& r : cgroups)
    if (is_v1_freezer(r)) return &r;
  for (const auto& r : cgroups)
    if (r.v2) return &r;
  return nullptr;
}

// Polls `frozen` with a backoff from 100 us to 10 ms until it holds or freeze_timeout is spent.
// Time is counted in the sleeps asked for, not read from a clock: bounded on a real host (reads
// of cgroupfs are microseconds) and a fake host whose sleep returns at once still ends.
template <class Check>
bool wait_frozen(Host& host, Check frozen) {
  auto delay = std::chrono::microseconds(100);
  std::chrono::microseconds waited{0};
  while (!frozen()) {
    if (waited >= freeze_timeout) return false;
    host.sleep_for(delay);
    waited += delay;
    delay = std::min(delay * 2, std::chrono::microseconds(10000));
  }
  return true;
}

}  // namespace

std::size_t join_recorded_cgroups(Host& host, const std::vector<JournalRecord>& records, pid_t pid,
                                  Logger& log) {
  // The host moves the process (cgroup.procs), unlike create_container's self-move through v1
  // tasks files: the exec'd process runs its phases in the container's root, where the host's
  // cgroupfs is out of reach, and exec is rare enough that the kernel's slower path is fine.
  // Cgroups the container joined without making them (record_existed) are joined too: the
  // container's processes are there.
  std::string value = std::to_string(pid);
  std::set<std::string> joined;
  for (const auto& r : read_journal(records).cgroups) {
    if (!joined.insert(r.dir).second) continue;
    std::string file = r.dir + "/cgroup.procs";
    if (int error = host.write_file(file, value))
      throw StageError("cannot move the exec process " + value + " into cgroup " + r.dir + ": " +
                       error_text(error) + running_hint(host, r.dir, "cgroup.procs", error));
    debug_write(log, file, value);
  }
  return joined.size();
}

void freeze_container(Host& host, const std::vector<JournalRecord>& records, Logger& log) {
  Journalled journalled = read_journal(records);
  if (journalled.cgroups.empty()) throw StageError(no_cgroup_message("pause"));
  const Recorded* freezer = freezer_of(journalled.cgroups);
  if (!freezer)
    throw StageError(
        "cannot pause: the container has no freezer cgroup (it was started by an nsrun without "
        "pause support, or no cgroup freezer hierarchy was mounted; run it again with this "
        "nsrun and the freezer hierarchy mounted)");
  const std::string& dir = freezer->dir;
  // v1: FROZEN starts freezing; the state reads FREEZING until every task stopped (a task in an
  // uninterruptible sleep delays it). v2: cgroup.events says "frozen 1" once every task stopped.
  // Writing once is enough: tasks that fork or join meanwhile are frozen by the kernel itself.
  const std::string file = freezer->v2 ? "cgroup.freeze" : "freezer.state";
  const char* freeze = freezer->v2 ? "1" : "FROZEN";
  const char* thaw = freezer->v2 ? "0" : "THAWED";
  if (int error = host.write_file(dir + "/" + file, freeze))
    throw StageError("cannot pause: cannot write " + std::string(freeze) + " to " + dir + "/" +
                     file + ": " + error_text(error) + running_hint(host, dir, file, error));
  debug_write(log, dir + "/" + file, freeze);
  std::string state_file = dir + (freezer->v2 ? "/cgroup.events" : "/freezer.state");
  std::string now;
  bool frozen = wait_frozen(host, [&] {
    if (int error = host.read_file(state_file, now)) {
      host.write_file(dir + "/" + file, thaw);  // not left half frozen
      throw StageError("cannot pause: cannot read " + state_file + ": " + error_text(error) +
                       running_hint(host, dir, file, error));
    }
    return freezer->v2 ? keyed_value(now, "frozen") == 1 : trim(now) == "FROZEN";
  });
  if (!frozen) {
    // Half frozen is worse than running: thaw again, and say so.
    host.write_file(dir + "/" + file, thaw);
    debug_write(log, dir + "/" + file, thaw);
    std::string seen =
        freezer->v2 ? "frozen " + std::to_string(keyed_value(now, "frozen")) : trim(now);
    throw StageError("cannot pause: " + state_file + " still reads " + seen + " after " +
                     std::to_string(freeze_timeout.count() / 1000) +
                     " s, so the container was thawed again (a process of it is in an "
                     "uninterruptible sleep, e.g. on a hung NFS server or device; try again)");
  }
  if (log.debug_enabled()) log.debug(dir + ": frozen");
}

void thaw_container(Host& host, const std::vector<JournalRecord>& records, Logger& log) {
  Journalled journalled = read_journal(records);
  const Recorded* freezer = freezer_of(journalled.cgroups);
  if (!freezer) {
    // Without a freezer nsrun cannot have frozen it: it runs already.
    log.debug("the container has no freezer cgroup: nothing to thaw");
    return;
  }
  const std::string& dir = freezer->dir;
  // Thawing takes effect at once (v1 reads THAWED, v2 "frozen 0" right after the write).
  const std::string file = freezer->v2 ? "cgroup.freeze" : "freezer.state";
  const char* thaw = freezer->v2 ? "0" : "THAWED";
  if (int error = host.write_file(dir + "/" + file, thaw))
    throw StageError("cannot resume: cannot write " + std::string(thaw) + " to " + dir + "/" +
                     file + ": " + error_text(error) + running_hint(host, dir, file, error));
  debug_write(log, dir + "/" + file, thaw);
}

namespace {

// What nsrun update needs to know of each controller.
struct ControllerInfo {
  Controller id;
  const char* name;     ///< the kernel's name: a v1 hierarchy's, a cgroup.controllers word
  const char* without;  ///< "it was created without ..."
};
constexpr ControllerInfo update_order[] = {
    {Controller::cpuset, "cpuset", "a cpuset"},
    {Controller::cpu, "cpu", "a CPU limit"},
    {Controller::memory, "memory", "a memory limit"},
    {Controller::pids, "pids", "a pids limit"},
};

// Whether `r` gives any value for the controller (-1 included: it may replace a limit).
bool given(Controller c, const ResourcesSpec& r) {
  switch (c) {
    case Controller::cpuset:
      return !r.cpuset_cpus.empty() || !r.cpuset_mems.empty();
    case Controller::cpu:
      return r.cpu_quota || r.cpu_period || r.cpu_shares;
    case Controller::memory:
      return r.memory_limit || r.memory_swap;
    case Controller::pids:
      return r.pids_limit.has_value();
  }
  return false;
}

bool needed(Controller c, const Needs& n) {
  switch (c) {
    case Controller::cpuset:
      return n.cpuset;
    case Controller::cpu:
      return n.cpu;
    case Controller::memory:
      return n.memory;
    case Controller::pids:
      return n.pids;
  }
  return false;
}

// The config.json field that asks for a controller `r` needs (for messages).
std::string field_needing(Controller c, const ResourcesSpec& r) {
  switch (c) {
    case Controller::cpuset:
      return r.cpuset_cpus.empty() ? "cpu.mems" : "cpu.cpus";
    case Controller::cpu:
      return r.cpu_quota && *r.cpu_quota != -1 ? "cpu.quota"
             : r.cpu_period                    ? "cpu.period"
                                               : "cpu.shares";
    case Controller::memory:
      return r.memory_limit && *r.memory_limit != -1 ? "memory.limit" : "memory.swap";
    case Controller::pids:
      return "pids.limit";
  }
  return "";
}

std::string gone_message(const std::string& dir) {
  return "cannot update: the container's cgroup " + dir +
         " is gone (the container has stopped or was deleted; see nsrun list)";
}

// The container's cgroup that holds `controller`: its v1 cgroup in that hierarchy, else its
// cgroup2 cgroup when the controller is enabled there (v2 hosts; on hybrid ones a controller no
// v1 hierarchy has). Null when it has none. `why` says what the cgroup2 cgroup lacks.
const Recorded* cgroup_with(Host& host, const std::vector<Recorded>& cgroups,
                            const char* controller, std::string& why) {
  for (const auto& r : cgroups)
    if (!r.v2 && hierarchy_has(r.hierarchy, controller)) return &r;
  for (const auto& r : cgroups) {
    if (!r.v2) continue;
    std::string enabled;
    if (int error = host.read_file(r.dir + "/cgroup.controllers", enabled)) {
      if (error == ENOENT && !host.is_dir(r.dir)) throw StageError(gone_message(r.dir));
      throw StageError("cannot update: cannot read " + r.dir + "/cgroup.controllers: " +
                       error_text(error) + running_hint(host, r.dir, "cgroup.controllers", error));
    }
    if (contains(words(enabled), controller)) return &r;
    // On a v1 or hybrid host the controller belongs to a v1 hierarchy: "no memory cgroup" says it.
    bool any_v1 = std::any_of(cgroups.begin(), cgroups.end(), [](auto& c) { return !c.v2; });
    if (!any_v1) why = "the container's cgroup " + r.dir + " has no " + controller + " controller";
  }
  return nullptr;
}

// v1 refuses a memory limit above the memory+swap limit (EINVAL), checked at every write. A new
// cgroup is unlimited, so create_cgroups writes memory then memory+swap; a running container's
// cgroup has limits, so the order follows the change, as runc's: when the new memory+swap is
// above the current memory limit (growing, or -1) it is raised first, then memory; otherwise
// (shrinking) memory is lowered first, then memory+swap. Either way every step is valid.
void order_memory_writes(Host& host, const std::string& dir, std::vector<CgroupWrite>& writes,
                         const ResourcesSpec& r, Logger& log) {
  auto at = [&](std::string_view file) {
    return std::find_if(writes.begin(), writes.end(),
                        [&](const CgroupWrite& w) { return w.file == file; });
  };
  auto memory = at("memory.limit_in_bytes"), memsw = at("memory.memsw.limit_in_bytes");
  if (memory == writes.end() || memsw == writes.end() || !r.memory_swap) return;
  std::string text;
  std::int64_t current = -1;  // unreadable: as if unlimited (memory first), the write says why
  if (host.read_file(dir + "/memory.limit_in_bytes", text) == 0) {
    text = trim(text);
    std::from_chars(text.data(), text.data() + text.size(), current);
  }
  bool growing = *r.memory_swap == -1 || (current != -1 && *r.memory_swap > current);
  if (log.debug_enabled())
    log.debug(dir + ": memory limit now " + text + ", memory+swap " +
              (growing ? "raised before memory" : "lowered after memory"));
  if (growing) std::iter_swap(memory, memsw);
}

}  // namespace

void update_limits(Host& host, Journal& journal, const ResourcesSpec& r, Logger& log) {
  // Only the container's existing cgroups are written. A limit for a controller it has no cgroup
  // for fails instead of creating one: the container's processes (the workload and whatever it
  // forked, maybe while we move them) would have to be moved in one by one, with no phase of
  // theirs to do the cheap self-move; memory they already use would stay charged to the old
  // cgroup (v2 never moves charges, v1 only with the deprecated move_charge_at_immigrate), so
  // the limit would not count it; and the journal, which prepare writes before anything exists
  // and teardown reads in order (kill, then remove deepest first, then created parents), would
  // get a cgroup recorded after the fact, behind the parents it may need. On v2 enabling a
  // controller in the parent for the container's cgroup fails for the same reasons (and is
  // refused while the parent has processes). Recreating the container with the limit is exact.
  Journalled journalled = read_journal(journal.records());
  Needs needs = needs_of(r);

  struct Target {
    const Recorded* cgroup;
    Controller controller;
    std::vector<CgroupWrite> writes;
  };
  std::vector<Target> targets;
  // Everything is resolved before the first write: a missing cgroup fails with nothing changed.
  for (const auto& c : update_order) {
    if (!given(c.id, r)) continue;
    std::string why;
    const Recorded* cgroup = cgroup_with(host, journalled.cgroups, c.name, why);
    if (!cgroup) {
      if (!needed(c.id, needs)) {
        // -1 (unlimited) alone: without a cgroup the container is unlimited already.
        if (log.debug_enabled())
          log.debug(std::string("no ") + c.name + " cgroup and no " + c.name +
                    " limit: nothing to update");
        continue;
      }
      if (why.empty())
        why = journalled.cgroups.empty()
                  ? "the container has no cgroup"
                  : std::string("the container has no ") + c.name + " cgroup";
      throw StageError("cannot update linux.resources." + field_needing(c.id, r) + ": " + why +
                       " (it was created without " + c.without + "; recreate it with one)");
    }
    if (!host.is_dir(cgroup->dir)) throw StageError(gone_message(cgroup->dir));
    targets.push_back({cgroup, c.id, limit_writes(c.id, r, cgroup->v2, /*update=*/true)});
  }
  if (targets.empty()) {
    log.debug("no limit to update");
    return;
  }
  for (auto& t : targets) {
    if (t.controller == Controller::memory && !t.cgroup->v2)
      order_memory_writes(host, t.cgroup->dir, t.writes, r, log);
    write_limits(host, t.cgroup->dir, t.writes, log);
    if (t.controller == Controller::memory && r.memory_limit) {
      // Teardown's OOM message names the limit: journal the new one (none: unlimited). The
      // limit is applied already, so a journal that cannot be written only costs the message.
      boost::json::object data{{"dir", t.cgroup->dir}};
      if (*r.memory_limit != -1) data["memory_limit"] = *r.memory_limit;
      if (!journal.append(record_memory_limit, data))
        log.warn(
            "cannot journal the new memory limit (is the state directory writable?); an "
            "OOM kill will be reported with the old one");
    }
  }
}

}  // namespace nsrun::cgroups
