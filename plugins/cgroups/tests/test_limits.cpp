// linux.resources checks (bundles reach the stage unchecked) and value conversions.
#include <gtest/gtest.h>

#include "nsrun/cgroups/driver.hpp"
#include "nsrun/cgroups/limits.hpp"

namespace nsrun::cgroups {
namespace {

std::string error_of(const ResourcesSpec& r) {
  try {
    validate_resources(r);
  } catch (const StageError& e) {
    return e.what();
  }
  return "";
}

TEST(ValidateResources, AcceptsUnsetAndSensibleValues) {
  EXPECT_EQ(error_of({}), "");
  ResourcesSpec r;
  r.memory_limit = 64 << 20;
  r.memory_swap = 128 << 20;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.cpu_shares = 512;
  r.pids_limit = 32;
  r.cpuset_cpus = "0-1,3";
  r.cpuset_mems = "0";
  EXPECT_EQ(error_of(r), "");
  ResourcesSpec unlimited;
  unlimited.memory_limit = -1;
  unlimited.memory_swap = -1;
  unlimited.cpu_quota = -1;
  unlimited.pids_limit = -1;
  EXPECT_EQ(error_of(unlimited), "");
  EXPECT_FALSE(needs_of(unlimited).any());
}

TEST(ValidateResources, NamesTheFieldOfEachBadValue) {
  ResourcesSpec r;
  r.memory_limit = 4 << 20;
  EXPECT_EQ(error_of(r),
            "config.json: linux.resources.memory.limit 4194304 is below the minimum of 6 MiB "
            "(6291456; use -1 for no limit)");
  r = {};
  r.memory_swap = 1 << 30;
  EXPECT_NE(error_of(r).find("memory.swap needs memory.limit"), std::string::npos);
  r.memory_limit = 2LL << 30;
  EXPECT_NE(error_of(r).find("is below memory.limit"), std::string::npos);
  r = {};
  r.memory_limit = 64 << 20;
  r.memory_swap = -5;
  EXPECT_NE(error_of(r).find("memory.swap -5 is negative"), std::string::npos);
  r = {};
  r.cpu_quota = 999;
  EXPECT_NE(error_of(r).find("cpu.quota 999 is below the minimum of 1000"), std::string::npos);
  r = {};
  r.cpu_period = 999;
  EXPECT_NE(error_of(r).find("cpu.period 999 is outside"), std::string::npos);
  r.cpu_period = 1000001;
  EXPECT_NE(error_of(r).find("cpu.period"), std::string::npos);
  r = {};
  r.cpu_shares = 1;
  EXPECT_NE(error_of(r).find("cpu.shares 1 is outside 2-262144"), std::string::npos);
  r = {};
  r.pids_limit = 0;
  EXPECT_EQ(error_of(r),
            "config.json: linux.resources.pids.limit 0 must be positive (use -1 for no limit)");
  r.pids_limit = -2;
  EXPECT_NE(error_of(r).find("pids.limit -2"), std::string::npos);
  r = {};
  r.cpuset_cpus = "0-";
  EXPECT_NE(error_of(r).find("cpu.cpus \"0-\" is not a CPU list"), std::string::npos);
  r = {};
  r.cpuset_mems = "x";
  EXPECT_NE(error_of(r).find("cpu.mems \"x\""), std::string::npos);
}

TEST(ParseCpuList, ListsAndRanges) {
  EXPECT_EQ(*parse_cpu_list("0"), (std::set<unsigned>{0}));
  EXPECT_EQ(*parse_cpu_list("0-2,5"), (std::set<unsigned>{0, 1, 2, 5}));
  EXPECT_EQ(*parse_cpu_list("3,1"), (std::set<unsigned>{1, 3}));
  std::string why;
  EXPECT_FALSE(parse_cpu_list("", &why));
  EXPECT_FALSE(parse_cpu_list("1,", &why));
  EXPECT_FALSE(parse_cpu_list("3-1", &why));
  EXPECT_EQ(why, "the range 3-1 runs backwards");
  EXPECT_FALSE(parse_cpu_list("-1", &why));
  EXPECT_FALSE(parse_cpu_list("1 2", &why));
  EXPECT_FALSE(parse_cpu_list("99999999", &why));
}

TEST(FormatBytes, UsesBinaryUnits) {
  EXPECT_EQ(format_bytes(64LL << 20), "64 MiB");
  EXPECT_EQ(format_bytes(1LL << 30), "1 GiB");
  EXPECT_EQ(format_bytes(3LL << 29), "1.5 GiB");
  EXPECT_EQ(format_bytes(6291456), "6 MiB");
  EXPECT_EQ(format_bytes(1000), "1000 bytes");
}

TEST(CpuWeight, ConvertsSharesAsRuncDoes) {
  EXPECT_EQ(cpu_shares_to_weight(2), 1u);
  EXPECT_EQ(cpu_shares_to_weight(1024), 39u);
  EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);
}

TEST(CgroupsPath, RejectsEscapesAndSystemdSyntax) {
  std::string why;
  EXPECT_TRUE(valid_cgroups_path("", &why));
  EXPECT_TRUE(valid_cgroups_path("/ci/job-1", &why));
  EXPECT_TRUE(valid_cgroups_path("relative/child", &why));
  EXPECT_FALSE(valid_cgroups_path("/ci/../../etc", &why));
  EXPECT_NE(why.find("\"..\""), std::string::npos);
  EXPECT_FALSE(valid_cgroups_path("/a/./b", &why));
  EXPECT_FALSE(valid_cgroups_path("system.slice:nsrun:abc", &why));
  EXPECT_NE(why.find("systemd"), std::string::npos);
}

TEST(ContainerCgroupPath, DefaultsBeneathNsrunsOwnCgroup) {
  Layout layout;
  layout.self = parse_proc_cgroup("4:memory:/process_api/abc\n8:pids:/\n");
  CgroupMount memory{false, "/sys/fs/cgroup/memory", "/", {"memory"}};
  CgroupMount pids{false, "/sys/fs/cgroup/pids", "/", {"pids"}};
  EXPECT_EQ(container_cgroup_path(layout, memory, "", "c1"), "/process_api/abc/nsrun-c1");
  EXPECT_EQ(container_cgroup_path(layout, pids, "", "c1"), "/nsrun-c1");
  EXPECT_EQ(container_cgroup_path(layout, memory, "/ci//job/", "c1"), "/ci/job");
  EXPECT_EQ(container_cgroup_path(layout, memory, "sub/x", "c1"), "/process_api/abc/sub/x");
  EXPECT_EQ(container_cgroup_path(layout, pids, "sub", "c1"), "/sub");
  CgroupMount nested{true, "/sys/fs/cgroup", "/docker/abc", {}};
  layout.self.v2 = "/docker/abc";
  EXPECT_EQ(container_cgroup_path(layout, nested, "/docker/abc/x", "c1"), "/x");
  EXPECT_EQ(container_cgroup_path(layout, nested, "", "c1"), "/nsrun-c1");
  EXPECT_THROW(container_cgroup_path(layout, nested, "/elsewhere", "c1"), StageError);
}

}  // namespace
}  // namespace nsrun::cgroups
