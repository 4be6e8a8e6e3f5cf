// Unit tests: CIDR, address, port, bridge and DNS validation of the network configuration.
#include "nsrun/network/config.hpp"

#include <gtest/gtest.h>

#include "nsrun/stage.hpp"

namespace nsrun::network {
namespace {

ContainerSpec with(std::map<std::string, std::string> annotations) {
  ContainerSpec spec;
  spec.annotations = std::move(annotations);
  return spec;
}

NetworkConfig parse(std::map<std::string, std::string> annotations, Mode mode = Mode::bridge,
                    boost::json::object config = {}) {
  return parse_network_config(with(std::move(annotations)), config, mode, "nsrun.network.bridge");
}

// The message of the StageError `call` throws ("" when it does not throw).
template <typename Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (const StageError& e) {
    return e.what();
  }
  return "";
}

// The plugin owns its flags: nsrun hands over what was given, the plugin validates it and names
// the flag; the same values from a bundle's annotations are named as annotations.
std::string flag_error(boost::json::object flags, Mode mode = Mode::bridge) {
  ContainerSpec spec;
  return error_of([&] { parse_network_config(spec, {}, mode, "nsrun.network.bridge", &flags); });
}

TEST(NetworkFlags, AreValidatedByThePluginNamingTheFlag) {
  EXPECT_EQ(flag_error({{"network", "10.0.0.0/24"}}), "");
  EXPECT_NE(flag_error({{"network", "10.0.0.0/33"}}).find("--network \"10.0.0.0/33\""),
            std::string::npos);
  EXPECT_NE(flag_error({{"network", "300.1.1.1/24"}}).find("not an IPv4"), std::string::npos);
  EXPECT_EQ(flag_error({{"network", "10.0.0.0/31"}}),
            "--network 10.0.0.0/31 is too small: a /30 or larger is needed");
  EXPECT_EQ(flag_error({{"network", "127.0.0.0/8"}}),
            "--network 127.0.0.0/8 overlaps 127.0.0.0/8, the loopback range (use a private "
            "network such as 10.88.0.0/24)");
  EXPECT_NE(flag_error({{"network", "127.1.2.0/24"}}).find("loopback"), std::string::npos);
  EXPECT_NE(flag_error({{"network", "169.254.10.0/24"}}).find("link-local"), std::string::npos);
  EXPECT_NE(flag_error({{"network", "224.0.0.0/24"}}).find("multicast"), std::string::npos);
  EXPECT_NE(flag_error({{"network", "250.0.0.0/24"}}).find("reserved"), std::string::npos);
  EXPECT_NE(flag_error({{"network", "0.0.0.0/8"}}).find("this network"), std::string::npos);
  // A network that holds a special range is refused too, not only one inside it.
  EXPECT_NE(flag_error({{"network", "169.0.0.0/8"}}).find("link-local"), std::string::npos);
  EXPECT_EQ(flag_error({{"network", "172.16.5.0/24"}}), "");
  EXPECT_EQ(flag_error({{"network", "198.51.100.0/24"}}), "");
  EXPECT_EQ(flag_error({{"network", "10.0.0.0/24"}, {"host-ip", "10.0.1.1"}}),
            "--host-ip 10.0.1.1 is outside --network 10.0.0.0/24 (pick an address inside it)");
  EXPECT_EQ(flag_error({{"network", "10.0.0.0/24"}, {"container-ip", "10.0.0.255"}}),
            "--container-ip 10.0.0.255 is the network or broadcast address of 10.0.0.0/24 (pick "
            "a host address)");
  EXPECT_EQ(
      flag_error(
          {{"network", "10.0.0.0/24"}, {"host-ip", "10.0.0.5"}, {"container-ip", "10.0.0.5"}}),
      "--host-ip and --container-ip are both 10.0.0.5; they must differ");
  EXPECT_EQ(flag_error({{"host-ip", "x"}}), "--host-ip \"x\" is not an IPv4 address");
  EXPECT_EQ(flag_error({{"publish", boost::json::array{"8080:80", "8080:81"}}}),
            "--publish 8080:81 repeats host port 8080/tcp (publish each host port once)");
  EXPECT_EQ(flag_error({{"nat", false}, {"publish", boost::json::array{"8080:80"}}}),
            "--publish needs NAT, which --nat=false turns off (drop one of them)");
  EXPECT_EQ(flag_error({{"dns", boost::json::array{"nope"}}}),
            "--dns \"nope\" is not an IP address (e.g. --dns 1.1.1.1)");
  EXPECT_EQ(flag_error({{"bridge", "br0"}}, Mode::veth),
            "--bridge is for the bridge network; the veth plugin has no bridge");
}

TEST(NetworkFlags, WinOverAnnotationsWhichAreNamedAsSuch) {
  ContainerSpec spec = with({{annotation::subnet, "10.1.0.0/16"}, {annotation::host_ip, "nope"}});
  boost::json::object flags{{"network", "10.2.0.0/24"}};
  EXPECT_EQ(error_of([&] { parse_network_config(spec, {}, Mode::bridge, "b", &flags); }),
            "annotations[\"nsrun.network.host-ip\"] \"nope\" is not an IPv4 address");
  spec.annotations.erase(annotation::host_ip);
  EXPECT_EQ(parse_network_config(spec, {}, Mode::bridge, "b", &flags).subnet.str(), "10.2.0.0/24");
}

TEST(NetworkConfig, DefaultsGiveTheFirstHostAsGatewayAndLeaveTheAddressToIpam) {
  auto config = parse({});
  EXPECT_EQ(config.subnet.str(), "192.168.1.0/24");
  EXPECT_EQ(config.gateway.str(), "192.168.1.1");
  EXPECT_FALSE(config.container_ip);
  EXPECT_EQ(config.bridge, "nsrun0");
  EXPECT_TRUE(config.nat);
  EXPECT_TRUE(config.ports.empty());
}

TEST(NetworkConfig, AnnotationsOverrideStageConfig) {
  auto config = parse({{annotation::subnet, "10.1.2.0/24"},
                       {annotation::host_ip, "10.1.2.254"},
                       {annotation::container_ip, "10.1.2.7"},
                       {annotation::nat, "false"},
                       {annotation::dns, "1.1.1.1,2606:4700::1111"}},
                      Mode::bridge, {{"bridge", "br-test"}, {"subnet", "10.9.0.0/16"}});
  EXPECT_EQ(config.subnet.str(), "10.1.2.0/24");
  EXPECT_EQ(config.gateway.str(), "10.1.2.254");
  EXPECT_EQ(config.container_ip->str(), "10.1.2.7");
  EXPECT_EQ(config.bridge, "br-test");
  EXPECT_FALSE(config.nat);
  EXPECT_EQ(config.dns, (std::vector<std::string>{"1.1.1.1", "2606:4700::1111"}));
}

TEST(NetworkConfig, HostBitsOfTheSubnetAreCleared) {
  EXPECT_EQ(parse({{annotation::subnet, "10.1.2.77/24"}}).subnet.str(), "10.1.2.0/24");
}

TEST(NetworkConfig, VethModePinsTheSecondHost) {
  auto config = parse({{annotation::subnet, "10.5.0.0/30"}}, Mode::veth);
  EXPECT_EQ(config.gateway.str(), "10.5.0.1");
  EXPECT_EQ(config.container_ip->str(), "10.5.0.2");
}

// A bundle sets the same values through annotations, which messages name.
TEST(NetworkConfig, MalformedNetworksNameTheAnnotation) {
  EXPECT_NE(error_of([] {
              parse({{annotation::subnet, "10.0.0.0/33"}});
            }).find("annotations[\"nsrun.network.subnet\"]"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse({{annotation::subnet, "300.1.1.1/24"}});
            }).find("not an IPv4 address"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse({{annotation::subnet, "10.0.0.0"}});
            }).find("/prefix"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse({{annotation::subnet, "fd00::/64"}});
            }).find("IPv6 is not supported yet"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse({{annotation::subnet, "10.0.0.0/31"}});
            }).find("too small"),
            std::string::npos);
}

TEST(NetworkConfig, AddressesMustBeUsableHostsOfTheNetworkAndDiffer) {
  std::map<std::string, std::string> base{{annotation::subnet, "10.0.0.0/24"}};
  auto bad = [&](const char* key, const char* value) {
    auto a = base;
    a[key] = value;
    return error_of([&] { parse(a); });
  };
  EXPECT_NE(bad(annotation::host_ip, "10.0.1.1")
                .find("annotations[\"nsrun.network.host-ip\"] 10.0.1.1 is outside"),
            std::string::npos);
  EXPECT_NE(bad(annotation::container_ip, "10.0.0.0").find("network or broadcast"),
            std::string::npos);
  EXPECT_NE(bad(annotation::container_ip, "10.0.0.255").find("network or broadcast"),
            std::string::npos);
  EXPECT_NE(bad(annotation::container_ip, "10.0.0.300").find("not an IPv4 address"),
            std::string::npos);
  EXPECT_NE(bad(annotation::container_ip, "fe80::1").find("IPv6"), std::string::npos);
  EXPECT_NE(bad(annotation::container_ip, "10.0.0.1").find("must differ"), std::string::npos);
}

TEST(NetworkConfig, BridgeNamesAreCheckedLikeTheKernelDoes) {
  EXPECT_EQ(parse({{annotation::bridge, "abcdefghijklmno"}}).bridge, "abcdefghijklmno");
  EXPECT_NE(error_of([] {
              parse({{annotation::bridge, "abcdefghijklmnop"}});
            }).find("at most 15"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse({{annotation::bridge, "a/b"}});
            }).find("nsrun.network.bridge"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse({{annotation::bridge, "."}});
            }).find("nsrun.network.bridge"),
            std::string::npos);
}

TEST(NetworkConfig, UnknownStageConfigKeysAreRefused) {
  EXPECT_NE(error_of([] {
              parse({}, Mode::bridge, {{"brige", "x"}});
            }).find("\"brige\""),
            std::string::npos);
  // The veth plugin has no bridge.
  EXPECT_NE(error_of([] {
              parse({}, Mode::veth, {{"bridge", "x"}});
            }).find("\"bridge\""),
            std::string::npos);
}

TEST(PublishFlag, ParsesEveryForm) {
  EXPECT_EQ(parse_publish("8080:80"), (PortMapping{std::nullopt, 8080, 80, "tcp"}));
  EXPECT_EQ(parse_publish("53:5353/udp"), (PortMapping{std::nullopt, 53, 5353, "udp"}));
  EXPECT_EQ(parse_publish("127.0.0.1:1:65535/tcp"),
            (PortMapping{Ipv4Address::parse("127.0.0.1"), 1, 65535, "tcp"}));
  EXPECT_EQ(parse_publish("127.0.0.1:1:65535/tcp").str(), "127.0.0.1:1:65535/tcp");
}

TEST(PublishFlag, RefusesBadPortsAndForms) {
  for (const char* bad : {"0:80", "80:0", "65536:80", "80:65536", "x:80", "80", "1:2:3:4",
                          "80:80/sctp", "999.0.0.1:80:80", ":80", "80:", "-1:80", "080a:80"}) {
    std::string message = error_of([&] { parse_publish(bad); });
    EXPECT_NE(message.find("--publish"), std::string::npos) << bad;
    EXPECT_EQ(message.find('\n'), std::string::npos) << bad;
  }
}

TEST(PublishFlag, RepeatedHostPortAndNatOffAreRefused) {
  EXPECT_NE(error_of([] {
              parse({{annotation::publish, "80:80,80:81"}});
            }).find("repeats"),
            std::string::npos);
  EXPECT_NO_THROW(parse({{annotation::publish, "80:80,80:80/udp"}}));
  EXPECT_NE(error_of([] {
              parse({{annotation::publish, "80:80"}, {annotation::nat, "false"}});
            }).find("--nat=false"),
            std::string::npos);
}

TEST(DnsAndNatFlags, AreValidated) {
  EXPECT_NE(error_of([] {
              parse({{annotation::dns, "1.1.1"}});
            }).find("annotations[\"nsrun.network.dns\"] \"1.1.1\""),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse({{annotation::nat, "maybe"}});
            }).find("nsrun.network.nat"),
            std::string::npos);
}

}  // namespace
}  // namespace nsrun::network
