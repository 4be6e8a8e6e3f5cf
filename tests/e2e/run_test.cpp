// End to end: real containers on the busybox rootfs, as root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "e2e.hpp"
#include "nsrun/plugin.h"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    state_ = std::make_unique<TempDir>("nsrun-e2e-state-");
    work_ = std::make_unique<TempDir>("nsrun-e2e-work-");
  }
  void TearDown() override {
    if (!state_) return;
    // Every run must leave its state root empty: no container state outlives its run. The
    // network stage's address store (_ipam) outlives containers, like CNI's host-local store,
    // but must hold no lease once they are gone.
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(state_->path()))
      if (entry.path().filename().string().front() != '_') left.push_back(entry.path().filename());
    std::string leases = state_->path() + "/_ipam/leases";
    if (fs::exists(leases))
      for (const auto& lease : fs::directory_iterator(leases))
        left.push_back("lease " + lease.path().filename().string());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
  }
  CommandResult run(const std::vector<std::string>& args, const std::string& input = "") {
    return nsrun_run(args, state_->path(), input, 60, work_->path());
  }
  std::unique_ptr<TempDir> state_, work_;
};

TEST_F(RunTest, WorkloadIsPid1AndSeesOnlyItsOwnProcesses) {
  // The shell expands the glob itself, so no helper process exists while /proc is read: a
  // pipeline (ls | grep) raced, since grep may or may not have been forked when ls read /proc.
  auto r = run({"sh", "-c", "echo $$; echo /proc/[0-9]*"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1\n/proc/1\n") << "the shell is pid 1 and sees nothing of the host";
  EXPECT_EQ(r.err, "") << "nsrun prints nothing of its own around the workload";
}

// A --plugin-dir that is not a directory is named at once: it would otherwise show later as an
// "unknown plugin", or not at all.
TEST_F(RunTest, APluginDirectoryThatIsNoDirectoryIsOneLine) {
  for (const auto& [dir, why] :
       {std::pair<std::string, std::string>{work_->path() + "/missing", "Directory does not exist"},
        {"/etc/passwd", "Directory is actually a file"}}) {
    auto r = test::run({nsrun_binary(), "--root", state_->path(), "--plugin-dir", dir, "run",
                        "--network", "none", "true"});
    EXPECT_EQ(r.exit_code, 125);
    EXPECT_EQ(r.err, "nsrun: --plugin-dir: " + why + ": " + dir + " (see: nsrun help)\n");
  }
}

TEST_F(RunTest, DefaultAndCustomHostname) {
  EXPECT_EQ(run({"hostname"}).out, "container\n");
  auto r = run({"--hostname", "box1", "sh", "-c", "hostname; cat /etc/hostname; echo $HOSTNAME"});
  EXPECT_EQ(r.out, "box1\nbox1\nbox1\n") << r.err;
  EXPECT_EQ(run({"--hostname=box2", "hostname"}).out, "box2\n") << "--flag=value works too";
}

TEST_F(RunTest, ADoubleDashEndsNsrunsFlags) {
  auto r = run({"--", "echo", "hi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hi\n");
  r = run({"--hostname", "box3", "--", "sh", "-c", "hostname"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "box3\n");
  // After the --, a word that looks like a flag is the command.
  r = run({"--network", "none", "--", "-x"});
  EXPECT_EQ(r.exit_code, 127) << r.err;
  EXPECT_EQ(r.err,
            "nsrun: exec: \"-x\": command not found in the container (executable file not "
            "found in $PATH)\n");
}

TEST_F(RunTest, CurrentDirectoryIsMountedAtAppByDefault) {
  std::ofstream(work_->path() + "/marker") << "from the host\n";
  auto r = run({"sh", "-c", "pwd; cat marker; echo written > from-container"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/app\nfrom the host\n");
  EXPECT_TRUE(fs::exists(work_->path() + "/from-container")) << "the default mount is read-write";
}

TEST_F(RunTest, BindMountsReadWriteReadOnlyAndSingleFile) {
  TempDir rw("nsrun-e2e-rw-"), ro("nsrun-e2e-ro-");
  std::ofstream(ro.path() + "/data") << "ro data\n";
  std::string file = work_->path() + "/single";
  std::ofstream(file) << "single file\n";
  auto r = run({"--mount", rw.path() + ":/rw", "-v", ro.path() + ":/ro:ro", "--mount",
                file + ":/etc/single:ro", "sh", "-c",
                "echo hi > /rw/new && cat /ro/data && cat /etc/single && "
                "if echo x > /ro/data 2>/dev/null; then echo RO-WRITABLE; fi; "
                "if touch /ro/other 2>/dev/null; then echo RO-CREATABLE; fi; "
                "mount -o remount,rw /ro 2>/dev/null && echo REMOUNTED; ls /app"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("RO-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ro data\nsingle file\n"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(rw.path() + "/new"));
  EXPECT_EQ(r.out.find("single\n"), r.out.rfind("single\n"))
      << "with --mount there is no /app mount";
}

TEST_F(RunTest, ExitCodesPassThrough) {
  EXPECT_EQ(run({"true"}).exit_code, 0);
  EXPECT_EQ(run({"sh", "-c", "exit 42"}).exit_code, 42);
  auto missing = run({"no-such-command"});
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_EQ(missing.err,
            "nsrun: exec: \"no-such-command\": command not found in the container "
            "(executable file not found in $PATH)\n");
  auto not_executable = run({"/etc/passwd"});
  EXPECT_EQ(not_executable.exit_code, 126);
  EXPECT_NE(not_executable.err.find("cannot execute"), std::string::npos);
}

// Reads the container pid from state.json once the container runs.
pid_t wait_for_container_pid(const std::string& state_dir) {
  for (int i = 0; i < 1200; ++i) {  // a loaded CI machine can take a while
    std::ifstream in(state_dir + "/state.json");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    auto at = text.find("\"status\":\"running\"");
    auto pid_at = text.find("\"pid\":");
    if (at != std::string::npos && pid_at != std::string::npos)
      return std::stoi(text.substr(pid_at + 6));
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return -1;
}

std::vector<std::string> nsrun_command(const std::string& state_root,
                                       std::vector<std::string> args) {
  std::vector<std::string> argv{nsrun_binary(), "--root",   state_root,
                                "run",          "--rootfs", busybox_rootfs()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

TEST_F(RunTest, SignalEndingTheWorkloadGives128PlusN) {
  BackgroundProcess nsrun(nsrun_command(state_->path(), {"--name", "sig", "sleep", "30"}));
  pid_t pid = wait_for_container_pid(state_->path() + "/sig");
  ASSERT_GT(pid, 0);
  ::kill(pid, SIGKILL);  // our own container's pid 1, started by this test
  EXPECT_EQ(nsrun.wait(), 137);
}

TEST_F(RunTest, SignalsSentToNsrunAreForwarded) {
  BackgroundProcess nsrun(nsrun_command(
      state_->path(),
      {"--name", "fwd", "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.05; done"}));
  ASSERT_GT(wait_for_container_pid(state_->path() + "/fwd"), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let the trap be installed
  ::kill(nsrun.pid(), SIGTERM);
  EXPECT_EQ(nsrun.wait(), 7) << "the workload's TERM trap ran";
}

TEST_F(RunTest, ContainerDiesWithNsrunAndDeleteCleansUpAfterTheCrash) {
  BackgroundProcess nsrun(nsrun_command(state_->path(), {"--name", "crash", "sleep", "60"}));
  pid_t container = wait_for_container_pid(state_->path() + "/crash");
  ASSERT_GT(container, 0);
  ::kill(nsrun.pid(), SIGKILL);
  nsrun.wait();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone =
        !fs::exists("/proc/" + std::to_string(container) + "/cmdline") || ::kill(container, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "the container outlived nsrun";
  ASSERT_TRUE(fs::exists(state_->path() + "/crash")) << "a crash leaves its state for delete";
  auto del = test::run({nsrun_binary(), "--root", state_->path(), "delete", "--force", "crash"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_FALSE(fs::exists(state_->path() + "/crash"));
}

TEST_F(RunTest, HostRootIsNotReachable) {
  std::string marker = "/nsrun-host-marker-" + std::to_string(::getpid());
  std::ofstream(marker) << "host\n";
  struct Remove {
    std::string path;
    ~Remove() { fs::remove(path); }
  } remove{marker};
  auto r = run({"sh", "-c",
                "ls " + marker + " /proc/1/root" + marker +
                    " 2>/dev/null; cd /..; ls; cat /proc/self/mountinfo"});
  EXPECT_EQ(r.out.find(marker), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bin\n"), std::string::npos) << "/.. is the container's own root";
}

TEST_F(RunTest, EnvironmentIsCleanAndFdsAreClosed) {
  ::setenv("NSRUN_E2E_HOST_SECRET", "leaked", 1);
  auto r = run({"-e", "FOO=bar", "sh", "-c", "env | sort; ls /proc/self/fd"});
  ::unsetenv("NSRUN_E2E_HOST_SECRET");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("leaked"), std::string::npos);
  EXPECT_NE(r.out.find("FOO=bar\nHOME=/root\nHOSTNAME=container\nPATH="), std::string::npos)
      << r.out;
  // Run nsrun with an extra inherited descriptor (7): the workload must not see it.
  auto inherited =
      test::run({"/bin/sh", "-c",
                 "exec 7</etc/hostname; exec " + nsrun_binary() + " --root " + state_->path() +
                     " run --rootfs " + busybox_rootfs() + " ls /proc/self/fd"});
  EXPECT_EQ(inherited.out, "0\n1\n2\n3\n") << "0-2 and ls's own directory descriptor only";
}

TEST_F(RunTest, StdinIsPassedThrough) {
  EXPECT_EQ(run({"cat"}, "hello from stdin\n").out, "hello from stdin\n");
}

TEST_F(RunTest, ReadOnlyRootAndWorkdir) {
  auto r =
      run({"--read-only", "-w", "/tmp", "sh", "-c",
           "pwd; touch /bin/x 2>/dev/null && echo ROOT-WRITABLE; touch /tmp/ok && echo tmp-ok"});
  EXPECT_EQ(r.out, "/tmp\ntmp-ok\n") << r.err;
}

TEST_F(RunTest, SwappingTheNetworkStageWithStage) {
  // Inside a throwaway network namespace that plays the host: the host-network plugin shows its
  // dummy interface, the default none plugin shows only lo.
  NetnsGuard host(unique_name("nsrun-e2e-"));
  ASSERT_EQ(test::run(host.exec({"ip", "link", "add", "nsrundummy0", "type", "veth", "peer", "name",
                                 "nsrundummy1"}))
                .exit_code,
            0);
  auto in_host = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{nsrun_binary(), "--root",   state_->path(),
                                  "run",          "--rootfs", busybox_rootfs()};
    argv.insert(argv.end(), args.begin(), args.end());
    return test::run(host.exec(argv));
  };
  auto swapped = in_host({"--stage", "network=nsrun.network.host", "cat", "/proc/net/dev"});
  EXPECT_NE(swapped.out.find("nsrundummy0"), std::string::npos) << swapped.err;
  auto none = in_host({"cat", "/proc/net/dev"});
  EXPECT_EQ(none.out.find("nsrundummy0"), std::string::npos);
  EXPECT_NE(none.out.find("lo:"), std::string::npos) << none.err;
  EXPECT_NE(in_host({"--network", "host", "cat", "/proc/net/dev"}).out.find("nsrundummy0"),
            std::string::npos);
}

// --network none: a namespace of its own whose loopback is up (the container's sysfs shows its
// own namespace's links: 0x8 is loopback down, 0x9 loopback up).
TEST_F(RunTest, NetworkNoneBringsTheLoopbackUp) {
  auto r = run({"--network", "none", "cat", "/sys/class/net/lo/flags"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0x9\n");
}

TEST_F(RunTest, BundleRunsThroughTheSamePath) {
  TempDir bundle("nsrun-e2e-bundle-");
  std::ofstream(bundle.path() + "/config.json") << R"({
    "ociVersion": "1.0.2",
    "process": {"args": ["sh", "-c", "hostname; echo $GREETING; pwd; exit 3"],
                "env": ["PATH=/bin", "GREETING=hello"], "cwd": "/tmp"},
    "root": {"path": ")" + busybox_rootfs() + R"("},
    "hostname": "from-bundle",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]}
  })";
  auto r = test::run({nsrun_binary(), "--root", state_->path(), "run", "--bundle", bundle.path()});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "from-bundle\nhello\n/tmp\n");

  // As runc: `run --bundle DIR ID`, the word after the flags being the container's id.
  auto named = test::run({nsrun_binary(), "--root", state_->path(), "run", "-d", "--bundle",
                          bundle.path(), "bundle-id"});
  EXPECT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(named.out, "bundle-id\n");
  EXPECT_EQ(test::run({nsrun_binary(), "--root", state_->path(), "delete", "--force", "bundle-id"})
                .exit_code,
            0);
  for (const auto& extra : std::vector<std::vector<std::string>>{
           {"bundle-id", "echo"}, {"--name", "other", "bundle-id"}, {"not/an/id"}}) {
    std::vector<std::string> argv{nsrun_binary(), "--root",   state_->path(),
                                  "run",          "--bundle", bundle.path()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto refused = test::run(argv);
    EXPECT_EQ(refused.exit_code, 125) << refused.err;
    EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;
    EXPECT_TRUE(delete_every_container(state_->path()).empty());
  }
}

// A bundle's config.json with `process` and `mounts` as given (JSON text), on the busybox rootfs.
void write_bundle_config(const std::string& bundle, const std::string& process,
                         const std::string& mounts) {
  std::ofstream(bundle + "/config.json")
      << R"({"ociVersion": "1.0.2", "process": )" << process << R"(, "root": {"path": ")"
      << busybox_rootfs() << R"("}, "mounts": )" << mounts << R"(,
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]}
  })";
}

fs::perms permissions(const std::string& path) {
  return fs::symlink_status(path).permissions();
}

// As runc: a relative bind source is the bundle's, whatever nsrun's working directory.
TEST_F(RunTest, ABundlesRelativeBindSourceIsInTheBundle) {
  TempDir bundle("nsrun-e2e-bundle-");
  fs::create_directories(bundle.path() + "/data/sub");
  std::ofstream(bundle.path() + "/data/sub/greeting") << "from the bundle\n";
  // Onto directories the image has: a mountpoint made in the shared test rootfs would stay there.
  write_bundle_config(bundle.path(),
                      R"({"args": ["cat", "/mnt/sub/greeting", "/home/greeting"], "cwd": "/"})",
                      R"([{"destination": "/proc", "type": "proc", "source": "proc"},
                          {"destination": "/mnt", "type": "bind", "source": "data",
                           "options": ["rbind", "ro"]},
                          {"destination": "/home", "source": "./data/sub", "options": ["bind"]}])");
  auto r = test::run({nsrun_binary(), "--root", state_->path(), "run", "--bundle", bundle.path(),
                      unique_name("relative-bind-")},
                     "", 60, work_->path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from the bundle\nfrom the bundle\n");
}

// As runc (and docker for -w): a missing working directory is made in the container, 0755 as
// the container's root whatever nsrun's umask, and the workload starts in it.
TEST_F(RunTest, AMissingWorkingDirectoryIsMade0755) {
  auto r =
      sh("cd " + shell_quote(work_->path()) + " && umask 077 && exec " +
         shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
         " run --network none --rootfs " + shell_quote(busybox_rootfs()) + " -w /app/new/deep pwd");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/app/new/deep\n");
  for (const char* made : {"/new", "/new/deep"}) {
    const std::string path = work_->path() + made;
    ASSERT_TRUE(fs::is_directory(path)) << path;
    EXPECT_EQ(permissions(path), fs::perms(0755)) << path;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0U) << path;
  }

  // A bundle's process.cwd likewise (in a bind onto the image's /mnt: nothing is made in the
  // shared test rootfs).
  TempDir bundle("nsrun-e2e-bundle-");
  write_bundle_config(bundle.path(), R"({"args": ["pwd"], "cwd": "/mnt/made/here"})",
                      R"([{"destination": "/proc", "type": "proc", "source": "proc"},
                          {"destination": "/mnt", "type": "bind", "source": ")" +
                          work_->path() + R"(", "options": ["rbind"]}])");
  r = test::run({nsrun_binary(), "--root", state_->path(), "run", "--bundle", bundle.path(),
                 unique_name("cwd-")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/mnt/made/here\n");
  EXPECT_EQ(permissions(work_->path() + "/made/here"), fs::perms(0755));
}

// The working directory is made in the container's root: a symlink on its way, absolute or
// climbing with "..", leads to a directory inside the root (here the container's /tmp, a tmpfs),
// never to the host's directory of that name.
TEST_F(RunTest, AWorkingDirectoryThroughASymlinkOutOfTheRootIsMadeInsideIt) {
  TempDir outside("nsrun-e2e-outside-");
  fs::create_directory_symlink(outside.path(), work_->path() + "/absolute");
  fs::create_directory_symlink("../../../../../../../.." + outside.path(), work_->path() + "/up");
  for (const char* link : {"/absolute", "/up"}) {
    auto r = run({"--network", "none", "-w", std::string("/app") + link + "/made", "pwd"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, outside.path() + "/made\n") << "resolved in the container's root";
    EXPECT_FALSE(fs::exists(outside.path() + "/made")) << "made outside the root through " << link;
  }
}

// As runc: a process.env without HOME gets the user's home in the container's /etc/passwd, or
// "/"; one that sets HOME keeps it. `nsrun run` gets the same (as docker).
TEST_F(RunTest, HomeComesFromTheContainersPasswd) {
  TempDir bundle("nsrun-e2e-bundle-");
  const std::string proc = R"([{"destination": "/proc", "type": "proc", "source": "proc"}])";
  auto home_in_bundle = [&](const std::string& user, const std::string& env) {
    write_bundle_config(bundle.path(),
                        R"({"args": ["sh", "-c", "echo \"$HOME\""], "cwd": "/", "env": )" + env +
                            (user.empty() ? "" : R"(, "user": )" + user) + "}",
                        proc);
    auto r = test::run({nsrun_binary(), "--root", state_->path(), "run", "--bundle", bundle.path(),
                        unique_name("home-")});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  EXPECT_EQ(home_in_bundle("", R"(["PATH=/bin"])"), "/root\n") << "root, without process.user";
  EXPECT_EQ(home_in_bundle(R"({"uid": 65534, "gid": 65534})", R"(["PATH=/bin"])"),
            "/nonexistent\n");
  EXPECT_EQ(home_in_bundle(R"({"uid": 4242, "gid": 4242})", R"(["PATH=/bin"])"), "/\n")
      << "a user /etc/passwd does not name";
  EXPECT_EQ(home_in_bundle("", R"(["PATH=/bin", "HOME=/mine"])"), "/mine\n");
  EXPECT_EQ(home_in_bundle("", R"(["PATH=/bin", "HOME="])"), "/root\n") << "empty, as runc";

  auto r = run({"--network", "none", "--user", "65534", "sh", "-c", "echo $HOME"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/nonexistent\n");
  r = run({"--network", "none", "-e", "HOME=/given", "sh", "-c", "echo $HOME"});
  EXPECT_EQ(r.out, "/given\n");
}

// runc's run flags: --pid-file is written as create writes it, --keep keeps the container's
// record after its exit (stopped, until nsrun delete), --no-pivot, --no-subreaper and
// --no-new-keyring are taken.
TEST_F(RunTest, ABundleRunTakesRuncsRunFlags) {
  TempDir bundle("nsrun-e2e-bundle-");
  write_bundle_config(bundle.path(), R"({"args": ["sh", "-c", "exit 7"], "cwd": "/"})",
                      R"([{"destination": "/proc", "type": "proc", "source": "proc"}])");
  const std::string id = unique_name("runc-flags-");
  const std::string pid_file = work_->path() + "/pid";
  auto nsrun = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {nsrun_binary(), "--root", state_->path()});
    return test::run(args);
  };
  auto r = nsrun({"run", "--bundle", bundle.path(), "--pid-file", pid_file, "--keep", "--no-pivot",
                  "--no-subreaper", "--no-new-keyring", id});
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_GT(std::stoi("0" + read_text(pid_file)), 0) << read_text(pid_file);
  auto state = nsrun({"state", id});
  ASSERT_EQ(state.exit_code, 0) << "the record is kept: " << state.err;
  EXPECT_NE(state.out.find("\"stopped\""), std::string::npos) << state.out;
  EXPECT_EQ(nsrun({"delete", id}).exit_code, 0);

  r = nsrun({"run", "--bundle", bundle.path(), "--keep", "--rm", id});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: run: --keep keeps the container's record after it exits and --rm removes it "
            "(give one)\n");
  r = nsrun({"run", "--bundle", bundle.path(), "--pid-file", work_->path() + "/no/pid", id});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("run: --pid-file " + work_->path() + "/no/pid: directory"),
            std::string::npos)
      << r.err;
}

TEST_F(RunTest, CgroupNamespaceIsRootedAtTheContainersOwnCgroup) {
  TempDir bundle("nsrun-e2e-bundle-");
  std::ofstream(bundle.path() + "/config.json") << R"({
    "process": {"args": ["cat", "/proc/self/cgroup"], "env": ["PATH=/bin"], "cwd": "/"},
    "root": {"path": ")" + busybox_rootfs() + R"("},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "cgroup"}],
              "resources": {"pids": {"limit": 50}}}
  })";
  auto r = test::run({nsrun_binary(), "--root", state_->path(), "run", "--bundle", bundle.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NE(r.out.find(":pids:"), std::string::npos) << r.out;
  // Made after the container joined its cgroups, the namespace shows each of them as "/".
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    EXPECT_EQ(line.substr(line.rfind(':')), ":/") << line;
}

TEST_F(RunTest, DebugShowsEveryPhaseWithItsDuration) {
  auto r = test::run({"/usr/bin/env", "DEBUG=1", nsrun_binary(), "--root", state_->path(), "run",
                      "--rootfs", busybox_rootfs(), "true"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* line : {"nsrun.namespaces: validate", "nsrun.storage: prepare",
                           "nsrun.storage: create_container", "nsrun.storage: start_container",
                           "core: workload started", "nsrun.network.bridge: teardown"})
    EXPECT_NE(r.err.find(line), std::string::npos) << line << "\n" << r.err;
  EXPECT_NE(r.err.find(" ms"), std::string::npos);
  // nsrun names the stage's kind before each of its messages; a stage that named it too would
  // print it twice.
  EXPECT_NE(r.err.find("nsrun: debug: security: seccomp profile default"), std::string::npos)
      << r.err;
  for (std::string kind : {"namespaces", "storage", "network", "cgroups", "security", "exec"})
    EXPECT_EQ(r.err.find(kind + ": " + kind + ": "), std::string::npos) << kind << "\n" << r.err;
}

// A selector's flag (`--network none`) picks its plugin before any is loaded: the stage it
// replaces is not loaded only to be swapped out. A selector's flag among the workload's own
// arguments is not taken for nsrun's.
TEST_F(RunTest, OnlyThePipelinesOwnPluginsAreLoaded) {
  auto loaded = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/env", "DEBUG=1", nsrun_binary(), "--root",
                                  state_->path(), "run",     "--rootfs",     busybox_rootfs()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = test::run(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    auto at = r.err.find("plugins loaded in ");
    return at == std::string::npos ? r.err : r.err.substr(at, r.err.find('\n', at) - at);
  };
  std::string none = loaded({"--network", "none", "true"});
  EXPECT_NE(none.find("(first guess): "), std::string::npos) << none;
  EXPECT_NE(none.find("nsrun.network.none"), std::string::npos) << none;
  EXPECT_EQ(none.find("nsrun.network.bridge"), std::string::npos) << none;
  none = loaded({"--network=none", "true"});
  EXPECT_NE(none.find("(first guess): "), std::string::npos) << none;
  std::string bridge = loaded({"echo", "--network", "none"});
  EXPECT_NE(bridge.find("(2 loads): "), std::string::npos) << "a wrong guess, corrected" << bridge;
  EXPECT_NE(bridge.find("nsrun.network.bridge"), std::string::npos) << bridge;
  EXPECT_EQ(bridge.find("nsrun.network.none"), std::string::npos) << bridge;
}

// A flag of the installed pipeline's plugins given with a --pipeline whose plugins lack it is
// that pipeline's unknown flag, in one line, whatever the order of the two.
TEST_F(RunTest, AFlagTheChosenPipelineLacksIsOneLineInEitherOrder) {
  const std::string minimal = work_->path() + "/minimal.json";
  std::ofstream(minimal) << R"({"stages": [{"kind": "namespaces", "plugin": "nsrun.namespaces"},
    {"kind": "storage", "plugin": "nsrun.storage"}, {"kind": "exec", "plugin": "nsrun.exec"}]})";
  for (const auto& order :
       std::vector<std::vector<std::string>>{{"--network", "none", "--pipeline", minimal},
                                             {"--pipeline", minimal, "--network", "none"}}) {
    std::vector<std::string> argv{nsrun_binary(), "--root",   state_->path(),
                                  "run",          "--rootfs", busybox_rootfs()};
    argv.insert(argv.end(), order.begin(), order.end());
    argv.push_back("true");
    auto r = test::run(argv);
    EXPECT_EQ(r.exit_code, 125) << r.err;
    // The installed plugins that have the flag are named.
    EXPECT_TRUE(r.err.starts_with("nsrun: run: --network is a flag of ")) << r.err;
    EXPECT_NE(r.err.find("nsrun.network.bridge"), std::string::npos) << r.err;
    EXPECT_TRUE(
        r.err.ends_with(", which this pipeline does not use (it has nsrun.namespaces, "
                        "nsrun.storage, nsrun.exec; choose one with --stage KIND=PLUGIN, "
                        "see nsrun run --help)\n"))
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  // A short flag, and a long one with its value.
  for (const auto& flag : {std::string("-p"), std::string("--publish=8080:80")}) {
    auto r = run({"--network", "none", flag, "8080:80", "true"});
    EXPECT_EQ(r.exit_code, 125) << r.err;
    EXPECT_TRUE(r.err.starts_with("nsrun: run: " + flag.substr(0, flag.find('=')) +
                                  " is a flag of nsrun.network.bridge"))
        << r.err;
  }
  // A flag no installed plugin has.
  auto unknown = run({"--frobnicate", "true"});
  EXPECT_EQ(unknown.exit_code, 125);
  EXPECT_TRUE(
      unknown.err.starts_with("nsrun: run: unknown flag --frobnicate (not a flag of nsrun "
                              "or of this pipeline's plugins: "))
      << unknown.err;
  EXPECT_TRUE(fs::is_empty(state_->path()));
}

// Runs argv with stdout on /dev/null and stderr on a pipe whose reader is already gone, as with
// `DEBUG=1 nsrun run ... 2>&1 | head -3` once head has exited: every diagnostic write fails.
int run_with_stderr_closed_by_reader(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  ::close(pipe_fds[0]);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(pipe_fds[1], 2);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(RunTest, AClosedStderrDoesNotKillNsrunMidSetup) {
  int code = run_with_stderr_closed_by_reader({"/usr/bin/env", "DEBUG=1", nsrun_binary(), "--root",
                                               state_->path(), "run", "--rootfs", busybox_rootfs(),
                                               "--network", "none", "/bin/true"});
  EXPECT_EQ(code, 0) << "nsrun must finish (141 = killed by SIGPIPE)";
  // TearDown checks that the state root is empty.
}

TEST_F(RunTest, TheWorkloadGetsTheDefaultSigpipe) {
  // An ignored signal stays ignored across execve; nsrun ignores SIGPIPE itself. (The inner
  // shell, not PID 1: the kernel keeps default-action signals from a namespace's init.)
  auto r = run({"--network", "none", "sh", "-c", "sh -c 'kill -PIPE $$; echo survived'; echo $?"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::to_string(128 + SIGPIPE) + "\n");
}

// A state directory that an nsrun left before it wrote state.json or a journal (it died between
// two setup steps), one with neither pipeline.json (it died right after creating the
// directory), and a directory some live process still holds locked.
TEST_F(RunTest, GcAndDeleteRemoveStateDirectoriesWithoutStateOrJournal) {
  std::string pipeline =
      fs::path(nsrun_binary()).parent_path().parent_path() / "share/nsrun/pipeline.json";
  ASSERT_TRUE(fs::exists(pipeline)) << pipeline;
  for (const char* id : {"no-state", "no-state-2", "locked"}) {
    fs::create_directory(state_->path() + "/" + id);
    fs::copy_file(pipeline, state_->path() + "/" + id + "/pipeline.json");
  }
  fs::create_directory(state_->path() + "/empty");
  int held = ::open((state_->path() + "/locked").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_EQ(::flock(held, LOCK_EX), 0);

  auto dry = test::run({nsrun_binary(), "--root", state_->path(), "gc", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(dry.out.find("locked"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("no-state\n"), std::string::npos) << dry.out;
  EXPECT_TRUE(fs::exists(state_->path() + "/no-state")) << "--dry-run removes nothing";

  auto gc = test::run({nsrun_binary(), "--root", state_->path(), "gc"});
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  for (const char* id : {"no-state", "no-state-2", "empty"}) {
    EXPECT_NE(gc.out.find(std::string(id) + "\n"), std::string::npos) << gc.out;
    EXPECT_FALSE(fs::exists(state_->path() + "/" + id)) << id;
  }
  EXPECT_TRUE(fs::exists(state_->path() + "/locked")) << "a live owner's container is kept";

  auto del = test::run({nsrun_binary(), "--root", state_->path(), "delete", "locked"});
  EXPECT_EQ(del.exit_code, 125);
  EXPECT_NE(del.err.find("being set up or removed by a running nsrun"), std::string::npos)
      << del.err;
  ::close(held);
  del = test::run({nsrun_binary(), "--root", state_->path(), "delete", "locked"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_FALSE(fs::exists(state_->path() + "/locked"));
}

// Bad input: one line, exit 125, and nothing created (TearDown checks the state root).
struct BadInput {
  std::vector<std::string> args;
  std::string expected;  // a part of the single error line
};

// Shown in test names and failures instead of the object's bytes.
void PrintTo(const BadInput& input, std::ostream* out) {
  for (const auto& arg : input.args) *out << arg.substr(0, 24) << ' ';
}

class BadInputTest : public RunTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(BadInputTest, OneLineExit125NothingCreated) {
  const auto& args = GetParam().args;
  std::vector<std::string> argv{nsrun_binary(), "--root", state_->path(), "run"};
  if (std::find(args.begin(), args.end(), "--rootfs") == args.end())
    argv.insert(argv.end(), {"--rootfs", busybox_rootfs()});
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = test::run(argv, "", 60, work_->path());
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("nsrun: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(GetParam().expected), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Run, BadInputTest,
    ::testing::Values(
        BadInput{{"--rootfs", "/nonexistent-rootfs", "true"},
                 "rootfs /nonexistent-rootfs does not exist"},
        BadInput{{"--rootfs", "/etc/hostname", "true"}, "not a directory"},
        BadInput{{"--rootfs", "/", "true"}, "host's root"},
        BadInput{{"--mount", "/tmp", "true"}, "must be HOST:CONTAINER[:ro|:rw]"},
        BadInput{{"--mount", "/tmp:/a:ro:x", "true"}, "must be HOST:CONTAINER[:ro|:rw]"},
        BadInput{{"--mount", "/tmp:/a:rx", "true"}, "unknown option \"rx\""},
        BadInput{{"--mount", "/nonexistent-source:/a", "true"},
                 "/nonexistent-source does not exist"},
        BadInput{{"--mount", "/tmp:relative", "true"}, "must be an absolute path"},
        BadInput{{"--mount", "/tmp:/../../etc", "true"}, "escapes the container root"},
        BadInput{{}, "no command given"},
        BadInput{{"--hostname", std::string(65, 'h'), "true"}, "the limit is 64"},
        BadInput{{"--hostname", "a/b", "true"}, "must not contain '/'"},
        BadInput{{"--no-such-flag", "true"}, "--no-such-flag"},
        BadInput{{"--stage", "network=nsrun.network.nope", "true"},
                 "unknown plugin \"nsrun.network.nope\""},
        BadInput{{"--stage", "gpu=x", "true"}, "the pipeline has no \"gpu\" stage"},
        BadInput{{"--network", "10.0.0.0/33", "true"}, "prefix length must be 0 to 32"},
        BadInput{{"--container-ip", "10.1.1.1", "true"}, "outside --network 192.168.1.0/24"},
        BadInput{{"--name", "bad/name", "true"}, "--name \"bad/name\""},
        // Words that are not UTF-8 cannot go into the JSON the stages read: refused, not mangled.
        BadInput{{"echo", "ok", "\xff"}, "process.args[2] is not UTF-8 text"},
        BadInput{{"-e", "A=\xfe", "true"}, "is not UTF-8 text"},
        BadInput{{"--network", "10.9.0.0/24\xff", "true"}, "--network is not UTF-8 text"}));

TEST_F(RunTest, MalformedPipelineAndConfigSayLineAndColumn) {
  std::string pipeline = work_->path() + "/pipeline.json";
  std::ofstream(pipeline)
      << "{\"stages\": [\n  {\"kind\": \"exec\" \"plugin\": \"nsrun.exec\"}\n]}";
  auto r = run({"--pipeline", pipeline, "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("line 2, column 19"), std::string::npos) << r.err;

  TempDir bundle("nsrun-e2e-bundle-");
  std::ofstream(bundle.path() + "/config.json") << "{\"process\": {\"args\": [\"true\"],}}";
  auto b = test::run({nsrun_binary(), "--root", state_->path(), "run", "--bundle", bundle.path()});
  EXPECT_EQ(b.exit_code, 125);
  EXPECT_NE(b.err.find("line 1, column 31"), std::string::npos) << b.err;
}

// A selector on a flag none of the pipeline's plugins declares is refused when the file is read,
// before anything is created, naming the file, the selector's stage and the flag.
TEST_F(RunTest, APipelineSelectorOnAnUndeclaredFlagIsRefused) {
  std::string pipeline = work_->path() + "/pipeline.json";
  std::ofstream(pipeline) << R"({"stages": [
    {"kind": "namespaces", "plugin": "nsrun.namespaces"},
    {"kind": "storage", "plugin": "nsrun.storage"},
    {"kind": "network", "plugin": "nsrun.network.none"},
    {"kind": "exec", "plugin": "nsrun.exec"}],
    "selectors": [
    {"flag": "network", "value": "host", "stage": "network=nsrun.network.host"},
    {"flag": "netwrok", "value": "host", "stage": "network=nsrun.network.host"}]})";
  auto r = run({"--pipeline", pipeline, "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("nsrun: " + pipeline +
                            ": selectors[1] (stage network=nsrun.network.host): no plugin of the "
                            "pipeline declares the flag --netwrok, so it never selects (its "
                            "plugins declare ",
                        0),
            0u)
      << r.err;
  // The sound selector of the same file works: its flag is the none plugin's.
  std::ofstream(pipeline) << R"({"stages": [
    {"kind": "namespaces", "plugin": "nsrun.namespaces"},
    {"kind": "storage", "plugin": "nsrun.storage"},
    {"kind": "network", "plugin": "nsrun.network.none"},
    {"kind": "exec", "plugin": "nsrun.exec"}],
    "selectors": [
    {"flag": "network", "value": "host", "stage": "network=nsrun.network.host"}]})";
  r = run({"--pipeline", pipeline, "true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// A bundle that asks for what no stage implements is refused, naming the field, before anything
// is created (TearDown checks the state root).
TEST_F(RunTest, ABundleFieldNoStageImplementsIsRefused) {
  TempDir bundle("nsrun-e2e-bundle-");
  std::ofstream(bundle.path() + "/config.json")
      << R"({"process": {"args": ["true"]}, "root": {"path": ")" << busybox_rootfs()
      << R"("}, "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}],
                 "personality": {"domain": "LINUX32"}}})";
  auto r = test::run({nsrun_binary(), "--root", state_->path(), "run", "--bundle", bundle.path()});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(
      r.err,
      "nsrun: config.json: linux.personality is set but no stage in the pipeline implements it "
      "(add a stage that does, or remove the field)\n");
}

TEST_F(RunTest, NotRootIsAClearError) {
  auto r = test::run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", nsrun_binary(),
                      "--root", state_->path(), "run", "--rootfs", busybox_rootfs(), "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("needs root"), std::string::npos) << r.err;
}

// `nsrun help [COMMAND]` is `nsrun [COMMAND] --help`; a bare `nsrun` is a usage error.
TEST(Cli, HelpIsTheUsageOfNsrunOrOfACommand) {
  auto help = test::run({nsrun_binary(), "help"});
  auto flag = test::run({nsrun_binary(), "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_EQ(help.out, flag.out);
  EXPECT_NE(help.out.find("run"), std::string::npos);
  EXPECT_NE(help.out.find("Usage: nsrun [OPTIONS] SUBCOMMAND"), std::string::npos) << help.out;

  auto run_help = test::run({nsrun_binary(), "help", "run"});
  auto run_flag = test::run({nsrun_binary(), "run", "--help"});
  EXPECT_EQ(run_help.exit_code, 0) << run_help.err;
  EXPECT_EQ(run_help.out, run_flag.out);
  EXPECT_NE(run_help.out.find("--hostname"), std::string::npos) << run_help.out;
  // Each plugin's flags under its stage.
  EXPECT_NE(run_help.out.find("Flags of the network stage (nsrun.network.bridge):"),
            std::string::npos)
      << run_help.out;
  EXPECT_NE(run_help.out.find("-p,--publish"), std::string::npos) << run_help.out;
  EXPECT_NE(run_help.out.find("Flags of the cgroups stage (nsrun.cgroups):"), std::string::npos);
  auto none_help = test::run({nsrun_binary(), "run", "--network", "none", "--help"});
  EXPECT_NE(none_help.out.find("Flags of the network stage (nsrun.network.none):"),
            std::string::npos)
      << "a selector changes the pipeline, and so the flags: " << none_help.out;

  auto unknown = test::run({nsrun_binary(), "help", "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 125);
  EXPECT_EQ(unknown.err, "nsrun: help: no command \"frobnicate\" (see: nsrun help)\n");
}

TEST(Cli, NoCommandIsAUsageErrorOnOneLine) {
  auto r = test::run({nsrun_binary()});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("nsrun help"), std::string::npos) << r.err;
}

// A flag given a boolean value, as runc and docker take one: `--force=true`, `--quiet=false`.
TEST(Cli, AFlagTakesTrueOrFalse) {
  auto forced =
      test::run({nsrun_binary(), "--root", "/nonexistent", "delete", "--force=TRUE", "c1"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;  // already gone: a forced delete succeeds
  auto listed = test::run({nsrun_binary(), "--root", "/nonexistent", "list", "--quiet=false"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("STATUS"), std::string::npos) << listed.out;  // not quiet: a header
  auto quiet = test::run({nsrun_binary(), "--root", "/nonexistent", "list", "--quiet=yes"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.out, "");
}

TEST(Cli, AnUnknownCommandIsNamed) {
  auto r = test::run({nsrun_binary(), "--root", "/nonexistent", "frobnicate", "x"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: unknown command \"frobnicate\" (see: nsrun help)\n");
}

TEST(Cli, AUsageErrorNamesItsCommandAndWhereItsHelpIs) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const Case cases[] = {
      {{"gc", "--bogus"}, "nsrun: gc: unknown flag --bogus (see: nsrun gc --help)\n"},
      {{"kill"}, "nsrun: kill: id is required (see: nsrun kill --help)\n"},
      {{"rootfs", "create"},
       "nsrun: rootfs create: dir is required (see: nsrun rootfs create --help)\n"},
      {{"list", "--format", "xml"},
       "nsrun: list: --format: xml not in {table,json} (see: nsrun list --help)\n"},
      // A global flag's error is nsrun's, whatever command follows.
      {{"--log-level", "loud", "list"},
       "nsrun: --log-level: loud not in {error,warn,info,debug} (see: nsrun help)\n"},
      {{"--bogus"}, "nsrun: unknown flag --bogus (see: nsrun help)\n"},
      // A flag's value is true or false, where CLI11 took any number (`--force=2` for true).
      {{"delete", "--force=2", "c1"},
       "nsrun: delete: --force: takes no value, or true or false (not \"2\") (see: nsrun delete "
       "--help)\n"},
      {{"run", "--rm=-1", "true"},
       "nsrun: run: --rm: takes no value, or true or false (not \"-1\") (see: nsrun run --help)\n"},
      // A stage's switch too (the security stage's).
      {{"run", "--privileged=maybe", "true"},
       "nsrun: run: --privileged: takes no value, or true or false (not \"maybe\") (see: nsrun "
       "run --help)\n"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv{nsrun_binary(), "--root", "/nonexistent"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = test::run(argv);
    EXPECT_EQ(r.exit_code, 125) << c.err;
    EXPECT_EQ(r.err, c.err);
  }
}

// A flag a command does not know is named, wherever it stands and whatever else the command
// lacks (`state -x` said "id is required", `state -x ID` "the following argument was not
// expected: -x").
struct UnknownFlag {
  std::vector<std::string> args;
  std::string command;
  std::string flag;
};

// Shown in test names and failures instead of the object's bytes.
void PrintTo(const UnknownFlag& input, std::ostream* out) {
  for (const auto& arg : input.args) *out << arg << ' ';
}

class UnknownFlagTest : public ::testing::TestWithParam<UnknownFlag> {};

TEST_P(UnknownFlagTest, IsNamedWithItsCommand) {
  std::vector<std::string> argv{nsrun_binary(), "--root", "/nonexistent"};
  argv.insert(argv.end(), GetParam().args.begin(), GetParam().args.end());
  auto r = test::run(argv);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "nsrun: " + GetParam().command + ": unknown flag " + GetParam().flag +
                       " (see: nsrun " + GetParam().command + " --help)\n");
}

INSTANTIATE_TEST_SUITE_P(
    OciCommands, UnknownFlagTest,
    ::testing::Values(UnknownFlag{{"state", "-x"}, "state", "-x"},
                      UnknownFlag{{"state", "-x", "c1"}, "state", "-x"},
                      UnknownFlag{{"state", "c1", "-x"}, "state", "-x"},
                      UnknownFlag{{"state", "--bogus=1", "c1"}, "state", "--bogus"},
                      UnknownFlag{{"kill", "-x", "c1"}, "kill", "-x"},
                      UnknownFlag{{"kill", "c1", "KILL", "--bogus"}, "kill", "--bogus"},
                      UnknownFlag{{"delete", "-x", "c1"}, "delete", "-x"},
                      UnknownFlag{{"start", "-x", "c1"}, "start", "-x"},
                      UnknownFlag{{"create", "-x", "c1"}, "create", "-x"},
                      UnknownFlag{{"ps", "-x", "c1"}, "ps", "-x"},
                      UnknownFlag{{"pause", "-x", "c1"}, "pause", "-x"},
                      UnknownFlag{{"resume", "-x", "c1"}, "resume", "-x"},
                      UnknownFlag{{"exec", "-x", "c1", "true"}, "exec", "-x"},
                      UnknownFlag{{"update", "-x", "c1"}, "update", "-x"},
                      UnknownFlag{{"list", "-x"}, "list", "-x"},
                      UnknownFlag{{"features", "-x"}, "features", "-x"},
                      UnknownFlag{{"spec", "-x"}, "spec", "-x"}));

TEST(Plugins, ListsLoadedAndRefusedWithReasons) {
  auto r = test::run({nsrun_binary(), "--plugin-dir", NSRUN_FIXTURE_PLUGIN_DIR, "--plugin-dir",
                      NSRUN_FIXTURE_PLUGIN_DIR2, "plugins"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("nsrun.storage"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("built for nsrun plugin API 999, this nsrun speaks API " +
                       std::to_string(NSRUN_API_MAJOR) + "." + std::to_string(NSRUN_API_MINOR)),
            std::string::npos);
  EXPECT_NE(r.out.find("duplicate name test.good"), std::string::npos);
}

}  // namespace
}  // namespace nsrun::test
