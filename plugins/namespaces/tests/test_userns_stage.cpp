// The namespaces stage's user namespace: flags, bundle maps, --userns auto's journal and teardown.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "nsrun/namespaces/namespaces_stage.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::namespaces {
namespace {

namespace fs = std::filesystem;

class UsernsStage : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "nsrun-userns-stage-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    h_.state_root = root_;
    h_.state_dir = root_ + "/test";
    fs::create_directory(h_.state_dir);  // the core creates it before prepare
    h_.spec.namespaces = {{"pid", ""}, {"mount", ""}, {"uts", ""}};
    h_.config = {{"cgroupNamespace", false}};
  }
  void TearDown() override { fs::remove_all(root_); }

  void from_flags(boost::json::object flags) {
    h_.spec_source = SpecSource::flags;
    h_.flags = std::move(flags);
  }
  void write_pool(const std::string& subuid, const std::string& subgid) {
    std::ofstream(root_ + "/subuid") << subuid;
    std::ofstream(root_ + "/subgid") << subgid;
    h_.config["subuidFile"] = root_ + "/subuid";
    h_.config["subgidFile"] = root_ + "/subgid";
  }
  std::string refusal(Phase phase) {
    try {
      h_.run(stage_, phase);
    } catch (const StageError& e) {
      return e.what();
    }
    return "accepted";
  }
  // Another container of the same state root, with its own flags.
  testing::StageHarness another_container(const std::string& id, boost::json::object flags) {
    testing::StageHarness other;
    other.state_root = root_;
    other.container_id = id;
    fs::create_directory(root_ + "/" + id);
    other.config = h_.config;
    other.spec_source = SpecSource::flags;
    other.flags = std::move(flags);
    return other;
  }
  std::vector<std::string> held(const std::string& kind) const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root_ + "/_userns/" + kind, ec))
      out.push_back(entry.path().filename().string());
    return out;
  }

  std::string root_;
  testing::StageHarness h_;
  NamespacesStage stage_;
};

TEST_F(UsernsStage, UidmapFlagAddsAUserNamespaceAndTheSameGidmap) {
  from_flags({{"uidmap", boost::json::array{"0:100000:65536"}}});
  h_.run(stage_, Phase::validate);
  h_.run(stage_, Phase::prepare);
  EXPECT_TRUE(h_.spec.has_namespace("user"));
  EXPECT_EQ(h_.spec.uid_mappings, (std::vector<IdMapping>{{0, 100000, 65536}}));
  EXPECT_EQ(h_.spec.gid_mappings, h_.spec.uid_mappings);
  EXPECT_TRUE(h_.log.contains("user namespace: uid map 0:100000:65536, gid map 0:100000:65536"));
  EXPECT_TRUE(h_.journal.entries.empty()) << "nothing taken from the pool";
}

TEST_F(UsernsStage, GidmapFlagsAreTheirOwn) {
  from_flags({{"uidmap", boost::json::array{"0:100000:1", "1:200000:1000"}},
              {"gidmap", boost::json::array{"0:300000:65536"}}});
  h_.run(stage_, Phase::validate);
  h_.run(stage_, Phase::prepare);
  EXPECT_EQ(h_.spec.uid_mappings, (std::vector<IdMapping>{{0, 100000, 1}, {1, 200000, 1000}}));
  EXPECT_EQ(h_.spec.gid_mappings, (std::vector<IdMapping>{{0, 300000, 65536}}));
}

TEST_F(UsernsStage, BadFlagsAreOneLineBeforeAnything) {
  auto refused = [&](boost::json::object flags) {
    from_flags(std::move(flags));
    return refusal(Phase::validate);
  };
  EXPECT_EQ(refused({{"userns", "private"}}),
            "--userns private is not a mode (use auto for a free block of subordinate ids, or "
            "host for no user namespace)");
  EXPECT_EQ(refused({{"userns", "host"}, {"uidmap", boost::json::array{"0:100000:65536"}}}),
            "--userns host and --uidmap/--gidmap contradict each other (drop one)");
  EXPECT_EQ(refused({{"gidmap", boost::json::array{"0:100000:65536"}}}),
            "--gidmap needs --uidmap too (e.g. --uidmap 0:100000:65536): the container's root "
            "must map to an unprivileged host uid");
  EXPECT_EQ(refused({{"uidmap", boost::json::array{"0:100000"}}}),
            "--uidmap 0:100000 must be CONTAINER:HOST:SIZE, three whole numbers from 0 to "
            "4294967295 (e.g. --uidmap 0:100000:65536)");
  EXPECT_EQ(refused({{"uidmap", boost::json::array{"0:100000:65536"}},
                     {"gidmap", boost::json::array{"0:1:10", "5:100:10"}}}),
            "--gidmap 0:1:10 and --gidmap 5:100:10 overlap in container ids (map each container "
            "id once)");
  for (const char* mode : {"auto:size=0", "auto:size=", "auto:size=12x", "auto:size=4294967296",
                           "auto:size=99999999999"})
    EXPECT_EQ(refused({{"userns", mode}}),
              std::string("--userns ") + mode +
                  ": size must be a whole number of ids from 1 to 4294967295 (e.g. --userns "
                  "auto:size=65536)");
  for (const char* mode : {"auto:uidmapping=0:1:1", "auto:size=10,gidmapping=0:1:1", "auto:"})
    EXPECT_EQ(refused({{"userns", mode}}),
              std::string("--userns ") + mode +
                  ": the only option of auto is size=N (e.g. --userns auto:size=65536)");
  EXPECT_EQ(refused({{"userns", "auto:size=10"}, {"uidmap", boost::json::array{"0:1:1"}}}),
            "--userns auto:size=10 and --uidmap/--gidmap contradict each other (drop one)");
  write_pool("alice:100000:65536\n", "containers:100000:65536\n");
  EXPECT_EQ(refused({{"userns", "auto"}}),
            "--userns auto: " + root_ +
                "/subuid gives the user \"containers\" no subordinate ids (add a line such as "
                "containers:2147483647:2147483648 to /etc/subuid and /etc/subgid)");
  EXPECT_FALSE(fs::exists(root_ + "/_userns")) << "validate takes nothing";
}

TEST_F(UsernsStage, HostModeIsNoUserNamespace) {
  from_flags({{"userns", "host"}});
  h_.run(stage_, Phase::validate);
  h_.run(stage_, Phase::prepare);
  EXPECT_FALSE(h_.spec.has_namespace("user"));
  EXPECT_TRUE(h_.spec.uid_mappings.empty());
}

TEST_F(UsernsStage, FlagsWithABundleAreRefused) {
  h_.flags = {{"userns", "auto"}};  // spec_source stays bundle
  EXPECT_EQ(refusal(Phase::validate),
            "--userns, --uidmap and --gidmap apply to nsrun run FLAGS CMD; a bundle's config.json "
            "decides them (edit its linux.namespaces, linux.uidMappings and linux.gidMappings)");
}

TEST_F(UsernsStage, BundleMapsAreChecked) {
  h_.spec.uid_mappings = {{0, 100000, 65536}};
  h_.spec.gid_mappings = {{0, 100000, 65536}};
  EXPECT_EQ(refusal(Phase::validate),
            "linux.uidMappings is set but linux.namespaces has no user namespace (add {\"type\": "
            "\"user\"}, or remove the mappings)");
  h_.spec.namespaces.push_back({"user", ""});
  EXPECT_EQ(refusal(Phase::validate), "accepted");
  h_.spec.gid_mappings.clear();
  EXPECT_EQ(refusal(Phase::validate),
            "a user namespace needs both linux.uidMappings and linux.gidMappings (add the missing "
            "one: without a map the container's root would be an unmapped host root)");
  h_.spec.gid_mappings = {{1, 100000, 65536}};
  EXPECT_EQ(
      refusal(Phase::validate),
      R"(linux.gidMappings does not map container id 0, the container's root (add {"containerID": 0, "hostID": 100000, "size": 65536} or similar))");
  h_.spec.gid_mappings = {{0, 100000, 65536}};
  h_.spec.process.user = UserSpec{70000, 0, std::nullopt, {}};
  EXPECT_EQ(refusal(Phase::validate),
            "process.user.uid 70000 is not mapped by linux.uidMappings (map it, or run as a "
            "mapped user)");
  h_.spec.process.user = UserSpec{0, 0, std::nullopt, {5, 65536}};
  EXPECT_EQ(refusal(Phase::validate),
            "process.user.additionalGids 65536 is not mapped by linux.gidMappings (map it, or "
            "drop it)");
  h_.spec.namespaces.back().path = "/proc/self/ns/user";
  h_.spec.process.user.reset();
  EXPECT_EQ(refusal(Phase::validate),
            "linux.namespaces[" + std::to_string(h_.spec.namespaces.size() - 1) +
                "]: the user namespace path \"/proc/self/ns/user\" is nsrun's own user namespace "
                "(remove the user entry: without one the container runs in it)");
}

// podman's --userns auto:size=N: a block of N ids, first fit after the blocks already held.
TEST_F(UsernsStage, AutoSizeTakesABlockOfThatSize) {
  write_pool("containers:100000:131072\n", "containers:500000:131072\n");
  from_flags({{"userns", "auto:size=1000"}});
  h_.run(stage_, Phase::validate);
  h_.run(stage_, Phase::prepare);
  EXPECT_EQ(h_.spec.uid_mappings, (std::vector<IdMapping>{{0, 100000, 1000}}));
  EXPECT_EQ(h_.spec.gid_mappings, (std::vector<IdMapping>{{0, 500000, 1000}}));
  ASSERT_EQ(h_.journal.entries.size(), 1U);
  EXPECT_EQ(h_.journal.entries[0].data,
            (boost::json::object{{"uidStart", 100000}, {"gidStart", 500000}, {"size", 1000}}));

  testing::StageHarness second = another_container("second", {{"userns", "auto"}});
  NamespacesStage other;
  second.run(other, Phase::validate);
  second.run(other, Phase::prepare);
  EXPECT_EQ(second.spec.uid_mappings, (std::vector<IdMapping>{{0, 101000, 65536}}))
      << "right after the first block, which holds 1000 ids";
  for (auto* harness : {&h_, &second}) {
    NamespacesStage fresh;
    harness->run(fresh, Phase::teardown);
  }
  EXPECT_TRUE(held("uids").empty());
  EXPECT_TRUE(held("gids").empty());
}

TEST_F(UsernsStage, AutoTakesABlockJournalledFirstAndTeardownGivesItBack) {
  write_pool("containers:100000:131072\n", "containers:500000:65536\n");
  from_flags({{"userns", "auto"}});
  h_.run(stage_, Phase::validate);
  h_.run(stage_, Phase::prepare);
  EXPECT_TRUE(h_.spec.has_namespace("user"));
  EXPECT_EQ(h_.spec.uid_mappings, (std::vector<IdMapping>{{0, 100000, 65536}}));
  EXPECT_EQ(h_.spec.gid_mappings, (std::vector<IdMapping>{{0, 500000, 65536}}));
  ASSERT_EQ(h_.journal.entries.size(), 1U);
  EXPECT_EQ(h_.journal.entries[0].type, "userns-block");
  EXPECT_EQ(h_.journal.entries[0].data,
            (boost::json::object{{"uidStart", 100000}, {"gidStart", 500000}, {"size", 65536}}));
  EXPECT_EQ(held("uids"), std::vector<std::string>{"100000"});
  EXPECT_EQ(held("gids"), std::vector<std::string>{"500000"});

  // A second container: the next uid block; the gid pool has no room left.
  testing::StageHarness second = another_container("second", {{"userns", "auto"}});
  NamespacesStage other;
  second.run(other, Phase::validate);
  try {
    second.run(other, Phase::prepare);
    FAIL() << "the gid pool is full";
  } catch (const StageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--userns auto: no free block of 65536 ids left in the containers range of " + root_ +
                  "/subgid (1 in use; give containers a larger range, or remove stopped " +
                  "containers)");
  }
  EXPECT_TRUE(second.journal.entries.empty()) << "nothing recorded for a block not taken";
  EXPECT_EQ(held("uids").size(), 1U);

  // Teardown works from the journal alone, in a fresh stage object, and twice.
  for (int i = 0; i < 2; ++i) {
    NamespacesStage fresh;
    h_.run(fresh, Phase::teardown);
    EXPECT_TRUE(held("uids").empty());
    EXPECT_TRUE(held("gids").empty());
  }
}

TEST_F(UsernsStage, UnknownConfigKeyIsNamed) {
  h_.config["subuidfile"] = "/etc/subuid";
  EXPECT_EQ(refusal(Phase::validate),
            "unknown config key \"subuidfile\" for nsrun.namespaces (remove it or check its "
            "spelling)");
}

}  // namespace
}  // namespace nsrun::namespaces
