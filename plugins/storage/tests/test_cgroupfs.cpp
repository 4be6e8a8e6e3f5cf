// The container's cgroupfs: parsing the host's mountinfo and /proc/self/cgroup, and the view
// built from them on a (fake) cgroup v1 or v2 host.
#include <gtest/gtest.h>

#include "fake_host_fs.hpp"
#include "nsrun/stage.hpp"
#include "nsrun/storage/cgroupfs.hpp"

namespace nsrun::storage {
namespace {

using testing::FakeHostFs;

TEST(ParseCgroupMounts, KeepsCgroupAndCgroup2MountsWithTheirSuperOptions) {
  auto mounts = parse_cgroup_mounts(
      "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 master:2 - cgroup cgroup "
      "rw,cpu,cpuacct\n"
      "40 30 0:37 /sub /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw,nsdelegate\n");
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(mounts[0].root, "/");
  EXPECT_FALSE(mounts[0].v2);
  EXPECT_EQ(mounts[0].super_options, (std::vector<std::string>{"rw", "cpu", "cpuacct"}));
  EXPECT_EQ(mounts[1].mount_point, "/mnt/my cgroups");
  EXPECT_EQ(mounts[1].root, "/sub");
  EXPECT_TRUE(mounts[1].v2);
}

TEST(ParseProcessCgroups, ControllersAndPaths) {
  auto cgroups = parse_process_cgroups("9:name=systemd:/a\n4:cpu,cpuacct:/b:c\n0::/d\n");
  ASSERT_EQ(cgroups.size(), 3u);
  EXPECT_EQ(cgroups[0].controllers, std::vector<std::string>{"name=systemd"});
  EXPECT_EQ(cgroups[0].path, "/a");
  EXPECT_EQ(cgroups[1].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(cgroups[1].path, "/b:c");
  EXPECT_TRUE(cgroups[2].controllers.empty());
  EXPECT_EQ(cgroups[2].path, "/d");
}

TEST(CgroupDirectory, RelativeToTheMountsRoot) {
  CgroupMountEntry at_root{"/sys/fs/cgroup/pids", "/", false, {}};
  EXPECT_EQ(cgroup_directory(at_root, "/"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(cgroup_directory(at_root, "/a/nsrun-c1"), "/sys/fs/cgroup/pids/a/nsrun-c1");
  CgroupMountEntry subtree{"/sys/fs/cgroup/pids", "/a", false, {}};
  EXPECT_EQ(cgroup_directory(subtree, "/a"), "/sys/fs/cgroup/pids");
  EXPECT_EQ(cgroup_directory(subtree, "/a/b"), "/sys/fs/cgroup/pids/b");
  EXPECT_EQ(cgroup_directory(subtree, "/ab"), std::nullopt);
  EXPECT_EQ(cgroup_directory(subtree, "/"), std::nullopt);
}

TEST(CgroupVersionOf, ByFilesystemMagic) {
  EXPECT_EQ(cgroup_version_of(0x63677270), CgroupVersion::v2);
  EXPECT_EQ(cgroup_version_of(0x01021994), CgroupVersion::v1);
  EXPECT_EQ(cgroup_version_of(0x62656572), CgroupVersion::none);  // sysfs: nothing mounted
}

TEST(ContainerCgroupfsView, V1OneBindPerHierarchyAndTheCoMountLinks) {
  FakeHostFs fs;
  testing::play_cgroup_v1_host(fs, "/user.slice/nsrun-c1");
  CgroupfsView view = container_cgroupfs_view(fs);
  EXPECT_EQ(view.version, CgroupVersion::v1);
  EXPECT_EQ(view.binds, (std::vector<CgroupfsBind>{
                            {"pids", "/sys/fs/cgroup/pids/user.slice/nsrun-c1"},
                            {"cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/user.slice/nsrun-c1"},
                            {"memory", "/sys/fs/cgroup/memory/user.slice/nsrun-c1"},
                            {"systemd", "/sys/fs/cgroup/systemd/user.slice/nsrun-c1"},
                            {"unified", "/sys/fs/cgroup/unified/user.slice/nsrun-c1"},
                        }));
  EXPECT_EQ(view.links,
            (std::vector<SymlinkEntry>{{"cpu", "cpu,cpuacct"}, {"cpuacct", "cpu,cpuacct"}}));
  EXPECT_EQ(fs.calls, std::vector<std::string>{}) << "looking changes nothing";
}

TEST(ContainerCgroupfsView, V1LinkToAHierarchyNotShownIsLeftOut) {
  FakeHostFs fs;
  testing::play_cgroup_v1_host(fs, "/c1");
  fs.symlink_entries["/sys/fs/cgroup"].push_back({"net_cls", "net_cls,net_prio"});
  EXPECT_EQ(container_cgroupfs_view(fs).links.size(), 2u);
}

TEST(ContainerCgroupfsView, V2TheContainersCgroupDirectory) {
  FakeHostFs fs;
  testing::play_cgroup_v2_host(fs, "/system.slice/nsrun-c1");
  CgroupfsView view = container_cgroupfs_view(fs);
  EXPECT_EQ(view.version, CgroupVersion::v2);
  EXPECT_EQ(view.binds, (std::vector<CgroupfsBind>{{"", "/sys/fs/cgroup/system.slice/nsrun-c1"}}));
  EXPECT_TRUE(view.links.empty());
}

TEST(ContainerCgroupfsView, NoCgroupFilesystemIsNone) {
  FakeHostFs fs;
  EXPECT_EQ(container_cgroupfs_view(fs).version, CgroupVersion::none);
}

TEST(ContainerCgroupfsView, UnreadableProcIsAnError) {
  FakeHostFs fs;
  testing::play_cgroup_v1_host(fs, "/c1");
  fs.readable_files.erase("/proc/self/cgroup");
  try {
    container_cgroupfs_view(fs);
    FAIL() << "no error";
  } catch (const StageError& e) {
    EXPECT_STREQ(e.what(),
                 "cannot read /proc/self/cgroup to find the container's cgroups: No such file or "
                 "directory");
  }
}

}  // namespace
}  // namespace nsrun::storage
