#include "nsrun/ipv4.hpp"

#include <gtest/gtest.h>

namespace nsrun {
namespace {

TEST(Ipv4, ParsesStrictly) {
  EXPECT_TRUE(Ipv4Address::parse("10.1.2.3"));
  EXPECT_FALSE(Ipv4Address::parse("10.1.2"));
  EXPECT_FALSE(Ipv4Address::parse("10.1.2.3 "));
  EXPECT_FALSE(Ipv4Address::parse(""));
  EXPECT_FALSE(Ipv4Network::parse("10.0.0.0/"));
  EXPECT_FALSE(Ipv4Network::parse("10.0.0.0/1a"));
  EXPECT_FALSE(Ipv4Network::parse("10.0.0.0/-1"));
  EXPECT_TRUE(Ipv4Network::parse("0.0.0.0/0"));
}

TEST(Ipv4, NetworkArithmetic) {
  auto net = *Ipv4Network::parse("192.168.1.77/24");
  EXPECT_EQ(net.str(), "192.168.1.0/24");
  EXPECT_EQ(net.broadcast().str(), "192.168.1.255");
  EXPECT_TRUE(net.is_usable_host(*Ipv4Address::parse("192.168.1.1")));
  EXPECT_FALSE(net.is_usable_host(*Ipv4Address::parse("192.168.1.0")));
  EXPECT_FALSE(net.is_usable_host(*Ipv4Address::parse("192.168.2.1")));
  EXPECT_TRUE(net.overlaps(*Ipv4Network::parse("192.168.0.0/16")));
  EXPECT_FALSE(net.overlaps(*Ipv4Network::parse("192.168.2.0/24")));
  auto p2p = *Ipv4Network::parse("10.0.0.0/31");
  EXPECT_TRUE(p2p.is_usable_host(*Ipv4Address::parse("10.0.0.0")));
}

}  // namespace
}  // namespace nsrun
