// End to end, as root: a container joins namespaces another process holds
// (linux.namespaces[].path), as a Kubernetes pod's containers join its sandbox's and `podman run
// --pod` joins the infra container's. The holders are processes the test starts with unshare(1)
// and kills; their namespaces die with them.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "e2e.hpp"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;

std::string ns_link(pid_t pid, const std::string& name) {
  std::error_code ec;
  return fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + name, ec).string();
}

// Waits until `pid` runs `comm` (unshare has made its namespaces and exec'd).
bool wait_for_comm(pid_t pid, const std::string& comm) {
  for (int i = 0; i < 500; ++i) {
    if (read_text("/proc/" + std::to_string(pid) + "/comm") == comm + "\n") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

class JoinE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    state_ = std::make_unique<TempDir>("nsrun-e2e-join-state-");
    work_ = std::make_unique<TempDir>("nsrun-e2e-join-work-");
    ::chmod(work_->path().c_str(), 0755);
    ::chmod(state_->path().c_str(), 0711);
    // Reachable by a container root that is an unprivileged host uid (the user namespace case).
    rootfs_ = work_->path() + "/rootfs";
    ASSERT_EQ(run({"cp", "-a", busybox_rootfs(), rootfs_}).exit_code, 0);
  }
  void TearDown() override {
    if (!state_) return;
    auto left = delete_every_container(state_->path());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
    EXPECT_TRUE(mounts_containing(rootfs_).empty()) << "a mount was left on the host";
  }

  // A bundle running `script` with these linux.namespaces entries (JSON text).
  std::string bundle(const std::string& namespaces, const std::string& script,
                     const std::string& linux_extra = "") {
    const std::string dir = work_->path() + "/bundle";
    fs::create_directories(dir);
    std::ofstream(dir + "/config.json")
        << R"({"ociVersion": "1.0.2", "process": {"args": ["sh", "-c", )"
        << "\"" << script << "\""
        << R"(], "env": ["PATH=/bin"], "cwd": "/"}, "root": {"path": ")" << rootfs_
        << R"("}, "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
           "linux": {"namespaces": [)"
        << namespaces << "]" << linux_extra << "}}";
    return dir;
  }
  CommandResult nsrun(const std::vector<std::string>& args) {
    std::vector<std::string> argv{nsrun_binary(), "--root", state_->path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 60);
  }
  // `nsrun run --bundle` without a network of nsrun's: the joined one is the holder's.
  CommandResult run_bundle(const std::string& dir) {
    return nsrun({"run", "--stage", "network=nsrun.network.none", "--bundle", dir});
  }
  std::vector<std::string> containers() const {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(state_->path()))
      if (entry.path().filename().string().front() != '_')
        out.push_back(entry.path().filename().string());
    return out;
  }
  std::string entry(const std::string& type, pid_t holder, const std::string& name = "") {
    return R"({"type": ")" + type + R"(", "path": "/proc/)" + std::to_string(holder) + "/ns/" +
           (name.empty() ? type : name) + "\"}";
  }

  std::unique_ptr<TempDir> state_, work_;
  std::string rootfs_;
};

TEST_F(JoinE2E, JoinsTheNetworkUtsAndIpcNamespacesOfAnotherProcess) {
  BackgroundProcess holder({"/usr/bin/unshare", "--net", "--uts", "--ipc", "/bin/sleep", "600"});
  ASSERT_TRUE(wait_for_comm(holder.pid(), "sleep"));
  const pid_t h = holder.pid();
  auto dir = bundle(R"({"type": "pid"}, {"type": "mount"}, )" + entry("network", h, "net") + ", " +
                        entry("uts", h) + ", " + entry("ipc", h),
                    "for n in net uts ipc pid; do readlink /proc/self/ns/$n; done");
  auto r = run_bundle(dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string expected =
      ns_link(h, "net") + "\n" + ns_link(h, "uts") + "\n" + ns_link(h, "ipc") + "\n";
  EXPECT_EQ(r.out.substr(0, expected.size()), expected) << "the holder's namespaces, joined";
  EXPECT_NE(r.out.substr(expected.size()), ns_link(h, "pid") + "\n")
      << "a pid namespace of its own";
  EXPECT_NE(ns_link(h, "net"), ns_link(::getpid(), "net"));
  EXPECT_TRUE(containers().empty());
}

TEST_F(JoinE2E, JoinsAPidNamespaceWhosePid1IsAnotherProcess) {
  BackgroundProcess holder(
      {"/usr/bin/unshare", "--pid", "--fork", "--kill-child", "/bin/sleep", "600"});
  // The sleep is unshare's child, pid 1 of the new pid namespace.
  pid_t sleeper = 0;
  for (int i = 0; i < 500 && sleeper == 0; ++i) {
    auto children = read_text("/proc/" + std::to_string(holder.pid()) + "/task/" +
                              std::to_string(holder.pid()) + "/children");
    if (!children.empty()) sleeper = static_cast<pid_t>(std::stol(children));
    if (sleeper == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(sleeper, 0);
  ASSERT_TRUE(wait_for_comm(sleeper, "sleep"));
  auto dir = bundle(R"({"type": "mount"}, {"type": "network"}, )" + entry("pid", sleeper),
                    "cat /proc/1/comm; echo $$");
  auto r = run_bundle(dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("sleep\n")) << r.out << " (pid 1 inside is the holder's sleep)";
  EXPECT_NE(r.out, "sleep\n1\n") << "the container is not pid 1 of a namespace it joined";
}

TEST_F(JoinE2E, JoinsAUserNamespaceAndTakesItsMaps) {
  BackgroundProcess holder({"/usr/bin/unshare", "--user", "--net", "/bin/sleep", "600"});
  ASSERT_TRUE(wait_for_comm(holder.pid(), "sleep"));
  const pid_t h = holder.pid();
  const std::string proc = "/proc/" + std::to_string(h);
  std::ofstream(proc + "/uid_map") << "0 300000 65536\n";
  std::ofstream(proc + "/gid_map") << "0 400000 65536\n";
  auto dir = bundle(R"({"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, )" +
                        entry("network", h, "net") + ", " + entry("user", h),
                    "readlink /proc/self/ns/user; cat /proc/self/uid_map /proc/self/gid_map; id "
                    "-u; stat -c %u /bin/busybox; touch /tmp/x && stat -c %u /tmp/x");
  auto r = run_bundle(dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string user_ns, uid_map, gid_map, uid, rootfs_owner, tmp_owner;
  std::getline(lines, user_ns);
  std::getline(lines, uid_map);
  std::getline(lines, gid_map);
  std::getline(lines, uid);
  std::getline(lines, rootfs_owner);
  std::getline(lines, tmp_owner);
  EXPECT_EQ(user_ns, ns_link(h, "user"));
  EXPECT_NE(uid_map.find("300000"), std::string::npos) << uid_map;
  EXPECT_NE(gid_map.find("400000"), std::string::npos) << gid_map;
  EXPECT_EQ(uid, "0") << "root of the joined namespace";
  EXPECT_EQ(rootfs_owner, "0") << "the rootfs is idmapped with the joined namespace's maps";
  EXPECT_EQ(tmp_owner, "0");

  // Maps repeated in the bundle must be the namespace's.
  dir = bundle(R"({"type": "pid"}, {"type": "mount"}, )" + entry("user", h), "true",
               R"(, "uidMappings": [{"containerID": 0, "hostID": 300000, "size": 65536}],
                  "gidMappings": [{"containerID": 0, "hostID": 400000, "size": 65536}])");
  r = run_bundle(dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  dir = bundle(R"({"type": "pid"}, {"type": "mount"}, )" + entry("user", h), "true",
               R"(, "uidMappings": [{"containerID": 0, "hostID": 500000, "size": 65536}],
                  "gidMappings": [{"containerID": 0, "hostID": 400000, "size": 65536}])");
  r = run_bundle(dir);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: namespaces: linux.uidMappings (0:500000:65536) differs from the maps "
            "of the user namespace it joins, " +
                proc + "/ns/user (0:300000:65536); remove it, or make it the same\n");
  EXPECT_TRUE(containers().empty());
}

TEST_F(JoinE2E, CreateStartDeleteWithJoinedNamespaces) {
  BackgroundProcess holder({"/usr/bin/unshare", "--net", "--ipc", "/bin/sleep", "600"});
  ASSERT_TRUE(wait_for_comm(holder.pid(), "sleep"));
  const pid_t h = holder.pid();
  auto dir = bundle(R"({"type": "pid"}, {"type": "mount"}, )" + entry("network", h, "net") + ", " +
                        entry("ipc", h),
                    "exec sleep 30");
  // The container keeps the stdio `create` gives it: files, not the test's pipes.
  auto r = sh(shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
                  " create --bundle " + shell_quote(dir) + " j1 </dev/null >" +
                  shell_quote(dir + "/stdout") + " 2>" + shell_quote(dir + "/stderr"),
              30);
  ASSERT_EQ(r.exit_code, 0) << read_text(dir + "/stderr");
  r = nsrun({"state", "j1"});
  auto at = r.out.find("\"pid\":");
  ASSERT_NE(at, std::string::npos) << r.out;
  const pid_t pid = static_cast<pid_t>(std::stol(r.out.substr(at + 6)));
  EXPECT_EQ(ns_link(pid, "net"), ns_link(h, "net"));
  EXPECT_EQ(ns_link(pid, "ipc"), ns_link(h, "ipc"));
  EXPECT_EQ(nsrun({"start", "j1"}).exit_code, 0);
  r = nsrun({"exec", "j1", "readlink", "/proc/self/ns/net"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, ns_link(h, "net") + "\n");
  r = nsrun({"delete", "--force", "j1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(containers().empty());
  EXPECT_EQ(read_text("/proc/" + std::to_string(h) + "/comm"), "sleep\n")
      << "the holder lives on: the namespaces were joined, not owned";
}

TEST_F(JoinE2E, BadPathsAreOneLineExit125AndLeaveNothing) {
  BackgroundProcess holder({"/usr/bin/unshare", "--uts", "/bin/sleep", "600"});
  ASSERT_TRUE(wait_for_comm(holder.pid(), "sleep"));
  const std::string uts = "/proc/" + std::to_string(holder.pid()) + "/ns/uts";
  const std::string base = R"({"type": "pid"}, {"type": "mount"}, )";
  struct Case {
    std::string entry, message;
  };
  const Case cases[] = {
      {R"({"type": "ipc", "path": "proc/1/ns/ipc"})",
       "linux.namespaces[2]: the ipc namespace path \"proc/1/ns/ipc\" is not absolute (give "
       "/proc/PID/ns/ipc or a bind mount of one)"},
      {R"({"type": "ipc", "path": "/nonexistent/ns/ipc"})",
       "linux.namespaces[2]: the ipc namespace path \"/nonexistent/ns/ipc\" cannot be opened: No "
       "such file or directory (is the process that held it gone?)"},
      {R"({"type": "ipc", "path": "/etc/hostname"})",
       "linux.namespaces[2]: the ipc namespace path \"/etc/hostname\" is not a namespace file "
       "(give /proc/PID/ns/ipc or a bind mount of one)"},
      {R"({"type": "ipc", "path": ")" + uts + "\"}",
       "linux.namespaces[2]: the ipc namespace path \"" + uts +
           "\" is a uts namespace (give the ipc namespace's file, /proc/PID/ns/ipc)"},
      {R"({"type": "user", "path": "/proc/self/ns/user"})",
       "linux.namespaces[2]: the user namespace path \"/proc/self/ns/user\" is nsrun's own user "
       "namespace (remove the user entry: without one the container runs in it)"},
  };
  for (const auto& c : cases) {
    auto r = run_bundle(bundle(base + c.entry, "true"));
    EXPECT_EQ(r.exit_code, 125) << c.entry;
    EXPECT_EQ(r.err, "nsrun: namespaces: " + c.message + "\n");
    EXPECT_TRUE(containers().empty()) << c.entry;
  }
}

}  // namespace
}  // namespace nsrun::test
