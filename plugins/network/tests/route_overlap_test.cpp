// Unit tests: which host routes make a --network overlap, including the race in which a
// concurrent nsrun creates the bridge while this one is checking.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <utility>

#include "nsrun/network/netlink.hpp"

namespace nsrun::network {
namespace {

Ipv4Network net(const char* text) {
  return *Ipv4Network::parse(text);
}

// A host whose links and routes a test sets; `on_route_read` runs when the routes are listed,
// which lets a test change the host at exactly that moment.
class FakeHost final : public RouteView {
 public:
  std::vector<RouteInfo> routes;
  std::map<int, std::string> links;
  std::function<void(FakeHost&)> on_route_read;
  int name_lookups = 0;  ///< each one is a netlink round trip on a real host

  std::vector<RouteInfo> ipv4_routes() override {
    if (on_route_read) on_route_read(*this);
    return routes;
  }
  std::string name_of(int index) override {
    ++name_lookups;
    auto it = links.find(index);
    return it == links.end() ? "" : it->second;
  }
};

TEST(RouteOverlap, AForeignRouteThatOverlapsIsReportedWithItsInterface) {
  FakeHost host;
  host.links = {{2, "eth0"}, {5, "eth1"}};
  host.routes = {{net("0.0.0.0/0"), 2, "", 254}, {net("10.88.0.0/16"), 5, "", 254}};
  auto route = foreign_route_overlapping(net("10.88.1.0/24"), "nsrun0", 0, host);
  ASSERT_TRUE(route);
  EXPECT_EQ(route->destination.str(), "10.88.0.0/16");
  EXPECT_EQ(route->interface, "eth1");
}

TEST(RouteOverlap, TheDefaultRouteAndDisjointRoutesDoNotCount) {
  FakeHost host;
  host.links = {{2, "eth0"}};
  host.routes = {{net("0.0.0.0/0"), 2, "", 254}, {net("198.51.100.0/24"), 2, "", 254}};
  EXPECT_FALSE(foreign_route_overlapping(net("10.88.0.0/24"), "nsrun0", 0, host));
}

// The bridge's route is ours whether its index was not known before the routes were read (0),
// is the one read (9, every run once the network is up: no lookup), or is stale (7: the bridge
// went and came back, another nsrun's teardown and first run, between the index and the routes;
// its name still says it is ours).
TEST(RouteOverlap, TheOwnBridgesRouteIsNotForeign) {
  for (auto [index_read, lookups] : {std::pair{0, 1}, {9, 0}, {7, 1}}) {
    FakeHost host;
    host.links = {{9, "nsrun0"}};
    host.routes = {{net("10.88.0.0/24"), 9, "", 254}};
    EXPECT_FALSE(foreign_route_overlapping(net("10.88.0.0/24"), "nsrun0", index_read, host))
        << "index read: " << index_read;
    EXPECT_EQ(host.name_lookups, lookups) << "index read: " << index_read;
    // The veth plugin has no bridge of its own: the same route is foreign to it.
    EXPECT_TRUE(foreign_route_overlapping(net("10.88.0.0/24"), "", index_read, host));
  }
}

// A foreign route beside the bridge's, on the bridge's known index, is still found and named.
TEST(RouteOverlap, AForeignRouteBesideTheBridgesKnownOneIsReported) {
  FakeHost host;
  host.links = {{9, "nsrun0"}, {5, "eth1"}};
  host.routes = {{net("10.88.0.0/24"), 9, "", 254}, {net("10.88.0.0/16"), 5, "", 254}};
  auto route = foreign_route_overlapping(net("10.88.0.0/24"), "nsrun0", 9, host);
  ASSERT_TRUE(route);
  EXPECT_EQ(route->interface, "eth1");
}

// The flaky failure of NetworkE2E.TwentyConcurrentContainersGetDistinctAddresses...: the check
// looked up the bridge's index first (none yet), then a concurrent first run created nsrun0 and
// its route, and the route list then showed that route on an index the check did not know.
TEST(RouteOverlap, ABridgeCreatedConcurrentlyBeforeTheRoutesAreReadIsStillOurs) {
  FakeHost host;
  host.links = {{2, "eth0"}};
  host.routes = {{net("0.0.0.0/0"), 2, "", 254}};
  host.on_route_read = [](FakeHost& h) {  // another nsrun creates the bridge right now
    h.links[11] = "nsrun0";
    h.routes.push_back({net("10.88.0.0/24"), 11, "", 254});
  };
  EXPECT_EQ(host.name_of(11), "") << "the bridge does not exist before the routes are read";
  EXPECT_FALSE(foreign_route_overlapping(net("10.88.0.0/24"), "nsrun0", 0, host));
}

// The opposite race: the last container's teardown removes the bridge after the routes were
// read; its route went with it.
TEST(RouteOverlap, ARouteWhoseInterfaceVanishedIsSkipped) {
  FakeHost host;
  host.routes = {{net("10.88.0.0/24"), 11, "", 254}};
  EXPECT_FALSE(foreign_route_overlapping(net("10.88.0.0/24"), "nsrun0", 0, host));
}

}  // namespace
}  // namespace nsrun::network
