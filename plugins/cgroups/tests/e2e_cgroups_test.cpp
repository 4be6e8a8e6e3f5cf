// End to end, as root, on this host's real cgroups: limits hold, OOM kills are reported, and no
// cgroup directory is left behind.
//
// Safety: nsrun places containers beneath the cgroup it runs in, which is this test's own cgroup
// in every hierarchy, so the tests only create and remove children of it and never write a file
// of it or of its ancestors. Every process a test starts is ended by the test (RAII).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "e2e.hpp"
#include "nsrun/cgroups/cgroups_stage.hpp"
#include "nsrun/cgroups/devices.hpp"
#include "nsrun/cgroups/host.hpp"
#include "nsrun/cgroups/layout.hpp"
#include "nsrun/testing.hpp"

namespace {

namespace fs = std::filesystem;
using namespace nsrun::test;
using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Where this process sits in every hierarchy: nsrun's containers go beneath these.
nsrun::cgroups::Layout host_layout() {
  nsrun::cgroups::LinuxHost host;
  return nsrun::cgroups::detect_layout(host, nsrun::cgroups::Driver::automatic);
}

// The directory a container named `name` gets in the hierarchy holding `controller` ("" for the
// cgroup2 one).
std::string container_dir(const std::string& controller, const std::string& name) {
  auto layout = host_layout();
  const nsrun::cgroups::CgroupMount* mount =
      controller.empty() ? (layout.v2 ? &*layout.v2 : nullptr) : layout.v1_hierarchy(controller);
  if (!mount) return "";
  std::string own = layout.own_path(*mount);
  return mount->mount_point + (own == "/" ? "" : own) + "/nsrun-" + name;
}

// Every nsrun-<name> directory in any hierarchy (there must be none after a run).
std::vector<std::string> leftovers(const std::string& name) {
  std::vector<std::string> found;
  std::string needle = "nsrun-" + name;
  for (const auto& m : nsrun::cgroups::parse_mountinfo(slurp("/proc/self/mountinfo"))) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(m.mount_point, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory() && it->path().filename().string().find(needle) == 0)
        found.push_back(it->path().string());
    }
  }
  return found;
}

bool host_can_fork() {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// `nsrun run` in the background with a pipe on its stdin; killed, reaped and deleted by the
// destructor if the test did not wait for it.
class BackgroundRun {
 public:
  BackgroundRun(const std::string& state_root, const std::string& name,
                const std::vector<std::string>& args)
      : state_root_(state_root), name_(name), out_(state_root + "/out"), err_(state_root + "/err") {
    std::vector<std::string> argv{nsrun_binary(), "--root",         state_root, "run",
                                  "--rootfs",     busybox_rootfs(), "--name",   name};
    argv.insert(argv.end(), args.begin(), args.end());
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(out, 1);
      ::dup2(err, 2);
      std::vector<char*> cargs;
      for (auto& a : argv) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      ::execv(cargs[0], cargs.data());
      ::_exit(127);
    }
    ::close(in[0]);
    stdin_ = in[1];
  }
  ~BackgroundRun() {
    close_stdin();
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      run({nsrun_binary(), "--root", state_root_, "delete", "--force", name_});
    }
  }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }
  /// Waits for nsrun to exit: its exit code, or -1 after `timeout`.
  int wait(std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  std::string out() const { return slurp(out_); }
  std::string err() const { return slurp(err_); }

 private:
  std::string state_root_, name_, out_, err_;
  pid_t pid_ = -1;
  int stdin_ = -1;
};

// Waits until `path` exists (the container's cgroup is made before its workload runs).
bool wait_for(const std::string& path, std::chrono::milliseconds timeout = 10000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(path)) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

class CgroupsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!host_layout().v1_hierarchy("memory"))
      GTEST_SKIP() << "written for cgroup v1 and hybrid hosts (the v2 driver is unit-tested)";
    name_ = unique_name("cge2e");
  }
  void TearDown() override {
    if (!name_.empty()) {
      EXPECT_EQ(leftovers(name_), std::vector<std::string>{});
    }
  }
  std::string name_;
  TempDir state_{"nsrun-cgroups-e2e-"};
};

TEST_F(CgroupsE2E, MemoryHogIsKilledWith137AndTheMessage) {
  auto r =
      nsrun_run({"--name", name_, "--memory", "64m", "sh", "-c", "x=a; while :; do x=$x$x; done"},
                state_.path());
  EXPECT_EQ(r.exit_code, 137) << r.err;
  EXPECT_EQ(r.err, "nsrun: cgroups: container killed: out of memory (limit 64 MiB)\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(CgroupsE2E, ATailOfDevZeroHogIsKilledToo) {
  auto r = nsrun_run({"--name", name_, "--memory", "32m", "tail", "/dev/zero"}, state_.path());
  EXPECT_EQ(r.exit_code, 137) << r.err;
  EXPECT_EQ(r.err, "nsrun: cgroups: container killed: out of memory (limit 32 MiB)\n");
}

TEST_F(CgroupsE2E, WithinTheLimitNothingExtraIsPrinted) {
  auto r =
      nsrun_run({"--name", name_, "--memory", "64m", "--pids-limit", "32", "--cpus", "1",
                 "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0", "echo", "ok"},
                state_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CgroupsE2E, ForkBombIsContainedWhileTheHostCanStillFork) {
  std::string pids = container_dir("pids", name_);
  ASSERT_FALSE(pids.empty()) << "no pids hierarchy";
  BackgroundRun bomb(state_.path(), name_,
                     {"--pids-limit", "32", "sh", "-c", "f() { f | f & }; f; read x"});
  ASSERT_TRUE(wait_for(pids + "/pids.current"));
  // The directory comes a moment before its limit is written in it.
  auto limit_by = std::chrono::steady_clock::now() + 10s;
  while (trimmed(slurp(pids + "/pids.max")) != "32" && std::chrono::steady_clock::now() < limit_by)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(trimmed(slurp(pids + "/pids.max")), "32");
  // Let the bomb fill its cgroup, then watch it stay there.
  long most = 0;
  auto until = std::chrono::steady_clock::now() + 2s;
  int samples = 0;
  while (std::chrono::steady_clock::now() < until) {
    std::string current = trimmed(slurp(pids + "/pids.current"));
    if (!current.empty()) most = std::max(most, std::stol(current));
    EXPECT_TRUE(host_can_fork());
    ++samples;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_LE(most, 32);
  EXPECT_GE(most, 16) << "the bomb never got going";
  EXPECT_GT(std::stol(trimmed(slurp(pids + "/pids.events").substr(4))), 0) << "no fork was refused";
  bomb.close_stdin();  // PID 1's read returns; the namespace and the bomb die with it
  EXPECT_NE(bomb.wait(30s), -1) << bomb.err();
  EXPECT_FALSE(fs::exists(pids));
}

TEST_F(CgroupsE2E, HalfACpuWritesQuotaAndPeriodAndThrottles) {
  std::string cpu = container_dir("cpu", name_);
  ASSERT_FALSE(cpu.empty()) << "no cpu hierarchy";
  // A 2 s busy loop; PID 1 then prints its reaped children's CPU time (cutime + cstime).
  BackgroundRun loop(
      state_.path(), name_,
      {"--cpus", "0.5", "sh", "-c", "timeout 2 sh -c 'while :; do :; done'; cat /proc/1/stat"});
  ASSERT_TRUE(wait_for(cpu + "/cpu.cfs_quota_us"));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(trimmed(slurp(cpu + "/cpu.cfs_quota_us")), "50000");
  EXPECT_EQ(trimmed(slurp(cpu + "/cpu.cfs_period_us")), "100000");
  // The kernel throttled the loop: the quota is enforced, however busy the machine is.
  std::this_thread::sleep_for(1s);
  std::istringstream stats(slurp(cpu + "/cpu.stat"));
  long throttled = -1;
  for (std::string key, value; stats >> key >> value;)
    if (key == "nr_throttled") throttled = std::stol(value);
  EXPECT_GT(throttled, 0);
  loop.close_stdin();
  ASSERT_EQ(loop.wait(30s), 0) << loop.err();
  std::string stat = loop.out();
  auto fields_start = stat.rfind(") ");
  ASSERT_NE(fields_start, std::string::npos) << stat;
  std::istringstream in(stat.substr(fields_start + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string w; in >> w;) f.push_back(w);
  ASSERT_GT(f.size(), 14u);
  double ticks = std::stod(f[13]) + std::stod(f[14]);  // fields 16 and 17: cutime, cstime
  double seconds = ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
  // Half of 2 s of wall time, with generous bounds: a free loop takes about 2 s, and the lower
  // bound leaves room for a machine busy with other work.
  EXPECT_GT(seconds, 0.25) << stat;
  EXPECT_LT(seconds, 1.4) << stat;
}

TEST_F(CgroupsE2E, DebugShowsThePathAndEveryValueWritten) {
  std::string memory = container_dir("memory", name_);
  auto r =
      run({nsrun_binary(), "--log-level", "debug", "--root", state_.path(), "run", "--rootfs",
           busybox_rootfs(), "--name", name_, "--memory", "64m", "--pids-limit", "32", "true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("nsrun: debug: cgroups: " + memory + "/memory.limit_in_bytes = 67108864"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("/pids.max = 32"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cgroups: removed " + memory), std::string::npos) << r.err;
}

TEST_F(CgroupsE2E, TheWorkloadSeesItselfInItsCgroupFromTheStart) {
  auto r =
      nsrun_run({"--name", name_, "--pids-limit", "50", "cat", "/proc/self/cgroup"}, state_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto layout = host_layout();
  std::string own = layout.own_path(*layout.v1_hierarchy("pids"));
  std::string expected = (own == "/" ? "" : own) + "/nsrun-" + name_;
  EXPECT_NE(r.out.find("pids:" + expected + "\n"), std::string::npos) << r.out;
}

TEST_F(CgroupsE2E, ACgroupParentIsCreatedAndRemoved) {
  auto layout = host_layout();
  std::string own = layout.own_path(*layout.v1_hierarchy("pids"));
  std::string parent = (own == "/" ? "" : own) + "/nsrun-" + name_ + "-parent/ci";
  auto r = nsrun_run({"--name", name_, "--cgroup-parent", parent, "--pids-limit", "50", "cat",
                      "/proc/self/cgroup"},
                     state_.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pids:" + parent + "/nsrun-" + name_ + "\n"), std::string::npos) << r.out;
}

TEST_F(CgroupsE2E, WithoutAPidNamespaceTeardownKillsWhatIsLeft) {
  // A bundle without a pid namespace: a background process outlives PID 1, and only the
  // container's cgroup can find it.
  TempDir bundle("nsrun-cgroups-bundle-");
  // A sleep whose argument no other process has, found again with pgrep -x.
  std::string sleeper = "sleep 9" + std::to_string(::getpid());
  std::ofstream(bundle.path() + "/config.json") << R"({
    "ociVersion": "1.0.2",
    "process": {"args": ["sh", "-c", ")" + sleeper + R"( & echo started"],
                "env": ["PATH=/bin:/usr/bin"], "cwd": "/"},
    "root": {"path": ")" + busybox_rootfs() + R"("},
    "hostname": "c",
    "linux": {"namespaces": [{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]}
  })";
  auto r = run(
      {nsrun_binary(), "--root", state_.path(), "run", "--name", name_, "--bundle", bundle.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "started\n");
  EXPECT_EQ(r.err, "");
  auto left = sh("pgrep -x -f '" + sleeper + "'");
  EXPECT_NE(left.exit_code, 0) << "still running: " << left.out;
  if (left.exit_code == 0) sh("pkill -KILL -x -f '" + sleeper + "'");  // only the test's own
}

TEST_F(CgroupsE2E, BadInputIsOneLineExit125AndNoCgroup) {
  const std::vector<std::vector<std::string>> cases = {
      {"--memory", "12x"},
      {"--memory", "-5m"},
      {"--memory", "4m"},
      {"--memory", "99999999999999999999"},
      {"--cpus", "0"},
      {"--cpus", "65"},
      {"--pids-limit", "0"},
      {"--pids-limit", "-3"},
      {"--cpuset-cpus", "64"},
      {"--cgroup-parent", "relative/x"},
      {"--cgroup-parent", "/a/../.."},
      {"--cgroup-driver", "v3"},
      {"--memory-swap", "1g"},
      {"--cpu-quota", "500"},
      {"--cpu-period", "10"},
      {"--cpu-shares", "1"},
      {"--cpus", "0.5", "--cpu-quota", "50000"},
  };
  for (const auto& flags : cases) {
    std::vector<std::string> args{"--name", name_};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("true");
    auto r = nsrun_run(args, state_.path());
    std::string shown = flags[0] + " " + flags[1];
    EXPECT_EQ(r.exit_code, 125) << shown << ": " << r.err;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << shown << ": " << r.err;
    EXPECT_EQ(r.err.rfind("nsrun: ", 0), 0u) << shown << ": " << r.err;
    EXPECT_NE(r.err.find(flags[0]), std::string::npos) << shown << ": " << r.err;
    EXPECT_EQ(leftovers(name_), std::vector<std::string>{}) << shown;
  }
}

// nsrun exec, pause and resume through the stage itself (the CLI commands are newer than this
// test): a forked child plays the container process and joins its cgroups as nsrun's would, and
// each later phase runs on a fresh stage object with only the journal, as the core runs them.
int child_pong = -1;
void answer_ping(int) {
  [[maybe_unused]] auto n = ::write(child_pong, "p", 1);
}

bool pong_within(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char c;
  return ::read(fd, &c, 1) == 1;
}

TEST_F(CgroupsE2E, PauseFreezesResumeThawsAndExecJoinsEveryCgroup) {
  if (!host_layout().v1_hierarchy("freezer")) GTEST_SKIP() << "no v1 freezer hierarchy";
  using nsrun::cgroups::CgroupsStage;
  nsrun::ContainerSpec spec;
  spec.namespaces = {{"pid", ""}};
  spec.resources.pids_limit = 50;
  boost::json::object config;
  nsrun::testing::MemoryJournal journal;
  nsrun::testing::RecordingLogger log;
  auto context = [&](pid_t pid) {
    return nsrun::Context{name_, state_.path(), spec, config, journal, log, pid};
  };
  auto phase = [&](void (CgroupsStage::*run)(nsrun::Context&), pid_t pid = 0) {
    CgroupsStage fresh;
    nsrun::Context ctx = context(pid);
    (fresh.*run)(ctx);
  };

  CgroupsStage stage;
  nsrun::Context ctx = context(0);
  stage.validate(ctx);
  stage.prepare(ctx);
  int ready[2], pong[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(pong, O_CLOEXEC), 0);
  auto fork_waiting = [&](bool join) {
    pid_t pid = ::fork();
    if (pid == 0) {
      child_pong = pong[1];
      ::signal(SIGUSR1, answer_ping);
      if (join) {
        nsrun::Context inside = context(0);
        try {
          stage.create_container(inside);
        } catch (...) {
          ::_exit(1);
        }
      }
      [[maybe_unused]] auto n = ::write(ready[1], "r", 1);
      for (;;) ::pause();
    }
    char c;
    EXPECT_EQ(::read(ready[0], &c, 1), 1);
    return pid;
  };
  std::vector<pid_t> children;
  // Whatever happens, teardown (which thaws a frozen cgroup to kill it) and reaping.
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    for (pid_t pid : children) ::kill(pid, SIGKILL);
    try {
      phase(&CgroupsStage::teardown);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
    for (pid_t pid : children) ::waitpid(pid, nullptr, 0);
    for (int fd : {ready[0], ready[1], pong[0], pong[1]}) ::close(fd);
  }};

  pid_t workload = fork_waiting(true);
  children.push_back(workload);
  nsrun::Context runtime = context(workload);
  stage.create_runtime(runtime);
  std::string freezer = container_dir("freezer", name_);
  std::string pids = container_dir("pids", name_);
  EXPECT_NE(slurp(freezer + "/cgroup.procs").find(std::to_string(workload)), std::string::npos);

  phase(&CgroupsStage::pause);
  EXPECT_EQ(trimmed(slurp(freezer + "/freezer.state")), "FROZEN");
  ::kill(workload, SIGUSR1);
  EXPECT_FALSE(pong_within(pong[0], 300ms)) << "a paused process handled a signal";
  phase(&CgroupsStage::resume);
  EXPECT_EQ(trimmed(slurp(freezer + "/freezer.state")), "THAWED");
  EXPECT_TRUE(pong_within(pong[0], 5000ms)) << "the resumed process did not run";

  pid_t exec = fork_waiting(false);
  children.push_back(exec);
  phase(&CgroupsStage::exec_runtime, exec);
  for (const auto& dir : {freezer, pids})
    EXPECT_NE(slurp(dir + "/cgroup.procs").find(std::to_string(exec)), std::string::npos) << dir;
}

// nsrun update through the stage itself (the CLI command is newer than this test): a container
// process joins its cgroups, then update runs on fresh stage objects with the journal alone and
// the merged resources, growing and shrinking memory+swap in the order the kernel accepts.
TEST_F(CgroupsE2E, UpdateRewritesTheLimitsOfTheRunningContainersCgroups) {
  using nsrun::cgroups::CgroupsStage;
  nsrun::ContainerSpec spec;
  spec.namespaces = {{"pid", ""}};
  spec.resources.memory_limit = 64LL << 20;
  spec.resources.memory_swap = 128LL << 20;
  spec.resources.pids_limit = 50;
  boost::json::object config;
  nsrun::testing::MemoryJournal journal;
  nsrun::testing::RecordingLogger log;
  auto update = [&](const nsrun::ResourcesSpec& merged) {
    nsrun::ContainerSpec persisted = spec;
    persisted.resources = merged;
    CgroupsStage fresh;
    nsrun::Context ctx{name_, state_.path(), persisted, config, journal, log, 0};
    fresh.update(ctx);
  };

  CgroupsStage stage;
  nsrun::Context ctx{name_, state_.path(), spec, config, journal, log, 0};
  // `nsrun run FLAGS`: cgroups for its limits only (a bundle's container has them all).
  ctx.spec_source = nsrun::SpecSource::flags;
  stage.validate(ctx);
  stage.prepare(ctx);
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t workload = ::fork();
  if (workload == 0) {
    try {
      stage.create_container(ctx);
    } catch (...) {
      ::_exit(1);
    }
    [[maybe_unused]] auto n = ::write(ready[1], "r", 1);
    for (;;) ::pause();
  }
  struct Cleanup {
    std::function<void()> run;
    ~Cleanup() { run(); }
  } cleanup{[&] {
    ::kill(workload, SIGKILL);
    ::waitpid(workload, nullptr, 0);
    try {
      CgroupsStage fresh;
      nsrun::Context teardown{name_, state_.path(), spec, config, journal, log, 0};
      fresh.teardown(teardown);
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
    ::close(ready[0]);
    ::close(ready[1]);
  }};
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  nsrun::Context runtime{name_, state_.path(), spec, config, journal, log, workload};
  stage.create_runtime(runtime);
  std::string memory = container_dir("memory", name_);
  std::string pids = container_dir("pids", name_);
  bool swap = fs::exists(memory + "/memory.memsw.limit_in_bytes");

  nsrun::ResourcesSpec merged = spec.resources;
  merged.memory_limit = 256LL << 20;  // above the old memory+swap: memory+swap must go first
  merged.memory_swap = 512LL << 20;
  merged.pids_limit = 80;
  ASSERT_NO_THROW(update(merged));
  EXPECT_EQ(trimmed(slurp(memory + "/memory.limit_in_bytes")), "268435456");
  if (swap) {
    EXPECT_EQ(trimmed(slurp(memory + "/memory.memsw.limit_in_bytes")), "536870912");
  }
  EXPECT_EQ(trimmed(slurp(pids + "/pids.max")), "80");

  merged.memory_limit = 32LL << 20;  // below the old memory: memory must go first
  merged.memory_swap = 48LL << 20;
  merged.pids_limit = -1;
  ASSERT_NO_THROW(update(merged));
  EXPECT_EQ(trimmed(slurp(memory + "/memory.limit_in_bytes")), "33554432");
  if (swap) {
    EXPECT_EQ(trimmed(slurp(memory + "/memory.memsw.limit_in_bytes")), "50331648");
  }
  EXPECT_EQ(trimmed(slurp(pids + "/pids.max")), "max");
  EXPECT_NE(slurp(memory + "/cgroup.procs").find(std::to_string(workload)), std::string::npos);

  // No cpu cgroup was made: a CPU limit is refused, and nothing is created for it.
  merged.cpu_quota = 50000;
  try {
    update(merged);
    ADD_FAILURE() << "a CPU limit without a cpu cgroup was accepted";
  } catch (const nsrun::StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot update linux.resources.cpu.quota: the container has no cpu cgroup (it was "
              "created without a CPU limit; recreate it with one)");
  }
  std::string cpu = container_dir("cpu", name_);
  if (!cpu.empty()) {
    EXPECT_FALSE(fs::exists(cpu));
  }
}

// --- Devices (linux.resources.devices) -------------------------------------------------------

bool host_has_v1_devices() {
  return host_layout().v1_hierarchy("devices") != nullptr;
}

TEST_F(CgroupsE2E, RunGetsTheDefaultDeviceAllowlist) {
  if (!host_has_v1_devices()) GTEST_SKIP() << "needs a cgroup v1 devices hierarchy";
  auto r = nsrun_run(
      {"--name", name_, "--network", "none", "cat", "/sys/fs/cgroup/devices/devices.list"},
      state_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("a *:* rwm"), std::string::npos) << r.out;
  for (const char* line : {"c *:* m\n", "b *:* m\n", "c 1:3 rwm\n", "c 1:5 rwm\n", "c 1:9 rwm\n",
                           "c 136:* rwm\n", "c 5:2 rwm\n"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " missing from:\n" << r.out;
}

TEST_F(CgroupsE2E, AMknodedDiskCannotBeOpenedWhileDevZeroCan) {
  // /dev is the one tmpfs without nodev: there the devices cgroup is what refuses the open.
  // CAP_MKNOD is not among the default capabilities: added, so that the cgroup is what refuses.
  auto r = nsrun_run({"--name", name_, "--network", "none", "--cap-add", "MKNOD", "sh", "-c",
                      "head -c1 /dev/zero | wc -c; mknod /dev/sda-e2e b 8 0 && echo MADE;"
                      "head -c1 /dev/sda-e2e > /dev/null && echo OPENED"},
                     state_.path());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out, "1\nMADE\n") << r.err;
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
}

TEST_F(CgroupsE2E, DeviceFlagPassesAHostNodeIn) {
  auto r = nsrun_run({"--name", name_, "--network", "none", "--device", "/dev/zero:/dev/myzero",
                      "sh", "-c", "head -c3 /dev/myzero | wc -c; ls -l /dev/myzero"},
                     state_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 2), "3\n") << r.out;
  EXPECT_NE(r.out.find("1,   5"), std::string::npos) << r.out;
  // A read-only grant of a device outside the defaults: opening it to read works, to write does
  // not (an unbound loop device: opening it does nothing).
  if (!host_has_v1_devices() || !fs::exists("/dev/loop0")) return;
  auto ro = nsrun_run({"--name", name_, "--network", "none", "--device", "/dev/loop0:/dev/ro:r",
                       "sh", "-c", ": < /dev/ro && echo READ; : >> /dev/ro && echo WRITE"},
                      state_.path());
  EXPECT_EQ(ro.out, "READ\n") << ro.err;
  EXPECT_NE(ro.err.find("Operation not permitted"), std::string::npos) << ro.err;
}

TEST_F(CgroupsE2E, BadDeviceFlagIsOneLineExit125AndNothingLeft) {
  TempDir dir("nsrun-device-e2e-");
  std::string regular = dir.path() + "/file";
  std::ofstream(regular) << "x";
  for (const std::string& value :
       {std::string("/dev/nonexistent-e2e"), regular, std::string("/dev/null:/dev/n:rwx"),
        std::string("dev/null"), std::string("/dev/null:/a/../b")}) {
    auto r =
        nsrun_run({"--name", name_, "--network", "none", "--device", value, "true"}, state_.path());
    EXPECT_EQ(r.exit_code, 125) << value << ": " << r.err;
    EXPECT_EQ(lines_of(r.err).size(), 1u) << value << ": " << r.err;
    EXPECT_NE(r.err.find("--device"), std::string::npos) << value << ": " << r.err;
    EXPECT_EQ(leftovers(name_), std::vector<std::string>{}) << value;
    EXPECT_TRUE(fs::is_empty(state_.path())) << value;
  }
}

// The v2 device program on this host's real cgroup2 hierarchy (hybrid hosts have one at
// /sys/fs/cgroup/unified): a child cgroup beneath the test's own, a forked child moved into it,
// the program attached; the child may open /dev/null but not /dev/zero. Only the child cgroup
// is written, and it is removed.
TEST_F(CgroupsE2E, DeviceProgramOnTheRealCgroup2Hierarchy) {
  auto layout = host_layout();
  if (!layout.v2) GTEST_SKIP() << "no cgroup2 hierarchy";
  std::string own = layout.own_path(*layout.v2);
  std::string dir = layout.v2->mount_point + (own == "/" ? "" : own) + "/nsrun-" + name_;
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  if (child == 0) {
    char c;
    ::close(go[1]);
    if (::read(go[0], &c, 1) != 1) ::_exit(10);
    int null_fd = ::open("/dev/null", O_RDONLY);
    int zero_fd = ::open("/dev/zero", O_RDONLY);
    ::_exit((null_fd >= 0 ? 0 : 1) | (zero_fd < 0 && errno == EPERM ? 0 : 2));
  }
  ::close(go[0]);
  nsrun::cgroups::LinuxHost host;
  std::string verifier_log;
  int moved = host.write_file(dir + "/cgroup.procs", std::to_string(child));
  int attached = host.attach_device_program(
      dir,
      nsrun::cgroups::device_program(
          {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rwm"}}),
      verifier_log);
  [[maybe_unused]] auto n = ::write(go[1], "g", 1);
  ::close(go[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(::rmdir(dir.c_str()), 0) << dir << ": " << std::strerror(errno);
  ASSERT_EQ(moved, 0) << std::strerror(moved);
  ASSERT_EQ(attached, 0) << std::strerror(attached) << " " << verifier_log;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: /dev/null refused, 2: /dev/zero not refused";
}

}  // namespace
