// The cgroup v2 driver against a temporary directory laid out like a cgroup2 tree.
#include <gtest/gtest.h>

#include "fake_cgroupfs.hpp"
#include "nsrun/cgroups/driver.hpp"
#include "nsrun/cgroups/limits.hpp"

namespace nsrun::cgroups {
namespace {

using test::FakeCgroupFs;
using test::FakeJournal;
using test::FakeLogger;
using test::memory_and_pids;
using Writes = std::vector<std::pair<std::string, std::string>>;

const std::string cg = "/sys/fs/cgroup";

struct V2 : ::testing::Test {
  FakeCgroupFs fs;
  FakeJournal journal;
  FakeLogger log;

  Plan plan_for(const ResourcesSpec& r, bool track = false, const std::string& path = "") {
    Layout layout = detect_layout(fs, Driver::automatic);
    EXPECT_EQ(layout.driver, Driver::v2);
    Plan plan = make_plan(fs, layout, r, path, "c1", track);
    check_plan(fs, plan);
    return plan;
  }
  void create(const Plan& plan) { create_cgroups(fs, plan, "v2", journal, log); }
};

TEST_F(V2, EveryLimitGoesToItsV2FileBeneathNsrunsCgroup) {
  FakeCgroupFs::make_v2_host(fs);  // nsrun in the root cgroup
  ResourcesSpec r = memory_and_pids();
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.cpu_shares = 1024;
  r.cpuset_cpus = "0-1";
  r.cpuset_mems = "0";
  Plan plan = plan_for(r);
  ASSERT_EQ(plan.placements.size(), 1u);
  EXPECT_EQ(plan.placements[0].dir(), cg + "/nsrun-c1");
  create(plan);
  attach_process(fs, plan, 4242, log);

  EXPECT_EQ(fs.writes, (Writes{
                           {cg + "/cgroup.subtree_control", "+cpuset +cpu +memory +pids"},
                           {cg + "/nsrun-c1/cpuset.cpus", "0-1"},
                           {cg + "/nsrun-c1/cpuset.mems", "0"},
                           {cg + "/nsrun-c1/cpu.max", "50000 100000"},
                           {cg + "/nsrun-c1/cpu.weight", "39"},
                           {cg + "/nsrun-c1/memory.max", "67108864"},
                           {cg + "/nsrun-c1/memory.swap.max", "67108864"},
                           {cg + "/nsrun-c1/pids.max", "32"},
                           {cg + "/nsrun-c1/cgroup.procs", "4242"},
                       }));
  EXPECT_EQ(fs.made_dirs, std::vector<std::string>{cg + "/nsrun-c1"});
  EXPECT_EQ(fs.get(cg + "/cgroup.subtree_control"), "cpuset cpu memory pids\n");
  EXPECT_EQ(fs.get(cg + "/nsrun-c1/memory.max"), "67108864");
  EXPECT_EQ(fs.get(cg + "/nsrun-c1/cgroup.procs"), "4242\n");

  // The journal names the directory before it exists; teardown needs nothing else.
  ASSERT_EQ(journal.entries.size(), 1u);
  EXPECT_EQ(journal.entries[0].type, "cgroups");
  EXPECT_EQ(boost::json::serialize(journal.entries[0].data),
            R"({"driver":"v2","cgroups":[{"dir":")" + cg +
                R"(/nsrun-c1","hierarchy":"cgroup2","v2":true,"memory_limit":67108864}]})");
}

TEST_F(V2, OnlyTheControllersNotYetEnabledAreRequested) {
  FakeCgroupFs::make_v2_host(fs);
  fs.put(cg + "/cgroup.subtree_control", "memory\n");
  create(plan_for(memory_and_pids()));
  EXPECT_EQ(fs.writes.front(),
            (std::pair<std::string, std::string>{cg + "/cgroup.subtree_control", "+pids"}));
  fs.writes.clear();
  fs.put(cg + "/cgroup.subtree_control", "memory pids\n");
  fs.remove(cg + "/nsrun-c1");
  create(plan_for(memory_and_pids()));
  EXPECT_EQ(fs.writes_under(cg + "/nsrun-c1").size(), 3u);
  EXPECT_EQ(fs.writes.size(), 3u);  // no subtree_control write at all
}

TEST_F(V2, QuotaOrPeriodAloneAndNoSwapLimit) {
  FakeCgroupFs::make_v2_host(fs);
  ResourcesSpec r;
  r.cpu_period = 50000;
  r.memory_limit = 64LL << 20;
  r.memory_swap = -1;
  create(plan_for(r));
  EXPECT_EQ(fs.writes_under(cg + "/nsrun-c1"),
            (Writes{{"cpu.max", "max 50000"}, {"memory.max", "67108864"}}));
  fs.remove(cg + "/nsrun-c1");
  fs.writes.clear();
  r = {};
  r.cpu_quota = 25000;
  create(plan_for(r));
  EXPECT_EQ(fs.writes_under(cg + "/nsrun-c1"), (Writes{{"cpu.max", "25000"}}));
}

TEST_F(V2, NoInternalProcessesRuleIsExplainedBeforeAnythingIsCreated) {
  FakeCgroupFs::make_v2_host(fs, "/user.slice/session-1.scope");
  fs.put(cg + "/user.slice/session-1.scope/cgroup.procs", "1000\n1001\n");
  Layout layout = detect_layout(fs, Driver::automatic);
  Plan plan = make_plan(fs, layout, memory_and_pids(), "", "c1", false);
  EXPECT_EQ(plan.placements[0].dir(), cg + "/user.slice/session-1.scope/nsrun-c1");
  try {
    check_plan(fs, plan);
    FAIL() << "expected the no-internal-processes rule";
  } catch (const StageError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("cannot delegate memory, pids to the container's cgroup: " + cg +
                           "/user.slice/session-1.scope has processes"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("--cgroup-parent"), std::string::npos);
  }
  EXPECT_TRUE(fs.made_dirs.empty());
  EXPECT_TRUE(fs.writes.empty());
}

TEST_F(V2, AnEmptyDelegatedParentWorks) {
  FakeCgroupFs::make_v2_host(fs, "/ci");  // nsrun's own cgroup, empty in this fake
  create(plan_for(memory_and_pids()));
  EXPECT_EQ(fs.writes.front(), (std::pair<std::string, std::string>{
                                   cg + "/ci/cgroup.subtree_control", "+memory +pids"}));
  EXPECT_TRUE(fs.exists(cg + "/ci/nsrun-c1/pids.max"));
}

TEST_F(V2, AControllerTheParentDoesNotDelegateIsRefused) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  fs.put(cg + "/ci/cgroup.controllers", "cpu memory\n");  // the root delegates no pids
  Layout layout = detect_layout(fs, Driver::automatic);
  Plan plan = make_plan(fs, layout, memory_and_pids(), "", "c1", false);
  try {
    check_plan(fs, plan);
    FAIL();
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "the pids controller is not available in " + cg +
                  "/ci (its parent does not delegate it: enable it in the parent's "
                  "cgroup.subtree_control, or pass a --cgroup-parent where it is)");
  }
}

TEST_F(V2, AControllerTheHierarchyLacksIsRefused) {
  FakeCgroupFs::make_v2_host(fs, "/", "cpu memory");
  Layout layout = detect_layout(fs, Driver::automatic);
  Plan plan = make_plan(fs, layout, memory_and_pids(), "", "c1", false);
  try {
    check_plan(fs, plan);
    FAIL();
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "the pids controller is not available in the cgroup2 hierarchy at " + cg +
                  " (on a hybrid host the controllers belong to cgroup v1: use --cgroup-driver "
                  "auto or v1)");
  }
}

TEST_F(V2, ACgroupParentThatDoesNotExistIsCreatedAndRemoved) {
  FakeCgroupFs::make_v2_host(fs);
  Plan plan = plan_for(memory_and_pids(), false, "/ci/jobs/c1");
  create(plan);
  EXPECT_EQ(fs.made_dirs,
            (std::vector<std::string>{cg + "/ci", cg + "/ci/jobs", cg + "/ci/jobs/c1"}));
  EXPECT_EQ(fs.get(cg + "/ci/cgroup.subtree_control"), "memory pids\n");
  EXPECT_EQ(fs.get(cg + "/ci/jobs/cgroup.subtree_control"), "memory pids\n");
  ASSERT_EQ(journal.entries.size(), 2u);
  EXPECT_EQ(journal.entries[1].type, "cgroup-ancestors");
  attach_process(fs, plan, 4242, log);
  fs.kill_process(4242, 9);  // the workload ends
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_EQ(fs.removed_dirs,
            (std::vector<std::string>{cg + "/ci/jobs/c1", cg + "/ci/jobs", cg + "/ci"}));
}

TEST_F(V2, SharedAncestorsStayWhileAnotherContainerUsesThem) {
  FakeCgroupFs::make_v2_host(fs);
  create(plan_for(memory_and_pids(), false, "/ci/c1"));
  fs.make_dir(cg + "/ci/c2");  // another container's
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_FALSE(fs.exists(cg + "/ci/c1"));
  EXPECT_TRUE(fs.exists(cg + "/ci/c2"));
  EXPECT_TRUE(fs.exists(cg + "/ci"));
}

TEST_F(V2, TeardownKillsWhatIsLeftWithCgroupKillAndRemovesTheDirectory) {
  FakeCgroupFs::make_v2_host(fs);
  Plan plan = plan_for(memory_and_pids());
  create(plan);
  attach_process(fs, plan, 4242, log);
  fs.put(cg + "/nsrun-c1/cgroup.procs", "4242\n4243\n");
  fs.writes.clear();
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_EQ(fs.writes, (Writes{{cg + "/nsrun-c1/cgroup.kill", "1"}}));
  EXPECT_TRUE(fs.kills.empty());
  EXPECT_FALSE(fs.exists(cg + "/nsrun-c1"));
  EXPECT_TRUE(log.errors.empty());
}

TEST_F(V2, TeardownRetriesWhileTheCgroupIsBusy) {
  FakeCgroupFs::make_v2_host(fs);
  create(plan_for(memory_and_pids()));
  fs.busy_rmdirs(3);
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_EQ(fs.sleeps, 3);
  EXPECT_FALSE(fs.exists(cg + "/nsrun-c1"));
}

TEST_F(V2, TeardownIsIdempotent) {
  FakeCgroupFs::make_v2_host(fs);
  create(plan_for(memory_and_pids()));
  remove_cgroups(fs, journal.entries, log, "c1");
  fs.writes.clear();
  EXPECT_NO_THROW(remove_cgroups(fs, journal.entries, log, "c1"));
  EXPECT_TRUE(fs.writes.empty());
  EXPECT_NO_THROW(remove_cgroups(fs, {}, log, "c1"));
}

TEST_F(V2, AnOomKillIsReportedWithTheLimit) {
  FakeCgroupFs::make_v2_host(fs);
  create(plan_for(memory_and_pids()));
  fs.put(cg + "/nsrun-c1/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n");
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_EQ(log.errors, std::vector<std::string>{"container killed: out of memory (limit 64 MiB)"});
}

TEST_F(V2, NoOomNoMessage) {
  FakeCgroupFs::make_v2_host(fs);
  create(plan_for(memory_and_pids()));
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_TRUE(log.errors.empty());
}

TEST_F(V2, WithoutSwapAccountingTheSwapLimitIsSkipped) {
  FakeCgroupFs::make_v2_host(fs);
  fs.without_swap();
  create(plan_for(memory_and_pids()));
  EXPECT_FALSE(fs.exists(cg + "/nsrun-c1/memory.swap.max"));
  EXPECT_EQ(fs.get(cg + "/nsrun-c1/memory.max"), "67108864");
  EXPECT_TRUE(log.contains("swap is not limited"));
}

TEST_F(V2, TrackingOnlyCgroupEnablesNoController) {
  FakeCgroupFs::make_v2_host(fs);
  Plan plan = plan_for({}, /*track=*/true);
  ASSERT_EQ(plan.placements.size(), 1u);
  create(plan);
  attach_process(fs, plan, 4242, log);
  EXPECT_EQ(fs.writes, (Writes{{cg + "/nsrun-c1/cgroup.procs", "4242"}}));
}

TEST_F(V2, NoLimitsAndNoTrackingTouchNothing) {
  FakeCgroupFs::make_v2_host(fs);
  Plan plan = plan_for({}, false);
  EXPECT_TRUE(plan.placements.empty());
  create(plan);
  EXPECT_TRUE(journal.entries.empty());
  EXPECT_TRUE(fs.made_dirs.empty());
}

TEST_F(V2, AnExistingCgroupIsJoinedButLeftInPlace) {
  FakeCgroupFs::make_v2_host(fs);
  fs.write_file(cg + "/cgroup.subtree_control", "+memory +pids");
  fs.make_dir(cg + "/pod");
  Plan plan = plan_for(memory_and_pids(), false, "/pod");
  create(plan);
  ASSERT_EQ(journal.entries.size(), 2u);
  EXPECT_EQ(journal.entries[1].type, "cgroup-existed");
  remove_cgroups(fs, journal.entries, log, "c1");
  EXPECT_TRUE(fs.exists(cg + "/pod"));
}

TEST_F(V2, AnExistingCgroupWithProcessesIsRefused) {
  FakeCgroupFs::make_v2_host(fs);
  fs.make_dir(cg + "/busy");
  fs.put(cg + "/busy/cgroup.procs", "77\n");
  EXPECT_THROW(create(plan_for({}, true, "/busy")), StageError);
}

}  // namespace
}  // namespace nsrun::cgroups
