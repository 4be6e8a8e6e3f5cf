// Unit tests: `nsrun network ls|rm|prune` over a temporary IPAM store, with a recording firewall
// and link remover in place of libiptc and netlink. No root needed.
#include "nsrun/network/network_admin.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "nsrun/stage.hpp"

namespace nsrun::network {
namespace {
namespace fs = std::filesystem;

class RecordingFirewall final : public Firewall {
 public:
  explicit RecordingFirewall(std::vector<std::string>& calls) : calls_(calls) {}
  void insert(const std::vector<Rule>&) override { calls_.push_back("insert"); }
  int remove_marked(std::string_view comment) override {
    calls_.push_back("remove rules " + std::string(comment));
    return 4;
  }

 private:
  std::vector<std::string>& calls_;
};

class NetworkAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "nsrun-netadmin-XXXXXX").string();
    ASSERT_TRUE(::mkdtemp(pattern.data()));
    root_ = pattern;
    auto session = Ipam(root_).lock();
    session.write_network({"nsrun0", "10.88.0.0/24", "10.88.0.1", true, true, true});
    session.write_network({"idle0", "10.89.0.0/24", "10.89.0.1", true, true, true});
    session.write_network({"users0", "10.90.0.0/24", "10.90.0.1", true, false, true});
    // "web" is alive (it has a state directory), "gone" is not: its lease is stale.
    fs::create_directories(root_ + "/web");
    session.write_lease(
        {*Ipv4Address::parse("10.88.0.2"), "web", "10.88.0.0/24", "bridge", "nsrun0"});
    session.write_lease(
        {*Ipv4Address::parse("10.89.0.2"), "gone", "10.89.0.0/24", "bridge", "idle0"});
  }
  void TearDown() override { fs::remove_all(root_); }

  NetworkAdmin admin() {
    return NetworkAdmin(
        root_, [this] { return std::make_unique<RecordingFirewall>(calls_); },
        [this](const std::string& link) { calls_.push_back("delete link " + link); });
  }
  bool recorded(const std::string& name) { return Ipam(root_).lock().network(name).has_value(); }

  std::string root_;
  std::vector<std::string> calls_;
};

TEST_F(NetworkAdminTest, ListShowsEachNetworkWithItsLiveContainers) {
  auto rows = admin().list();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].network.name, "idle0");
  EXPECT_TRUE(rows[0].containers.empty()) << "a stale lease is no user";
  EXPECT_EQ(rows[1].network.name, "nsrun0");
  EXPECT_EQ(rows[1].containers, std::vector<std::string>{"web"});
  EXPECT_EQ(network_table(rows),
            "NAME     SUBNET         GATEWAY     NAT   CONTAINERS\n"
            "idle0    10.89.0.0/24   10.89.0.1   yes   -\n"
            "nsrun0   10.88.0.0/24   10.88.0.1   yes   web\n"
            "users0   10.90.0.0/24   10.90.0.1   yes   -\n");
  EXPECT_TRUE(calls_.empty()) << "listing changes nothing";
}

TEST_F(NetworkAdminTest, ANetworkInUseIsRefusedNamingItsContainers) {
  try {
    admin().remove("nsrun0");
    FAIL() << "removed a network in use";
  } catch (const StageError& e) {
    EXPECT_STREQ(e.what(), "network nsrun0: in use by container web (stop or delete them first)");
  }
  EXPECT_TRUE(calls_.empty());
  EXPECT_TRUE(recorded("nsrun0"));
}

TEST_F(NetworkAdminTest, RemovingAnIdleNetworkTakesItsRulesItsBridgeAndItsRecord) {
  admin().remove("idle0");
  EXPECT_EQ(calls_,
            (std::vector<std::string>{"remove rules nsrun-network:idle0", "delete link idle0"}));
  EXPECT_FALSE(recorded("idle0"));
  calls_.clear();
  // A bridge the user made: its rules are nsrun's and go, the bridge is the user's and stays.
  admin().remove("users0");
  EXPECT_EQ(calls_, std::vector<std::string>{"remove rules nsrun-network:users0"});
  EXPECT_FALSE(recorded("users0"));
}

TEST_F(NetworkAdminTest, AnUnknownNetworkIsOneLine) {
  try {
    admin().remove("nope0");
    FAIL();
  } catch (const StageError& e) {
    EXPECT_STREQ(e.what(), "network nope0: no such network (see: nsrun network ls)");
  }
  EXPECT_TRUE(calls_.empty());
}

TEST_F(NetworkAdminTest, PruneRemovesEveryIdleNetworkAndOnlyThose) {
  EXPECT_EQ(admin().prune(), (std::vector<std::string>{"idle0", "users0"}));
  EXPECT_TRUE(recorded("nsrun0"));
  EXPECT_FALSE(recorded("idle0"));
  EXPECT_FALSE(recorded("users0"));
  EXPECT_EQ(admin().prune(), std::vector<std::string>{}) << "nothing idle left";
}

TEST_F(NetworkAdminTest, ANeverUsedStateRootHasNoNetworksAndCreatesNothing) {
  const std::string fresh = root_ + "/fresh";
  NetworkAdmin admin(fresh);
  EXPECT_TRUE(admin.list().empty());
  EXPECT_TRUE(admin.prune().empty());
  EXPECT_THROW(admin.remove("nsrun0"), StageError);
  EXPECT_FALSE(fs::exists(fresh));
}

}  // namespace
}  // namespace nsrun::network
