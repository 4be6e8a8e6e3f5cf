// End to end, as root: a bundle built from the config.json containerd 1.6 writes (plus the
// cgroup mount containerd and podman add) runs, and the container sees every mount as asked.
//
// The bundle leaves out what another stage is to implement (process.capabilities, rlimits,
// noNewPrivileges, linux.maskedPaths, readonlyPaths) and containerd's linux.cgroupsPath, so that
// the container's cgroups go beneath this test's own (nsrun's default) and nothing is created
// elsewhere in the host's hierarchies.
//
// The container must have joined its cgroups when the storage stage mounts its cgroupfs: the
// cgroups stage joins them in its create_container, and comes before storage in the default
// pipeline (a contract, "cgroups.membership", makes every pipeline keep that order).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e.hpp"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool host_has_cgroup_v1_pids() {
  return fs::exists("/sys/fs/cgroup/pids/pids.max") || fs::exists("/sys/fs/cgroup/pids/tasks");
}

class EngineBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    state_ = std::make_unique<TempDir>("nsrun-e2e-state-");
    bundle_ = std::make_unique<TempDir>("nsrun-e2e-bundle-");
    data_ = std::make_unique<TempDir>("nsrun-e2e-data-");
    std::ofstream(data_->path() + "/hello.txt") << "hello\n";
    config_ = json::parse(slurp(NSRUN_CONTAINERD_CONFIG)).as_object();
    json::object& process = config_["process"].as_object();
    for (const char* key : {"capabilities", "rlimits", "noNewPrivileges"}) process.erase(key);
    json::object& linux_section = config_["linux"].as_object();
    for (const char* key : {"maskedPaths", "readonlyPaths", "cgroupsPath"})
      linux_section.erase(key);
    linux_section["resources"].as_object()["pids"] = json::object{{"limit", 77}};
    linux_section["resources"].as_object()["memory"] = json::object{{"limit", 64 << 20}};
    config_["root"].as_object()["path"] = busybox_rootfs();
    process["env"] = json::array{"PATH=/bin:/sbin"};
    json::array& mounts = config_["mounts"].as_array();
    mounts.push_back(json::object{{"destination", "/sys/fs/cgroup"},
                                  {"type", "cgroup"},
                                  {"source", "cgroup"},
                                  {"options", json::array{"ro", "nosuid", "noexec", "nodev"}}});
    mounts.push_back(json::object{{"destination", "/data"},
                                  {"type", "bind"},
                                  {"source", data_->path()},
                                  {"options", json::array{"rbind", "ro", "nosuid", "rprivate"}}});
  }

  void TearDown() override {
    if (!state_) return;
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(state_->path()))
      if (entry.path().filename().string().front() != '_') left.push_back(entry.path().filename());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
  }

  // Runs `script` with sh in a container of the bundle; `extra` are nsrun run flags.
  CommandResult run_script(const std::string& script, const std::vector<std::string>& extra = {}) {
    config_["process"].as_object()["args"] = json::array{"sh", "-c", script};
    std::ofstream(bundle_->path() + "/config.json") << json::serialize(config_);
    std::vector<std::string> argv{nsrun_binary(), "--root", state_->path(), "run"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--bundle", bundle_->path()});
    return test::run(argv);
  }

  // The fields of the mountinfo line of `mount_point`, as the container printed it.
  static std::string mount_line(const std::string& out, const std::string& mount_point) {
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
      if (line.find(" " + mount_point + " ") != std::string::npos) return line;
    return "";
  }

  std::unique_ptr<TempDir> state_, bundle_, data_;
  json::object config_;
};

TEST_F(EngineBundleTest, CgroupfsShowsTheContainersOwnCgroupReadOnly) {
  if (!host_has_cgroup_v1_pids()) GTEST_SKIP() << "needs a cgroup v1 pids hierarchy";
  auto r = run_script(
      // The shell's builtins read cgroup.procs: a cat would be listed too.
      "cat /sys/fs/cgroup/pids/pids.max;"
      "while read p; do printf '%s ' $p; done < /sys/fs/cgroup/pids/cgroup.procs; echo;"
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes;"
      "echo 5 > /sys/fs/cgroup/pids/pids.max 2>/dev/null && echo PIDS-WRITABLE;"
      "mkdir /sys/fs/cgroup/x 2>/dev/null && echo TMPFS-WRITABLE;"
      "ls /sys/fs/cgroup | tr '\\n' ' '; echo",
      {"--network", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream out(r.out);
  std::string pids_max, procs, memory, listing;
  std::getline(out, pids_max);
  std::getline(out, procs);
  std::getline(out, memory);
  std::getline(out, listing);
  EXPECT_EQ(pids_max, "77") << "the container's own pids cgroup: " << r.out;
  EXPECT_EQ(procs, "1 ") << "only the container's processes are in it (the shell, pid 1)";
  EXPECT_EQ(memory, "67108864") << "the container's own memory cgroup";
  EXPECT_EQ(r.out.find("WRITABLE"), std::string::npos) << r.out;
  // Every hierarchy the host mounts beneath /sys/fs/cgroup, under the same name.
  for (const auto& entry : fs::directory_iterator("/sys/fs/cgroup"))
    EXPECT_NE(listing.find(entry.path().filename().string() + " "), std::string::npos)
        << entry.path() << " missing from " << listing;
}

TEST_F(EngineBundleTest, EveryMountOfTheEngineConfigIsMountedAsAsked) {
  auto r = run_script(
      "cat /proc/self/mountinfo;"
      "touch /data/x 2>/dev/null && echo DATA-WRITABLE; cat /data/hello.txt;"
      "touch /run/ok && echo run-ok; touch /sys/x 2>/dev/null && echo SYS-WRITABLE;"
      "touch /sys/fs/cgroup/x 2>/dev/null && echo CGROUP-WRITABLE; true",
      {"--network", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string& out = r.out;
  std::string mqueue = mount_line(out, "/dev/mqueue");
  EXPECT_NE(mqueue.find(" - mqueue "), std::string::npos) << out;
  EXPECT_NE(mqueue.find("nosuid,nodev,noexec"), std::string::npos) << mqueue;
  std::string pts = mount_line(out, "/dev/pts");
  EXPECT_NE(pts.find(" - devpts "), std::string::npos) << out;
  EXPECT_NE(pts.find("gid=5,mode=620,ptmxmode=666"), std::string::npos) << pts;
  std::string run = mount_line(out, "/run");
  EXPECT_NE(run.find(" - tmpfs "), std::string::npos) << out;
  EXPECT_NE(run.find("mode=755"), std::string::npos) << run;
  EXPECT_NE(run.find("size=65536k"), std::string::npos) << run;
  std::string sys = mount_line(out, "/sys");
  EXPECT_NE(sys.find(" - sysfs "), std::string::npos) << "own netns, own sysfs: " << out;
  EXPECT_NE(sys.find(" ro,"), std::string::npos) << sys;
  std::string data = mount_line(out, "/data");
  EXPECT_NE(data.find(" ro,nosuid"), std::string::npos) << data;
  EXPECT_NE(out.find("hello\nrun-ok\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("WRITABLE"), std::string::npos) << out;
}

// Without a network namespace of its own the container gets the host's /sys, read-only.
TEST_F(EngineBundleTest, SharingTheHostNetworkBindsTheHostSysReadOnly) {
  json::array& namespaces = config_["linux"].as_object()["namespaces"].as_array();
  json::array kept;
  for (const auto& ns : namespaces)
    if (ns.as_object().at("type") != "network") kept.push_back(ns);
  namespaces = kept;
  auto r = run_script(
      "grep ' /sys ' /proc/self/mountinfo; touch /sys/x 2>/dev/null && echo SYS-WRITABLE;"
      "ls /sys/class/net/lo >/dev/null && echo has-lo; true",
      {"--network", "host"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" ro,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("has-lo"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("WRITABLE"), std::string::npos) << r.out;
}

TEST_F(EngineBundleTest, UnknownBindOptionIsRefusedNamingDestinationAndOption) {
  json::array& mounts = config_["mounts"].as_array();
  mounts.back().as_object()["options"] = json::array{"rbind", "size=1m"};
  auto r = run_script("true", {"--network", "none"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("mount on \"/data\": option \"size=1m\" is not supported"),
            std::string::npos)
      << r.err;
}

// `nsrun run` (no bundle) gets the same read-only cgroupfs.
TEST_F(EngineBundleTest, RunWithFlagsGetsTheReadOnlyCgroupfsToo) {
  if (!host_has_cgroup_v1_pids()) GTEST_SKIP() << "needs a cgroup v1 pids hierarchy";
  TempDir work("nsrun-e2e-work-");
  auto r = nsrun_run({"--network", "none", "--pids-limit", "33", "sh", "-c",
                      "cat /sys/fs/cgroup/pids/pids.max; touch /sys/fs/cgroup/pids/x 2>/dev/null "
                      "&& echo WRITABLE; true"},
                     state_->path(), "", 60, work.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "33\n");
}

// What a test sets on the image's entries, and finds on them afterwards (lstat: a symlink's own).
struct EntryState {
  mode_t mode;
  uid_t uid;
  gid_t gid;
  time_t mtime;
  bool operator==(const EntryState&) const = default;
};

EntryState entry_state(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  return {st.st_mode, st.st_uid, st.st_gid, st.st_mtim.tv_sec};
}

void set_entry(const std::string& path, mode_t permissions, uid_t uid, gid_t gid, time_t mtime) {
  ASSERT_EQ(::lchown(path.c_str(), uid, gid), 0) << path;
  if (!fs::is_symlink(path)) {
    ASSERT_EQ(::chmod(path.c_str(), permissions), 0) << path;
  }
  const struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << path;
}

// podman run --read-only, --tmpfs and --mount type=tmpfs ask for tmpcopyup: the tmpfs starts
// with what the image has in its directory (a file, a subdirectory, symlinks: each with its type,
// mode, owner and time, the symlinks as symlinks), the container writes to it, and the image,
// here a copy of the busybox rootfs, is unchanged afterwards. A read-only tmpfs is filled too; a
// destination the image lacks starts empty.
TEST_F(EngineBundleTest, TmpcopyupFillsTheTmpfsWithWhatTheImageHasThere) {
  TempDir image("nsrun-e2e-image-");
  const std::string rootfs = image.path() + "/rootfs";
  ASSERT_EQ(run({"cp", "-a", busybox_rootfs(), rootfs}).exit_code, 0);
  const std::string seed = rootfs + "/opt/seed";
  fs::create_directories(seed + "/sub");
  std::ofstream(seed + "/hello.txt") << "seeded\n";
  std::ofstream(seed + "/sub/inner.txt") << "inner\n";
  fs::create_symlink("hello.txt", seed + "/link");
  fs::create_symlink("/etc/hostname", seed + "/abs");  // the host's, were it followed there
  fs::create_directories(rootfs + "/opt/roseed");
  std::ofstream(rootfs + "/opt/roseed/f") << "ro\n";
  set_entry(seed + "/hello.txt", 0640, 1234, 5678, 1000000000);
  set_entry(seed + "/sub/inner.txt", 0600, 0, 0, 1200000000);
  set_entry(seed + "/sub", 0750, 4321, 4321, 1100000000);
  set_entry(seed + "/link", 0, 1234, 5678, 1300000000);
  set_entry(seed + "/abs", 0, 0, 0, 1400000000);
  const std::vector<std::string> names{"hello.txt", "sub", "sub/inner.txt", "link", "abs"};
  std::vector<EntryState> before;
  for (const auto& name : names) before.push_back(entry_state(seed + "/" + name));

  config_["root"].as_object()["path"] = rootfs;
  json::array& mounts = config_["mounts"].as_array();
  auto tmpfs = [](const char* destination, json::array options) {
    return json::object{{"destination", destination},
                        {"type", "tmpfs"},
                        {"source", "tmpfs"},
                        {"options", std::move(options)}};
  };
  // As podman writes them.
  mounts.push_back(tmpfs(
      "/opt/seed", {"rw", "rprivate", "nosuid", "nodev", "size=1m", "mode=755", "tmpcopyup"}));
  mounts.push_back(tmpfs("/opt/roseed", {"ro", "rprivate", "nosuid", "nodev", "tmpcopyup"}));
  mounts.push_back(tmpfs("/opt/fresh", {"rw", "rprivate", "nosuid", "nodev", "tmpcopyup"}));
  auto r = run_script(
      "cd /opt/seed; stat -c '%n|%F|%a|%u|%g|%Y' hello.txt sub sub/inner.txt link abs;"
      "readlink link; readlink abs; cat hello.txt sub/inner.txt;"
      "grep ' /opt/seed ' /proc/self/mountinfo | grep -c ' - tmpfs ';"
      "echo changed > hello.txt && echo new > new.txt && mkdir sub/more && echo WROTE;"
      "cat hello.txt; cat /opt/roseed/f; touch /opt/roseed/x 2>/dev/null && echo RO-WRITABLE;"
      "ls -A /opt/fresh | wc -l",
      {"--network", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "hello.txt|regular file|640|1234|5678|1000000000\n"
            "sub|directory|750|4321|4321|1100000000\n"
            "sub/inner.txt|regular file|600|0|0|1200000000\n"
            "link|symbolic link|777|1234|5678|1300000000\n"
            "abs|symbolic link|777|0|0|1400000000\n"
            "hello.txt\n/etc/hostname\n"
            "seeded\ninner\n"
            "1\n"
            "WROTE\n"
            "changed\n"
            "ro\n"
            "0\n");

  // The image is as it was: the writes went to the tmpfs, which went with the container.
  EXPECT_EQ(read_text(seed + "/hello.txt"), "seeded\n");
  EXPECT_EQ(read_text(seed + "/sub/inner.txt"), "inner\n");
  EXPECT_FALSE(fs::exists(seed + "/new.txt"));
  EXPECT_FALSE(fs::exists(seed + "/sub/more"));
  EXPECT_FALSE(fs::exists(rootfs + "/opt/roseed/x"));
  EXPECT_EQ(fs::read_symlink(seed + "/link"), "hello.txt");
  EXPECT_EQ(fs::read_symlink(seed + "/abs"), "/etc/hostname");
  for (std::size_t i = 0; i < names.size(); ++i)
    EXPECT_TRUE(entry_state(seed + "/" + names[i]) == before[i]) << names[i] << " changed";
  EXPECT_TRUE(mounts_containing(rootfs).empty()) << "a mount was left on the host";
}

// linux.devices: the node is made at its path with its mode, and the engine's allowlist (which
// allows c 1:3) lets it be used.
TEST_F(EngineBundleTest, LinuxDevicesNodeIsCreatedAndUsable) {
  config_["linux"].as_object()["devices"] = json::array{json::object{
      {"path", "/dev/sub/mynull"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"fileMode", 0600}}};
  auto r = run_script("ls -l /dev/sub/mynull; echo x > /dev/sub/mynull && echo WROTE",
                      {"--network", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("crw-------", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("1,   3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("WROTE\n"), std::string::npos) << r.out;
}

// podman run --device /dev/null:/dev/xnull: podman's fileMode is the host node's st_mode, type
// bits included (8630 is 020666); the node gets the permission bits.
TEST_F(EngineBundleTest, PodmansFileModeWithTypeBitsIsAccepted) {
  config_["linux"].as_object()["devices"] = json::array{json::object{
      {"path", "/dev/xnull"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"fileMode", 8630}}};
  auto r = run_script("ls -l /dev/xnull; echo x > /dev/xnull && echo WROTE", {"--network", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("crw-rw-rw-", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("WROTE\n"), std::string::npos) << r.out;
}

TEST_F(EngineBundleTest, BadLinuxDevicesEntryIsOneLineExit125) {
  config_["linux"].as_object()["devices"] =
      json::array{json::object{{"path", "/dev/x"}, {"type", "x"}, {"major", 1}, {"minor", 3}}};
  auto r = run_script("true", {"--network", "none"});
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_EQ(r.err,
            "nsrun: storage: config.json: linux.devices[0].type: \"x\" is not a device type (use "
            "c, b, u or p)\n");
}

// A tmpfs mounted on `dir`/sub, in a mount namespace of the test process's own: the host never
// sees it, and it goes with the process whatever happens; the destructor unmounts it anyway, so
// that the directory can be removed. ctest runs each test in a process of its own.
class SubmountedTmpfs {
 public:
  explicit SubmountedTmpfs(const std::string& dir) : path_(dir + "/sub") {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr))
      error_ = std::string("cannot make a private mount namespace: ") + std::strerror(errno);
    else if (fs::create_directory(path_); ::mount("tmpfs", path_.c_str(), "tmpfs", 0, "size=1m"))
      error_ = "cannot mount a tmpfs on " + path_ + ": " + std::strerror(errno);
    else
      std::ofstream(path_ + "/inside.txt") << "inside\n";
  }
  ~SubmountedTmpfs() {
    if (error_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }
  SubmountedTmpfs(const SubmountedTmpfs&) = delete;
  SubmountedTmpfs& operator=(const SubmountedTmpfs&) = delete;
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  std::string error_;
};

// What a container prints when it tries to write into /data and into the tmpfs beneath it.
const char* const write_both =
    "exec 2>&1; cat /data/sub/inside.txt; echo x > /data/top; echo x > /data/sub/new; true";

// `--mount HOST:CTR:ro` is docker's `-v HOST:CTR:ro`, read-only recursively since docker 25: a
// tmpfs mounted inside HOST is read-only in the container too (EROFS), not only HOST's own mount.
TEST_F(EngineBundleTest, AReadOnlyMountFlagIsReadOnlyInTheMountsBeneathItToo) {
  SubmountedTmpfs submount(data_->path());
  ASSERT_EQ(submount.error(), "");
  TempDir work("nsrun-e2e-work-");
  auto r = nsrun_run(
      {"--network", "none", "--mount", data_->path() + ":/data:ro", "sh", "-c", write_both},
      state_->path(), "", 60, work.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "inside\n"
            "sh: can't create /data/top: Read-only file system\n"
            "sh: can't create /data/sub/new: Read-only file system\n");
  EXPECT_FALSE(fs::exists(data_->path() + "/sub/new"));
}

// A bundle's "rro" (runc 1.1's) reaches the mounts beneath; its "ro" stays the top mount's, as
// runc makes it.
TEST_F(EngineBundleTest, ABundlesRroIsRecursiveAndItsRoIsNot) {
  SubmountedTmpfs submount(data_->path());
  ASSERT_EQ(submount.error(), "");
  auto r = run_script(write_both, {"--network", "none"});  // {"rbind", "ro", ...}
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "inside\n"
            "sh: can't create /data/top: Read-only file system\n");
  EXPECT_TRUE(fs::exists(data_->path() + "/sub/new")) << "runc's ro is the top mount's alone";

  config_["mounts"].as_array().back().as_object()["options"] =
      json::array{"rbind", "rro", "nosuid", "rprivate"};
  r = run_script(write_both + std::string("; rm /data/sub/new; true"), {"--network", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "inside\n"
            "sh: can't create /data/top: Read-only file system\n"
            "sh: can't create /data/sub/new: Read-only file system\n"
            "rm: can't remove '/data/sub/new': Read-only file system\n");
}

}  // namespace
}  // namespace nsrun::test
