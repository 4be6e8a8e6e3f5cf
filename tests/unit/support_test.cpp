// The support library the core and the plugins share.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "nsrun/support/cgroupfs.hpp"
#include "nsrun/support/fd.hpp"
#include "nsrun/support/files.hpp"
#include "nsrun/support/link.hpp"

namespace nsrun::support {
namespace {

namespace fs = std::filesystem;

TEST(Support, AtomicWriteReplacesWholeAndLeavesNoTemporary) {
  fs::path dir = fs::temp_directory_path() / ("nsrun-support-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string path = (dir / "file").string();
  EXPECT_EQ(write_file_atomically(path, "first\n", 0640), 0);
  EXPECT_EQ(write_file_atomically(path, "second\n"), 0);
  EXPECT_EQ(read_file(path), "second\n");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "a new file each time, with the mode asked for";
  EXPECT_EQ(write_file_atomically((dir / "missing" / "file").string(), "x"), ENOENT);
  EXPECT_FALSE(read_file((dir / "missing").string()));
  fs::remove_all(dir);
}

TEST(Support, UniqueFdClosesOnceAndMoves) {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(raw, 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(::fcntl(raw, F_GETFD), -1) << "closed when its owner went";
}

// A process that does not exist (above any pid_max) has no namespace to enter: one error naming
// the path, and the step does not run in this thread's own namespace instead.
TEST(Support, ANetworkNamespaceThatCannotBeEnteredIsAnErrorAndTheStepDoesNotRun) {
  bool ran = false;
  try {
    in_network_namespace_of(999999999, [&] { ran = true; });
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot enter the network namespace /proc/999999999/ns/net: No such file or "
              "directory");
  }
  EXPECT_FALSE(ran);
}

}  // namespace
// The cgroup mounts of a hybrid host's mountinfo: v1 hierarchies with their options, the cgroup2
// one, a mount point with an escaped space, and the lines that are not cgroup mounts or are cut.
TEST(Support, CgroupMountsOfMountinfo) {
  const char* mountinfo =
      "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
      "30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
      "31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
      "32 25 0:28 /kube /sys/fs/cgroup/my\\040pids rw - cgroup cgroup rw,pids\n"
      "33 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "34 25 0:30 / /cut rw - cgroup\n"
      "\n";
  auto mounts = support::parse_cgroup_mounts(mountinfo);
  ASSERT_EQ(mounts.size(), 4u);
  EXPECT_TRUE(mounts[0].v2);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/unified");
  EXPECT_FALSE(mounts[1].v2);
  EXPECT_EQ(mounts[1].super_options, (std::vector<std::string>{"rw", "cpu", "cpuacct"}));
  EXPECT_EQ(mounts[2].mount_point, "/sys/fs/cgroup/my pids");
  EXPECT_EQ(mounts[2].root, "/kube");
  EXPECT_EQ(mounts[3].super_options.back(), "name=systemd");
}

TEST(Support, CgroupsOfAProcess) {
  auto lines = support::parse_process_cgroups(
      "12:cpu,cpuacct:/a\n1:name=systemd:/user.slice\n0::/with:colon\nmalformed\n");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(lines[0].path, "/a");
  EXPECT_EQ(lines[1].controllers, (std::vector<std::string>{"name=systemd"}));
  EXPECT_TRUE(lines[2].controllers.empty()) << "the cgroup2 line";
  EXPECT_EQ(lines[2].path, "/with:colon");
}

}  // namespace nsrun::support
