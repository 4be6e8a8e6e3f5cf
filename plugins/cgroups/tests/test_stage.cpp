// The whole stage through its phases, as the core drives it, against fake hosts.
#include <gtest/gtest.h>

#include "fake_cgroupfs.hpp"
#include "nsrun/cgroups/cgroups_stage.hpp"

namespace nsrun::cgroups {
namespace {

using test::FakeCgroupFs;
using test::FakeJournal;
using test::FakeLogger;

struct StageTest : ::testing::Test {
  // The stage owns its host; the test keeps a pointer to look at the tree.
  FakeCgroupFs* fs = nullptr;
  std::unique_ptr<CgroupsStage> stage;
  ContainerSpec spec;
  boost::json::object config;
  FakeJournal journal;
  FakeLogger log;

  void SetUp() override {
    auto host = std::make_unique<FakeCgroupFs>();
    fs = host.get();
    FakeCgroupFs::make_v1_host(*fs, /*hybrid=*/true);
    stage = std::make_unique<CgroupsStage>(std::move(host));
    spec.namespaces = {{"pid", ""}, {"mount", ""}};
    spec.resources.memory_limit = 64LL << 20;
    spec.resources.pids_limit = 32;
  }
  // A bundle's (every hierarchy, as runc), unless a test runs the stage for `nsrun run FLAGS`.
  SpecSource source = SpecSource::bundle;
  Context context(pid_t pid = 0) {
    Context ctx{"c1", "/run/nsrun/c1", spec, config, journal, log, pid};
    ctx.spec_source = source;
    return ctx;
  }
  std::string validate_error() {
    Context ctx = context();
    try {
      stage->validate(ctx);
    } catch (const StageError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(StageTest, RunsTheLifecycleAndTearsDownWithAFreshStage) {
  Context ctx = context();
  stage->validate(ctx);
  EXPECT_TRUE(fs->made_dirs.empty());  // validate creates nothing
  EXPECT_TRUE(journal.entries.empty());
  stage->prepare(ctx);
  const std::string memory_dir = "/sys/fs/cgroup/memory/process_api/abc/nsrun-c1";
  EXPECT_EQ(fs->get(memory_dir + "/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(fs->get("/sys/fs/cgroup/pids/nsrun-c1/pids.max"), "32");
  // A bundle's container: a cgroup in every v1 hierarchy (cpu,cpuacct, cpuset, memory, freezer,
  // pids), each with its tasks file open for the container process.
  EXPECT_EQ(fs->open_files.size(), 5u);
  // The core clones here: the container process inherits the descriptors, and the host closes
  // its own copies in create_runtime. The fake has one descriptor table, so the test plays the
  // container's part first.
  Context runtime = context(4242);
  stage->create_container(runtime);  // inside the container process, before its workload
  EXPECT_EQ(fs->get(memory_dir + "/cgroup.procs"), "4242\n");
  EXPECT_EQ(fs->get("/sys/fs/cgroup/pids/nsrun-c1/cgroup.procs"), "4242\n");
  EXPECT_TRUE(fs->open_files.empty());
  stage->create_runtime(runtime);  // no v2 cgroup here: nothing written by the host
  EXPECT_TRUE(log.contains("driver hybrid"));
  EXPECT_TRUE(log.contains(memory_dir + "/memory.limit_in_bytes = 67108864"));
  EXPECT_TRUE(log.contains(memory_dir + "/tasks = 0 (the container process joins)"));
  for (const auto& [path, value] : fs->writes)
    EXPECT_EQ(path.find("cgroup.procs"), std::string::npos);

  // Teardown runs on a fresh stage object with only the journal, as after a crash.
  auto host = std::make_unique<FakeCgroupFs>(fs->root());
  FakeCgroupFs* fresh_fs = host.get();
  FakeCgroupFs::make_v1_host(*fresh_fs, true);  // same tree, same hierarchies
  fresh_fs->put(memory_dir + "/cgroup.procs", "");
  fresh_fs->put("/sys/fs/cgroup/pids/nsrun-c1/cgroup.procs", "");
  fresh_fs->put("/sys/fs/cgroup/freezer/nsrun-c1/cgroup.procs", "");
  CgroupsStage fresh(std::move(host));
  ContainerSpec empty;
  Context teardown_ctx{"c1", "/run/nsrun/c1", empty, config, journal, log, 0};
  fresh.teardown(teardown_ctx);
  EXPECT_FALSE(fs->exists(memory_dir));
  EXPECT_FALSE(fs->exists("/sys/fs/cgroup/pids/nsrun-c1"));
  EXPECT_FALSE(fs->exists("/sys/fs/cgroup/freezer/nsrun-c1"));
  fresh.teardown(teardown_ctx);  // idempotent
}

// `nsrun run` with no limit, where no cgroup filesystem is in sight (`ip netns exec` remounts
// /sys): its default device rules are hardening, not asked for, and it runs without any cgroup.
TEST_F(StageTest, ARunWithoutLimitsOrACgroupFilesystemInSightCostsNothing) {
  source = SpecSource::flags;
  spec.resources = {};
  fs->remove("/proc");
  Context ctx = context();
  stage->validate(ctx);
  stage->prepare(ctx);
  Context runtime = context(4242);
  stage->create_runtime(runtime);
  stage->teardown(ctx);
  EXPECT_TRUE(fs->writes.empty());
  EXPECT_TRUE(journal.entries.empty());
}

TEST_F(StageTest, NoPidNamespaceGetsATrackingCgroup) {
  source = SpecSource::flags;  // a bundle's gets every hierarchy anyway
  spec.resources = {};
  spec.namespaces = {{"mount", ""}};
  Context ctx = context();
  stage->validate(ctx);
  ASSERT_EQ(stage->plan().placements.size(), 2u);
  EXPECT_EQ(stage->plan().placements[0].dir(), "/sys/fs/cgroup/unified/nsrun-c1");
  EXPECT_EQ(stage->plan().placements[1].dir(), "/sys/fs/cgroup/freezer/nsrun-c1");  // pause
}

TEST_F(StageTest, AlwaysCreateConfigKey) {
  spec.resources = {};
  config["alwaysCreate"] = true;
  Context ctx = context();
  stage->validate(ctx);
  // As a bundle's: every v1 hierarchy, and the cgroup2 one that tracks the container.
  EXPECT_EQ(stage->plan().placements.size(), 6u);
}

TEST_F(StageTest, DriverComesFromTheAnnotationOverTheConfig) {
  config["driver"] = "hybrid";
  spec.annotations[annotation::cgroup_driver] = "v1";
  spec.namespaces = {};
  Context ctx = context();
  stage->validate(ctx);
  EXPECT_EQ(stage->plan().driver, Driver::v1);
  ASSERT_EQ(stage->plan().placements.size(), 5u);  // tracked by the v1 freezer: no cgroup2
  for (const auto& placement : stage->plan().placements) EXPECT_FALSE(placement.v2);
}

TEST_F(StageTest, ConfigAndAnnotationErrors) {
  config["driver"] = "systemd";
  EXPECT_EQ(validate_error(),
            "config key \"driver\" of nsrun.cgroups is \"systemd\" (use auto, v1, v2 or hybrid)");
  config = {{"drvier", "v1"}};
  EXPECT_EQ(validate_error(),
            "unknown config key \"drvier\" for nsrun.cgroups (remove it or check its spelling)");
  config = {};
  spec.annotations[annotation::cgroup_driver] = "v3";
  EXPECT_EQ(validate_error(),
            "--cgroup-driver \"v3\" is not a driver (use auto, v1, v2 or hybrid)");
  spec.annotations[annotation::cgroup_driver] =
      "v2";  // v2 on this hybrid host: no memory controller
  EXPECT_NE(validate_error().find("the memory controller is not available in the cgroup2 hierarchy "
                                  "at /sys/fs/cgroup/unified"),
            std::string::npos);
}

TEST_F(StageTest, BadInputIsRefusedBeforeAnythingIsCreated) {
  spec.resources.memory_limit = 1 << 20;
  EXPECT_NE(validate_error().find("memory.limit 1048576 is below the minimum of 6 MiB"),
            std::string::npos);
  spec.resources.memory_limit = 64LL << 20;
  spec.resources.cpuset_cpus = "7";
  EXPECT_EQ(validate_error(), "cpuset cpus \"7\" names CPU 7, which is not online (online: 0-3)");
  spec.resources.cpuset_cpus = "";
  spec.resources.cpuset_mems = "1";
  EXPECT_EQ(validate_error(), "cpuset mems \"1\" names node 1, which is not online (online: 0)");
  spec.resources.cpuset_mems = "";
  spec.cgroups_path = "/a/../../b";
  EXPECT_NE(validate_error().find("must not contain \"..\""), std::string::npos);
  EXPECT_TRUE(fs->made_dirs.empty());
  EXPECT_TRUE(fs->writes.empty());
}

TEST_F(StageTest, AFailedWriteInPrepareIsUndoneByTeardown) {
  spec.resources.memory_limit = 64LL << 20;
  Context ctx = context();
  stage->validate(ctx);
  // The kernel refuses the limit (e.g. the memory in use is above it).
  fs->remove("/sys/fs/cgroup/pids");
  EXPECT_THROW(stage->prepare(ctx), StageError);
  FakeCgroupFs::make_v1_host(*fs, true);
  stage->teardown(ctx);
  EXPECT_FALSE(fs->exists("/sys/fs/cgroup/memory/process_api/abc/nsrun-c1"));
}

}  // namespace
}  // namespace nsrun::cgroups
