// docker's lifecycle flags of `nsrun run`: -d (a supervisor keeps the container, its output goes
// to `nsrun logs`), --rm, --init, -i; and the bad input each refuses before anything exists.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "e2e.hpp"

namespace fs = std::filesystem;
using namespace nsrun::test;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Polls `done` until it holds or `seconds` pass; the condition's last answer.
bool eventually(const std::function<bool()>& done, int seconds = 20) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Fields of /proc/PID/stat after the command name: [0] is the state (field 3).
std::vector<std::string> stat_fields(pid_t pid) {
  std::string text = read("/proc/" + std::to_string(pid) + "/stat");
  std::vector<std::string> fields;
  auto close = text.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields;
}
pid_t parent_of(pid_t pid) {
  auto fields = stat_fields(pid);
  return fields.size() > 1 ? std::stoi(fields[1]) : -1;
}

// Every cgroup directory named for the container, in every hierarchy mounted here.
std::vector<std::string> container_cgroups(const std::string& id) {
  std::vector<std::string> found;
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  while (std::getline(mountinfo, line)) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream after(line.substr(dash + 3));
    std::string type;
    after >> type;
    if (type != "cgroup" && type != "cgroup2") continue;
    std::istringstream fields(line);
    std::string skip, mount_point;
    for (int i = 0; i < 4; ++i) fields >> skip;
    fields >> mount_point;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(mount_point, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory() && it->path().filename() == "nsrun-" + id)
        found.push_back(it->path().string());
  }
  return found;
}

class Detach : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    // A supervisor is nobody's child once `nsrun run -d` returned; the test adopts it (as init
    // would), so that it can see it end and leave no process behind.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    state_ = std::make_unique<TempDir>("nsrun-e2e-detach-");
    work_ = std::make_unique<TempDir>("nsrun-e2e-detach-work-");
  }
  void TearDown() override {
    if (!state_) return;
    auto left = delete_every_container(state_->path());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
    EXPECT_TRUE(all_adopted_processes_ended()) << "a supervisor or container outlived the test";
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  // Reaps what the test adopted; true once no child is left.
  static bool all_adopted_processes_ended() {
    return eventually([] {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
    });
  }

  CommandResult nsrun(const std::vector<std::string>& args) {
    std::vector<std::string> argv{nsrun_binary(), "--root", state_->path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 30, work_->path());
  }
  // `nsrun run --rootfs <busybox> ARGS`. The helper reads stdout and stderr to their end, so a
  // supervisor that kept them would make it time out.
  CommandResult run_container(const std::vector<std::string>& args) {
    return nsrun_run(args, state_->path(), "", 30, work_->path());
  }

  boost::json::object state(const std::string& id) {
    auto r = nsrun({"state", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? boost::json::parse(r.out).as_object() : boost::json::object{};
  }
  bool exit_recorded(const std::string& id) {
    auto s = state(id);
    return s.contains("nsrun") && s.at("nsrun").as_object().contains("exitCode");
  }
  std::string dir(const std::string& id) const { return state_->path() + "/" + id; }

  std::unique_ptr<TempDir> state_, work_;
};

TEST_F(Detach, RmRunsInTheBackgroundUntilKilledThenLeavesNothing) {
  auto r = run_container(
      {"-d", "--rm", "--network", "none", "--pids-limit", "32", "sh", "-c", "echo hi; sleep 30"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(r.out.size(), 13u) << "the generated id, on its own line: " << r.out;
  const std::string id = r.out.substr(0, 12);
  EXPECT_EQ(state(id).at("status").as_string(), "running");

  r = nsrun({"exec", id, "sh", "-c", "echo from exec; hostname"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from exec\ncontainer\n");
  EXPECT_TRUE(eventually([&] {
    return nsrun({"logs", id}).out == "hi\n";
  })) << nsrun({"logs", id}).out;
  std::vector<std::string> cgroups = container_cgroups(id);
  EXPECT_FALSE(cgroups.empty()) << "--pids-limit gives it a cgroup, whose removal is checked";

  r = nsrun({"kill", id, "KILL"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(eventually([&] { return !fs::exists(dir(id)); })) << "--rm removes the state";
  EXPECT_EQ(container_cgroups(id), std::vector<std::string>{});
  EXPECT_EQ(mounts_containing(id), std::vector<std::string>{});
  EXPECT_TRUE(all_adopted_processes_ended()) << "the supervisor and its logger end with it";
  r = nsrun({"logs", id});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: logs: container \"" + id + "\" does not exist\n");
}

TEST_F(Detach, WithoutRmTheExitCodeRecordAndLogsStayUntilDelete) {
  auto r = run_container(
      {"-d", "--network", "none", "--name", "kept", "sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "kept\n");
  ASSERT_TRUE(eventually([&] { return exit_recorded("kept"); }))
      << read(dir("kept") + "/state.json");
  auto s = state("kept");
  EXPECT_EQ(s.at("status").as_string(), "stopped");
  EXPECT_EQ(s.at("pid").as_int64(), 0);
  EXPECT_EQ(s.at("nsrun").at("exitCode").as_int64(), 3);
  EXPECT_TRUE(s.at("nsrun").at("finished").as_string().ends_with("Z"));

  r = nsrun({"list", "--format", "json"});
  auto listed = boost::json::parse(r.out).as_array();
  ASSERT_EQ(listed.size(), 1u) << r.out;
  EXPECT_EQ(listed[0].at("id").as_string(), "kept");
  EXPECT_EQ(listed[0].at("status").as_string(), "stopped");
  r = nsrun({"logs", "kept"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "out\nerr\n") << "stdout and stderr, in the order written";
  std::set<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir("kept")))
    files.insert(entry.path().filename());
  EXPECT_EQ(files, (std::set<std::string>{"state.json", "container.log"}))
      << "torn down: only the record and the log are left";
  EXPECT_TRUE(all_adopted_processes_ended()) << "the supervisor is gone";
  r = nsrun({"exec", "kept", "true"});
  EXPECT_EQ(r.exit_code, 125) << "a stopped container runs nothing";

  r = nsrun({"delete", "kept"});
  EXPECT_EQ(r.exit_code, 0) << "no --force for a stopped container: " << r.err;
  EXPECT_FALSE(fs::exists(dir("kept")));
  EXPECT_EQ(nsrun({"state", "kept"}).exit_code, 125);
}

// The supervisor holds the container's state while the workload runs; pause, resume and update
// change the container all the same (they once waited 10 s for it, then gave up).
TEST_F(Detach, PauseResumeAndUpdateChangeADetachedRun) {
  auto r = run_container(
      {"-d", "--network", "none", "--name", "live", "--memory", "64m", "sleep", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto file_of = [](const std::string& suffix) {
    for (const auto& cgroup : container_cgroups("live"))
      if (fs::exists(cgroup + "/" + suffix)) return cgroup + "/" + suffix;
    return std::string();
  };
  const std::string freezer = file_of("freezer.state");
  const std::string memory = file_of("memory.limit_in_bytes");
  ASSERT_FALSE(freezer.empty() || memory.empty())
      << "cgroup v1 here: a freezer and a memory cgroup";

  r = nsrun({"pause", "live"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state("live").at("status").as_string(), "paused");
  EXPECT_EQ(read(freezer), "FROZEN\n");
  r = nsrun({"resume", "live"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(state("live").at("status").as_string(), "running");
  EXPECT_EQ(read(freezer), "THAWED\n");

  r = nsrun({"update", "--memory", "128m", "live"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read(memory), "134217728\n");

  r = nsrun({"kill", "live", "KILL"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(eventually([&] { return exit_recorded("live"); }));
  EXPECT_EQ(state("live").at("nsrun").at("exitCode").as_int64(), 128 + SIGKILL);
  EXPECT_EQ(nsrun({"delete", "live"}).exit_code, 0);
}

TEST_F(Detach, ABundleRunsDetachedAndRmWorksInTheForeground) {
  TempDir bundle("nsrun-e2e-detach-bundle-");
  std::ofstream(bundle.path() + "/config.json")
      << R"({"ociVersion": "1.0.2", "process": {"args": ["sh", "-c", "echo bundle; exit 4"],
            "env": ["PATH=/bin"], "cwd": "/"}, "root": {"path": ")"
      << busybox_rootfs()
      << R"("}, "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}})";
  auto r = nsrun({"run", "-d", "--name", "b1", "--bundle", bundle.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "b1\n");
  ASSERT_TRUE(eventually([&] { return exit_recorded("b1"); }));
  EXPECT_EQ(state("b1").at("nsrun").at("exitCode").as_int64(), 4);
  EXPECT_EQ(nsrun({"logs", "b1"}).out, "bundle\n");
  EXPECT_EQ(nsrun({"delete", "b1"}).exit_code, 0);

  r = nsrun({"run", "--rm", "--bundle", bundle.path()});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.out, "bundle\n") << "--rm in the foreground: what a foreground run does anyway";
}

// The supervisor goes on whatever happens to the `run -d` that started it: a TERM that comes
// while it sets the container up must not end `run -d` with 143 for a container that runs.
TEST_F(Detach, ATermDuringTheSetupLetsRunDetachedFinish) {
  TempDir bundle("nsrun-e2e-detach-bundle-");
  // The TERM comes while the prestart hook runs, whatever the machine's load: the hook says so.
  const std::string started = bundle.path() + "/hook-started";
  std::ofstream(bundle.path() + "/config.json")
      << R"({"ociVersion": "1.0.2", "process": {"args": ["sleep", "30"],
            "env": ["PATH=/bin"], "cwd": "/"}, "root": {"path": ")"
      << busybox_rootfs() << R"("}, "hooks": {"prestart": [{"path": "/bin/sh", "args": ["sh",
            "-c", "touch )"
      << started << R"(; exec sleep 1"]}]},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}})";
  auto r = sh(shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
                  " run -d --bundle " + shell_quote(bundle.path()) +
                  " t1 </dev/null >/dev/null 2>&1 & p=$!; while [ ! -e " + shell_quote(started) +
                  " ]; do sleep 0.02; done; kill -TERM $p; wait $p; echo $?",
              30);
  EXPECT_EQ(r.out, "0\n");
  EXPECT_EQ(std::string(state("t1").at("status").as_string()), "running");
  EXPECT_EQ(nsrun({"delete", "--force", "t1"}).exit_code, 0);
}

TEST_F(Detach, TheLogKeepsTwoFilesOfAtMostTheCapEndingWithTheLastOutput) {
  // About 2.7 MiB of numbered lines.
  std::string all;
  for (int i = 1; i <= 400000; ++i) all += std::to_string(i) + "\n";
  ASSERT_GT(all.size(), 2u << 20);
  auto r = run_container({"-d", "--network", "none", "--name", "big", "seq", "1", "400000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(eventually([&] { return exit_recorded("big"); }));
  const std::uint64_t cap = 1u << 20;
  // Rotated when the next line no longer fits: full but for less than a line.
  EXPECT_LE(fs::file_size(dir("big") + "/container.log.1"), cap);
  EXPECT_GT(fs::file_size(dir("big") + "/container.log.1"), cap - 8);
  EXPECT_LE(fs::file_size(dir("big") + "/container.log"), cap);
  std::size_t logs = 0;
  for (const auto& entry : fs::directory_iterator(dir("big")))
    logs += entry.path().filename().string().starts_with("container.log");
  EXPECT_EQ(logs, 2u);
  r = nsrun({"logs", "big"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(r.out.size(), cap);
  EXPECT_LE(r.out.size(), 2 * cap);
  EXPECT_TRUE(r.out.ends_with("399999\n400000\n"));
  EXPECT_TRUE(all.ends_with(r.out)) << "the newest output, nothing lost or reordered in it";
  EXPECT_EQ(nsrun({"delete", "big"}).exit_code, 0);

  // --log-max-size sets the cap.
  r = run_container(
      {"-d", "--log-max-size", "4k", "--network", "none", "--name", "small", "seq", "1", "5000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(eventually([&] { return exit_recorded("small"); }));
  EXPECT_LE(fs::file_size(dir("small") + "/container.log.1"), 4096u);
  EXPECT_GT(fs::file_size(dir("small") + "/container.log.1"), 4096u - 6);
  EXPECT_LE(fs::file_size(dir("small") + "/container.log"), 4096u);
  r = nsrun({"logs", "small"});
  EXPECT_TRUE(r.out.ends_with("4999\n5000\n")) << r.out.substr(r.out.size() - 20);
  EXPECT_EQ(nsrun({"delete", "small"}).exit_code, 0);
}

TEST_F(Detach, TheSupervisorIsNobodysChildHasNoTerminalAndTheCallerReturnsAtOnce) {
  auto r = run_container({"-d", "--network", "none", "--name", "sup", "sleep", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = state("sup");
  EXPECT_EQ(s.at("status").as_string(), "running") << "the caller returned; the workload runs";
  pid_t container = static_cast<pid_t>(s.at("pid").as_int64());
  pid_t supervisor = parent_of(container);
  ASSERT_GT(supervisor, 1);
  EXPECT_EQ(read("/proc/" + std::to_string(supervisor) + "/comm"), "nsrun\n");
  // Made by a child of the caller that started a session and exited at once: the supervisor is
  // an orphan the test adopted (as the subreaper), in that session, which it does not lead.
  EXPECT_EQ(parent_of(supervisor), ::getpid()) << "not the caller's child: an orphan";
  auto fields = stat_fields(supervisor);
  ASSERT_GT(fields.size(), 4u);
  pid_t session = std::stoi(fields[3]);
  EXPECT_NE(session, ::getsid(0)) << "a session of its own";
  EXPECT_NE(session, supervisor) << "not its leader: it can never get a controlling terminal";
  EXPECT_FALSE(fs::exists("/proc/" + std::to_string(session))) << "whose leader exited";
  EXPECT_EQ(fields[4], "0") << "no controlling terminal";
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(supervisor) + "/fd/0"), "/dev/null");
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(container) + "/fd/0"), "/dev/null")
      << "nor does the workload read the caller's stdin";

  r = nsrun({"delete", "sup"});
  EXPECT_EQ(r.exit_code, 125) << "running: delete needs --force";
  r = nsrun({"delete", "--force", "sup"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir("sup")));
}

TEST_F(Detach, ASetupFailureReturnsTheForegroundCodeAndLeavesNothing) {
  auto r = run_container({"-d", "--network", "none", "no-such-command"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "nsrun: exec: \"no-such-command\": command not found in the container (executable file "
            "not found in $PATH)\n");
  r = run_container({"-d", "--network", "none", "--memory", "lots", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("--memory"), std::string::npos) << r.err;
  // No container's directory: the first run got as far as the stages' prepare, where the
  // security stage keeps its compiled seccomp filter for later runs (_seccomp, nsrun's own).
  for (const auto& entry : fs::directory_iterator(state_->path()))
    EXPECT_EQ(entry.path().filename().string().front(), '_') << entry.path() << " left behind";
  EXPECT_TRUE(all_adopted_processes_ended()) << "the supervisor of a failed start is gone";

  ASSERT_EQ(run_container({"-d", "--network", "none", "--name", "twice", "sleep", "30"}).exit_code,
            0);
  r = run_container({"-d", "--network", "none", "--name", "twice", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("a container named \"twice\" already exists"), std::string::npos) << r.err;
  EXPECT_EQ(state("twice").at("status").as_string(), "running") << "the first is untouched";
}

// --init: PID 1 is nsrun-init, the workload its child.
TEST_F(Detach, InitIsPid1AndPassesTheExitCodeThrough) {
  auto r = run_container({"--init", "--network", "none", "sh", "-c",
                          "tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$; exit 5"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.out,
            "/sbin/nsrun-init -- sh -c tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$; exit "
            "5 \n2\n");
  r = run_container({"--init", "--network", "none", "sh", "-c", "kill -9 $$"});
  EXPECT_EQ(r.exit_code, 137) << "128+N for signal N, as without --init";
  r = run_container({"--init", "--network", "none", "no-such-command"});
  EXPECT_EQ(r.exit_code, 127) << r.err;
}

TEST_F(Detach, InitReapsOrphans) {
  // The subshell's sleep is orphaned and adopted by PID 1; once it ended, only a PID 1 that
  // reaps leaves no zombie of it (the shell, PID 2, cannot reap what is not its child). The
  // shell waits up to 5 s for it to be gone, then reports its state (Z: a zombie).
  auto r = run_container(
      {"--init", "--network", "none", "sh", "-c",
       "(sleep 0.5 & echo $! > /tmp/orphan); pid=$(cat /tmp/orphan); grep PPid /proc/$pid/status; "
       "i=0; while [ -e /proc/$pid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; "
       "if [ -e /proc/$pid ]; then grep State /proc/$pid/status; else echo reaped; fi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "PPid:\t1\nreaped\n");
}

TEST_F(Detach, InitForwardsSignalsToTheWorkload) {
  // Without --init, `sleep` as PID 1 has no handler and the kernel drops TERM; under the init,
  // TERM reaches it and ends it: 128+15.
  auto r = run_container({"-d", "--init", "--network", "none", "--name", "term", "sleep", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The init blocks the signals it forwards before it starts the workload: once the workload
  // runs, none is lost.
  ASSERT_TRUE(eventually([&] {
    auto ps = nsrun({"ps", "--format", "json", "term"});
    return ps.exit_code == 0 && boost::json::parse(ps.out).as_array().size() == 2;
  }));
  r = nsrun({"kill", "term", "TERM"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(eventually([&] { return exit_recorded("term"); }));
  EXPECT_EQ(state("term").at("nsrun").at("exitCode").as_int64(), 128 + SIGTERM);
  EXPECT_EQ(nsrun({"delete", "term"}).exit_code, 0);

  // A foreground nsrun's SIGTERM goes through the init to a workload that traps it.
  TempDir shared("nsrun-e2e-detach-shared-");
  BackgroundProcess foreground(
      {nsrun_binary(), "--root", state_->path(), "run", "--rootfs", busybox_rootfs(), "--init",
       "--network", "none", "-v", shared.path() + ":/shared", "sh", "-c",
       "trap 'exit 7' TERM; touch /shared/ready; while :; do sleep 0.05; done"});
  ASSERT_TRUE(eventually([&] { return fs::exists(shared.path() + "/ready"); }));
  ::kill(foreground.pid(), SIGTERM);
  EXPECT_EQ(foreground.wait(), 7) << "the workload's TERM trap ran";
}

TEST_F(Detach, LogsOfAContainerNotStartedDetachedSaySo) {
  TempDir shared("nsrun-e2e-detach-shared-");
  BackgroundProcess foreground({nsrun_binary(), "--root", state_->path(), "run", "--rootfs",
                                busybox_rootfs(), "--network", "none", "--name", "fg", "-v",
                                shared.path() + ":/shared", "sh", "-c",
                                "touch /shared/ready; exec sleep 30"});
  ASSERT_TRUE(eventually([&] { return fs::exists(shared.path() + "/ready"); }));
  auto r = nsrun({"logs", "fg"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: logs: container \"fg\" has no log: it was not started with nsrun run -d, so "
            "its output went to whoever started it\n");
  EXPECT_EQ(nsrun({"kill", "fg", "KILL"}).exit_code, 0);
  EXPECT_EQ(foreground.wait(), 137);
}

TEST_F(Detach, LogsFollowUntilTheContainerStops) {
  TempDir shared("nsrun-e2e-detach-shared-");
  auto r = run_container({"-d", "--network", "none", "--name", "fol", "-v",
                          shared.path() + ":/shared", "sh", "-c",
                          "echo one; while [ ! -e /shared/go ]; do sleep 0.05; done; echo two"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string follow_out = shared.path() + "/follow.out";
  BackgroundProcess follower({"/bin/sh", "-c",
                              "exec " + shell_quote(nsrun_binary()) + " --root " +
                                  shell_quote(state_->path()) + " logs -f fol > " +
                                  shell_quote(follow_out)});
  ASSERT_TRUE(eventually([&] { return read(follow_out) == "one\n"; })) << read(follow_out);
  std::ofstream(shared.path() + "/go") << "";
  EXPECT_EQ(follower.wait(), 0) << "it ends when the container stops";
  EXPECT_EQ(read(follow_out), "one\ntwo\n");
  EXPECT_EQ(nsrun({"delete", "fol"}).exit_code, 0);
}

struct BadInput {
  std::string name;
  std::vector<std::string> args;  // after `nsrun --root R run --rootfs ROOTFS`
  std::string expected_error;     // a part of the one line
};

// Shown in test names and failures instead of the object's bytes.
void PrintTo(const BadInput& input, std::ostream* out) {
  *out << input.name;
}

class DetachBadInput : public Detach, public ::testing::WithParamInterface<BadInput> {};

TEST_P(DetachBadInput, OneLineExit125NothingCreated) {
  auto r = run_container(GetParam().args);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(GetParam().expected_error), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(state_->path())) << "nothing created";
}

INSTANTIATE_TEST_SUITE_P(
    Run, DetachBadInput,
    ::testing::Values(
        BadInput{"DetachInteractive",
                 {"-d", "-i", "--network", "none", "sh"},
                 "-d detaches it and nsrun has no attach (drop -i, or run a command in the "
                 "container with nsrun exec ID CMD)"},
        BadInput{"DetachTty",
                 {"-d", "-t", "--network", "none", "sh"},
                 "-d detaches it and nsrun has no attach (drop -t, or open one later with nsrun "
                 "exec -t ID sh)"},
        BadInput{"LogSizeWithoutDetach",
                 {"--log-max-size", "1m", "--network", "none", "true"},
                 "--log-max-size applies to -d"},
        BadInput{"BadLogSize",
                 {"-d", "--log-max-size", "huge", "--network", "none", "true"},
                 "--log-max-size huge: not a size"}),
    [](const auto& info) { return info.param.name; });

TEST_F(Detach, InteractiveInTheForegroundKeepsStdin) {
  auto r =
      nsrun_run({"-i", "--network", "none", "cat"}, state_->path(), "typed\n", 30, work_->path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "typed\n");
}

TEST_F(Detach, LogsOfAnUnknownContainer) {
  auto r = nsrun({"logs", "nothere"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: logs: container \"nothere\" does not exist\n");
}

}  // namespace
