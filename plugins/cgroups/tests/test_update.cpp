// SDK 2.1's update phase in the cgroups stage (nsrun update --resources FILE ID): on a fresh stage
// object with only the journal, the spec's linux.resources being the container's merged with the
// request, against the v1 (hybrid, like this machine) and v2 fakes.
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
const std::string cpu_dir = "/sys/fs/cgroup/cpu,cpuacct/nsrun-c1";
const std::string cpuset_dir = "/sys/fs/cgroup/cpuset/nsrun-c1";
const std::string v2_dir = "/sys/fs/cgroup/ci/nsrun-c1";

constexpr std::int64_t MiB = 1LL << 20;

struct Update : StageOnFakeHost {
  void SetUp() override {
    spec.namespaces = {{"pid", ""}, {"mount", ""}};
    spec.resources = test::memory_and_pids();  // 64 MiB, 128 MiB memory+swap, 32 pids
  }
  // nsrun update: a fresh stage, the journal, and the merged resources.
  void update(const ResourcesSpec& merged) {
    auto stage = fresh_stage();
    ContainerSpec persisted = spec;
    persisted.resources = merged;
    Context ctx = context(persisted);
    stage->update(ctx);
  }
  std::string update_error(const ResourcesSpec& merged) {
    try {
      update(merged);
    } catch (const StageError& e) {
      return e.what();
    }
    return "";
  }
  void teardown() {
    auto stage = fresh_stage();
    Context ctx = context(spec);
    stage->teardown(ctx);
  }
};

// --- v1 (hybrid) ----------------------------------------------------------------------------

TEST_F(Update, V1GrowingMemoryRaisesMemoryPlusSwapFirst) {
  FakeCgroupFs::make_v1_host(fs, /*hybrid=*/true);
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 256 * MiB;
  merged.memory_swap = 512 * MiB;
  update(merged);
  // 512 MiB memory+swap under the 64 MiB limit is valid, then 256 MiB under 512 MiB; the other
  // way round the kernel would refuse 256 MiB of memory above 128 MiB of memory+swap.
  EXPECT_EQ(fs.writes, (Writes{{memory_dir + "/memory.memsw.limit_in_bytes", "536870912"},
                               {memory_dir + "/memory.limit_in_bytes", "268435456"},
                               {pids_dir + "/pids.max", "32"}}));
  EXPECT_EQ(fs.get(memory_dir + "/memory.limit_in_bytes"), "268435456");
  EXPECT_TRUE(fs.made_dirs.empty());
}

TEST_F(Update, V1ShrinkingMemoryLowersMemoryFirst) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 32 * MiB;
  merged.memory_swap = 48 * MiB;
  update(merged);
  EXPECT_EQ(fs.writes_under(memory_dir), (Writes{{"memory.limit_in_bytes", "33554432"},
                                                 {"memory.memsw.limit_in_bytes", "50331648"}}));
}

TEST_F(Update, V1MemoryPlusSwapBetweenOldAndNewLimitsIsStillOrderedRight) {
  // 64/128 MiB -> 100/110 MiB: memory+swap drops, memory rises. 110 MiB memory+swap is above the
  // current 64 MiB memory, so it goes first, then memory 100 MiB under it.
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 100 * MiB;
  merged.memory_swap = 110 * MiB;
  update(merged);
  EXPECT_EQ(fs.writes_under(memory_dir), (Writes{{"memory.memsw.limit_in_bytes", "115343360"},
                                                 {"memory.limit_in_bytes", "104857600"}}));
}

TEST_F(Update, V1UnlimitedSwapIsRaisedFirstAndWrittenAsMinusOne) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_swap = -1;
  update(merged);
  EXPECT_EQ(fs.writes_under(memory_dir),
            (Writes{{"memory.memsw.limit_in_bytes", "-1"}, {"memory.limit_in_bytes", "67108864"}}));
}

TEST_F(Update, V1PidsAndUnlimitedValuesAreWritten) {
  FakeCgroupFs::make_v1_host(fs, true);
  spec.resources.memory_swap.reset();
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.pids_limit = 100;
  update(merged);
  EXPECT_EQ(fs.writes, (Writes{{memory_dir + "/memory.limit_in_bytes", "67108864"},
                               {pids_dir + "/pids.max", "100"}}));
  fs.writes.clear();
  // -1 replaces a limit, so unlike at creation it is written: v1 pids.max takes "max" only.
  merged.memory_limit = -1;
  merged.pids_limit = -1;
  update(merged);
  EXPECT_EQ(fs.writes, (Writes{{memory_dir + "/memory.limit_in_bytes", "-1"},
                               {pids_dir + "/pids.max", "max"}}));
  EXPECT_EQ(fs.get(pids_dir + "/pids.max"), "max");
}

TEST_F(Update, V1CpuWritesPeriodBeforeQuotaAndShares) {
  FakeCgroupFs::make_v1_host(fs, true);
  spec.resources = {};
  spec.resources.cpu_quota = 50000;
  spec.resources.cpu_period = 100000;
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.cpu_quota = 20000;
  merged.cpu_period = 50000;
  merged.cpu_shares = 512;
  update(merged);
  EXPECT_EQ(fs.writes, (Writes{{cpu_dir + "/cpu.cfs_period_us", "50000"},
                               {cpu_dir + "/cpu.cfs_quota_us", "20000"},
                               {cpu_dir + "/cpu.shares", "512"}}));
  fs.writes.clear();
  merged.cpu_quota = -1;
  merged.cpu_shares.reset();
  update(merged);
  EXPECT_EQ(fs.writes, (Writes{{cpu_dir + "/cpu.cfs_period_us", "50000"},
                               {cpu_dir + "/cpu.cfs_quota_us", "-1"}}));
}

TEST_F(Update, V1CpusetWritesOnlyWhatIsGivenAndCopiesNothing) {
  FakeCgroupFs::make_v1_host(fs, true);
  spec.resources = {};
  spec.resources.cpuset_cpus = "1";
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.cpuset_cpus = "0-1";
  update(merged);
  EXPECT_EQ(fs.writes, (Writes{{cpuset_dir + "/cpuset.cpus", "0-1"}}));
}

TEST_F(Update, WithoutSwapAccountingMemswIsSkipped) {
  fs.without_swap();
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 32 * MiB;
  merged.memory_swap = 48 * MiB;
  update(merged);
  EXPECT_EQ(fs.writes_under(memory_dir), (Writes{{"memory.limit_in_bytes", "33554432"},
                                                 {"memory.memsw.limit_in_bytes", "50331648"}}));
  EXPECT_TRUE(log.contains("does not exist (swap accounting is off); swap is not limited"));
}

TEST_F(Update, TeardownNamesTheUpdatedMemoryLimitOnAnOomKill) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 96 * MiB;
  update(merged);
  ASSERT_EQ(journal.entries.size(), 2u);
  EXPECT_EQ(journal.entries[1].type, "cgroup-memory-limit");
  EXPECT_EQ(boost::json::serialize(journal.entries[1].data),
            R"({"dir":")" + memory_dir + R"(","memory_limit":100663296})");
  fs.put(memory_dir + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  fs.kill_process(4242, 9);
  teardown();
  EXPECT_TRUE(log.contains("container killed: out of memory (limit 96 MiB)"));
  EXPECT_FALSE(fs.exists(memory_dir));
}

// --- what the container has no cgroup for ---------------------------------------------------

// `nsrun run` gets cgroups for its limits only (a bundle's container has them all).
TEST_F(Update, ALimitWithoutItsCgroupFailsAndWritesNothing) {
  FakeCgroupFs::make_v1_host(fs, true);
  source = SpecSource::flags;
  spec.resources.pids_limit.reset();
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 128 * MiB;
  merged.memory_swap = 256 * MiB;
  merged.pids_limit = 10;
  EXPECT_EQ(update_error(merged),
            "cannot update linux.resources.pids.limit: the container has no pids cgroup (it was "
            "created without a pids limit; recreate it with one)");
  EXPECT_TRUE(fs.writes.empty());  // not even the memory limit: all is resolved first
  EXPECT_TRUE(fs.made_dirs.empty());
  EXPECT_EQ(journal.entries.size(), 1u);
}

TEST_F(Update, ACpuLimitWithoutACpuCgroupNamesTheField) {
  FakeCgroupFs::make_v1_host(fs, true);
  source = SpecSource::flags;
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.cpu_period = 50000;
  EXPECT_EQ(update_error(merged),
            "cannot update linux.resources.cpu.period: the container has no cpu cgroup (it was "
            "created without a CPU limit; recreate it with one)");
}

TEST_F(Update, AContainerWithoutAnyCgroupSaysSo) {
  FakeCgroupFs::make_v1_host(fs, true);
  without_any_cgroup();
  start_container();
  ASSERT_TRUE(journal.entries.empty());
  ResourcesSpec merged;
  merged.memory_limit = 64 * MiB;
  EXPECT_EQ(update_error(merged),
            "cannot update linux.resources.memory.limit: the container has no cgroup (it was "
            "created without a memory limit; recreate it with one)");
  EXPECT_TRUE(fs.made_dirs.empty());
}

TEST_F(Update, UnlimitedWithoutACgroupIsAlreadyTrue) {
  FakeCgroupFs::make_v1_host(fs, true);
  without_any_cgroup();
  start_container();
  ResourcesSpec merged;
  merged.memory_limit = -1;
  merged.pids_limit = -1;
  merged.cpu_quota = -1;
  update(merged);
  EXPECT_TRUE(fs.writes.empty());
  EXPECT_TRUE(fs.made_dirs.empty());
}

TEST_F(Update, AGoneCgroupIsNamed) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  fs.kill_process(4242, 9);
  teardown();
  fs.writes.clear();
  EXPECT_EQ(update_error(spec.resources),
            "cannot update: the container's cgroup " + memory_dir +
                " is gone (the container has stopped or was deleted; see nsrun list)");
  EXPECT_TRUE(fs.writes.empty());
}

// --- validation, as validate does it --------------------------------------------------------

TEST_F(Update, InvalidValuesAreRefusedWithValidatesMessagesBeforeAnyWrite) {
  FakeCgroupFs::make_v1_host(fs, true);
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 1000;
  merged.memory_swap.reset();
  EXPECT_EQ(update_error(merged),
            "config.json: linux.resources.memory.limit 1000 is below the minimum of 6 MiB "
            "(6291456; use -1 for no limit)");
  merged = spec.resources;
  merged.memory_limit = 256 * MiB;  // the old 128 MiB memory+swap is now below it
  EXPECT_EQ(update_error(merged),
            "config.json: linux.resources.memory.swap 134217728 is below memory.limit 268435456 "
            "(it counts memory plus swap; use -1 for no swap limit)");
  merged = spec.resources;
  merged.pids_limit = 0;
  EXPECT_EQ(update_error(merged),
            "config.json: linux.resources.pids.limit 0 must be positive (use -1 for no limit)");
  merged = spec.resources;
  merged.cpu_period = 10;
  EXPECT_EQ(update_error(merged),
            "config.json: linux.resources.cpu.period 10 is outside 1000-1000000 microseconds");
  merged = spec.resources;
  merged.cpuset_cpus = "7";
  EXPECT_EQ(update_error(merged),
            "cpuset cpus \"7\" names CPU 7, which is not online (online: 0-3)");
  EXPECT_TRUE(fs.writes.empty());
}

// --- v2 -------------------------------------------------------------------------------------

TEST_F(Update, V2WritesTheSameFilesAsCreationInTheOneCgroup) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  spec.resources.cpu_quota = 50000;
  spec.resources.cpu_period = 100000;
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 128 * MiB;
  merged.memory_swap = 256 * MiB;
  merged.cpu_quota = 20000;
  merged.pids_limit = 64;
  update(merged);
  EXPECT_EQ(fs.writes, (Writes{{v2_dir + "/cpu.max", "20000 100000"},
                               {v2_dir + "/memory.max", "134217728"},
                               {v2_dir + "/memory.swap.max", "134217728"},
                               {v2_dir + "/pids.max", "64"}}));
}

TEST_F(Update, V2UnlimitedIsMax) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  spec.resources.cpu_quota = 50000;
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_swap = -1;
  merged.cpu_quota = -1;
  merged.cpu_period = 200000;
  merged.pids_limit = -1;
  update(merged);
  EXPECT_EQ(fs.writes, (Writes{{v2_dir + "/cpu.max", "max 200000"},
                               {v2_dir + "/memory.max", "67108864"},
                               {v2_dir + "/memory.swap.max", "max"},
                               {v2_dir + "/pids.max", "max"}}));
  fs.writes.clear();
  merged.memory_swap.reset();
  merged.memory_limit = -1;
  update(merged);
  EXPECT_EQ(fs.writes_under(v2_dir),
            (Writes{{"cpu.max", "max 200000"}, {"memory.max", "max"}, {"pids.max", "max"}}));
}

TEST_F(Update, V2AControllerTheCgroupDoesNotHaveIsNamed) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  source = SpecSource::flags;
  spec.resources = {};
  spec.resources.pids_limit = 32;
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 64 * MiB;
  EXPECT_EQ(update_error(merged),
            "cannot update linux.resources.memory.limit: the container's cgroup " + v2_dir +
                " has no memory controller (it was created without a memory limit; recreate it "
                "with one)");
  EXPECT_TRUE(fs.writes.empty());  // nothing enabled in the parent either
}

TEST_F(Update, V2AControllerTheParentAlreadyDelegatedIsUsed) {
  // Another container's limit enabled memory in the shared parent before this one was made, so
  // its cgroup has the controller (and has counted its memory from the start).
  FakeCgroupFs::make_v2_host(fs, "/ci");
  fs.write_file("/sys/fs/cgroup/ci/cgroup.subtree_control", "+memory");
  spec.resources = {};
  spec.resources.pids_limit = 32;
  start_container();
  ResourcesSpec merged = spec.resources;
  merged.memory_limit = 64 * MiB;
  update(merged);
  EXPECT_EQ(fs.writes,
            (Writes{{v2_dir + "/memory.max", "67108864"}, {v2_dir + "/pids.max", "32"}}));
}

// --- a bundle's container: cgroups in every hierarchy, as runc makes -----------------------

// An engine updates and reads a container whether or not it was made with limits (podman update,
// podman stats): its cgroups are there.
TEST_F(Update, ABundlesContainerTakesALimitItWasCreatedWithout) {
  FakeCgroupFs::make_v1_host(fs, true);
  spec.resources = {};
  start_container();
  ResourcesSpec merged;
  merged.pids_limit = 10;
  merged.cpu_shares = 512;
  update(merged);
  EXPECT_EQ(fs.writes, (Writes{{"/sys/fs/cgroup/cpu,cpuacct/nsrun-c1/cpu.shares", "512"},
                               {pids_dir + "/pids.max", "10"}}));
  EXPECT_TRUE(fs.made_dirs.empty());
}

// On v2 the one cgroup gets the controllers stats and update need, cpu, io, memory and pids, where
// the parent may delegate them; where it may not (it has processes of its own), the cgroup is made
// with what is delegated already, and nothing fails.
TEST_F(Update, OnV2ABundlesCgroupGetsTheControllersItsParentCanDelegate) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  spec.resources = {};
  start_container();
  // /ci has no process of its own: it delegates the four to the container's cgroup.
  EXPECT_EQ(fs.get("/sys/fs/cgroup/ci/cgroup.subtree_control"), "cpu io memory pids\n");
  ResourcesSpec merged;
  merged.memory_limit = 64 * MiB;
  update(merged);
  EXPECT_EQ(fs.writes, (Writes{{v2_dir + "/memory.max", "67108864"}}));
}

TEST_F(Update, OnV2AParentWithProcessesDelegatesNothingNewAndTheCgroupIsMadeAnyway) {
  FakeCgroupFs::make_v2_host(fs, "/ci");
  fs.put("/sys/fs/cgroup/ci/cgroup.subtree_control", "pids\n");
  fs.put("/sys/fs/cgroup/ci/cgroup.procs", "1000\n");  // nsrun itself
  spec.resources = {};
  auto stage = fresh_stage();
  Context ctx = context(spec);
  stage->validate(ctx);
  ASSERT_EQ(stage->plan().placements.size(), 1u);
  EXPECT_EQ(stage->plan().placements[0].controllers, (std::vector<std::string>{"pids"}));
  stage->prepare(ctx);
  EXPECT_TRUE(fs.exists(v2_dir));
  for (const auto& [path, value] : fs.writes)
    EXPECT_EQ(path.find("subtree_control"), std::string::npos) << path << " = " << value;
}

}  // namespace
}  // namespace nsrun::cgroups
