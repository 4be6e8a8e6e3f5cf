// Driver detection from sample mountinfo texts, and where nsrun's own cgroup is.
#include <gtest/gtest.h>

#include "fake_cgroupfs.hpp"
#include "nsrun/cgroups/driver.hpp"
#include "nsrun/cgroups/layout.hpp"

namespace nsrun::cgroups {
namespace {

// This machine: v1 controllers with a cgroup2 mount beside them (systemd's hybrid layout).
const char* hybrid_mountinfo =
    "25 1 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

// A Debian 10 / CentOS 7 style v1 host: cpu and cpuacct co-mounted, net_cls,net_prio too.
const char* v1_mountinfo =
    "24 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:5 - tmpfs tmpfs ro,mode=755\n"
    "26 24 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:7 - cgroup "
    "cgroup rw,xattr,name=systemd\n"
    "29 24 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup "
    "cgroup rw,cpu,cpuacct\n"
    "30 24 0:28 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:11 - "
    "cgroup cgroup rw,net_cls,net_prio\n"
    "31 24 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup "
    "cgroup rw,memory\n"
    "32 24 0:30 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup "
    "rw,pids\n";

// A current distribution: cgroup2 only.
const char* v2_mountinfo =
    "22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
    "26 23 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

TEST(ParseMountinfo, FindsEveryCgroupMountWithItsControllers) {
  auto mounts = parse_mountinfo(hybrid_mountinfo);
  ASSERT_EQ(mounts.size(), 8u);
  EXPECT_FALSE(mounts[0].v2);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(mounts[0].root, "/");
  EXPECT_EQ(mounts[0].controllers, std::vector<std::string>{"cpu"});
  EXPECT_EQ(mounts[6].controllers, std::vector<std::string>{"name=systemd"});
  EXPECT_TRUE(mounts[7].v2);
  EXPECT_EQ(mounts[7].mount_point, "/sys/fs/cgroup/unified");
  EXPECT_TRUE(mounts[7].controllers.empty());

  auto v1 = parse_mountinfo(v1_mountinfo);
  ASSERT_EQ(v1.size(), 5u);
  EXPECT_EQ(v1[1].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_EQ(v1[2].controllers, (std::vector<std::string>{"net_cls", "net_prio"}));
  EXPECT_EQ(v1[0].controllers, std::vector<std::string>{"name=systemd"});  // xattr is no controller
}

TEST(ParseMountinfo, DecodesEscapesAndKeepsTheMountRoot) {
  auto mounts = parse_mountinfo(
      "99 1 0:40 /docker/abc /sys/fs/cgroup/my\\040cgroups ro - cgroup2 cgroup2 rw\n"
      "garbage line\n\n");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/my cgroups");
  EXPECT_EQ(mounts[0].root, "/docker/abc");
}

TEST(DecideDriver, DetectsV1V2AndHybrid) {
  EXPECT_EQ(decide_driver(parse_mountinfo(hybrid_mountinfo), Driver::automatic), Driver::hybrid);
  EXPECT_EQ(decide_driver(parse_mountinfo(v1_mountinfo), Driver::automatic), Driver::v1);
  EXPECT_EQ(decide_driver(parse_mountinfo(v2_mountinfo), Driver::automatic), Driver::v2);
}

TEST(DecideDriver, AV2HostWithANamedV1HierarchyIsStillV2) {
  std::string text = std::string(v2_mountinfo) +
                     "40 26 0:40 / /run/systemd/compat rw - cgroup cgroup rw,name=systemd\n";
  EXPECT_EQ(decide_driver(parse_mountinfo(text), Driver::automatic), Driver::v2);
}

TEST(DecideDriver, OverridesAreCheckedAgainstTheMounts) {
  auto hybrid = parse_mountinfo(hybrid_mountinfo);
  EXPECT_EQ(decide_driver(hybrid, Driver::v1), Driver::v1);
  EXPECT_EQ(decide_driver(hybrid, Driver::v2), Driver::v2);
  EXPECT_EQ(decide_driver(hybrid, Driver::hybrid), Driver::hybrid);
  auto v2 = parse_mountinfo(v2_mountinfo);
  try {
    decide_driver(v2, Driver::v1);
    FAIL() << "v1 on a v2 host";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cgroup driver v1 was asked for, but no cgroup v1 controller is mounted (cgroup "
              "mounts: /sys/fs/cgroup (cgroup2); use --cgroup-driver v2)");
  }
  EXPECT_THROW(decide_driver(v2, Driver::hybrid), StageError);
  EXPECT_THROW(decide_driver(parse_mountinfo(v1_mountinfo), Driver::v2), StageError);
  EXPECT_THROW(decide_driver(parse_mountinfo(v1_mountinfo), Driver::hybrid), StageError);
}

TEST(DecideDriver, NoCgroupFilesystemAtAll) {
  try {
    decide_driver(parse_mountinfo("22 1 0:21 / /proc rw - proc proc rw\n"), Driver::automatic);
    FAIL();
  } catch (const StageError& e) {
    EXPECT_NE(std::string(e.what()).find("no cgroup filesystem is mounted"), std::string::npos);
  }
}

TEST(ParseDriver, KnowsTheFourNames) {
  EXPECT_EQ(parse_driver("auto"), Driver::automatic);
  EXPECT_EQ(parse_driver("v1"), Driver::v1);
  EXPECT_EQ(parse_driver("v2"), Driver::v2);
  EXPECT_EQ(parse_driver("hybrid"), Driver::hybrid);
  EXPECT_EQ(parse_driver("systemd"), std::nullopt);
}

TEST(ParseProcCgroup, ReadsV1AndV2Lines) {
  auto self = parse_proc_cgroup(
      "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/db59\n1:cpu,cpuacct:/a:b\n0::/\n");
  EXPECT_EQ(self.v1.at("memory"), "/process_api/db59");
  EXPECT_EQ(self.v1.at("cpu"), "/a:b");
  EXPECT_EQ(self.v1.at("cpuacct"), "/a:b");
  EXPECT_EQ(self.v1.at("name=systemd"), "/");
  ASSERT_TRUE(self.v2);
  EXPECT_EQ(*self.v2, "/");
  EXPECT_FALSE(parse_proc_cgroup("4:memory:/x\n").v2);
}

TEST(Layout, OwnPathIsRelativeToTheMountRoot) {
  Layout layout;
  layout.self = parse_proc_cgroup("0::/docker/abc/inner\n");
  CgroupMount mount{true, "/sys/fs/cgroup", "/docker/abc", {}};
  EXPECT_EQ(layout.own_path(mount), "/inner");
  mount.root = "/docker/abc/inner";
  EXPECT_EQ(layout.own_path(mount), "/");
  mount.root = "/docker/other";
  EXPECT_THROW(layout.own_path(mount), StageError);
  mount.root = "/docker/ab";  // a prefix of the string, not of the path
  EXPECT_THROW(layout.own_path(mount), StageError);
}

TEST(DetectLayout, ReadsProcThroughTheHost) {
  test::FakeCgroupFs fs;
  test::FakeCgroupFs::make_v1_host(fs, /*hybrid=*/true);
  Layout layout = detect_layout(fs, Driver::automatic);
  EXPECT_EQ(layout.driver, Driver::hybrid);
  ASSERT_TRUE(layout.v2);
  EXPECT_EQ(layout.v2->mount_point, "/sys/fs/cgroup/unified");
  ASSERT_EQ(layout.v1.size(), 5u);  // name=systemd is no controller hierarchy
  ASSERT_NE(layout.v1_hierarchy("cpuacct"), nullptr);
  EXPECT_EQ(layout.v1_hierarchy("cpuacct")->mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(layout.own_path(*layout.v1_hierarchy("memory")), "/process_api/abc");
  EXPECT_EQ(layout.own_path(*layout.v1_hierarchy("pids")), "/");
  EXPECT_EQ(layout.v1_hierarchy("blkio"), nullptr);

  Layout v1_only = detect_layout(fs, Driver::v1);
  EXPECT_EQ(v1_only.driver, Driver::v1);
  EXPECT_FALSE(v1_only.v2);
}

TEST(DetectLayout, MissingProcIsAnError) {
  test::FakeCgroupFs fs;
  EXPECT_THROW(detect_layout(fs, Driver::automatic), StageError);
}

}  // namespace
}  // namespace nsrun::cgroups
