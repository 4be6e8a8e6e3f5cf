// SDK 2.1's phases in the cgroups stage: exec_runtime (nsrun exec), pause and resume (nsrun
// pause/resume), each on a fresh stage object with only the journal, as the core runs them,
// against the v1 (hybrid, like this machine) and v2 fakes.
#include <gtest/gtest.h>

#include "stage_fixture.hpp"

namespace nsrun::cgroups {
namespace {

using test::FakeCgroupFs;
using test::FakeJournal;
using test::FakeLogger;
using test::StageOnFakeHost;
using Writes = std::vector<std::pair<std::string, std::string>>;

const std::string memory_dir = "/sys/fs/cgroup/memory/process_api/abc/nsrun-c1";
const std::string pids_dir = "/sys/fs/cgroup/pids/nsrun-c1";
const std::string freezer_dir = "/sys/fs/cgroup/freezer/nsrun-c1";
const std::string unified_dir = "/sys/fs/cgroup/unified/nsrun-c1";
const std::string cpu_dir = "/sys/fs/cgroup/cpu,cpuacct/nsrun-c1";
const std::string cpuset_dir = "/sys/fs/cgroup/cpuset/nsrun-c1";
const std::string v2_dir = "/sys/fs/cgroup/nsrun-c1";

struct ExecPause : StageOnFakeHost {
  void SetUp() override {
    spec.namespaces = {{"pid", ""}, {"mount", ""}};
    spec.resources.memory_limit = 64LL << 20;
    spec.resources.pids_limit = 32;
  }
  using StageOnFakeHost::context;
  Context context(pid_t pid = 0) { return context(spec, pid); }
  // One phase on a fresh stage object, as nsrun exec/pause/resume run it.
  void run(Phase phase, pid_t pid = 0) {
    auto stage = fresh_stage();
    ContainerSpec persisted = spec;
    Context ctx{"c1", "/run/nsrun/c1", persisted, config, journal, log, pid};
    if (phase == Phase::exec_runtime) stage->exec_runtime(ctx);
    if (phase == Phase::pause) stage->pause(ctx);
    if (phase == Phase::resume) stage->resume(ctx);
    if (phase == Phase::teardown) stage->teardown(ctx);
  }
  std::string error_of(Phase phase, pid_t pid = 0) {
    try {
      run(phase, pid);
    } catch (const StageError& e) {
      return e.what();
    }
    return "";
  }
};

// --- the freezer cgroup ---------------------------------------------------------------------

TEST_F(ExecPause, WithLimitsTheContainerGetsAFreezerCgroupJoinedAndRemovedLikeTheOthers) {
  FakeCgroupFs::make_v1_host(fs, /*hybrid=*/true);
  auto stage = fresh_stage();
  Context ctx = context();
  stage->validate(ctx);
  stage->prepare(ctx);
  // A bundle's: every v1 hierarchy, the limits' first.
  EXPECT_EQ(fs.made_dirs,
            (std::vector<std::string>{memory_dir, pids_dir, cpu_dir, cpuset_dir, freezer_dir}));
  ASSERT_EQ(journal.entries.size(), 1u);  // one record, before the first mkdir, names them all
  EXPECT_NE(
      boost::json::serialize(journal.entries[0].data)
          .find(R"({"dir":"/sys/fs/cgroup/freezer/nsrun-c1","hierarchy":"freezer","v2":false})"),
      std::string::npos);
  Context runtime = context(4242);
  stage->create_container(runtime);
  stage->create_runtime(runtime);
  // The self-move, as for the limits' cgroups: nothing written to a cgroup.procs by the host.
  EXPECT_EQ(fs.writes_under(freezer_dir), (Writes{{"tasks", "0"}}));
  EXPECT_EQ(fs.get(freezer_dir + "/cgroup.procs"), "4242\n");

  fs.kill_process(4242, 9);  // the workload ended
  run(Phase::teardown);
  EXPECT_FALSE(fs.exists(freezer_dir));
  EXPECT_FALSE(fs.exists(memory_dir));
  EXPECT_FALSE(fs.exists(pids_dir));
}

TEST_F(ExecPause, OnV2TheContainersOwnCgroupIsItsFreezer) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  auto stage = fresh_stage();
  Context ctx = context();
  stage->validate(ctx);
  ASSERT_EQ(stage->plan().placements.size(), 1u);
  EXPECT_EQ(stage->plan().placements[0].dir(), "/sys/fs/cgroup/ci/nsrun-c1");
}

TEST_F(ExecPause, WithoutACgroupFilesystemInSightThereIsStillNoCgroupAtAll) {
  FakeCgroupFs::make_v1_host(fs, true);
  without_any_cgroup();
  start_container();
  EXPECT_TRUE(journal.entries.empty());
  EXPECT_TRUE(fs.made_dirs.empty());
}

TEST_F(ExecPause, ATrackedHybridContainerGetsTheV1FreezerBesideItsCgroup2Cgroup) {
  FakeCgroupFs::make_v1_host(fs, true);
  source = SpecSource::flags;  // a bundle's gets every hierarchy anyway
  spec.resources = {};
  spec.namespaces = {{"mount", ""}};
  auto stage = fresh_stage();
  Context ctx = context();
  stage->validate(ctx);
  ASSERT_EQ(stage->plan().placements.size(), 2u);
  EXPECT_EQ(stage->plan().placements[0].dir(), unified_dir);  // cgroup.kill at teardown
  EXPECT_EQ(stage->plan().placements[1].dir(), freezer_dir);  // pause
}

// --- exec_runtime ---------------------------------------------------------------------------

TEST_F(ExecPause, ExecMovesTheProcessIntoEveryCgroupV1AndV2) {
  FakeCgroupFs::make_v1_host(fs, true);
  spec.namespaces = {{"mount", ""}};  // tracked: a cgroup2 cgroup too
  start_container();
  run(Phase::exec_runtime, 5555);
  EXPECT_EQ(fs.writes, (Writes{{memory_dir + "/cgroup.procs", "5555"},
                               {pids_dir + "/cgroup.procs", "5555"},
                               {unified_dir + "/cgroup.procs", "5555"},
                               {cpu_dir + "/cgroup.procs", "5555"},
                               {cpuset_dir + "/cgroup.procs", "5555"},
                               {freezer_dir + "/cgroup.procs", "5555"}}));
  EXPECT_EQ(fs.get(freezer_dir + "/cgroup.procs"), "4242\n5555\n");
  EXPECT_TRUE(log.contains(pids_dir + "/cgroup.procs = 5555"));
  EXPECT_TRUE(fs.made_dirs.empty());
  EXPECT_EQ(journal.entries.size(), 1u);  // exec records nothing: teardown has nothing new
}

TEST_F(ExecPause, ExecOnV2WritesTheOneCgroup) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  start_container();
  run(Phase::exec_runtime, 5555);
  EXPECT_EQ(fs.writes, (Writes{{"/sys/fs/cgroup/ci/nsrun-c1/cgroup.procs", "5555"}}));
}

TEST_F(ExecPause, ExecJoinsACgroupTheContainerSharesButDidNotMake) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  spec.cgroups_path = "/ci/shared";
  fs.write_file("/sys/fs/cgroup/ci/cgroup.subtree_control", "+memory +pids");
  fs.make_dir("/sys/fs/cgroup/ci/shared");  // made by someone else, controllers and all
  start_container();
  run(Phase::exec_runtime, 5555);
  EXPECT_EQ(fs.writes, (Writes{{"/sys/fs/cgroup/ci/shared/cgroup.procs", "5555"}}));
}

TEST_F(ExecPause, ExecIntoAContainerWithoutCgroupsWritesNothing) {
  FakeCgroupFs::make_v1_host(fs, true);
  without_any_cgroup();
  start_container();
  run(Phase::exec_runtime, 5555);
  EXPECT_TRUE(fs.writes.empty());
  EXPECT_TRUE(log.contains("the container has no cgroup: the exec process has nothing to join"));
}

TEST_F(ExecPause, ExecIntoAGoneCgroupNamesItAndWhy) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  fs.remove(pids_dir);
  EXPECT_EQ(error_of(Phase::exec_runtime, 5555),
            "cannot move the exec process 5555 into cgroup " + pids_dir +
                ": No such file or directory (the cgroup is gone: the container has stopped or "
                "was deleted; see nsrun list)");
}

TEST_F(ExecPause, ExecIntoAnEmptyV1CpusetSaysSo) {
  FakeCgroupFs::make_v1_host(fs, true);
  spec.resources = {};
  spec.resources.cpuset_cpus = "1";
  start_container();
  fs.put("/sys/fs/cgroup/cpuset/nsrun-c1/cpuset.mems", "");
  EXPECT_EQ(error_of(Phase::exec_runtime, 5555),
            "cannot move the exec process 5555 into cgroup /sys/fs/cgroup/cpuset/nsrun-c1: No "
            "space left on device (the cgroup's cpuset.cpus or cpuset.mems is empty)");
}

// --- pause and resume -----------------------------------------------------------------------

TEST_F(ExecPause, PauseFreezesTheV1FreezerAndResumeThawsIt) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  run(Phase::pause);
  EXPECT_EQ(fs.writes, (Writes{{freezer_dir + "/freezer.state", "FROZEN"}}));
  EXPECT_EQ(fs.get(freezer_dir + "/freezer.state"), "FROZEN\n");
  EXPECT_EQ(fs.sleeps, 0);
  fs.writes.clear();
  run(Phase::resume);
  EXPECT_EQ(fs.writes, (Writes{{freezer_dir + "/freezer.state", "THAWED"}}));
  EXPECT_EQ(fs.get(freezer_dir + "/freezer.state"), "THAWED\n");
}

TEST_F(ExecPause, PauseWaitsWhileTheV1FreezerReadsFreezing) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  fs.freezing_reads = 3;
  run(Phase::pause);
  EXPECT_EQ(fs.writes, (Writes{{freezer_dir + "/freezer.state", "FROZEN"}}));  // written once
  EXPECT_EQ(fs.sleeps, 3);
  EXPECT_TRUE(log.contains(freezer_dir + ": frozen"));
}

TEST_F(ExecPause, APauseThatNeverCompletesThawsAgainAndSaysWhy) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  fs.freezing_reads = -1;
  EXPECT_EQ(error_of(Phase::pause),
            "cannot pause: " + freezer_dir +
                "/freezer.state still reads FREEZING after 2 s, so the container was thawed "
                "again (a process of it is in an uninterruptible sleep, e.g. on a hung NFS "
                "server or device; try again)");
  EXPECT_EQ(fs.writes, (Writes{{freezer_dir + "/freezer.state", "FROZEN"},
                               {freezer_dir + "/freezer.state", "THAWED"}}));
  // Bounded: 100 us doubling to 10 ms, about 2 s in all.
  EXPECT_GT(fs.sleeps, 100);
  EXPECT_LT(fs.sleeps, 300);
}

TEST_F(ExecPause, PauseAndResumeOnV2UseCgroupFreezeAndWaitForCgroupEvents) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  start_container();
  const std::string dir = "/sys/fs/cgroup/ci/nsrun-c1";
  fs.freezing_reads = 2;
  run(Phase::pause);
  EXPECT_EQ(fs.writes, (Writes{{dir + "/cgroup.freeze", "1"}}));
  EXPECT_EQ(fs.sleeps, 2);
  EXPECT_EQ(fs.get(dir + "/cgroup.events"), "populated 0\nfrozen 1\n");
  fs.writes.clear();
  run(Phase::resume);
  EXPECT_EQ(fs.writes, (Writes{{dir + "/cgroup.freeze", "0"}}));
  EXPECT_EQ(fs.get(dir + "/cgroup.events"), "populated 0\nfrozen 0\n");
}

TEST_F(ExecPause, AV2PauseThatNeverCompletesThawsAgain) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  start_container();
  const std::string dir = "/sys/fs/cgroup/ci/nsrun-c1";
  fs.freezing_reads = -1;
  EXPECT_EQ(error_of(Phase::pause),
            "cannot pause: " + dir +
                "/cgroup.events still reads frozen 0 after 2 s, so the container was thawed "
                "again (a process of it is in an uninterruptible sleep, e.g. on a hung NFS "
                "server or device; try again)");
  EXPECT_EQ(fs.writes, (Writes{{dir + "/cgroup.freeze", "1"}, {dir + "/cgroup.freeze", "0"}}));
}

TEST_F(ExecPause, AKernelWithoutTheV2FreezerIsNamed) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  start_container();
  fs.remove("/sys/fs/cgroup/ci/nsrun-c1/cgroup.freeze");
  EXPECT_EQ(error_of(Phase::pause),
            "cannot pause: cannot write 1 to /sys/fs/cgroup/ci/nsrun-c1/cgroup.freeze: No such "
            "file or directory (the kernel's cgroup v2 freezer needs Linux 5.2 or later)");
}

TEST_F(ExecPause, PausingAContainerWithoutACgroupIsOneClearLine) {
  FakeCgroupFs::make_v1_host(fs, true);
  without_any_cgroup();
  start_container();
  EXPECT_EQ(error_of(Phase::pause),
            "cannot pause: the container has no cgroup (nsrun made none: it had no resource "
            "limit, and no cgroup filesystem was in sight; run it where /sys/fs/cgroup is "
            "mounted, or set the stage's config \"alwaysCreate\": true)");
  EXPECT_TRUE(fs.writes.empty());
  // Nothing can have been frozen, so resume has nothing to do.
  run(Phase::resume);
  EXPECT_TRUE(fs.writes.empty());
}

TEST_F(ExecPause, AlwaysCreateMakesAContainerWithoutLimitsPausable) {
  FakeCgroupFs::make_v1_host(fs, true);
  spec.resources = {};
  config["alwaysCreate"] = true;
  start_container();
  run(Phase::pause);
  EXPECT_EQ(fs.writes, (Writes{{freezer_dir + "/freezer.state", "FROZEN"}}));
}

TEST_F(ExecPause, AContainerStartedWithoutAFreezerCgroupSaysSo) {
  // A journal from before the freezer cgroup (memory and pids only).
  FakeCgroupFs::make_v1_host(fs);
  journal.entries.push_back(
      {"cgroups",
       {{"driver", "v1"},
        {"cgroups",
         boost::json::array{
             boost::json::object{{"dir", memory_dir}, {"hierarchy", "memory"}, {"v2", false}},
             boost::json::object{{"dir", pids_dir}, {"hierarchy", "pids"}, {"v2", false}}}}}});
  EXPECT_EQ(error_of(Phase::pause),
            "cannot pause: the container has no freezer cgroup (it was started by an nsrun "
            "without pause support, or no cgroup freezer hierarchy was mounted; run it again with "
            "this nsrun and the freezer hierarchy mounted)");
  EXPECT_EQ(error_of(Phase::resume), "");
}

TEST_F(ExecPause, PausingAStoppedContainerNamesTheGoneCgroup) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  fs.kill_process(4242, 9);
  run(Phase::teardown);
  EXPECT_EQ(error_of(Phase::pause),
            "cannot pause: cannot write FROZEN to " + freezer_dir +
                "/freezer.state: No such file or directory (the cgroup is gone: the container has "
                "stopped or was deleted; see nsrun list)");
}

TEST_F(ExecPause, TeardownOfAPausedHybridContainerThawsItAfterCgroupKill) {
  // Tracked on a hybrid host: cgroup.kill kills, but v1-frozen tasks act on SIGKILL only once
  // thawed, so teardown thaws the freezer too.
  FakeCgroupFs::make_v1_host(fs, true);
  spec.namespaces = {{"mount", ""}};
  start_container();
  run(Phase::pause);
  fs.writes.clear();
  run(Phase::teardown);
  EXPECT_EQ(fs.writes, (Writes{{unified_dir + "/cgroup.kill", "1"},
                               {freezer_dir + "/freezer.state", "THAWED"}}));
  EXPECT_FALSE(fs.exists(freezer_dir));
}

TEST_F(ExecPause, TeardownOfAPausedV1ContainerKillsAndThaws) {
  FakeCgroupFs::make_v1_host(fs);
  spec.namespaces = {{"mount", ""}};
  start_container();
  run(Phase::pause);
  fs.writes.clear();
  run(Phase::teardown);
  EXPECT_EQ(fs.writes, (Writes{{freezer_dir + "/freezer.state", "FROZEN"},
                               {freezer_dir + "/freezer.state", "THAWED"}}));
  EXPECT_EQ(fs.kills, (std::vector<std::pair<pid_t, int>>{{4242, 9}}));
  EXPECT_FALSE(fs.exists(freezer_dir));
}

}  // namespace
}  // namespace nsrun::cgroups
