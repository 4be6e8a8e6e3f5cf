// containerd 1.6 + ctr driving nsrun as its runc (`ctr run --runc-binary nsrun`), the calls listed
// in /work/shared/reference/engine-calls.md.
//
// Once per suite a confined containerd is started: its config, root, state, sockets, runc root
// and FIFOs all live in one temp dir, the CRI plugin (and the snapshotters that would probe the
// host) are disabled, and it runs as a child of this test, inside the throwaway network namespace
// the test binary runs in (tests/helpers/in-throwaway-netns.sh). Every container gets a cgroup
// path beneath this test's own cgroup (ctr --cgroup), never containerd's /default/ID. After each
// test nothing may be left: no nsrun state, no mount, no cgroup, no shim.
//
// One host path cannot be moved: containerd 1.6's shims put their sockets in /run/containerd/s.
// The suite removes /run/containerd/s and /run/containerd again if it was the one to create them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "e2e.hpp"

namespace fs = std::filesystem;
using namespace nsrun::test;
using namespace std::chrono_literals;

namespace {

std::string tail(const std::string& text, std::size_t max = 4000) {
  return text.size() <= max ? text : "..." + text.substr(text.size() - max);
}

std::string describe(const CommandResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// This process's path in the memory hierarchy (the deepest one on this machine), from
// /proc/self/cgroup; "/" when it has none.
std::string own_memory_cgroup() {
  std::istringstream lines(read_text("/proc/self/cgroup"));
  std::string line;
  while (std::getline(lines, line)) {
    auto first = line.find(':');
    auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::string controllers = line.substr(first + 1, second - first - 1);
    std::istringstream list(controllers);
    std::string c;
    while (std::getline(list, c, ','))
      if (c == "memory") return line.substr(second + 1);
  }
  return "/";
}

struct CgroupHierarchy {
  std::string mount_point;
  std::string root;  // the part of the hierarchy mounted there
};

std::vector<CgroupHierarchy> cgroup_hierarchies() {
  std::vector<CgroupHierarchy> found;
  std::istringstream lines(read_text("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(lines, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream after(line.substr(dash + 3));
    std::string fstype;
    after >> fstype;
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::istringstream before(line.substr(0, dash));
    std::string id, parent, dev, root, mount_point;
    before >> id >> parent >> dev >> root >> mount_point;
    found.push_back({mount_point, root});
  }
  return found;
}

// Where the absolute cgroup path `path` is in `h`'s file system, or "" when it is outside the part
// mounted there.
std::string cgroup_dir(const CgroupHierarchy& h, const std::string& path) {
  if (h.root == "/") return h.mount_point + path;
  if (path.starts_with(h.root + "/")) return h.mount_point + path.substr(h.root.size());
  return "";
}

// Pids of the containerd shims that serve the containerd at `address`.
std::vector<pid_t> shims_of(const std::string& address) {
  std::vector<pid_t> pids;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_text(entry.path().string() + "/cmdline");
    for (auto& c : cmdline)
      if (c == '\0') c = ' ';
    if (cmdline.find("containerd-shim") != std::string::npos &&
        cmdline.find(address) != std::string::npos)
      pids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return pids;
}

// Runs argv on a new pseudo-terminal (its controlling terminal and stdio), as `ctr run -t` needs;
// returns what it printed there and its exit code (-1 after `timeout`, when it is killed).
CommandResult run_on_pty(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  CommandResult result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd fd{master, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(left)) < 0 && errno != EINTR) break;
    char buffer[4096];
    ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO: every holder of the terminal's other side has closed it
    result.out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = timed_out             ? -1
                     : WIFEXITED(status)   ? WEXITSTATUS(status)
                     : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                           : -1;
  return result;
}

// The confined containerd of the suite.
class ContainerdDaemon {
 public:
  ContainerdDaemon() : dir_("nsrun-ctr-") {
    for (const char* sub : {"root", "state", "tmp", "opt", "runc-root", "fifo"})
      fs::create_directories(dir_.path() + "/" + sub);
    const std::string& d = dir_.path();
    std::ofstream(d + "/config.toml")
        << "version = 2\n"
        << "root = \"" << d << "/root\"\n"
        << "state = \"" << d << "/state\"\n"
        << "temp = \"" << d << "/tmp\"\n"
        << "disabled_plugins = [\"io.containerd.grpc.v1.cri\", "
           "\"io.containerd.snapshotter.v1.aufs\", \"io.containerd.snapshotter.v1.btrfs\", "
           "\"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.devmapper\", "
           "\"io.containerd.internal.v1.tracing\", \"io.containerd.tracing.processor.v1.otlp\"]\n"
        << "[grpc]\n  address = \"" << socket() << "\"\n"
        << "[ttrpc]\n  address = \"" << d << "/containerd.sock.ttrpc\"\n"
        << "[debug]\n  address = \"" << d << "/debug.sock\"\n  level = \"debug\"\n"
        << "[metrics]\n  address = \"\"\n"
        << "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"" << d << "/opt\"\n";

    std::string log = log_path();
    std::string config = d + "/config.toml";
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0 || null < 0) ::_exit(126);
      ::dup2(null, 0);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execlp("containerd", "containerd", "--config", config.c_str(), nullptr);
      ::_exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (true) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("containerd exited at start: " + tail(read_text(log)));
      }
      if (run({"ctr", "-a", socket(), "version"}, "", 10).exit_code == 0) break;
      if (std::chrono::steady_clock::now() > deadline)
        throw std::runtime_error("containerd did not answer on " + socket() +
                                 " within 30s: " + tail(read_text(log)));
      std::this_thread::sleep_for(100ms);
    }
  }

  ~ContainerdDaemon() { stop(); }
  ContainerdDaemon(const ContainerdDaemon&) = delete;
  ContainerdDaemon& operator=(const ContainerdDaemon&) = delete;

  // SIGTERM, then SIGKILL after 10s; then any shim of this containerd that is still there.
  // Returns the shims it had to kill.
  std::vector<pid_t> stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      auto deadline = std::chrono::steady_clock::now() + 10s;
      while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, nullptr, 0);
          break;
        }
        std::this_thread::sleep_for(50ms);
      }
      pid_ = -1;
    }
    auto shims = shims_of(socket());
    for (pid_t shim : shims) ::kill(shim, SIGKILL);
    return shims;
  }

  const std::string& dir() const { return dir_.path(); }
  std::string socket() const { return dir_.path() + "/containerd.sock"; }
  std::string log_path() const { return dir_.path() + "/containerd.log"; }
  // What the shim passes nsrun as --root (ctr's --runc-root plus the namespace).
  std::string runc_root() const { return dir_.path() + "/runc-root"; }
  std::string fifo_dir() const { return dir_.path() + "/fifo"; }
  // Where the shim keeps a task's bundle, and nsrun's --log (log.json) in it.
  std::string bundle(const std::string& id) const {
    return dir_.path() + "/state/io.containerd.runtime.v2.task/default/" + id;
  }

 private:
  TempDir dir_;
  pid_t pid_ = -1;
};

class Containerd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The containers' network stage adds a bridge to the "host" namespace: that must be the
    // throwaway one, never the machine's own. Outside one, every test fails rather than run.
    if (!in_throwaway_netns()) {
      start_error_ =
          "not inside a throwaway network namespace (run through ctest, or "
          "tests/helpers/in-throwaway-netns.sh)";
      return;
    }
    if (run({"sh", "-c", "command -v containerd && command -v ctr"}).exit_code != 0) {
      start_error_ = "containerd/ctr are not installed (scripts/install-deps.sh installs them)";
      return;
    }
    run_containerd_created_ = !fs::exists("/run/containerd");
    run_containerd_s_created_ = !fs::exists("/run/containerd/s");
    std::random_device random;
    cgroup_parent_ = own_memory_cgroup();
    if (cgroup_parent_.back() == '/') cgroup_parent_.pop_back();
    cgroup_parent_ += "/nsrun-ctr-" + std::to_string(::getpid()) + "-" + std::to_string(random());
    // The cgroups on the way to cgroup_parent_ that do not exist yet, per hierarchy: nsrun may
    // have to create them, and must remove them again.
    for (const auto& h : cgroup_hierarchies()) {
      std::string dir = cgroup_dir(h, own_memory_cgroup());
      std::string mount = h.mount_point;
      while (!dir.empty() && dir.size() > mount.size() && !fs::exists(dir)) {
        missing_cgroup_dirs_.push_back(dir);
        dir = fs::path(dir).parent_path().string();
      }
    }
    try {
      daemon_ = std::make_unique<ContainerdDaemon>();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }

  static void TearDownTestSuite() {
    if (!daemon_) return;
    auto killed = daemon_->stop();
    EXPECT_TRUE(killed.empty()) << killed.size() << " shim(s) outlived containerd (killed)";
    if (::testing::UnitTest::GetInstance()->failed_test_count() > 0)
      std::cerr << "containerd's log (tail):\n" << tail(read_text(daemon_->log_path()), 6000);
    daemon_.reset();
    // Cgroups nsrun created on the way to ours and left: report, then remove (deepest first).
    // Only the deepest, this test's own cgroup path, is ours alone: its ancestors may be shared
    // with other tests' cgroups (other runs of this machine's tests, at the same time), so they
    // are only removed when empty, and not reported.
    bool own = true;
    std::string previous;
    for (const auto& dir : missing_cgroup_dirs_) {
      bool deepest = previous.empty() || !previous.starts_with(dir + "/");
      previous = dir;
      if (deepest) own = true;
      if (fs::exists(dir) && own)
        ADD_FAILURE() << "cgroup " << dir << " (created on the way to " << cgroup_parent_
                      << ") was left behind";
      own = false;
      ::rmdir(dir.c_str());
    }
    if (run_containerd_s_created_) ::rmdir("/run/containerd/s");
    if (run_containerd_created_) ::rmdir("/run/containerd");
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(daemon_) << "containerd did not start: " << start_error_;
  }

  void TearDown() override {
    if (!daemon_) return;
    // Whatever a failed test left: kill and remove every task and container.
    auto listed = ctr({"containers", "list", "--quiet"});
    std::istringstream ids(listed.out);
    std::string id;
    std::vector<std::string> leftovers;
    while (ids >> id) {
      leftovers.push_back(id);
      ctr({"tasks", "kill", "--signal", "KILL", "--all", id});
      ctr({"tasks", "delete", "--force", id});
      ctr({"containers", "delete", id});
    }
    EXPECT_TRUE(leftovers.empty()) << "containers left in containerd: " << listed.out;

    // nsrun's state (the shim's --root is <runc root>/<namespace>).
    std::vector<std::string> state_left;
    std::string root = daemon_->runc_root() + "/default";
    if (fs::exists(root))
      for (const auto& entry : fs::directory_iterator(root))
        if (entry.path().filename().string().front() != '_')
          state_left.push_back(entry.path().string());
    EXPECT_TRUE(state_left.empty()) << "nsrun state left: " << state_left.front();

    // Mounts: nothing of the suite's dirs nor of the rootfs may stay mounted here.
    auto mounts = mounts_containing(daemon_->dir());
    for (const auto& m : mounts_containing(busybox_rootfs())) mounts.push_back(m);
    EXPECT_TRUE(mounts.empty()) << "mount left: " << mounts.front();

    // Cgroups: nothing beneath the suite's cgroup parent, in any hierarchy.
    for (const auto& h : cgroup_hierarchies()) {
      std::string dir = cgroup_dir(h, cgroup_parent_);
      if (dir.empty() || !fs::exists(dir)) continue;
      std::vector<std::string> below;
      for (const auto& entry : fs::recursive_directory_iterator(dir))
        if (entry.is_directory()) below.push_back(entry.path().string());
      EXPECT_TRUE(below.empty()) << "cgroup left: " << (below.empty() ? dir : below.front());
      // nsrun made the parent (cgroupsPath's dirname) on the way; it goes when the last
      // container does. Deepest first, so rmdir on the way back up.
      for (auto it = below.rbegin(); it != below.rend(); ++it) ::rmdir(it->c_str());
      if (::rmdir(dir.c_str()) != 0)
        ADD_FAILURE() << "cgroup " << dir << " cannot be removed: " << std::strerror(errno);
      else
        ADD_FAILURE() << "cgroup parent " << dir << " was left behind (removed it)";
    }

    // Shims: each one exits once its task and container are deleted.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!shims_of(daemon_->socket()).empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(100ms);
    auto shims = shims_of(daemon_->socket());
    EXPECT_TRUE(shims.empty()) << "a shim is still running (pid " << shims.front() << ")";
  }

  static std::vector<std::string> ctr_argv(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"ctr", "--address", daemon_->socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  static CommandResult ctr(const std::vector<std::string>& args, int timeout_seconds = 60) {
    return run(ctr_argv(args), "", timeout_seconds);
  }

  // `ctr run` with nsrun as the runtime, the busybox rootfs, and a cgroup beneath ours.
  static std::vector<std::string> run_argv(const std::vector<std::string>& options,
                                           const std::string& id,
                                           const std::vector<std::string>& command) {
    std::vector<std::string> argv{
        "ctr",           "--address",         daemon_->socket(), "run",
        "--runc-binary", nsrun_binary(),      "--runc-root",     daemon_->runc_root(),
        "--fifo-dir",    daemon_->fifo_dir(), "--cgroup",        cgroup_parent_ + "/" + id};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {"--rootfs", busybox_rootfs(), id});
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
  }

  static CommandResult ctr_run(const std::vector<std::string>& options, const std::string& id,
                               const std::vector<std::string>& command, int timeout_seconds = 60) {
    return run(run_argv(options, id, command), "", timeout_seconds);
  }

  // The task's status column in `ctr task ls` (RUNNING, STOPPED, PAUSED...), "" when absent.
  static std::string task_status(const std::string& id) {
    std::istringstream lines(ctr({"tasks", "list"}).out);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string task, pid, status;
      fields >> task >> pid >> status;
      if (task == id) return status;
    }
    return "";
  }

  static bool wait_for_status(const std::string& id, const std::string& status,
                              std::chrono::seconds timeout = 10s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (task_status(id) != status) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(100ms);
    }
    return true;
  }

  // The runtime's --log of a task that still exists (the shim's bundle dir), for messages.
  static std::string runtime_log(const std::string& id) {
    std::string text = read_text(daemon_->bundle(id) + "/log.json");
    return text.empty() ? "" : "\nnsrun --log (" + daemon_->bundle(id) + "/log.json):\n" + text;
  }

  static std::string task_id(const std::string& prefix) { return unique_name(prefix + "-"); }

  static std::unique_ptr<ContainerdDaemon> daemon_;
  static std::string cgroup_parent_;
  static std::vector<std::string> missing_cgroup_dirs_;
  static std::string skip_reason_;
  static std::string start_error_;
  static bool run_containerd_created_;
  static bool run_containerd_s_created_;
};

std::unique_ptr<ContainerdDaemon> Containerd::daemon_;
std::string Containerd::cgroup_parent_;
std::vector<std::string> Containerd::missing_cgroup_dirs_;
std::string Containerd::skip_reason_;
std::string Containerd::start_error_;
bool Containerd::run_containerd_created_ = false;
bool Containerd::run_containerd_s_created_ = false;

TEST_F(Containerd, RunRmTrueExitsZero) {
  auto id = task_id("true");
  auto r = ctr_run({"--rm"}, id, {"/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

TEST_F(Containerd, RunRmReportsTheExitCode) {
  auto id = task_id("exit3");
  auto r = ctr_run({"--rm"}, id, {"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(r.exit_code, 3) << describe(r);
}

TEST_F(Containerd, StdoutReachesCtr) {
  auto id = task_id("echo");
  auto r = ctr_run({"--rm"}, id, {"/bin/echo", "hello"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "hello\n") << describe(r);
}

// (Not stdin: `ctr run` without -t never closes the task's stdin, with runc too, so a `cat`
// would wait for ever.)
TEST_F(Containerd, StderrReachesCtr) {
  auto id = task_id("stderr");
  auto r = ctr_run({"--rm"}, id, {"/bin/sh", "-c", "echo oops >&2"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "") << describe(r);
  EXPECT_EQ(r.err, "oops\n") << describe(r);
}

TEST_F(Containerd, ContainerIsInItsCgroupAndOwnNetworkNamespace) {
  auto id = task_id("where");
  auto r =
      ctr_run({"--rm"}, id, {"/bin/sh", "-c", "cat /proc/self/cgroup; readlink /proc/self/ns/net"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  // nsrun places it only in the hierarchies it needs (freezer to track it, cpu for the shares
  // containerd asks for); without a cgroup namespace the full path shows.
  EXPECT_TRUE(r.out.find(":" + cgroup_parent_ + "/" + id + "\n") != std::string::npos ||
              r.out.find(":/\n") != std::string::npos)
      << r.out;
  // Its own network namespace, not the one containerd runs in.
  std::string ours = fs::read_symlink("/proc/self/ns/net").string();
  EXPECT_NE(r.out.find("net:["), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(ours), std::string::npos) << r.out;
}

// containerd's spec denies every device but a few (linux.resources.devices: deny "rwm", then
// null, zero, full, random, urandom, tty, console, ptmx, pts) while it grants CAP_MKNOD: the
// container's devices cgroup must hold that allowlist, as runc's does ("c 1:3 rwm" ..., never
// "a *:* rwm"). (This machine's kernel lets a mknod'ed /dev/net/tun open even under runc's
// allowlist, so the cgroup's list is checked, not an open.)
TEST_F(Containerd, DeviceAllowlistIsApplied) {
  if (!fs::exists("/sys/fs/cgroup/devices/devices.list"))
    GTEST_SKIP() << "no cgroup v1 devices hierarchy at /sys/fs/cgroup/devices";
  auto id = task_id("devices");
  auto r = ctr_run({"--detach"}, id, {"/bin/sleep", "300"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(wait_for_status(id, "RUNNING")) << ctr({"tasks", "list"}).out << runtime_log(id);
  std::string pid;
  {
    std::istringstream lines(ctr({"tasks", "list"}).out);
    std::string line, task, task_pid;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      fields >> task >> task_pid;
      if (task == id) pid = task_pid;
    }
  }
  std::string devices_path;
  std::istringstream lines(read_text("/proc/" + pid + "/cgroup"));
  std::string line;
  while (std::getline(lines, line))
    if (line.find(":devices:") != std::string::npos)
      devices_path = line.substr(line.find(":devices:") + 9);
  std::string list = read_text("/sys/fs/cgroup/devices" + devices_path + "/devices.list");
  std::string log = runtime_log(id);
  ctr({"tasks", "kill", "--signal", "KILL", id});
  wait_for_status(id, "STOPPED");
  ctr({"tasks", "delete", id});
  ctr({"containers", "delete", id});
  EXPECT_EQ(devices_path, cgroup_parent_ + "/" + id) << "pid " << pid;
  EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << devices_path << ":\n" << list << log;
  EXPECT_NE(list.find("c 1:3 rwm"), std::string::npos) << devices_path << ":\n" << list << log;
}

TEST_F(Containerd, DetachedTaskPsKillAndRemove) {
  auto id = task_id("detached");
  auto r = ctr_run({"--detach"}, id, {"/bin/sleep", "300"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(wait_for_status(id, "RUNNING")) << ctr({"tasks", "list"}).out << runtime_log(id);

  auto ps = ctr({"tasks", "ps", id});
  ASSERT_EQ(ps.exit_code, 0) << describe(ps) << runtime_log(id);
  std::istringstream rows(ps.out);
  std::string header, line;
  std::getline(rows, header);
  EXPECT_NE(header.find("PID"), std::string::npos) << ps.out;
  std::vector<pid_t> pids;
  while (std::getline(rows, line)) {
    std::istringstream fields(line);
    long pid = 0;
    if (fields >> pid) pids.push_back(static_cast<pid_t>(pid));
  }
  ASSERT_EQ(pids.size(), 1u) << ps.out;
  // The host pid of `sleep`, in the cgroup asked for.
  std::string cmdline = read_text("/proc/" + std::to_string(pids[0]) + "/cmdline");
  EXPECT_EQ(cmdline.substr(0, cmdline.find('\0')), "/bin/sleep");
  EXPECT_NE(read_text("/proc/" + std::to_string(pids[0]) + "/cgroup").find(cgroup_parent_),
            std::string::npos);

  auto kill = ctr({"tasks", "kill", "--signal", "KILL", id});
  EXPECT_EQ(kill.exit_code, 0) << describe(kill) << runtime_log(id);
  EXPECT_TRUE(wait_for_status(id, "STOPPED")) << ctr({"tasks", "list"}).out << runtime_log(id);

  auto rm = ctr({"tasks", "delete", id});
  EXPECT_EQ(rm.exit_code, 0) << describe(rm) << runtime_log(id);
  EXPECT_EQ(task_status(id), "");
  auto crm = ctr({"containers", "delete", id});
  EXPECT_EQ(crm.exit_code, 0) << describe(crm);
}

TEST_F(Containerd, KillAllAndForceDeleteRunningTask) {
  auto id = task_id("force");
  auto r = ctr_run({"--detach"}, id, {"/bin/sh", "-c", "sleep 300 & sleep 300"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(wait_for_status(id, "RUNNING")) << ctr({"tasks", "list"}).out << runtime_log(id);
  auto rm = ctr({"tasks", "delete", "--force", id});
  EXPECT_EQ(rm.exit_code, 0) << describe(rm) << runtime_log(id);
  EXPECT_EQ(task_status(id), "");
  auto crm = ctr({"containers", "delete", id});
  EXPECT_EQ(crm.exit_code, 0) << describe(crm);
}

TEST_F(Containerd, TaskExec) {
  auto id = task_id("exec");
  auto r = ctr_run({"--detach"}, id, {"/bin/sleep", "300"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(wait_for_status(id, "RUNNING")) << ctr({"tasks", "list"}).out << runtime_log(id);
  auto exec = ctr({"tasks", "exec", "--exec-id", "e1", "--fifo-dir", daemon_->fifo_dir(), id,
                   "/bin/sh", "-c", "echo in-exec; exit 4"},
                  30);
  std::string log = runtime_log(id);
  ctr({"tasks", "kill", "--signal", "KILL", id});
  wait_for_status(id, "STOPPED");
  ctr({"tasks", "delete", id});
  ctr({"containers", "delete", id});
  EXPECT_EQ(exec.exit_code, 4) << describe(exec) << log;
  EXPECT_EQ(exec.out, "in-exec\n") << describe(exec);
}

TEST_F(Containerd, TaskPauseResume) {
  auto id = task_id("pause");
  auto r = ctr_run({"--detach"}, id, {"/bin/sleep", "300"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(wait_for_status(id, "RUNNING")) << ctr({"tasks", "list"}).out << runtime_log(id);
  auto pause = ctr({"tasks", "pause", id});
  bool paused = pause.exit_code == 0 && wait_for_status(id, "PAUSED");
  auto resume = ctr({"tasks", "resume", id});
  bool resumed = resume.exit_code == 0 && wait_for_status(id, "RUNNING");
  std::string log = runtime_log(id);
  ctr({"tasks", "kill", "--signal", "KILL", id});
  wait_for_status(id, "STOPPED");
  ctr({"tasks", "delete", id});
  ctr({"containers", "delete", id});
  EXPECT_TRUE(paused) << describe(pause) << log;
  EXPECT_TRUE(resumed) << describe(resume) << log;
}

TEST_F(Containerd, RunWithTerminal) {
  auto id = task_id("tty");
  auto r = run_on_pty(run_argv({"--rm", "--tty"}, id, {"/bin/sh", "-c", "tty; exit 5"}), 60s);
  EXPECT_EQ(r.exit_code, 5) << r.out;
  EXPECT_NE(r.out.find("/dev/pts/"), std::string::npos) << r.out;
}

TEST_F(Containerd, TaskExecWithTerminal) {
  // ctr task exec -t: `exec --detach --tty --console-socket`, the master to the shim.
  auto id = task_id("exectty");
  auto r = ctr_run({"--detach"}, id, {"/bin/sleep", "300"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  ASSERT_TRUE(wait_for_status(id, "RUNNING")) << ctr({"tasks", "list"}).out << runtime_log(id);
  auto argv = ctr_argv({"tasks", "exec", "--tty", "--exec-id", "e1", "--fifo-dir",
                        daemon_->fifo_dir(), id, "/bin/sh", "-c", "tty; exit 4"});
  auto exec = run_on_pty(argv, 60s);
  std::string log = runtime_log(id);
  ctr({"tasks", "kill", "--signal", "KILL", id});
  wait_for_status(id, "STOPPED");
  ctr({"tasks", "delete", id});
  ctr({"containers", "delete", id});
  EXPECT_EQ(exec.exit_code, 4) << exec.out << log;
  EXPECT_NE(exec.out.find("/dev/pts/"), std::string::npos) << exec.out;
}

}  // namespace
