// The OCI lifecycle across nsrun processes, as engines drive it: create, start, state, kill,
// delete, list, ps, and the bad input each of them refuses before anything exists.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "e2e.hpp"

namespace fs = std::filesystem;
using namespace nsrun::test;

namespace {

class Lifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    // Container processes outlive the nsrun create that made them; as an engine's shim does,
    // the test adopts them, so that it can reap them and see that none is left.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    state_ = std::make_unique<TempDir>("nsrun-e2e-oci-");
    bundle_ = std::make_unique<TempDir>("nsrun-e2e-bundle-");
    write_bundle({"sh", "-c", "echo started; exec sleep 30"});
  }
  void TearDown() override {
    // Whatever a failed test left: force-delete every container, then check nothing remains.
    auto left = delete_every_container(state_->path());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
    reap_adopted();
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a container process is still alive";
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  static void reap_adopted() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  void write_bundle(const std::vector<std::string>& args, const std::string& extra = "") {
    boost::json::array argv(args.begin(), args.end());
    std::ofstream(bundle_->path() + "/config.json") << R"({"ociVersion": "1.0.2",
              "process": {"args": )" << boost::json::serialize(argv)
                                                    << R"(, "env": ["PATH=/bin"], "cwd": "/"},
              "root": {"path": ")" << busybox_rootfs()
                                                    << R"("}, "hostname": "oci",
              "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],)"
                                                    << extra << R"(
              "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                       {"type": "ipc"}, {"type": "network"}]}})";
  }

  CommandResult nsrun(const std::vector<std::string>& args) {
    std::vector<std::string> argv{nsrun_binary(), "--root", state_->path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 30);
  }

  // create, with the container's stdio in files as an engine's pipes would be (the process
  // keeps them: a pipe to this test would stay open as long as the container lives).
  CommandResult create(const std::string& id, const std::string& extra_flags = "") {
    std::string line = shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
                       " create --bundle " + shell_quote(bundle_->path()) + " --pid-file " +
                       shell_quote(bundle_->path() + "/pid") + " " + extra_flags + " " +
                       shell_quote(id) + " </dev/null >" +
                       shell_quote(bundle_->path() + "/stdout") + " 2>" +
                       shell_quote(bundle_->path() + "/stderr");
    auto r = sh(line, 30);
    r.err = read(bundle_->path() + "/stderr");
    return r;
  }

  std::string read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  boost::json::object state(const std::string& id) {
    auto r = nsrun({"state", id});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto value = boost::json::parse(r.out);
    return value.as_object();
  }

  std::string status(const std::string& id) {
    return std::string(state(id).at("status").as_string());
  }

  // Waits for a status, reaping what the test adopted (a killed process stays a zombie of its
  // reaper, which an engine's shim reaps at once).
  bool wait_for_status(const std::string& id, const std::string& wanted) {
    for (int i = 0; i < 500; ++i) {
      reap_adopted();
      if (status(id) == wanted) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::unique_ptr<TempDir> state_, bundle_;
};

TEST_F(Lifecycle, CreateStartStateKillDelete) {
  auto r = create("c1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "nothing of nsrun's own on the container's stderr";
  std::string pid_text = read(bundle_->path() + "/pid");
  ASSERT_FALSE(pid_text.empty());
  pid_t pid = std::stoi(pid_text);
  EXPECT_EQ(std::to_string(pid), pid_text) << "the pid file holds the bare pid";

  auto created = state("c1");
  EXPECT_EQ(created.at("status").as_string(), "created");
  EXPECT_EQ(created.at("id").as_string(), "c1");
  EXPECT_EQ(created.at("pid").as_int64(), pid);
  EXPECT_EQ(created.at("bundle").as_string(), bundle_->path());
  EXPECT_EQ(created.at("ociVersion").as_string(), "1.0.2");
  EXPECT_EQ(::kill(pid, 0), 0) << "the process waits";
  EXPECT_EQ(read(bundle_->path() + "/stdout"), "") << "the workload has not run yet";

  r = nsrun({"start", "c1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(status("c1"), "running");
  for (int i = 0; i < 200 && read(bundle_->path() + "/stdout").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(read(bundle_->path() + "/stdout"), "started\n") << "the workload's stdout is create's";

  r = nsrun({"ps", "--format", "json", "c1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[" + pid_text + "]\n");

  r = nsrun({"start", "c1"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: start: container \"c1\" is running, not created (only a created container "
            "can be started)\n");
  r = nsrun({"delete", "c1"});
  EXPECT_EQ(r.exit_code, 125) << "a running container is not deleted without --force";
  EXPECT_EQ(status("c1"), "running") << "and the refusal changed nothing";

  // The workload is PID 1 of its pid namespace, which the kernel shields from signals it has
  // no handler for (SIGKILL excepted); TermReachesAWorkloadThatHandlesIt sends TERM.
  r = nsrun({"kill", "c1", "KILL"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(wait_for_status("c1", "stopped"));
  EXPECT_EQ(state("c1").at("pid").as_int64(), 0);
  r = nsrun({"kill", "c1", "9"});
  EXPECT_EQ(r.exit_code, 125) << "a stopped container cannot be signalled";
  EXPECT_EQ(r.err, "nsrun: kill: container \"c1\" is not running\n");

  r = nsrun({"delete", "c1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(state_->path() + "/c1"));
  r = nsrun({"state", "c1"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(nsrun({"delete", "--force", "c1"}).exit_code, 0) << "--force: gone is success";
  EXPECT_EQ(nsrun({"delete", "c1"}).exit_code, 125);
}

TEST_F(Lifecycle, TermReachesAWorkloadThatHandlesIt) {
  write_bundle({"sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo started; sleep 30 & wait"});
  ASSERT_EQ(create("t1").exit_code, 0);
  ASSERT_EQ(nsrun({"start", "t1"}).exit_code, 0);
  for (int i = 0; i < 200 && read(bundle_->path() + "/stdout").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto r = nsrun({"kill", "t1"});  // TERM is the default, as runc's
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(wait_for_status("t1", "stopped"));
  EXPECT_EQ(read(bundle_->path() + "/stdout"), "started\ngot TERM\n");
  EXPECT_EQ(nsrun({"delete", "t1"}).exit_code, 0);
}

TEST_F(Lifecycle, PreserveFdsPassesDescriptorsToTheWorkload) {
  write_bundle({"sh", "-c", "echo via-fd3 >&3; echo via-fd4 >&4; exec sleep 30"});
  std::string three = bundle_->path() + "/fd3", four = bundle_->path() + "/fd4";
  auto r = create("p1", "--preserve-fds 2 3>" + shell_quote(three) + " 4>" + shell_quote(four));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(nsrun({"start", "p1"}).exit_code, 0);
  for (int i = 0; i < 200 && read(four).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(read(three), "via-fd3\n");
  EXPECT_EQ(read(four), "via-fd4\n");

  std::string five = bundle_->path() + "/exec-fd3";
  auto e = sh(shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
                  " exec --preserve-fds 1 p1 sh -c 'echo exec-fd3 >&3; test -e /proc/self/fd/4 "
                  "|| echo no-fd4' 3>" +
                  shell_quote(five),
              30);
  EXPECT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(e.out, "no-fd4\n") << "only what was asked for is passed";
  EXPECT_EQ(read(five), "exec-fd3\n");

  r = create("p2", "--preserve-fds 2 3>" + shell_quote(three));
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: exec: --preserve-fds 2: descriptor 4 is not open (pass it, or a smaller N)\n");
  EXPECT_FALSE(fs::exists(state_->path() + "/p2"));
  EXPECT_EQ(nsrun({"delete", "--force", "p1"}).exit_code, 0);
}

TEST_F(Lifecycle, CreateLeavesTheNetworkToTheEngine) {
  // As runc: a new network namespace gets its loopback, and the host nothing (no bridge, veth or
  // NAT rule); an engine's CNI or netavark sets the network up.
  write_bundle({"sh", "-c", "cat /proc/net/dev; exec sleep 30"});
  ASSERT_EQ(create("n1").exit_code, 0);
  ASSERT_EQ(nsrun({"start", "n1"}).exit_code, 0);
  for (int i = 0; i < 200 && read(bundle_->path() + "/stdout").find("lo:") == std::string::npos;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string devices = read(bundle_->path() + "/stdout");
  EXPECT_NE(devices.find("lo:"), std::string::npos) << devices;
  EXPECT_EQ(devices.find("eth0"), std::string::npos) << devices;
  auto links = sh("ip -o link show");
  EXPECT_EQ(links.out.find("nsrun"), std::string::npos) << links.out;
  auto rules = sh("iptables-save 2>/dev/null; iptables-legacy-save 2>/dev/null");
  EXPECT_EQ(rules.out.find("nsrun:n1"), std::string::npos) << rules.out;
  EXPECT_EQ(nsrun({"delete", "--force", "n1"}).exit_code, 0);
}

TEST_F(Lifecycle, ABundleWithoutAMountNamespaceIsRefusedBeforeAnythingIsMounted) {
  // Without a mount namespace of its own the storage stage would pivot the caller's: refused in
  // validate, for create and for run alike.
  for (const char* namespaces : {"[]", R"([{"type": "pid"}])"}) {
    std::ofstream(bundle_->path() + "/config.json")
        << R"({"ociVersion": "1.0.2", "process": {"args": ["true"], "env": ["PATH=/bin"],
              "cwd": "/"}, "root": {"path": ")"
        << busybox_rootfs() << R"("}, "linux": {"namespaces": )" << namespaces << "}}";
    auto mounts_before = mounts_containing(busybox_rootfs());
    auto r = create("m1");
    EXPECT_EQ(r.exit_code, 125) << namespaces;
    EXPECT_EQ(r.err,
              "nsrun: storage: linux.namespaces has no mount namespace: the storage stage mounts "
              "the rootfs and switches root only in a mount namespace of its own (add {\"type\": "
              "\"mount\"})\n");
    EXPECT_FALSE(fs::exists(state_->path() + "/m1"));
    r = nsrun({"run", "--bundle", bundle_->path()});
    EXPECT_EQ(r.exit_code, 125) << r.err;
    EXPECT_EQ(mounts_containing(busybox_rootfs()), mounts_before);
    EXPECT_TRUE(fs::exists(nsrun_binary())) << "this process's / (shared with nsrun) unchanged";
  }
}

TEST_F(Lifecycle, ANulByteInTheCommandIsRefusedNotTruncated) {
  // "tr\u0000ue" once ran `tr`.
  write_bundle({"true"});
  std::string config = read(bundle_->path() + "/config.json");
  config.replace(config.find("\"true\""), 6, R"("tr\u0000ue")");
  std::ofstream(bundle_->path() + "/config.json") << config;
  auto r = create("z1");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: exec: process.args[0] contains a NUL byte (\\u0000), which a command line "
            "cannot hold (remove it)\n");
  EXPECT_FALSE(fs::exists(state_->path() + "/z1"));
}

TEST_F(Lifecycle, CreatedContainerIsDeletedWithoutStarting) {
  ASSERT_EQ(create("c2").exit_code, 0);
  pid_t pid = std::stoi(read(bundle_->path() + "/pid"));
  auto r = nsrun({"delete", "c2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  reap_adopted();
  EXPECT_NE(::kill(pid, 0), 0) << "its process is gone";
  EXPECT_EQ(read(bundle_->path() + "/stdout"), "") << "the workload never ran";
}

// The created container's process is its PID namespace's init, which ignores what it has no
// handler for: it ends on TERM as runc's does, and `start` then finds it stopped.
TEST_F(Lifecycle, TermEndsACreatedContainer) {
  ASSERT_EQ(create("ct").exit_code, 0);
  auto r = nsrun({"kill", "ct", "TERM"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  reap_adopted();
  EXPECT_TRUE(wait_for_status("ct", "stopped"));
  EXPECT_NE(nsrun({"start", "ct"}).exit_code, 0);
  EXPECT_EQ(read(bundle_->path() + "/stdout"), "") << "the workload never ran";
  EXPECT_EQ(nsrun({"delete", "ct"}).exit_code, 0);
}

// A TERM that comes while `create` sets the container up does not end it halfway: it finishes,
// says so (0) and the container is created, as runc's create does. Before, nsrun ended with 143
// once it unblocked the TERM, and the container it said had failed was there.
TEST_F(Lifecycle, ATermDuringCreateLetsItFinish) {
  // The TERM comes while the prestart hook runs, whatever the machine's load: the hook says so.
  const std::string started = bundle_->path() + "/hook-started";
  write_bundle({"sh", "-c", "exec sleep 30"},
               R"("hooks": {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "touch )" +
                   started + R"(; exec sleep 1"]}]},)");
  auto r =
      sh(shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
             " create --bundle " + shell_quote(bundle_->path()) + " ct </dev/null >/dev/null 2>" +
             shell_quote(bundle_->path() + "/stderr") + " & p=$!; while [ ! -e " +
             shell_quote(started) + " ]; do sleep 0.02; done; kill -TERM $p; wait $p; echo $?",
         30);
  EXPECT_EQ(r.out, "0\n") << read(bundle_->path() + "/stderr");
  EXPECT_EQ(status("ct"), "created");
  EXPECT_EQ(nsrun({"delete", "--force", "ct"}).exit_code, 0);
}

// A created container whose record was damaged cannot be found by `delete`, which removes its
// directory: its waiting process sees the directory go and ends, rather than wait for ever.
TEST_F(Lifecycle, ACreatedContainersProcessEndsWhenItsStateDirectoryIsRemoved) {
  ASSERT_EQ(create("cj").exit_code, 0);
  pid_t pid = std::stoi(read(bundle_->path() + "/pid"));
  std::ofstream(state_->path() + "/cj/state.json") << "{garbage";
  EXPECT_EQ(nsrun({"delete", "--force", "cj"}).exit_code, 0);
  bool gone = false;
  for (int i = 0; i < 300 && !gone; ++i) {
    reap_adopted();
    gone = ::kill(pid, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << "the created container's process is still waiting";
}

// As runc: signal 0 asks whether the process is there; kill --all of a stopped container has
// nothing left to signal and succeeds.
TEST_F(Lifecycle, KillZeroProbesAndKillAllOfAStoppedContainerSucceeds) {
  write_bundle({"true"});
  ASSERT_EQ(create("kz").exit_code, 0);
  auto r = nsrun({"kill", "kz", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(nsrun({"start", "kz"}).exit_code, 0);
  reap_adopted();
  ASSERT_TRUE(wait_for_status("kz", "stopped"));
  r = nsrun({"kill", "kz", "0"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: kill: container \"kz\" is not running\n");
  r = nsrun({"kill", "--all", "kz", "KILL"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nsrun({"delete", "kz"}).exit_code, 0);
}

// A pid file that is a device is written, not replaced: `--pid-file /dev/null` would have
// replaced the host's /dev/null. A null device of the test's own stands in.
TEST_F(Lifecycle, APidFileThatIsADeviceIsWrittenNotReplaced) {
  const std::string null_device = bundle_->path() + "/null";
  ASSERT_EQ(::mknod(null_device.c_str(), S_IFCHR | 0666, ::makedev(1, 3)), 0) << errno;
  // Its stdio in files, as create() has it: the container process keeps what it is given.
  auto r = sh(shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
                  " create --bundle " + shell_quote(bundle_->path()) + " --pid-file " +
                  shell_quote(null_device) + " c3 </dev/null >/dev/null 2>" +
                  shell_quote(bundle_->path() + "/stderr"),
              30);
  EXPECT_EQ(r.exit_code, 0) << read(bundle_->path() + "/stderr");
  struct stat st {};
  ASSERT_EQ(::lstat(null_device.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(nsrun({"delete", "--force", "c3"}).exit_code, 0);
}

TEST_F(Lifecycle, ListAndKillAllAndPsOfSeveralProcesses) {
  write_bundle({"sh", "-c", "sleep 30 & sleep 30 & wait"});
  ASSERT_EQ(create("a1").exit_code, 0);
  ASSERT_EQ(nsrun({"start", "a1"}).exit_code, 0);
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    auto r = nsrun({"ps", "--format", "json", "a1"});
    if (boost::json::parse(r.out).as_array().size() == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto r = nsrun({"ps", "--format", "json", "a1"});
  EXPECT_EQ(boost::json::parse(r.out).as_array().size(), 3u) << r.out;
  r = nsrun({"list", "-q"});
  EXPECT_EQ(r.out, "a1\n");
  r = nsrun({"list", "--format", "json"});
  auto listed = boost::json::parse(r.out).as_array();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].at("status").as_string(), "running");
  r = nsrun({"list"});
  EXPECT_NE(r.out.find("a1"), std::string::npos);
  EXPECT_NE(r.out.find("running"), std::string::npos);

  // The shell ignores nothing, but its children must go too: --all reaches each of them.
  r = nsrun({"kill", "--all", "a1", "KILL"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(wait_for_status("a1", "stopped"));
  EXPECT_EQ(nsrun({"delete", "a1"}).exit_code, 0);
}

// Looked up at create, as runc does: podman hears of it from `create`, and answers 127 for the
// words runc uses ("no such file or directory", "executable file not found in $PATH").
TEST_F(Lifecycle, CreateReportsAWorkloadThatCannotBeFound) {
  for (const auto& [command, words] :
       {std::pair<std::string, std::string>{"/no/such/program", "(no such file or directory)"},
        {"no-such-program", "(executable file not found in $PATH)"}}) {
    write_bundle({command});
    auto r = create("nf");
    EXPECT_EQ(r.exit_code, 127) << r.err;
    EXPECT_EQ(r.err, "nsrun: exec: \"" + command + "\": command not found in the container " +
                         words + "\n");
    EXPECT_NE(nsrun({"state", "nf"}).exit_code, 0) << "a failed create left its container";
  }
}

TEST_F(Lifecycle, ErrorsGoToTheLogFileAsJson) {
  std::string log = bundle_->path() + "/log.json";
  auto r = nsrun({"--log", log, "--log-format", "json", "start", "nothere"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: container \"nothere\" does not exist\n") << "stderr too, as runc";
  auto record = boost::json::parse(read(log)).as_object();
  EXPECT_EQ(record.at("level").as_string(), "error");
  EXPECT_EQ(record.at("msg").as_string(), "container \"nothere\" does not exist");
  EXPECT_TRUE(record.at("time").as_string().ends_with("Z"));
}

TEST_F(Lifecycle, OfTenConcurrentCreatesOfOneIdExactlyOneSucceeds) {
  std::vector<std::unique_ptr<BackgroundProcess>> creates;
  for (int i = 0; i < 10; ++i)
    creates.push_back(std::make_unique<BackgroundProcess>(std::vector<std::string>{
        "/bin/sh", "-c",
        shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
            " create --bundle " + shell_quote(bundle_->path()) +
            " same </dev/null >/dev/null 2>&1"}));
  int succeeded = 0;
  for (auto& process : creates) succeeded += process->wait() == 0;
  EXPECT_EQ(succeeded, 1);
  EXPECT_EQ(status("same"), "created");
  EXPECT_EQ(nsrun({"delete", "same"}).exit_code, 0);
}

TEST_F(Lifecycle, KilledCreateThenDeleteForceLeavesNothing) {
  // nsrun create killed at different moments of its work; delete --force removes whatever it
  // left, including a container process waiting for a start that will never come.
  for (int delay_ms : {0, 2, 5, 10, 20, 40, 80}) {
    std::string id = "k" + std::to_string(delay_ms);
    BackgroundProcess creator({"/bin/sh", "-c",
                               "exec " + shell_quote(nsrun_binary()) + " --root " +
                                   shell_quote(state_->path()) + " create --bundle " +
                                   shell_quote(bundle_->path()) + " " + id +
                                   " </dev/null >/dev/null 2>&1"});
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(creator.pid(), SIGKILL);
    creator.wait();
    auto r = nsrun({"delete", "--force", id});
    EXPECT_EQ(r.exit_code, 0) << id << ": " << r.err;
    EXPECT_FALSE(fs::exists(state_->path() + "/" + id)) << id;
    // Killed before its directory got its id (between mkdtemp and rename), create leaves an
    // unnamed ".creating-" directory that no id names: gc is what removes those.
    EXPECT_EQ(nsrun({"gc"}).exit_code, 0);
    reap_adopted();
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << id << ": a process outlived delete";
  }
}

// `--root` may name a directory that others use too: what is not nsrun's there is no container.
// gc passes it by, delete refuses it (--force warns and succeeds, as for a missing one), and
// neither removes it. gc had taken every such directory for a crashed container and removed it
// with all its files.
TEST_F(Lifecycle, GcAndDeleteLeaveWhatIsNotNsrunsUnderTheRootAlone) {
  const std::string foreign = state_->path() + "/data";
  const std::string runc_like = state_->path() + "/runc-container";
  fs::create_directories(foreign + "/sub");
  std::ofstream(foreign + "/sub/notes.txt") << "not nsrun's";
  fs::create_directories(runc_like);
  std::ofstream(runc_like + "/state.json") << R"({"id": "runc-container", "init_process_pid": 1})";
  auto r = nsrun({"gc"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(nsrun({"list", "--quiet"}).out, "");
  r = nsrun({"delete", "data"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(
      r.err.find("nsrun: delete: container \"data\" does not exist (" + foreign +
                 " holds files nsrun never keeps there; it is not nsrun's, and left as it is)"),
      std::string::npos)
      << r.err;
  r = nsrun({"delete", "--force", "runc-container"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: delete: container \"runc-container\" does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(read(foreign + "/sub/notes.txt"), "not nsrun's");
  EXPECT_TRUE(fs::exists(runc_like + "/state.json"));
  fs::remove_all(foreign);
  fs::remove_all(runc_like);
}

struct BadInput {
  std::string name;
  std::vector<std::string> args;  // after `nsrun --root R`; BUNDLE is replaced
  std::string expected_error;     // a part of the one line
};

class LifecycleBadInput : public Lifecycle, public ::testing::WithParamInterface<BadInput> {};

TEST_P(LifecycleBadInput, OneLineExit125NothingCreated) {
  std::ofstream(bundle_->path() + "/broken.json")
      << "{\"ociVersion\": \"1.0.2\",\n  \"process\": }";
  TempDir broken("nsrun-e2e-broken-");
  std::ofstream(broken.path() + "/config.json") << "{\"ociVersion\": \"1.0.2\",\n  \"process\": }";
  TempDir future("nsrun-e2e-future-");
  std::ofstream(future.path() + "/config.json")
      << R"({"ociVersion": "2.0.0", "process": {"args": ["true"]}, "root": {"path": "/"}})";
  std::vector<std::string> args;
  for (auto arg : GetParam().args) {
    if (arg == "BUNDLE") arg = bundle_->path();
    if (arg == "BROKEN") arg = broken.path();
    if (arg == "FUTURE") arg = future.path();
    args.push_back(arg);
  }
  auto r = nsrun(args);
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(GetParam().expected_error), std::string::npos) << r.err;
  for (const auto& entry : fs::directory_iterator(state_->path()))
    ADD_FAILURE() << "created: " << entry.path();
}

INSTANTIATE_TEST_SUITE_P(
    Oci, LifecycleBadInput,
    ::testing::Values(
        BadInput{"EmptyId", {"create", "--bundle", "BUNDLE", ""}, "container id \"\" is invalid"},
        BadInput{"DotId", {"create", "--bundle", "BUNDLE", "."}, "is invalid"},
        BadInput{"DotDotId", {"create", "--bundle", "BUNDLE", ".."}, "is invalid"},
        BadInput{"SlashId", {"create", "--bundle", "BUNDLE", "a/b"}, "is invalid"},
        BadInput{"SpaceId", {"create", "--bundle", "BUNDLE", "a b"}, "is invalid"},
        BadInput{"ControlId", {"create", "--bundle", "BUNDLE", "a\tb"}, "is invalid"},
        BadInput{"LongId", {"create", "--bundle", "BUNDLE", std::string(1025, 'a')}, "is invalid"},
        BadInput{"NoConfig", {"create", "--bundle", "/nonexistent", "x"}, "has no config.json"},
        BadInput{"BadJson", {"create", "--bundle", "BROKEN", "x"}, "line 2, column"},
        BadInput{"FutureVersion", {"create", "--bundle", "FUTURE", "x"}, "ociVersion \"2.0.0\""},
        BadInput{"PidFileDir",
                 {"create", "--bundle", "BUNDLE", "--pid-file", "/nonexistent/pid", "x"},
                 "--pid-file /nonexistent/pid"},
        BadInput{"ConsoleSocket",
                 {"create", "--bundle", "BUNDLE", "--console-socket", "/nonexistent.sock", "x"},
                 "--console-socket /nonexistent.sock"},
        BadInput{"SystemdCgroup",
                 {"--systemd-cgroup", "create", "--bundle", "BUNDLE", "x"},
                 "--systemd-cgroup"},
        BadInput{"UnknownSignal", {"kill", "x", "SIGNOPE"}, "unknown signal \"SIGNOPE\""},
        BadInput{"StartUnknown", {"start", "x"}, "container \"x\" does not exist"},
        BadInput{"KillUnknown", {"kill", "x"}, "container \"x\" does not exist"},
        BadInput{"StateUnknown", {"state", "x"}, "does not exist"}),
    [](const auto& info) { return info.param.name; });

}  // namespace

namespace {

// delete --force finishes the cleanup whichever file of the state directory is missing or
// damaged, removing what it can still identify: the container's process, its cgroups (a pids
// limit makes the cgroups stage create them) and the directory. Both kinds of container: a
// created one (no nsrun holds it) and a detached run's (its supervisor holds it).
TEST_F(Lifecycle, DeleteForceFinishesWhateverFileOfTheStateIsDamaged) {
  write_bundle({"sleep", "30"}, R"("annotations": {},)");
  {
    auto config = boost::json::parse(read(bundle_->path() + "/config.json")).as_object();
    config["linux"].as_object()["resources"] = {{"pids", {{"limit", 64}}}};
    std::ofstream(bundle_->path() + "/config.json") << boost::json::serialize(config);
  }
  auto cgroup_dirs = [&](const std::string& id) {
    std::vector<std::string> dirs;
    std::istringstream journal(read(state_->path() + "/" + id + "/journal.jsonl"));
    std::string line;
    while (std::getline(journal, line)) {
      auto record = boost::json::parse(line).as_object();
      if (record.at("type") != "cgroups") continue;
      for (const auto& c : record.at("data").at("cgroups").as_array())
        dirs.emplace_back(c.at("dir").as_string());
    }
    return dirs;
  };
  int n = 0;
  for (const char* file :
       {"state.json", "pipeline.json", "plugins.json", "config.json", "journal.jsonl"}) {
    for (const char* damage : {"missing", "garbage", "empty"}) {
      for (bool detached_run : {false, true}) {
        std::string id = "damaged" + std::to_string(n++);
        SCOPED_TRACE(std::string(file) + " " + damage + (detached_run ? " (run -d)" : " (create)"));
        if (detached_run) {
          auto r =
              run({nsrun_binary(), "--root", state_->path(), "run", "-d", "--name", id, "--network",
                   "none", "--rootfs", busybox_rootfs(), "--pids-limit", "64", "sleep", "30"});
          ASSERT_EQ(r.exit_code, 0) << r.err;
        } else {
          ASSERT_EQ(create(id).exit_code, 0) << read(bundle_->path() + "/stderr");
        }
        std::string pid_text = std::to_string(state(id).at("pid").as_int64());
        auto dirs = cgroup_dirs(id);
        ASSERT_FALSE(dirs.empty());
        std::string path = state_->path() + "/" + id + "/" + file;
        if (std::string(damage) == "missing") {
          fs::remove(path);
        } else {
          std::ofstream(path, std::ios::trunc) << (std::string(damage) == "garbage" ? "{\"x" : "");
        }
        auto r = nsrun({"delete", "--force", id});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        for (int i = 0; i < 100 && fs::exists(state_->path() + "/" + id); ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a supervisor's teardown
        reap_adopted();
        EXPECT_FALSE(fs::exists(state_->path() + "/" + id));
        EXPECT_FALSE(fs::exists("/proc/" + pid_text + "/status") &&
                     read("/proc/" + pid_text + "/status").find("State:\tZ") == std::string::npos)
            << "the container's process is still alive";
        for (const auto& dir : dirs) EXPECT_FALSE(fs::exists(dir)) << dir << " left behind";
      }
    }
  }
}

TEST_F(Lifecycle, SpecWritesABundleThatRunsAndFeaturesSaysWhatIsClaimed) {
  TempDir bundle("nsrun-e2e-spec-");
  auto r = nsrun({"spec", "--bundle", bundle.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nsrun({"spec", "--bundle", bundle.path()}).exit_code, 125) << "never overwritten";
  auto config = boost::json::parse(read(bundle.path() + "/config.json")).as_object();
  fs::create_directory_symlink(busybox_rootfs(), bundle.path() + "/rootfs");
  config["process"].as_object()["args"] = {"sh", "-c", "grep CapEff /proc/self/status"};
  std::ofstream(bundle.path() + "/config.json") << boost::json::serialize(config);
  bundle_ = std::make_unique<TempDir>("nsrun-e2e-bundle-");
  fs::remove(bundle_->path() + "/config.json");
  fs::copy(bundle.path() + "/config.json", bundle_->path() + "/config.json");
  fs::create_directory_symlink(busybox_rootfs(), bundle_->path() + "/rootfs");
  ASSERT_EQ(create("sp").exit_code, 0) << read(bundle_->path() + "/stderr");
  ASSERT_EQ(nsrun({"start", "sp"}).exit_code, 0);
  EXPECT_TRUE(wait_for_status("sp", "stopped"));
  // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29).
  EXPECT_EQ(read(bundle_->path() + "/stdout"), "CapEff:\t0000000020000420\n");
  EXPECT_EQ(nsrun({"delete", "sp"}).exit_code, 0);

  r = nsrun({"features"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto features = boost::json::parse(r.out).as_object();
  EXPECT_EQ(features.at("ociVersionMax").as_string(), "1.1.0");
  std::string claims(features.at("annotations").at("nsrun.claims").as_string());
  EXPECT_NE(claims.find("process.capabilities"), std::string::npos) << claims;
  EXPECT_NE(claims.find("linux.seccomp"), std::string::npos) << claims;
  EXPECT_EQ(claims.find("linux.personality"), std::string::npos) << "not implemented, not claimed";
  EXPECT_TRUE(features.at("linux").at("seccomp").at("enabled").as_bool());
}

}  // namespace

namespace {

// A running container with a cgroup of its own (the pids limit makes the cgroups stage create
// one beneath this test's cgroup) and a capability set, for exec and pause.
class RunningContainer : public Lifecycle {
 protected:
  void start(const std::vector<std::string>& args) {
    write_bundle(args);
    auto config = boost::json::parse(read(bundle_->path() + "/config.json")).as_object();
    config["linux"].as_object()["resources"] = {{"pids", {{"limit", 64}}}};
    std::ofstream(bundle_->path() + "/config.json") << boost::json::serialize(config);
    ASSERT_EQ(create(id_).exit_code, 0) << read(bundle_->path() + "/stderr");
    ASSERT_EQ(nsrun({"start", id_}).exit_code, 0);
  }
  // Unique, so that tests run in parallel never share a cgroup (nsrun-<id>).
  const std::string id_ = "r" + std::to_string(::getpid());
  CommandResult exec(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"exec"};
    argv.insert(argv.end(), args.begin(), args.end());
    return nsrun(argv);
  }
};

// A process that joins the container gets the container's seccomp filter (linux.seccomp is the
// container's, in the config.json exec reads).
TEST_F(RunningContainer, ExecGetsTheContainersSeccompFilter) {
  write_bundle({"sh", "-c", "exec sleep 30"});
  auto config = boost::json::parse(read(bundle_->path() + "/config.json")).as_object();
  config["linux"].as_object()["seccomp"] = boost::json::parse(
      R"({"defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                        "errnoRet": 1}]})");
  std::ofstream(bundle_->path() + "/config.json") << boost::json::serialize(config);
  ASSERT_EQ(create(id_).exit_code, 0) << read(bundle_->path() + "/stderr");
  ASSERT_EQ(nsrun({"start", id_}).exit_code, 0);
  auto r = exec({id_, "sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/e || echo refused"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Seccomp:\t2\nrefused\n");
  EXPECT_NE(r.err.find("Operation not permitted"), std::string::npos) << r.err;
}

// As runc, exec reads the user's HOME in the container's /etc/passwd as root, before the process
// becomes the user: a passwd only root may read (0600, bind-mounted over the rootfs's) still
// gives user 1000 its home, where a read as that user gave "/".
TEST_F(RunningContainer, ExecReadsTheHomeAsRootBeforeBecomingTheUser) {
  const std::string passwd = bundle_->path() + "/passwd";
  std::ofstream(passwd) << "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n";
  ASSERT_EQ(::chmod(passwd.c_str(), 0600), 0);
  write_bundle({"sh", "-c", "exec sleep 30"});
  auto config = boost::json::parse(read(bundle_->path() + "/config.json")).as_object();
  config["mounts"].as_array().push_back({{"destination", "/etc/passwd"},
                                         {"type", "bind"},
                                         {"source", passwd},
                                         {"options", {"bind", "ro"}}});
  std::ofstream(bundle_->path() + "/config.json") << boost::json::serialize(config);
  ASSERT_EQ(create(id_).exit_code, 0) << read(bundle_->path() + "/stderr");
  ASSERT_EQ(nsrun({"start", id_}).exit_code, 0);
  auto r = exec({"--user", "1000:1000", id_, "sh", "-c", "echo $HOME; cat /etc/passwd"});
  EXPECT_EQ(r.out, "/home/u\n") << r.err;
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos)
      << "readable by the user: " << r.err;
  r = exec({id_, "sh", "-c", "echo $HOME"});
  EXPECT_EQ(r.out, "/root\n") << r.err;
}

// runc writes exec's pid file with or without --detach.
TEST_F(RunningContainer, ExecWritesItsPidFileInTheForegroundToo) {
  start({"sh", "-c", "exec sleep 30"});
  const std::string pid_file = bundle_->path() + "/exec.pid";
  auto r = exec({"--pid-file", pid_file, id_, "sh", "-c", "echo $$"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(std::stoi(read(pid_file)), 0);
}

// As runc's: each container joins a new session keyring of its own, and create --no-new-keyring
// keeps the caller's (the security stage's flag: create must hand it on, not drop it).
TEST_F(Lifecycle, CreateNoNewKeyringKeepsTheCallersSessionKeyring) {
  // /proc/keys lists every keyring a root process may view: the container's own is found by
  // its name, which holds the (unique) container id.
  auto session_keyrings_of = [&](const std::string& id, const std::string& flags) {
    write_bundle({"sh", "-c", "grep -c '_ses.nsrun." + id + ":' /proc/keys; exit 0"});
    std::filesystem::remove(bundle_->path() + "/stdout");
    auto r = create(id, flags);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nsrun({"start", id}).exit_code, 0);
    EXPECT_TRUE(wait_for_status(id, "stopped"));
    EXPECT_EQ(nsrun({"delete", id}).exit_code, 0);
    return read(bundle_->path() + "/stdout");
  };
  EXPECT_EQ(session_keyrings_of(unique_name("keyring-"), ""), "1\n") << "its own";
  EXPECT_EQ(session_keyrings_of(unique_name("keyring-"), "--no-new-keyring"), "0\n")
      << "the caller's";
}

// exec's --cwd must exist, as in runc (which makes a missing one only for the container's first
// process: run's --workdir and a bundle's process.cwd, see run_test.cpp).
TEST_F(RunningContainer, ExecRefusesAMissingWorkingDirectory) {
  start({"sh", "-c", "exec sleep 30"});
  auto r = exec({"--cwd", "/no-such-dir", id_, "/bin/true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("working directory /no-such-dir is not usable in the container: No such "
                       "file or directory (create it, or give another --cwd)"),
            std::string::npos)
      << r.err;
}

TEST_F(RunningContainer, ExecJoinsEveryNamespaceAndCgroupAndPassesTheExitCode) {
  start({"sh", "-c", "echo started; exec sleep 30"});
  auto r = exec({id_, "hostname"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "oci\n");
  r = exec({id_, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo"});
  EXPECT_EQ(r.out, "sleep 30 \n") << "it sees the container's pid 1: " << r.err;
  for (const char* ns : {"net", "mnt", "pid", "ipc", "uts"}) {
    r = exec({id_, "sh", "-c",
              std::string("readlink /proc/self/ns/") + ns + "; readlink /proc/1/ns/" + ns});
    auto newline = r.out.find('\n');
    ASSERT_NE(newline, std::string::npos) << r.err;
    EXPECT_EQ(r.out.substr(0, newline + 1), r.out.substr(newline + 1)) << ns;
  }
  r = exec({id_, "sh", "-c", "cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup"});
  auto split = r.out.find("---\n");
  ASSERT_NE(split, std::string::npos) << r.err;
  EXPECT_EQ(r.out.substr(0, split), r.out.substr(split + 4)) << "the container's cgroups";
  EXPECT_EQ(exec({id_, "sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(exec({id_, "--", "sh", "-c", "exit 8"}).exit_code, 8) << "-- ends the flags";
  r = exec({"-e", "GREETING=hi", "--cwd", "/tmp", id_, "sh", "-c", "echo $GREETING; pwd"});
  EXPECT_EQ(r.out, "hi\n/tmp\n") << r.err;
  r = exec({id_, "/no/such/program"});
  EXPECT_EQ(r.exit_code, 127) << r.err;
}

TEST_F(RunningContainer, DetachedExecWritesThePidFileAndOutlivesNsrun) {
  start({"sh", "-c", "exec sleep 30"});
  std::string pid_file = bundle_->path() + "/exec.pid";
  // Its stdio in a file, as an engine's pipes: a pipe to this test would stay open as long as
  // the process lives.
  auto r = sh(shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
                  " exec --detach --pid-file " + shell_quote(pid_file) + " " + id_ +
                  " sleep 30 </dev/null >" + shell_quote(bundle_->path() + "/exec.out") + " 2>&1",
              30);
  ASSERT_EQ(r.exit_code, 0) << read(bundle_->path() + "/exec.out");
  pid_t pid = std::stoi(read(pid_file));
  EXPECT_EQ(::kill(pid, 0), 0) << "it runs after nsrun exec returned";
  r = nsrun({"ps", "--format", "json", id_});
  EXPECT_NE(r.out.find(std::to_string(pid)), std::string::npos) << r.out;
  // This test adopted it (as an engine's shim does), so it reaps it: the container's PID 1
  // exits only once every process of its pid namespace has been reaped.
  r = nsrun({"kill", "--all", id_, "KILL"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(::waitpid(pid, nullptr, 0), pid);
}

TEST_F(RunningContainer, ExecIntoAStoppedContainerIsRefused) {
  start({"true"});
  ASSERT_TRUE(wait_for_status(id_, "stopped"));
  auto r = exec({id_, "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: exec: container \"" + id_ + "\" is stopped (exec needs a running container)\n");
}

TEST_F(RunningContainer, UpdateChangesALimitTheContainerSees) {
  start({"sh", "-c", "exec sleep 30"});
  std::string resources = bundle_->path() + "/resources.json";
  std::ofstream(resources) << R"({"pids": {"limit": 32}})";
  auto r = nsrun({"update", "--resources", resources, id_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = exec({id_, "cat", "/sys/fs/cgroup/pids/pids.max"});
  EXPECT_EQ(r.out, "32\n") << r.err;
  std::ofstream(resources) << "{\"pids\": }";
  r = nsrun({"update", "--resources", resources, id_});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("line 1, column"), std::string::npos) << r.err;
  EXPECT_EQ(exec({id_, "cat", "/sys/fs/cgroup/pids/pids.max"}).out, "32\n") << "unchanged";
}

TEST_F(RunningContainer, UpdateFlagsAsRuncTakesThem) {
  start({"sh", "-c", "exec sleep 30"});
  std::string resources = bundle_->path() + "/resources.json";
  std::ofstream(resources) << R"({"pids": {"limit": 32}})";
  // The flags are written over the file's values.
  auto r = nsrun({"update", "--resources", resources, "--pids-limit", "48", id_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(exec({id_, "cat", "/sys/fs/cgroup/pids/pids.max"}).out, "48\n");
  r = nsrun({"update", "--pids-limit", "40", id_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(exec({id_, "cat", "/sys/fs/cgroup/pids/pids.max"}).out, "40\n");

  r = nsrun({"update", "--memory", "lots", id_});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: update: --memory lots is not a size (bytes, or a number with k, m, g or t, "
            "e.g. 512m; -1 for no limit)\n");
  r = nsrun({"update", "--pids-limit", "-5", id_});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: update: --pids-limit -5 must be a whole number from -1 to "
            "9223372036854775807\n");
  r = nsrun({"update", id_});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("--pids-limit 64"), std::string::npos) << r.err;
  EXPECT_EQ(exec({id_, "cat", "/sys/fs/cgroup/pids/pids.max"}).out, "40\n") << "unchanged";
}

// A value the cgroups stage refuses is named as the flag the user typed, not as the config.json
// field the flag filled; a --resources file's field keeps its name.
TEST_F(RunningContainer, UpdateNamesTheFlagOfALimitTheStageRefuses) {
  start({"sh", "-c", "exec sleep 30"});
  auto r = nsrun({"update", "--memory", "1k", id_});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: update: cgroups: --memory 1k is below the minimum of 6 MiB (6291456; use -1 "
            "for no limit)\n");
  r = nsrun({"update", "--cpuset-cpus", "0-x", id_});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err.rfind("nsrun: update: cgroups: --cpuset-cpus 0-x is not a CPU list", 0), 0u)
      << r.err;
  std::string resources = bundle_->path() + "/resources.json";
  std::ofstream(resources) << R"({"memory": {"limit": 1024}})";
  r = nsrun({"update", "--resources", resources, id_});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("linux.resources.memory.limit 1024 is below"), std::string::npos) << r.err;
}

// exec --cap with a name the security stage does not know: the message names --cap.
TEST_F(RunningContainer, ExecNamesTheCapFlagOfAnUnknownCapability) {
  start({"sh", "-c", "exec sleep 30"});
  auto r = exec({"--cap", "CAP_BOGUS", id_, "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: security: --cap: unknown capability \"CAP_BOGUS\" (see capabilities(7))\n");
}

long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

TEST_F(RunningContainer, APausedBusyLoopUsesNoCpuUntilResumed) {
  start({"sh", "-c", "while :; do :; done"});
  pid_t pid = std::stoi(read(bundle_->path() + "/pid"));
  auto r = nsrun({"pause", id_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(status(id_), "paused");
  long before = cpu_ticks(pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(cpu_ticks(pid), before) << "frozen";
  EXPECT_EQ(nsrun({"pause", id_}).exit_code, 125) << "already paused";
  EXPECT_EQ(exec({id_, "true"}).exit_code, 125) << "no exec into a paused container";
  r = nsrun({"resume", id_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(status(id_), "running");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GT(cpu_ticks(pid), before) << "thawed";
  EXPECT_EQ(nsrun({"pause", id_}).exit_code, 0);
  r = nsrun({"delete", "--force", id_});
  EXPECT_EQ(r.exit_code, 0) << "a paused container is thawed to be killed: " << r.err;
}

}  // namespace

namespace {

// config.json hooks through create, start and delete, and through a foreground run. Each hook
// appends "<kind> <its network namespace> <the state it read on stdin>" to a log in a directory
// the container sees at /hooks-out (a bind mount), so that the order, the state and where each
// hook ran can be checked.
class HookLifecycle : public Lifecycle {
 protected:
  void SetUp() override {
    Lifecycle::SetUp();
    record_ = std::make_unique<TempDir>("nsrun-e2e-hooks-");
  }

  static boost::json::object shell_hook(const std::string& script,
                                        const std::vector<std::string>& params = {}) {
    boost::json::array args{"sh", "-c", script.c_str()};
    for (const auto& param : params) args.emplace_back(param);
    return {{"path", "/bin/sh"}, {"args", std::move(args)}};
  }

  // Logs into `dir`: the record directory as the hook's mount namespace names it.
  static boost::json::object logging_hook(const std::string& kind, const std::string& dir) {
    return shell_hook(
        "{ printf '%s %s ' \"$1\" \"$(readlink /proc/self/ns/net)\"; cat; echo; } >> \"$0/log\"",
        {dir, kind});
  }

  boost::json::object every_kind_logging() {
    boost::json::object hooks;
    for (const char* kind : {"prestart", "createRuntime", "createContainer", "startContainer",
                             "poststart", "poststop"}) {
      // startContainer's path and files resolve in the container, after pivot_root.
      std::string dir = std::string(kind) == "startContainer" ? "/hooks-out" : record_->path();
      hooks[kind] = boost::json::array{logging_hook(kind, dir)};
    }
    return hooks;
  }

  void write_hooked_bundle(const std::vector<std::string>& args, boost::json::object hooks) {
    write_bundle(args);
    auto config = boost::json::parse(read(bundle_->path() + "/config.json")).as_object();
    config["hooks"] = std::move(hooks);
    config["annotations"] = {{"org.nsrun.test", "hooks"}};
    config["mounts"].as_array().push_back({{"destination", "/hooks-out"},
                                           {"type", "bind"},
                                           {"source", record_->path()},
                                           {"options", boost::json::array{"rbind", "rw"}}});
    std::ofstream(bundle_->path() + "/config.json") << boost::json::serialize(config);
  }

  struct Entry {
    std::string kind;
    std::string netns;
    boost::json::object state;
  };

  std::vector<Entry> entries() {
    std::vector<Entry> out;
    std::istringstream lines(read(record_->path() + "/log"));
    for (std::string line; std::getline(lines, line);) {
      auto first = line.find(' '), second = line.find(' ', first + 1);
      EXPECT_NE(second, std::string::npos) << line;
      if (second == std::string::npos) continue;
      out.push_back({line.substr(0, first), line.substr(first + 1, second - first - 1),
                     boost::json::parse(line.substr(second + 1)).as_object()});
    }
    return out;
  }

  std::vector<std::string> kinds() {
    std::vector<std::string> out;
    for (const auto& entry : entries()) out.push_back(entry.kind);
    return out;
  }

  CommandResult run_bundle(const std::string& id) {
    return run({nsrun_binary(), "--root", state_->path(), "run", "--bundle", bundle_->path(),
                "--name", id},
               "", 30);
  }

  // The state root holds nothing of the container, and no mount of the host names it.
  void expect_nothing_left() {
    for (const auto& entry : fs::directory_iterator(state_->path()))
      if (entry.path().filename().string().front() != '_')
        ADD_FAILURE() << "left: " << entry.path();
    auto mounts = mounts_containing(state_->path());
    EXPECT_TRUE(mounts.empty()) << "left mounted: " << (mounts.empty() ? "" : mounts.front());
    reap_adopted();
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a container process is still alive";
  }

  static std::string host_netns() { return fs::read_symlink("/proc/self/ns/net").string(); }

  // Every entry has the container's id, bundle and annotations, the status of its kind, and `pid`
  // (0 once stopped); the host's hooks ran in the host's network namespace, the container's in
  // the container's.
  void expect_states(const std::vector<Entry>& log, const std::string& id, pid_t pid) {
    const std::map<std::string, std::string> status{
        {"prestart", "creating"},        {"createRuntime", "creating"},
        {"createContainer", "creating"}, {"startContainer", "created"},
        {"poststart", "running"},        {"poststop", "stopped"}};
    for (const auto& entry : log) {
      SCOPED_TRACE(entry.kind);
      EXPECT_EQ(entry.state.at("ociVersion").as_string(), "1.0.2");
      EXPECT_EQ(entry.state.at("id").as_string(), id);
      EXPECT_EQ(entry.state.at("status").as_string(), status.at(entry.kind));
      EXPECT_EQ(entry.state.at("pid").as_int64(), entry.kind == "poststop" ? 0 : pid);
      EXPECT_EQ(entry.state.at("bundle").as_string(), bundle_->path());
      EXPECT_EQ(entry.state.at("annotations"), (boost::json::object{{"org.nsrun.test", "hooks"}}));
      bool in_container = entry.kind == "createContainer" || entry.kind == "startContainer";
      if (in_container)
        EXPECT_NE(entry.netns, host_netns());
      else
        EXPECT_EQ(entry.netns, host_netns());
    }
  }

  const std::vector<std::string> all_kinds{"prestart",       "createRuntime", "createContainer",
                                           "startContainer", "poststart",     "poststop"};
  std::unique_ptr<TempDir> record_;
};

TEST_F(HookLifecycle, CreateStartDeleteRunEachHookOnceInOrderWithTheState) {
  write_hooked_bundle({"sh", "-c", "echo started; exec sleep 30"}, every_kind_logging());
  auto r = create("h1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = std::stoi(read(bundle_->path() + "/pid"));
  EXPECT_EQ(kinds(), (std::vector<std::string>{"prestart", "createRuntime", "createContainer"}));
  r = nsrun({"start", "h1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(kinds(), (std::vector<std::string>{"prestart", "createRuntime", "createContainer",
                                               "startContainer", "poststart"}))
      << "start returns once the poststart hooks ran";
  EXPECT_EQ(status("h1"), "running");
  ASSERT_EQ(nsrun({"kill", "h1", "KILL"}).exit_code, 0);
  ASSERT_TRUE(wait_for_status("h1", "stopped"));
  EXPECT_EQ(kinds().size(), 5u) << "poststop waits for delete";
  r = nsrun({"delete", "h1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto log = entries();
  EXPECT_EQ(kinds(), all_kinds);
  expect_states(log, "h1", pid);
  const auto& container_netns = log.at(2).netns;
  EXPECT_EQ(log.at(3).netns, container_netns) << "createContainer and startContainer share it";
  expect_nothing_left();

  r = nsrun({"features"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(boost::json::parse(r.out).at("hooks"),
            (boost::json::array{"prestart", "createRuntime", "createContainer", "startContainer",
                                "poststart", "poststop"}));
}

TEST_F(HookLifecycle, AForegroundRunRunsEachHookOnceInOrderWithTheState) {
  write_hooked_bundle({"sh", "-c", "echo ran"}, every_kind_logging());
  auto r = run_bundle("h2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ran\n");
  EXPECT_EQ(r.err, "");
  auto log = entries();
  ASSERT_EQ(kinds(), all_kinds);
  pid_t pid = static_cast<pid_t>(log.front().state.at("pid").as_int64());
  EXPECT_GT(pid, 1) << "the container process's host pid";
  expect_states(log, "h2", pid);
  expect_nothing_left();
}

TEST_F(HookLifecycle, AFailingCreateRuntimeHookFailsCreateAndLeavesNothing) {
  auto hooks = every_kind_logging();
  hooks["createRuntime"] = boost::json::array{shell_hook("echo 'no network for you' >&2; exit 7")};
  write_hooked_bundle({"sh", "-c", "echo started; exec sleep 30"}, hooks);
  const std::string message =
      "nsrun: hook createRuntime[0] /bin/sh: exited with status 7: no network for you\n";
  auto r = create("h3");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, message);
  expect_nothing_left();
  // Destroyed as after a delete, so the poststop hooks undo what earlier hooks did (runc's
  // destroy runs them too); createContainer never ran.
  EXPECT_EQ(kinds(), (std::vector<std::string>{"prestart", "poststop"}));

  fs::remove(record_->path() + "/log");
  r = run_bundle("h3");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, message);
  EXPECT_EQ(r.out, "") << "the workload never ran";
  expect_nothing_left();
  EXPECT_EQ(kinds(), (std::vector<std::string>{"prestart", "poststop"}));
}

TEST_F(HookLifecycle, AHookPastItsTimeoutIsKilledAndFailsCreate) {
  auto hook = shell_hook("sleep 30");
  hook["timeout"] = 1;
  write_hooked_bundle({"sh", "-c", "echo started; exec sleep 30"},
                      {{"createRuntime", boost::json::array{hook}}});
  auto start = std::chrono::steady_clock::now();
  auto r = create("h4");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: hook createRuntime[0] /bin/sh: timed out after 1 s\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
  expect_nothing_left();
}

TEST_F(HookLifecycle, FailingContainerHooksFailCreateOrStartWithTheirMessage) {
  auto hooks = every_kind_logging();
  hooks["createContainer"] = boost::json::array{shell_hook("echo 'not inside' >&2; exit 3")};
  write_hooked_bundle({"sh", "-c", "echo started; exec sleep 30"}, hooks);
  auto r = create("h5");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: hook createContainer[0] /bin/sh: exited with status 3: not inside\n");
  expect_nothing_left();
  EXPECT_EQ(kinds(), (std::vector<std::string>{"prestart", "createRuntime", "poststop"}));

  fs::remove(record_->path() + "/log");
  hooks = every_kind_logging();
  hooks["startContainer"] =
      boost::json::array{shell_hook("echo \"not now, $(hostname)\" >&2; exit 4")};
  write_hooked_bundle({"sh", "-c", "echo started; exec sleep 30"}, hooks);
  r = create("h6");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = nsrun({"start", "h6"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: hook startContainer[0] /bin/sh: exited with status 4: not now, oci\n")
      << "it ran in the container (its hostname)";
  EXPECT_TRUE(wait_for_status("h6", "stopped"));
  EXPECT_EQ(read(bundle_->path() + "/stdout"), "") << "the workload never ran";
  r = nsrun({"delete", "h6"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(kinds(),
            (std::vector<std::string>{"prestart", "createRuntime", "createContainer", "poststop"}));
  expect_nothing_left();
}

TEST_F(HookLifecycle, AFailingPoststartHookOnlyWarns) {
  auto hooks = every_kind_logging();
  hooks["poststart"] = boost::json::array{shell_hook("echo late >&2; exit 1"),
                                          logging_hook("poststart", record_->path())};
  write_hooked_bundle({"sh", "-c", "echo started; exec sleep 30"}, hooks);
  ASSERT_EQ(create("h7").exit_code, 0);
  auto r = nsrun({"start", "h7"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "nsrun: warning: hook poststart[0] /bin/sh: exited with status 1: late\n");
  EXPECT_EQ(status("h7"), "running") << "the container keeps running";
  EXPECT_EQ(kinds().back(), "poststart") << "the next poststart hook still ran";

  auto poststop = every_kind_logging();
  write_hooked_bundle({"sh", "-c", "echo ran"},
                      {{"poststart", hooks["poststart"]}, {"poststop", poststop["poststop"]}});
  fs::remove(record_->path() + "/log");
  r = run_bundle("h8");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "nsrun: warning: hook poststart[0] /bin/sh: exited with status 1: late\n");
  EXPECT_EQ(kinds(), (std::vector<std::string>{"poststart", "poststop"}));

  ASSERT_EQ(nsrun({"delete", "--force", "h7"}).exit_code, 0);
}

TEST_F(HookLifecycle, AMalformedHookIsRefusedBeforeAnythingExists) {
  write_hooked_bundle({"true"},
                      {{"poststart", boost::json::array{shell_hook("true"), {{"path", "x"}}}}});
  const std::string message =
      "nsrun: config.json: hooks.poststart[1].path \"x\" must be an absolute path\n";
  auto r = create("h9");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, message);
  expect_nothing_left();
  r = run_bundle("h9");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, message);
  expect_nothing_left();
  EXPECT_FALSE(fs::exists(record_->path() + "/log"));
}

}  // namespace
