// End to end, as root: containers in user namespaces. Root inside is an unprivileged uid outside;
// the rootfs (owned by host root) is seen through an idmapped mount; --userns auto takes blocks of
// a subordinate id pool (temporary files, through a pipeline: /etc/subuid is never touched) and
// gives them back.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "e2e.hpp"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;

// The "Uid:" or "Gid:" line of /proc/<pid>/status: the ids as the host sees them.
std::string status_line(pid_t pid, const std::string& key) {
  std::istringstream status(read_text("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with(key + ":")) return line;
  return "";
}

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

class UsernsE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // created containers outlive nsrun create
    state_ = std::make_unique<TempDir>("nsrun-e2e-userns-state-");
    work_ = std::make_unique<TempDir>("nsrun-e2e-userns-work-");
    // What is bound in must be reachable by the container's root, an unprivileged host uid:
    // the files nsrun generates in the state root (0711 as nsrun makes one; an existing root
    // keeps its mode) ...
    ::chmod(state_->path().c_str(), 0711);
    // ... and the directories bound in.
    ::chmod(work_->path().c_str(), 0755);
    // So must the rootfs's path: the build's may lie beneath a directory only root may enter (a
    // clone in a 0700 temp dir), so the tests use a copy where anyone may pass.
    rootfs_ = work_->path() + "/rootfs";
    ASSERT_EQ(run({"cp", "-a", busybox_rootfs(), rootfs_}).exit_code, 0);
    // And so must the working directory, which `nsrun run` binds at /app.
    saved_cwd_ = fs::current_path();
    fs::current_path(work_->path());
  }
  void TearDown() override {
    if (!saved_cwd_.empty()) fs::current_path(saved_cwd_);
    if (!state_) return;
    auto left = delete_every_container(state_->path());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
    EXPECT_TRUE(held_blocks("uids").empty() && held_blocks("gids").empty())
        << "a block of subordinate ids was not given back";
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    EXPECT_TRUE(mounts_containing(rootfs_).empty()) << "a mount was left on the host";
  }

  const std::string& root() const { return state_->path(); }

  CommandResult nsrun(const std::vector<std::string>& args, int timeout = 60) {
    std::vector<std::string> argv{nsrun_binary(), "--root", root()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", timeout);
  }
  CommandResult run_container(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"run", "--rootfs", rootfs_};
    argv.insert(argv.end(), args.begin(), args.end());
    return nsrun(argv);
  }

  // The shipped pipeline with the namespaces stage reading `subuid`/`subgid` as its pool.
  std::string pipeline_with_pool(const std::string& subuid, const std::string& subgid) {
    auto pipeline = boost::json::parse(read_text(NSRUN_DEFAULT_PIPELINE)).as_object();
    for (auto& stage : pipeline.at("stages").as_array())
      if (stage.at("kind") == "namespaces")
        stage.as_object()["config"] =
            boost::json::object{{"subuidFile", subuid}, {"subgidFile", subgid}};
    const std::string path = work_->path() + "/pipeline.json";
    std::ofstream(path) << boost::json::serialize(pipeline);
    return path;
  }
  std::string write_pool(const std::string& name, const std::string& text) {
    const std::string path = work_->path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::vector<std::string> held_blocks(const std::string& kind) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root() + "/_userns/" + kind, ec))
      out.push_back(entry.path().filename().string());
    return out;
  }
  std::vector<std::string> containers() const {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(root()))
      if (entry.path().filename().string().front() != '_')
        out.push_back(entry.path().filename().string());
    return out;
  }

  // A bad run: exit 125, one line naming the problem, and nothing left behind.
  void expect_refused(const CommandResult& r, const std::string& message) {
    EXPECT_EQ(r.exit_code, 125) << r.out << r.err;
    EXPECT_EQ(r.err, "nsrun: namespaces: " + message + "\n");
    EXPECT_EQ(line_count(r.err), 1U);
    EXPECT_TRUE(containers().empty());
    EXPECT_TRUE(held_blocks("uids").empty());
  }

  std::unique_ptr<TempDir> state_, work_;
  std::string rootfs_;  ///< a copy of the busybox rootfs the container's root can reach
  fs::path saved_cwd_;
};

TEST_F(UsernsE2E, RootInsideIsAnUnprivilegedUidOutsideAndSeesAnIdmappedRootfs) {
  // A host file only host root may read or write, bound in without idmapping.
  const std::string secret = work_->path() + "/secret";
  std::ofstream(secret) << "host\n";
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  auto r = run_container(
      {"--network", "none", "--uidmap", "0:100000:65536", "--mount", secret + ":/secret", "sh",
       "-c",
       "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u %g' /bin/busybox "
       "/etc; stat -c %u /secret; cat /secret || echo cannot-read; "
       "echo pwned >> /secret || echo cannot-write; touch /tmp/x && echo tmp-ok"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::istringstream lines(r.out);
  std::vector<std::string> out;
  for (std::string line; std::getline(lines, line);) out.push_back(line);
  ASSERT_GE(out.size(), 10U) << r.out << r.err;
  EXPECT_EQ(out[0], "0") << "root inside";
  EXPECT_EQ(out[1], "0");
  EXPECT_EQ(out[2].substr(out[2].find_first_not_of(' ')), "0     100000      65536")
      << "uid 0 is host uid 100000";
  EXPECT_EQ(out[3].substr(out[3].find_first_not_of(' ')), "0     100000      65536")
      << "--uidmap alone maps gids the same way";
  EXPECT_EQ(out[4], "0 0") << "the rootfs is idmapped: host root's files are root's inside";
  EXPECT_EQ(out[5], "0 0");
  EXPECT_EQ(out[6], "65534") << "a host file bound in without idmapping: host root is nobody";
  EXPECT_EQ(out[7], "cannot-read") << "container root is not host root";
  EXPECT_EQ(out[8], "cannot-write");
  EXPECT_EQ(out[9], "tmp-ok");
  EXPECT_EQ(read_text(secret), "host\n");
}

TEST_F(UsernsE2E, DebugShowsTheMapsAndTheIdmappedRootfs) {
  auto r = sh("DEBUG=1 " + shell_quote(nsrun_binary()) + " --root " + shell_quote(root()) +
              " run --rootfs " + shell_quote(rootfs_) +
              " --network none --uidmap 0:100000:65536 --gidmap 0:200000:65536 true");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("user namespace: uid map 0:100000:65536, gid map 0:200000:65536"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("is idmapped to the user namespace"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("not idmapped"), std::string::npos) << r.err;
}

TEST_F(UsernsE2E, AutoTakesDistinctBlocksFromThePoolAndGivesThemBack) {
  const std::string pipeline =
      pipeline_with_pool(write_pool("subuid", "alice:100000:65536\ncontainers:200000:1000000\n"),
                         write_pool("subgid", "containers:3000000:1000000\n"));
  const std::string first_out = work_->path() + "/first.out";
  // The first container holds its block while the second one starts.
  BackgroundProcess first(
      {"/bin/sh", "-c",
       shell_quote(nsrun_binary()) + " --root " + shell_quote(root()) + " run --pipeline " +
           shell_quote(pipeline) + " --rootfs " + shell_quote(rootfs_) +
           " --network none --userns=auto sh -c 'cat /proc/self/uid_map /proc/self/gid_map; "
           "id -u; sleep 3' >" +
           shell_quote(first_out) + " 2>&1"});
  for (int i = 0; i < 500 && read_text(first_out).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_FALSE(read_text(first_out).empty()) << "the first container did not start";
  EXPECT_EQ(held_blocks("uids").size(), 1U);
  auto second = run_container({"--pipeline", pipeline, "--network", "none", "--userns", "auto",
                               "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  ASSERT_EQ(first.wait(), 0) << read_text(first_out);
  const std::string first_text = read_text(first_out);
  auto squeeze = [](std::string text) {
    std::string out;
    std::istringstream words(text);
    for (std::string word; words >> word;) out += (out.empty() ? "" : " ") + word;
    return out;
  };
  EXPECT_EQ(squeeze(first_text), "0 200000 65536 0 3000000 65536 0") << first_text;
  EXPECT_EQ(squeeze(second.out), "0 265536 65536 0 3065536 65536") << second.out;
  // Both exited: every block is back in the pool.
  EXPECT_TRUE(held_blocks("uids").empty());
  EXPECT_TRUE(held_blocks("gids").empty());
  EXPECT_TRUE(containers().empty());

  // podman's auto:size=N: a block of N ids, and the container's ids end there.
  auto sized = run_container({"--pipeline", pipeline, "--network", "none", "--userns",
                              "auto:size=1000", "sh", "-c",
                              "cat /proc/self/uid_map; touch /tmp/f; chown 999 /tmp/f && echo "
                              "999 ok; chown 1000 /tmp/f || echo 1000 refused"});
  ASSERT_EQ(sized.exit_code, 0) << sized.err;
  EXPECT_EQ(squeeze(sized.out), "0 200000 1000 999 ok 1000 refused") << sized.out << sized.err;
  EXPECT_TRUE(held_blocks("uids").empty());
}

TEST_F(UsernsE2E, BadInputIsOneLineExit125AndLeavesNothing) {
  expect_refused(run_container({"--network", "none", "--uidmap", "0:100000", "true"}),
                 "--uidmap 0:100000 must be CONTAINER:HOST:SIZE, three whole numbers from 0 to "
                 "4294967295 (e.g. --uidmap 0:100000:65536)");
  expect_refused(run_container({"--network", "none", "--uidmap", "a:b:c", "true"}),
                 "--uidmap a:b:c must be CONTAINER:HOST:SIZE, three whole numbers from 0 to "
                 "4294967295 (e.g. --uidmap 0:100000:65536)");
  expect_refused(run_container({"--network", "none", "--uidmap", "0:100000:10", "--uidmap",
                                "5:200000:10", "true"}),
                 "--uidmap 0:100000:10 and --uidmap 5:200000:10 overlap in container ids (map "
                 "each container id once)");
  expect_refused(run_container({"--network", "none", "--uidmap", "1:100000:10", "true"}),
                 "--uidmap does not map container id 0, the container's root (add --uidmap "
                 "0:100000:65536 or similar)");
  expect_refused(run_container({"--network", "none", "--userns", "private", "true"}),
                 "--userns private is not a mode (use auto for a free block of subordinate ids, "
                 "or host for no user namespace)");
  const std::string subuid = write_pool("subuid", "alice:100000:65536\n");
  const std::string pipeline = pipeline_with_pool(subuid, write_pool("subgid", ""));
  expect_refused(
      run_container({"--pipeline", pipeline, "--network", "none", "--userns=auto", "true"}),
      "--userns auto: " + subuid +
          " gives the user \"containers\" no subordinate ids (add a line such as "
          "containers:2147483647:2147483648 to /etc/subuid and /etc/subgid)");
  // A full pool is said in prepare, once the state dir exists: it is removed again.
  const std::string small = write_pool("small", "containers:100000:100\n");
  expect_refused(run_container({"--pipeline", pipeline_with_pool(small, small), "--network", "none",
                                "--userns=auto", "true"}),
                 "--userns auto: no free block of 65536 ids left in the containers range of " +
                     small +
                     " (0 in use; give containers a larger range, or remove stopped "
                     "containers)");
}

TEST_F(UsernsE2E, UserFlagMustBeMappedInTheNamespace) {
  auto r = run_container(
      {"--network", "none", "--uidmap", "0:100000:1000", "--user", "1000", "id", "-u"});
  EXPECT_EQ(r.exit_code, 125) << r.out << r.err;
  EXPECT_EQ(r.err,
            "nsrun: namespaces: process.user.uid 1000 is not mapped by linux.uidMappings (map "
            "it, or run as a mapped user)\n");
  EXPECT_TRUE(containers().empty());
  r = run_container(
      {"--network", "none", "--uidmap", "0:100000:65536", "--user", "1000:1000", "id"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "uid=1000 gid=1000\n") << "no host group kept";
}

// An engine's bundle: linux.uidMappings through create, start, exec, state and delete.
TEST_F(UsernsE2E, BundleWithUidMappingsThroughCreateStartDelete) {
  const std::string bundle = work_->path() + "/bundle";
  fs::create_directory(bundle);
  std::ofstream(bundle + "/config.json") << R"({"ociVersion": "1.0.2",
    "process": {"args": ["sh", "-c", "echo started; exec sleep 30"], "env": ["PATH=/bin"],
                "cwd": "/", "user": {"uid": 0, "gid": 0}},
    "root": {"path": ")" << rootfs_ << R"("}, "hostname": "userns",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                             {"type": "ipc"}, {"type": "network"}, {"type": "user"}],
              "uidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}],
              "gidMappings": [{"containerID": 0, "hostID": 400000, "size": 65536}]}})";
  auto r = sh(shell_quote(nsrun_binary()) + " --root " + shell_quote(root()) + " create --bundle " +
                  shell_quote(bundle) + " u1 </dev/null >" + shell_quote(bundle + "/stdout") +
                  " 2>" + shell_quote(bundle + "/stderr"),
              30);
  ASSERT_EQ(r.exit_code, 0) << read_text(bundle + "/stderr");
  auto state = boost::json::parse(nsrun({"state", "u1"}).out).as_object();
  const auto pid = static_cast<pid_t>(state.at("pid").as_int64());
  ASSERT_GT(pid, 0);
  ASSERT_EQ(nsrun({"start", "u1"}).exit_code, 0);
  for (int i = 0; i < 500 && read_text(bundle + "/stdout").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(read_text(bundle + "/stdout"), "started\n");
  EXPECT_EQ(status_line(pid, "Uid"), "Uid:\t300000\t300000\t300000\t300000")
      << "the host sees the container's root as uid 300000";
  EXPECT_EQ(status_line(pid, "Gid"), "Gid:\t400000\t400000\t400000\t400000");
  EXPECT_EQ(status_line(pid, "Groups"), "Groups:\t ") << "no host group is kept";
  r = nsrun({"exec", "u1", "sh", "-c", "id -u; stat -c %u /bin/busybox"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n0\n") << "an exec'd process is the namespace's root too";
  r = nsrun({"delete", "--force", "u1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(containers().empty());
}

// The default pipeline's bridge network with a user namespace: the veth peer moves into a network
// namespace owned by the container's user namespace, and the container reaches its gateway.
TEST_F(UsernsE2E, BridgeNetworkWorksInAUserNamespace) {
  if (!in_throwaway_netns()) GTEST_SKIP() << "needs tests/helpers/in-throwaway-netns.sh";
  auto r = run_container({"--stage", "network=nsrun.network.bridge", "--network", "10.89.0.0/24",
                          "--cap-add", "NET_RAW", "--uidmap", "0:100000:65536", "sh", "-c",
                          "ip -4 -o addr show eth0; id -u; ping -c1 -W3 10.89.0.1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("inet 10.89.0.2/24"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 packets received"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(root() + "/_ipam/leases") && !fs::is_empty(root() + "/_ipam/leases"));
}

}  // namespace
}  // namespace nsrun::test

namespace nsrun::test {
namespace {

// The container's root, an unprivileged host uid, must be able to pass through the directories
// above the rootfs: one line before anything exists, not a failed mount inside.
TEST_F(UsernsE2E, ARootfsOutOfReachOfTheContainersRootIsOneLine) {
  const std::string closed = work_->path() + "/closed";
  fs::create_directory(closed);
  ::chmod(closed.c_str(), 0700);
  ASSERT_EQ(run({"cp", "-a", rootfs_, closed + "/rootfs"}).exit_code, 0);
  auto r = nsrun({"run", "--rootfs", closed + "/rootfs", "--network", "none", "--uidmap",
                  "0:100000:65536", "true"});
  EXPECT_EQ(r.exit_code, 125) << r.out << r.err;
  EXPECT_EQ(r.err, "nsrun: storage: the rootfs " + closed +
                       "/rootfs is out of reach of the container's root (host uid 100000, a user "
                       "namespace): " +
                       closed + " is mode 0700 (let others pass, e.g. chmod o+x " + closed +
                       ", or use a rootfs elsewhere)\n");
  EXPECT_TRUE(containers().empty());
}

// The same for the state root, where the files nsrun generates for the container (/etc/hosts...)
// are bound from: a root beneath a directory the container's root cannot pass through.
TEST_F(UsernsE2E, AStateRootOutOfReachOfTheContainersRootIsOneLine) {
  const std::string closed = work_->path() + "/closed-state";
  fs::create_directory(closed);
  ::chmod(closed.c_str(), 0700);
  auto r = run({nsrun_binary(), "--root", closed + "/root", "run", "--rootfs", rootfs_, "--network",
                "none", "--uidmap", "0:100000:65536", "true"});
  EXPECT_EQ(r.exit_code, 125) << r.out << r.err;
  EXPECT_NE(r.err.find("/etc/resolv.conf), " + closed + "/root/"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(", is out of reach of the container's root (host uid 100000, a user "
                       "namespace): " +
                       closed + " is mode 0700 (let others pass, e.g. chmod o+x " + closed +
                       ", or give nsrun --root a directory it can reach)\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_TRUE(delete_every_container(closed + "/root").empty());
  fs::remove_all(closed);
}

// The same for a bind mount's source, and for the directory `nsrun run` is started from, which it
// mounts at /app: the line says which mount, which directory stops the container's root, and how
// to get past it.
TEST_F(UsernsE2E, AMountSourceOutOfReachOfTheContainersRootIsOneLine) {
  const std::string closed = work_->path() + "/closed-volume";
  fs::create_directories(closed + "/data");
  ::chmod(closed.c_str(), 0700);
  const std::string reason =
      " is out of reach of the container's root (host uid 100000, a user "
      "namespace): " +
      closed + " is mode 0700 (let others pass, e.g. chmod o+x " + closed;
  auto r = nsrun({"run", "--rootfs", rootfs_, "--network", "none", "--uidmap", "0:100000:65536",
                  "--mount", closed + "/data:/data", "true"});
  EXPECT_EQ(r.exit_code, 125) << r.out << r.err;
  EXPECT_EQ(r.err, "nsrun: storage: the mount /data: its source " + closed + "/data" + reason +
                       ", or mount a directory elsewhere)\n");
  EXPECT_TRUE(containers().empty());

  r = sh("cd " + shell_quote(closed + "/data") + " && " + shell_quote(nsrun_binary()) + " --root " +
         shell_quote(root()) + " run --rootfs " + shell_quote(rootfs_) +
         " --network none --uidmap 0:100000:65536 true");
  EXPECT_EQ(r.exit_code, 125) << r.out << r.err;
  EXPECT_EQ(r.err, "nsrun: storage: the mount /app: its source " + closed + "/data" + reason +
                       ", or start nsrun run from a directory it can reach: it mounts the current "
                       "directory at /app unless --mount is given)\n");
  EXPECT_TRUE(containers().empty());

  // Reachable once others may pass.
  ::chmod(closed.c_str(), 0711);
  r = nsrun({"run", "--rootfs", rootfs_, "--network", "none", "--uidmap", "0:100000:65536",
             "--mount", closed + "/data:/data", "true"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// Idmapped binds: mounts[].uidMappings/gidMappings show the source's ids through the mount's own
// maps, and the "idmap" option (podman's -v SRC:DST:idmap) through the container's.
TEST_F(UsernsE2E, IdmappedBindsShowTheSourceThroughTheirMaps) {
  const std::string data = work_->path() + "/data";
  fs::create_directory(data);
  std::ofstream(data + "/rootfile") << "r";
  std::ofstream(data + "/userfile") << "u";
  ASSERT_EQ(::chown((data + "/userfile").c_str(), 1000, 1000), 0);
  const std::string bundle = work_->path() + "/bundle";
  fs::create_directory(bundle);
  const std::string own_maps =
      R"("uidMappings": [{"containerID": 1000, "hostID": 300000, "size": 1},
                         {"containerID": 0, "hostID": 300001, "size": 1}],
         "gidMappings": [{"containerID": 1000, "hostID": 300000, "size": 1},
                         {"containerID": 0, "hostID": 300001, "size": 1}])";
  std::ofstream(bundle + "/config.json") << R"({"ociVersion": "1.0.2",
    "process": {"args": ["sh", "-c", "stat -c '%n %u' /plain/rootfile /plain/userfile /mapped/rootfile /mapped/userfile /idm/rootfile /idm/userfile; echo m > /mapped/made; echo i > /idm/made2"],
                "env": ["PATH=/bin"], "cwd": "/"},
    "root": {"path": ")" << rootfs_ << R"("},
    "mounts": [{"destination": "/plain", "type": "bind", "source": ")"
                                         << data << R"(", "options": ["rbind"]},
               {"destination": "/mapped", "type": "bind", "source": ")"
                                         << data << R"(", "options": ["rbind"], )" << own_maps
                                         << R"(},
               {"destination": "/idm", "type": "bind", "source": ")"
                                         << data << R"(", "options": ["bind", "idmap"]}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "user"}],
              "uidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}],
              "gidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}]}})";
  auto r = nsrun({"run", "--stage", "network=nsrun.network.none", "--bundle", bundle});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "/plain/rootfile 65534\n/plain/userfile 65534\n"  // not idmapped: nobody
            "/mapped/rootfile 1\n/mapped/userfile 0\n"        // 1000 on disk is the root here
            "/idm/rootfile 0\n/idm/userfile 1000\n");         // the container's own maps
  struct stat st {};
  ASSERT_EQ(::stat((data + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000U) << "written through /mapped: lands on disk as 1000";
  ASSERT_EQ(::stat((data + "/made2").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0U) << "written through /idm by the container's root: host root on disk";
  EXPECT_TRUE(containers().empty());

  // Without a user namespace the mount's maps alone apply: 1000 on disk shows as root.
  std::ofstream(bundle + "/config.json") << R"({"ociVersion": "1.0.2",
    "process": {"args": ["stat", "-c", "%u", "/mapped/userfile"], "env": ["PATH=/bin"], "cwd": "/"},
    "root": {"path": ")" << rootfs_ << R"("},
    "mounts": [{"destination": "/mapped", "type": "bind", "source": ")"
                                         << data << R"(", "options": ["rbind", "ro"],
                "uidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}],
                "gidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}]}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}})";
  r = nsrun({"run", "--stage", "network=nsrun.network.none", "--bundle", bundle});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0\n");

  // "idmap" needs the container's user namespace.
  std::ofstream(bundle + "/config.json") << R"({"ociVersion": "1.0.2",
    "process": {"args": ["true"], "env": ["PATH=/bin"], "cwd": "/"},
    "root": {"path": ")" << rootfs_ << R"("},
    "mounts": [{"destination": "/idm", "type": "bind", "source": ")"
                                         << data << R"(", "options": ["bind", "idmap"]}],
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}})";
  r = nsrun({"run", "--stage", "network=nsrun.network.none", "--bundle", bundle});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: storage: mount on \"/idm\": the idmap option maps the bind with the "
            "container's user namespace, and it has none (add a user namespace, or give the mount "
            "uidMappings and gidMappings)\n");
  EXPECT_TRUE(containers().empty());
}

// A filesystem that refuses idmapped mounts (ramfs: no FS_ALLOW_IDMAP): the rootfs is bound as
// without a user namespace, with one warning, and host root's files show as nobody.
TEST_F(UsernsE2E, ARootfsOnAFilesystemWithoutIdmapsFallsBackWithOneWarning) {
  const std::string ramfs = work_->path() + "/ramfs";
  fs::create_directory(ramfs);
  ASSERT_EQ(run({"mount", "-t", "ramfs", "ramfs", ramfs}).exit_code, 0);
  struct Unmount {
    std::string path;
    ~Unmount() { run({"umount", path}); }
  } unmount{ramfs};
  ::chmod(ramfs.c_str(), 0755);
  const std::string rootfs = ramfs + "/rootfs";
  ASSERT_EQ(run({"cp", "-a", busybox_rootfs(), rootfs}).exit_code, 0);
  const std::string bundle = work_->path() + "/bundle";
  fs::create_directory(bundle);
  std::ofstream(bundle + "/config.json") << R"({"ociVersion": "1.0.2",
    "process": {"args": ["stat", "-c", "%u", "/bin/busybox"], "env": ["PATH=/bin"], "cwd": "/"},
    "root": {"path": ")" << rootfs << R"("},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "user"}],
              "uidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}],
              "gidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}]}})";
  auto r = nsrun({"run", "--stage", "network=nsrun.network.none", "--bundle", bundle});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "65534\n") << "not idmapped: host root's files are nobody's";
  EXPECT_EQ(r.err, "nsrun: warning: storage: the rootfs " + rootfs +
                       " is not idmapped (mount_setattr IDMAP: Invalid argument): files owned by "
                       "host root appear as nobody in the container (idmapped mounts need Linux "
                       "5.12 or later and a filesystem that supports them)\n");
  EXPECT_TRUE(containers().empty());
}

}  // namespace
}  // namespace nsrun::test
