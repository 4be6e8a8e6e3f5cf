#include "fake_cgroupfs.hpp"

#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace nsrun::cgroups::test {
namespace fs = std::filesystem;

namespace {

std::string make_temp_root() {
  std::string pattern = (fs::temp_directory_path() / "nsrun-cgroupfs-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

std::string basename_of(const std::string& path) {
  return path.substr(path.find_last_of('/') + 1);
}
std::string dirname_of(const std::string& path) {
  return path.substr(0, path.find_last_of('/'));
}

std::vector<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

}  // namespace

FakeCgroupFs::FakeCgroupFs() : FakeCgroupFs(make_temp_root()) {}

FakeCgroupFs::FakeCgroupFs(std::string root)
    : LinuxHost(root), root_(std::move(root)), owns_root_(true) {
  put("/sys/devices/system/cpu/online", "0-3\n");
  put("/sys/devices/system/node/online", "0\n");
}

FakeCgroupFs::~FakeCgroupFs() {
  std::error_code ec;
  if (owns_root_) fs::remove_all(root_, ec);
}

void FakeCgroupFs::put(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(root_ + path).parent_path());
  std::ofstream(root_ + path, std::ios::trunc) << content;
}

std::string FakeCgroupFs::get(const std::string& path) const {
  std::ifstream in(root_ + path);
  if (!in) return "<missing>";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool FakeCgroupFs::exists(const std::string& path) const {
  return fs::exists(root_ + path);
}

void FakeCgroupFs::remove(const std::string& path) {
  fs::remove_all(root_ + path);
}

void FakeCgroupFs::add_v1_hierarchy(const std::string& mount_point,
                                    std::map<std::string, std::string> files) {
  files.emplace("cgroup.procs", "");
  files.emplace("tasks", "");
  files.emplace("notify_on_release", "0\n");
  hierarchies_.push_back({mount_point, false, files});
  for (const auto& [name, content] : files) put(mount_point + "/" + name, content);
}

void FakeCgroupFs::add_v2_hierarchy(const std::string& mount_point,
                                    const std::string& root_controllers) {
  hierarchies_.push_back({mount_point, true, {}});
  put(mount_point + "/cgroup.controllers", root_controllers + "\n");
  put(mount_point + "/cgroup.subtree_control", "");
  put(mount_point + "/cgroup.procs", "");
}

const FakeCgroupFs::Hierarchy* FakeCgroupFs::hierarchy_of(const std::string& path) const {
  const Hierarchy* best = nullptr;
  for (const auto& h : hierarchies_)
    if (path.rfind(h.mount_point + "/", 0) == 0 || path == h.mount_point)
      if (!best || h.mount_point.size() > best->mount_point.size()) best = &h;
  return best;
}

void FakeCgroupFs::make_v2_host(FakeCgroupFs& fs, const std::string& own,
                                const std::string& controllers) {
  fs.put("/proc/self/mountinfo",
         "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
         "23 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
         "30 23 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
         "rw,nsdelegate,memory_recursiveprot\n");
  fs.put("/proc/self/cgroup", "0::" + own + "\n");
  fs.add_v2_hierarchy("/sys/fs/cgroup", controllers);
  if (own != "/") {
    // Every level up to nsrun's own cgroup delegates everything, as systemd's Delegate=yes does.
    std::string path = "/sys/fs/cgroup";
    std::istringstream parts(own.substr(1));
    std::string part;
    std::string all;
    for (const auto& w : words(controllers)) all += (all.empty() ? "+" : " +") + w;
    while (std::getline(parts, part, '/')) {
      fs.write_file(path + "/cgroup.subtree_control", all);
      path += "/" + part;
      fs.make_dir(path);
    }
  }
  fs.writes.clear();
  fs.made_dirs.clear();
}

void FakeCgroupFs::add_v1_devices(FakeCgroupFs& fs) {
  fs.put("/proc/self/mountinfo",
         fs.get("/proc/self/mountinfo") +
             "35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n");
  fs.put("/proc/self/cgroup", "5:devices:/\n" + fs.get("/proc/self/cgroup"));
  fs.add_v1_hierarchy(
      "/sys/fs/cgroup/devices",
      {{"devices.allow", ""}, {"devices.deny", ""}, {"devices.list", "a *:* rwm\n"}});
  fs.writes.clear();
  fs.made_dirs.clear();
}

int FakeCgroupFs::attach_device_program(const std::string& dir,
                                        const std::vector<bpf_insn>& program, std::string&) {
  if (attach_error) return attach_error;
  if (!is_dir(dir)) return ENOENT;
  device_programs.emplace_back(dir, program);
  return 0;
}

void FakeCgroupFs::make_v1_host(FakeCgroupFs& fs, bool hybrid,
                                const std::string& unified_controllers) {
  std::string mountinfo =
      "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
      "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
      "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
      "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n";
  if (hybrid) mountinfo += "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
  fs.put("/proc/self/mountinfo", mountinfo);
  fs.put("/proc/self/cgroup",
         "9:name=systemd:/\n8:pids:/\n6:freezer:/\n4:memory:/process_api/abc\n3:cpuset:/\n"
         "1:cpu,cpuacct:/\n0::/\n");
  fs.add_v1_hierarchy("/sys/fs/cgroup/cpu,cpuacct", {{"cpu.cfs_quota_us", "-1\n"},
                                                     {"cpu.cfs_period_us", "100000\n"},
                                                     {"cpu.shares", "1024\n"},
                                                     {"cpuacct.usage", "0\n"}});
  fs.add_v1_hierarchy("/sys/fs/cgroup/cpuset",
                      {{"cpuset.cpus", ""}, {"cpuset.mems", ""}, {"cgroup.clone_children", "0\n"}});
  fs.put("/sys/fs/cgroup/cpuset/cpuset.cpus", "0-3\n");
  fs.put("/sys/fs/cgroup/cpuset/cpuset.mems", "0\n");
  const std::string unlimited = "9223372036854771712\n";
  fs.add_v1_hierarchy("/sys/fs/cgroup/memory",
                      {{"memory.limit_in_bytes", unlimited},
                       {"memory.memsw.limit_in_bytes", unlimited},
                       {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
                       {"memory.usage_in_bytes", "0\n"}});
  fs.add_v1_hierarchy("/sys/fs/cgroup/freezer", {{"freezer.state", "THAWED\n"}});
  fs.add_v1_hierarchy("/sys/fs/cgroup/pids", {{"pids.max", "max\n"}, {"pids.current", "0\n"}});
  fs.add_v1_hierarchy("/sys/fs/cgroup/systemd", {});
  if (hybrid) fs.add_v2_hierarchy("/sys/fs/cgroup/unified", unified_controllers);
  fs.make_dir("/sys/fs/cgroup/memory/process_api");
  fs.make_dir("/sys/fs/cgroup/memory/process_api/abc");
  fs.put("/sys/fs/cgroup/memory/process_api/abc/cgroup.procs", "1000\n");  // nsrun itself
  fs.writes.clear();
  fs.made_dirs.clear();
}

std::vector<std::pair<std::string, std::string>> FakeCgroupFs::writes_under(
    const std::string& dir) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [path, value] : writes)
    if (path.rfind(dir + "/", 0) == 0) out.emplace_back(path.substr(dir.size() + 1), value);
  return out;
}

int FakeCgroupFs::write_file(const std::string& path, std::string_view value) {
  writes.emplace_back(path, std::string(value));
  const Hierarchy* h = hierarchy_of(path);
  std::string name = basename_of(path), dir = dirname_of(path);
  if (!h || !exists(path)) return ENOENT;
  bool is_root = h->mount_point == dir;
  if (h->v2 && name == "cgroup.subtree_control") {
    auto available = words(get(dir + "/cgroup.controllers"));
    auto enabled = words(get(path));
    for (const auto& token : words(std::string(value))) {
      std::string controller = token.substr(1);
      if (token[0] == '+') {
        if (std::find(available.begin(), available.end(), controller) == available.end())
          return ENOENT;
        if (!is_root && !words(get(dir + "/cgroup.procs")).empty()) return EBUSY;
        if (std::find(enabled.begin(), enabled.end(), controller) == enabled.end())
          enabled.push_back(controller);
      } else if (token[0] == '-') {
        std::erase(enabled, controller);
      } else {
        return EINVAL;
      }
    }
    std::string joined;
    for (const auto& e : enabled) joined += (joined.empty() ? "" : " ") + e;
    put(path, joined.empty() ? "" : joined + "\n");
    return 0;
  }
  if (name == "cgroup.procs") {
    if (h->v2 && !is_root && !words(get(dir + "/cgroup.subtree_control")).empty()) return EBUSY;
    if (!h->v2 && h->files.count("cpuset.cpus") &&
        (words(get(dir + "/cpuset.cpus")).empty() || words(get(dir + "/cpuset.mems")).empty()))
      return ENOSPC;
    put(path, get(path) + std::string(value) + "\n");
    return 0;
  }
  if (name == "cgroup.kill") {
    put(dir + "/cgroup.procs", "");
    return 0;
  }
  if (h->v2 && name == "cgroup.freeze") {
    if (value != "0" && value != "1") return EINVAL;
    put(path, std::string(value) + "\n");
    std::string events = get(dir + "/cgroup.events");
    auto at = events.find("frozen ");
    if (at != std::string::npos) events[at + 7] = value[0];
    put(dir + "/cgroup.events", events);
    return 0;
  }
  if (!h->v2 && name == "freezer.state") {
    if (value != "FROZEN" && value != "THAWED") return EINVAL;
    put(path, std::string(value) + "\n");
    return 0;
  }
  return LinuxHost::write_file(path, value);
}

int FakeCgroupFs::read_file(const std::string& path, std::string& out) {
  if (int error = LinuxHost::read_file(path, out)) return error;
  if (freezing_reads == 0) return 0;
  std::string name = basename_of(path);
  if (name == "freezer.state" && out == "FROZEN\n") {
    out = "FREEZING\n";
  } else if (name == "cgroup.events" && out.find("frozen 1") != std::string::npos) {
    out.replace(out.find("frozen 1"), 8, "frozen 0");
  } else {
    return 0;
  }
  if (freezing_reads > 0) --freezing_reads;
  return 0;
}

int FakeCgroupFs::open_for_write(const std::string& path) {
  int fd = LinuxHost::open_for_write(path);
  if (fd >= 0) open_files[fd] = path;
  return fd;
}

int FakeCgroupFs::write_fd(int fd, std::string_view value) {
  auto it = open_files.find(fd);
  if (it == open_files.end()) return EBADF;
  const std::string& path = it->second;
  writes.emplace_back(path, std::string(value));
  std::string dir = dirname_of(path);
  const Hierarchy* h = hierarchy_of(path);
  if (basename_of(path) == "tasks" && value == "0" && h && !h->v2) {
    if (h->files.count("cpuset.cpus") &&
        (words(get(dir + "/cpuset.cpus")).empty() || words(get(dir + "/cpuset.mems")).empty()))
      return ENOSPC;
    put(dir + "/cgroup.procs", get(dir + "/cgroup.procs") + std::to_string(self_pid) + "\n");
    return 0;
  }
  return LinuxHost::write_fd(fd, value);
}

void FakeCgroupFs::close_fd(int fd) {
  open_files.erase(fd);
  LinuxHost::close_fd(fd);
}

int FakeCgroupFs::make_dir(const std::string& path) {
  const Hierarchy* h = hierarchy_of(path);
  if (int error = LinuxHost::make_dir(path)) return error;
  made_dirs.push_back(path);
  if (!h) return 0;
  if (!h->v2) {
    for (const auto& [name, content] : h->files)
      if (swap_ || name.find("memsw") == std::string::npos) put(path + "/" + name, content);
    return 0;
  }
  std::string parent = dirname_of(path);
  std::string delegated = get(parent + "/cgroup.subtree_control");
  put(path + "/cgroup.controllers", delegated);
  put(path + "/cgroup.subtree_control", "");
  put(path + "/cgroup.procs", "");
  put(path + "/cgroup.kill", "");
  put(path + "/cgroup.freeze", "0\n");
  put(path + "/cgroup.events", "populated 0\nfrozen 0\n");
  for (const auto& c : words(delegated)) {
    if (c == "memory") {
      put(path + "/memory.max", "max\n");
      if (swap_) put(path + "/memory.swap.max", "max\n");
      put(path + "/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
    } else if (c == "cpu") {
      put(path + "/cpu.max", "max 100000\n");
      put(path + "/cpu.weight", "100\n");
    } else if (c == "cpuset") {
      put(path + "/cpuset.cpus", "");
      put(path + "/cpuset.mems", "");
    } else if (c == "pids") {
      put(path + "/pids.max", "max\n");
      put(path + "/pids.current", "0\n");
    }
  }
  return 0;
}

int FakeCgroupFs::remove_dir(const std::string& path) {
  std::string real_path = root_ + path;
  if (!fs::is_directory(real_path)) return ENOENT;
  for (const auto& entry : fs::directory_iterator(real_path))
    if (entry.is_directory()) return EBUSY;
  if (busy_ > 0) {
    --busy_;
    return EBUSY;
  }
  if (!words(get(path + "/cgroup.procs")).empty()) return EBUSY;
  fs::remove_all(real_path);
  removed_dirs.push_back(path);
  return 0;
}

void FakeCgroupFs::drop_pid(pid_t pid) {
  std::string needle = std::to_string(pid);
  for (const auto& entry : fs::recursive_directory_iterator(root_ + "/sys/fs/cgroup")) {
    if (entry.path().filename() != "cgroup.procs") continue;
    std::string path = entry.path().string().substr(root_.size());
    std::string kept;
    for (const auto& w : words(get(path)))
      if (w != needle) kept += w + "\n";
    put(path, kept);
  }
}

int FakeCgroupFs::kill_process(pid_t pid, int signal) {
  kills.emplace_back(pid, signal);
  drop_pid(pid);
  return 0;
}

void FakeCgroupFs::sleep_for(std::chrono::microseconds) {
  ++sleeps;
}

}  // namespace nsrun::cgroups::test
