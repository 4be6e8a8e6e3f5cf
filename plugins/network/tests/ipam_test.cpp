// Unit tests: IPAM allocation, release, exhaustion and reclaiming, under real concurrency
// (forked processes contending for the flock on a temporary state root). No root needed.
#include "nsrun/network/ipam.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "nsrun/stage.hpp"

namespace nsrun::network {
namespace {
namespace fs = std::filesystem;

class IpamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "nsrun-ipam-XXXXXX").string();
    ASSERT_TRUE(::mkdtemp(pattern.data()));
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }
  // A container is alive while its state directory exists.
  void make_alive(const std::string& id) { fs::create_directories(root_ + "/" + id); }

  // What the stage does in prepare: lock, choose, write.
  std::optional<Ipv4Address> allocate(const std::string& id, const Ipv4Network& network) {
    IpamSession session = Ipam(root_).lock();
    auto address = session.free_address(network, {Ipv4Address{network.network().value + 1}});
    if (address) session.write_lease({*address, id, network.str(), "bridge", "nsrun0"});
    return address;
  }

  // Forks `count` processes that each allocate once; returns what each got ("" = exhausted).
  std::vector<std::string> allocate_concurrently(int count, const Ipv4Network& network) {
    std::vector<int> pipes;
    std::vector<pid_t> pids;
    for (int i = 0; i < count; ++i) make_alive("c" + std::to_string(i));
    for (int i = 0; i < count; ++i) {
      int fds[2];
      EXPECT_EQ(::pipe(fds), 0);
      pid_t pid = ::fork();
      if (pid == 0) {
        ::close(fds[0]);
        std::string out;
        try {
          auto address = allocate("c" + std::to_string(i), network);
          out = address ? address->str() : "";
        } catch (...) {
          out = "error";
        }
        ssize_t ignored = ::write(fds[1], out.data(), out.size());
        (void)ignored;
        ::_exit(0);
      }
      ::close(fds[1]);
      pipes.push_back(fds[0]);
      pids.push_back(pid);
    }
    std::vector<std::string> results;
    for (int i = 0; i < count; ++i) {
      char buffer[64];
      ssize_t n = ::read(pipes[i], buffer, sizeof buffer);
      results.emplace_back(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
      ::close(pipes[i]);
      int status = 0;
      ::waitpid(pids[i], &status, 0);
    }
    return results;
  }

  std::string root_;
};

TEST_F(IpamTest, ConcurrentAllocationsAreDistinct) {
  auto network = *Ipv4Network::parse("10.20.0.0/24");
  auto results = allocate_concurrently(50, network);
  std::set<std::string> distinct(results.begin(), results.end());
  EXPECT_EQ(distinct.size(), 50u);
  EXPECT_FALSE(distinct.count(""));
  EXPECT_FALSE(distinct.count("error"));
  EXPECT_FALSE(distinct.count("10.20.0.1"));  // the gateway
  EXPECT_FALSE(distinct.count("10.20.0.0"));
  EXPECT_EQ(Ipam(root_).lock().live_leases().size(), 50u);
}

TEST_F(IpamTest, ExhaustionUnderConcurrencyGivesEachAddressOnce) {
  // A /29 has 6 hosts; the gateway takes one: 5 containers fit, 3 of 8 must fail cleanly.
  auto network = *Ipv4Network::parse("10.20.0.0/29");
  auto results = allocate_concurrently(8, network);
  std::set<std::string> got;
  int exhausted = 0;
  for (const auto& r : results) {
    if (r.empty())
      ++exhausted;
    else
      EXPECT_TRUE(got.insert(r).second) << r << " given twice";
  }
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ(exhausted, 3);
}

TEST_F(IpamTest, FreedAddressesAreReused) {
  auto network = *Ipv4Network::parse("10.20.0.0/30");  // hosts .1 (gateway) and .2
  make_alive("a");
  make_alive("b");
  EXPECT_EQ(allocate("a", network)->str(), "10.20.0.2");
  EXPECT_FALSE(allocate("b", network));
  {
    IpamSession session = Ipam(root_).lock();
    EXPECT_FALSE(session.remove_lease(*Ipv4Address::parse("10.20.0.2"), "b"));  // not b's
    EXPECT_TRUE(session.remove_lease(*Ipv4Address::parse("10.20.0.2"), "a"));
    EXPECT_FALSE(session.remove_lease(*Ipv4Address::parse("10.20.0.2"), "a"));  // idempotent
  }
  EXPECT_EQ(allocate("b", network)->str(), "10.20.0.2");
}

TEST_F(IpamTest, LeasesOfContainersWithoutStateAreReclaimed) {
  auto network = *Ipv4Network::parse("10.20.0.0/30");
  make_alive("dead");
  EXPECT_EQ(allocate("dead", network)->str(), "10.20.0.2");
  fs::remove_all(root_ + "/dead");  // crashed and its state is gone
  make_alive("next");
  EXPECT_EQ(allocate("next", network)->str(), "10.20.0.2");
  EXPECT_EQ(Ipam(root_).lock().lease_of(*Ipv4Address::parse("10.20.0.2"))->id, "next");
}

TEST_F(IpamTest, LinkNamesSkipReservationsAndLinksInUse) {
  make_alive("a");
  make_alive("b");
  auto candidate = [](int attempt) { return "nsvX" + std::to_string(attempt); };
  IpamSession session = Ipam(root_).lock();
  std::string first = session.free_link_name("a", candidate, nullptr);
  EXPECT_EQ(first, "nsvX0");
  session.reserve_link_name(first, "a");
  EXPECT_EQ(session.free_link_name("a", candidate, nullptr), "nsvX0");  // a's own
  EXPECT_EQ(session.free_link_name("b", candidate, nullptr), "nsvX1");  // collision: re-hash
  EXPECT_EQ(
      session.free_link_name("b", candidate, [](const std::string& n) { return n == "nsvX1"; }),
      "nsvX2");  // an interface of that name exists on the host
  EXPECT_TRUE(session.release_link_name("nsvX0", "a"));
  EXPECT_EQ(session.free_link_name("b", candidate, nullptr), "nsvX0");
}

TEST_F(IpamTest, PortsAndMarkers) {
  make_alive("a");
  IpamSession session = Ipam(root_).lock();
  EXPECT_FALSE(session.port_owner("tcp", 8080));
  session.reserve_port("tcp", 8080, "a", "8080:80/tcp");
  EXPECT_EQ(*session.port_owner("tcp", 8080), "a");
  EXPECT_FALSE(session.port_owner("udp", 8080));
  EXPECT_TRUE(session.release_port("tcp", 8080, "a"));
  EXPECT_FALSE(session.port_owner("tcp", 8080));
  EXPECT_FALSE(session.marker("bridge-nsrun0"));
  session.write_marker("bridge-nsrun0", {{"network", "10.0.0.0/24"}});
  EXPECT_EQ(session.marker("bridge-nsrun0")->at("network").as_string(), "10.0.0.0/24");
  session.remove_marker("bridge-nsrun0");
  EXPECT_FALSE(session.marker("bridge-nsrun0"));
}

TEST_F(IpamTest, KeptNetworksRoundTripAndRefuseNamesThatAreNoInterfaceName) {
  IpamSession session = Ipam(root_).lock();
  EXPECT_TRUE(session.networks().empty());
  session.write_network({"nsrun0", "10.88.0.0/24", "10.88.0.1", true, true, true});
  session.write_network({"br1", "10.89.0.0/24", "10.89.0.1", false, false, false});
  auto nsrun0 = session.network("nsrun0");
  ASSERT_TRUE(nsrun0);
  EXPECT_EQ(nsrun0->subnet, "10.88.0.0/24");
  EXPECT_EQ(nsrun0->gateway, "10.88.0.1");
  EXPECT_TRUE(nsrun0->nat && nsrun0->made_bridge && nsrun0->up);
  auto br1 = session.network("br1");
  ASSERT_TRUE(br1);
  EXPECT_FALSE(br1->nat || br1->made_bridge || br1->up);
  EXPECT_EQ(session.networks().size(), 2u);
  for (const char* bad : {"", "..", "a/b", "sixteen-letters!"}) {
    EXPECT_FALSE(session.network(bad)) << bad;
    EXPECT_THROW(session.write_network({bad, "10.0.0.0/24", "10.0.0.1"}), StageError) << bad;
  }
  session.remove_network("nsrun0");
  EXPECT_FALSE(session.network("nsrun0"));
  EXPECT_EQ(session.networks().size(), 1u);
}

TEST_F(IpamTest, ReadOnlyLockCreatesNothing) {
  std::string fresh = root_ + "/fresh";
  EXPECT_FALSE(Ipam(fresh).reader());
  EXPECT_FALSE(fs::exists(fresh));
  Ipam(fresh).lock();
  EXPECT_TRUE(Ipam(fresh).reader());
  EXPECT_EQ(fs::status(fresh + "/_ipam").permissions() & fs::perms::all, fs::perms::owner_all);
}

}  // namespace
}  // namespace nsrun::network
