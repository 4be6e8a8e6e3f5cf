// Unit tests: veth naming and the resolv.conf the network stage decides.
#include "nsrun/network/resolv_conf.hpp"

#include <gtest/gtest.h>

#include <set>

#include "nsrun/network/naming.hpp"

namespace nsrun::network {
namespace {

TEST(VethName, FitsTheKernelLimitAndIsStable) {
  std::string longest(64, 'a');
  EXPECT_LE(veth_name(longest).size(), 15u);
  EXPECT_EQ(veth_name("abc"), veth_name("abc"));
  EXPECT_EQ(veth_name("abc").rfind("nsv", 0), 0u);
  EXPECT_NE(veth_name("abc", 0), veth_name("abc", 1));
  EXPECT_EQ(veth_name("abc", 1), veth_name("abc", 1));
}

TEST(VethName, DistinctForManyIds) {
  std::set<std::string> names;
  for (int i = 0; i < 100000; ++i) names.insert(veth_name("c" + std::to_string(i)));
  EXPECT_EQ(names.size(), 100000u);
}

TEST(ResolvConf, DnsFlagWinsAndHostSearchIsKept) {
  std::string out =
      resolv_conf({{"1.1.1.1", "9.9.9.9"}, "nameserver 10.0.0.53\nsearch example.org\n", "", true});
  EXPECT_NE(out.find("nameserver 1.1.1.1\nnameserver 9.9.9.9\n"), std::string::npos);
  EXPECT_EQ(out.find("10.0.0.53"), std::string::npos);
  EXPECT_NE(out.find("search example.org"), std::string::npos);
}

TEST(ResolvConf, LoopbackResolversAreDroppedThenSystemdUpstreamsThenFallback) {
  EXPECT_EQ(reachable_nameservers("nameserver 127.0.0.53\nnameserver ::1\nnameserver 10.1.1.1\n"),
            std::vector<std::string>{"10.1.1.1"});
  std::string upstream =
      resolv_conf({{}, "nameserver 127.0.0.53\n", "nameserver 203.0.113.53\n", true});
  EXPECT_NE(upstream.find("nameserver 203.0.113.53\n"), std::string::npos);
  std::string fallback = resolv_conf({{}, "nameserver 127.0.0.53\n", "", true});
  EXPECT_NE(fallback.find("nameserver 8.8.8.8\nnameserver 8.8.4.4\n"), std::string::npos);
  std::string none = resolv_conf({{}, "nameserver 127.0.0.53\n", "", false});
  EXPECT_EQ(none.find("\nnameserver "), std::string::npos);
  EXPECT_NE(none.find("--dns"), std::string::npos);
}

}  // namespace
}  // namespace nsrun::network
