// The cgroup v1 and hybrid drivers against a temporary directory laid out like this machine's
// cgroupfs (one hierarchy per controller, nsrun in memory:/process_api/abc and "/" elsewhere).
#include <gtest/gtest.h>

#include "fake_cgroupfs.hpp"
#include "nsrun/cgroups/driver.hpp"

namespace nsrun::cgroups {
namespace {

using test::FakeCgroupFs;
using test::FakeJournal;
using test::FakeLogger;
using test::memory_and_pids;
using Writes = std::vector<std::pair<std::string, std::string>>;

const std::string memory_dir = "/sys/fs/cgroup/memory/process_api/abc/nsrun-c1";
const std::string pids_dir = "/sys/fs/cgroup/pids/nsrun-c1";
const std::string cpu_dir = "/sys/fs/cgroup/cpu,cpuacct/nsrun-c1";
const std::string cpuset_dir = "/sys/fs/cgroup/cpuset/nsrun-c1";
const std::string freezer_dir = "/sys/fs/cgroup/freezer/nsrun-c1";
const std::string unified_dir = "/sys/fs/cgroup/unified/nsrun-c1";

struct V1 : ::testing::Test {
  FakeCgroupFs fs;
  FakeJournal journal;
  FakeLogger log;

  Plan plan_for(const ResourcesSpec& r, bool track = false, Driver driver = Driver::automatic,
                const std::string& path = "") {
    Layout layout = detect_layout(fs, driver);
    Plan plan = make_plan(fs, layout, r, path, "c1", track);
    check_plan(fs, plan);
    return plan;
  }
  void create(const Plan& plan) { create_cgroups(fs, plan, "v1", journal, log); }
  // create_runtime on the host, then create_container inside the container process (pid 4242).
  void attach(const Plan& plan) {
    auto files = open_tasks_files(fs, plan);
    attach_process(fs, plan, 4242, log);
    join_cgroups(fs, files, log);
    EXPECT_TRUE(files.empty());
    EXPECT_TRUE(fs.open_files.empty());
  }
  std::vector<std::string> dirs(const Plan& plan) {
    std::vector<std::string> out;
    for (const auto& p : plan.placements) out.push_back(p.dir());
    return out;
  }
};

TEST_F(V1, MemoryAndPidsTouchOnlyTheirHierarchiesAndTheFreezer) {
  FakeCgroupFs::make_v1_host(fs);
  Plan plan = plan_for(memory_and_pids());
  EXPECT_EQ(plan.driver, Driver::v1);
  // The freezer, for nsrun pause, has nothing to write and is joined like the others.
  EXPECT_EQ(dirs(plan), (std::vector<std::string>{memory_dir, pids_dir, freezer_dir}));
  create(plan);
  attach(plan);
  EXPECT_EQ(fs.writes, (Writes{
                           {memory_dir + "/memory.limit_in_bytes", "67108864"},
                           {memory_dir + "/memory.memsw.limit_in_bytes", "134217728"},
                           {pids_dir + "/pids.max", "32"},
                           {memory_dir + "/tasks", "0"},
                           {pids_dir + "/tasks", "0"},
                           {freezer_dir + "/tasks", "0"},
                       }));
  EXPECT_EQ(fs.made_dirs, (std::vector<std::string>{memory_dir, pids_dir, freezer_dir}));
  // nsrun's own cgroup is never written.
  EXPECT_EQ(fs.get("/sys/fs/cgroup/memory/process_api/abc/cgroup.procs"), "1000\n");

  fs.kill_process(4242, 9);
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_EQ(fs.removed_dirs, (std::vector<std::string>{freezer_dir, pids_dir, memory_dir}));
  EXPECT_TRUE(fs.exists("/sys/fs/cgroup/memory/process_api/abc"));
}

TEST_F(V1, CpuLimitsWritePeriodBeforeQuota) {
  FakeCgroupFs::make_v1_host(fs);
  ResourcesSpec r;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.cpu_shares = 512;
  create(plan_for(r));
  EXPECT_EQ(fs.writes, (Writes{{cpu_dir + "/cpu.cfs_period_us", "100000"},
                               {cpu_dir + "/cpu.cfs_quota_us", "50000"},
                               {cpu_dir + "/cpu.shares", "512"}}));
}

TEST_F(V1, CpusetCopiesWhatIsNotGivenFromTheParent) {
  FakeCgroupFs::make_v1_host(fs);
  ResourcesSpec r;
  r.cpuset_cpus = "1-2";
  Plan plan = plan_for(r);
  create(plan);
  attach(plan);
  EXPECT_EQ(fs.writes, (Writes{{cpuset_dir + "/cpuset.cpus", "1-2"},
                               {cpuset_dir + "/cpuset.mems", "0"},
                               {cpuset_dir + "/tasks", "0"},
                               {freezer_dir + "/tasks", "0"}}));
}

TEST_F(V1, NewParentsInTheCpusetHierarchyGetCpusAndMemsToo) {
  FakeCgroupFs::make_v1_host(fs);
  ResourcesSpec r;
  r.cpuset_cpus = "3";
  Plan plan = plan_for(r, false, Driver::automatic, "/ci/c1");
  create(plan);
  attach(plan);
  EXPECT_EQ(fs.get("/sys/fs/cgroup/cpuset/ci/cpuset.cpus"), "0-3");
  EXPECT_EQ(fs.get("/sys/fs/cgroup/cpuset/ci/c1/cpuset.cpus"), "3");
  EXPECT_EQ(fs.get("/sys/fs/cgroup/cpuset/ci/c1/cpuset.mems"), "0");
}

TEST_F(V1, WithoutAPidNamespaceTheFreezerTracksTheContainer) {
  FakeCgroupFs::make_v1_host(fs);
  Plan plan = plan_for(memory_and_pids(), /*track=*/true);
  EXPECT_EQ(dirs(plan), (std::vector<std::string>{memory_dir, pids_dir, freezer_dir}));
  create(plan);
  attach(plan);
  fs.put(freezer_dir + "/cgroup.procs", "4242\n4243\n");
  fs.put(pids_dir + "/cgroup.procs", "4242\n4243\n");
  fs.writes.clear();
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_EQ(fs.writes, (Writes{{freezer_dir + "/freezer.state", "FROZEN"},
                               {freezer_dir + "/freezer.state", "THAWED"}}));
  EXPECT_EQ(fs.kills, (std::vector<std::pair<pid_t, int>>{{4242, 9}, {4243, 9}}));
  EXPECT_FALSE(fs.exists(memory_dir));
  EXPECT_FALSE(fs.exists(pids_dir));
  EXPECT_FALSE(fs.exists(freezer_dir));
}

TEST_F(V1, TrackingAloneUsesTheFreezer) {
  FakeCgroupFs::make_v1_host(fs);
  Plan plan = plan_for({}, true);
  EXPECT_EQ(dirs(plan), std::vector<std::string>{freezer_dir});
}

TEST_F(V1, WithoutFreezerWhatIsLeftIsKilledOneByOne) {
  FakeCgroupFs::make_v1_host(fs);
  fs.put("/proc/self/mountinfo",
         "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
         "38 30 0:35 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n");
  Plan plan = plan_for(memory_and_pids(), true);
  EXPECT_EQ(dirs(plan), (std::vector<std::string>{memory_dir, pids_dir}));
  create(plan);
  fs.put(pids_dir + "/cgroup.procs", "4242\n");
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_EQ(fs.kills, (std::vector<std::pair<pid_t, int>>{{4242, 9}}));
  EXPECT_FALSE(fs.exists(pids_dir));
}

TEST_F(V1, AnOomKillIsReadFromMemoryOomControl) {
  FakeCgroupFs::make_v1_host(fs);
  create(plan_for(memory_and_pids()));
  fs.put(memory_dir + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_EQ(log.errors, std::vector<std::string>{"container killed: out of memory (limit 64 MiB)"});
}

TEST_F(V1, WithoutSwapAccountingMemswIsSkipped) {
  FakeCgroupFs::make_v1_host(fs);
  fs.without_swap();
  create(plan_for(memory_and_pids()));
  EXPECT_EQ(fs.get(memory_dir + "/memory.limit_in_bytes"), "67108864");
  EXPECT_TRUE(log.contains("memory.memsw.limit_in_bytes does not exist"));
}

TEST_F(V1, AMissingControllerIsNamed) {
  FakeCgroupFs::make_v1_host(fs);
  fs.put("/proc/self/mountinfo",
         "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  ResourcesSpec r;
  r.pids_limit = 10;
  try {
    plan_for(r);
    FAIL();
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "the pids controller is not mounted, so --pids-limit cannot be applied (mount the "
              "cgroup pids hierarchy, or remove the limit)");
  }
}

TEST_F(V1, AWriteTheKernelRefusesSaysWhichFileAndValue) {
  FakeCgroupFs::make_v1_host(fs);
  ResourcesSpec r;
  r.pids_limit = 10;
  Plan plan = plan_for(r);
  // Simulate a missing control file in the new cgroup.
  fs.make_dir(pids_dir);
  fs.remove(pids_dir + "/pids.max");
  try {
    create(plan);
    FAIL();
  } catch (const StageError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write \"10\" to " + pids_dir + "/pids.max"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(V1, HybridTracksInTheUnifiedHierarchyAndKillsWithCgroupKill) {
  FakeCgroupFs::make_v1_host(fs, /*hybrid=*/true);
  Plan plan = plan_for(memory_and_pids(), /*track=*/true);
  EXPECT_EQ(plan.driver, Driver::hybrid);
  // The v1 freezer beside it is for nsrun pause.
  EXPECT_EQ(dirs(plan), (std::vector<std::string>{memory_dir, pids_dir, unified_dir, freezer_dir}));
  create(plan);
  attach(plan);
  EXPECT_EQ(fs.get(unified_dir + "/cgroup.procs"), "4242\n");
  fs.writes.clear();
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_EQ(fs.writes, (Writes{{unified_dir + "/cgroup.kill", "1"}}));
  EXPECT_FALSE(fs.exists(unified_dir));
  EXPECT_FALSE(fs.exists(memory_dir));
}

TEST_F(V1, HybridWithAPidNamespaceLeavesTheUnifiedHierarchyAlone) {
  FakeCgroupFs::make_v1_host(fs, true);
  EXPECT_EQ(dirs(plan_for(memory_and_pids(), false)),
            (std::vector<std::string>{memory_dir, pids_dir, freezer_dir}));
}

TEST_F(V1, HybridTakesAControllerOnlyTheUnifiedHierarchyHasFromThere) {
  FakeCgroupFs::make_v1_host(fs, true, "hugetlb pids");
  fs.put("/proc/self/mountinfo",
         "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
         "40 30 0:37 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  Plan plan = plan_for(memory_and_pids());
  EXPECT_EQ(dirs(plan), (std::vector<std::string>{memory_dir, unified_dir}));
  create(plan);
  EXPECT_EQ(fs.writes, (Writes{{memory_dir + "/memory.limit_in_bytes", "67108864"},
                               {memory_dir + "/memory.memsw.limit_in_bytes", "134217728"},
                               {"/sys/fs/cgroup/unified/cgroup.subtree_control", "+pids"},
                               {unified_dir + "/pids.max", "32"}}));
}

TEST_F(V1, TheV1DriverOnAHybridHostIgnoresTheUnifiedMount) {
  FakeCgroupFs::make_v1_host(fs, true);
  Plan plan = plan_for(memory_and_pids(), true, Driver::v1);
  EXPECT_EQ(dirs(plan), (std::vector<std::string>{memory_dir, pids_dir, freezer_dir}));
}

}  // namespace
}  // namespace nsrun::cgroups
