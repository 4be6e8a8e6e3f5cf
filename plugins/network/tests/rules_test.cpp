// Unit tests: the rule set built for a container, its binary encoding for libiptc, and that
// setup and teardown drive the Firewall interface as expected (recorded by a fake).
#include "nsrun/network/rules.hpp"

#include <gtest/gtest.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_comment.h>

#include <cstring>
#include <filesystem>

#include "nsrun/network/ipam.hpp"
#include "nsrun/network/iptc_firewall.hpp"
#include "nsrun/network/network_stage.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::network {
namespace {

RuleInput input(std::vector<PortMapping> ports = {}) {
  return {"web1", *Ipv4Network::parse("10.88.0.0/24"), *Ipv4Address::parse("10.88.0.5"), "nsrun0",
          std::move(ports)};
}

std::vector<std::string> text(const std::vector<Rule>& rules) {
  std::vector<std::string> out;
  for (const auto& r : rules) out.push_back("-t " + r.table + " " + r.str());
  return out;
}

TEST(BuildRules, ContainerWithoutPorts) {
  EXPECT_EQ(text(build_rules(input())),
            (std::vector<std::string>{
                "-t nat -A POSTROUTING -s 10.88.0.5/32 ! -o nsrun0 -m comment --comment nsrun:web1 "
                "-j MASQUERADE",
                "-t filter -A FORWARD -s 10.88.0.5/32 -i nsrun0 ! -o nsrun0 -m comment --comment "
                "nsrun:web1 -j ACCEPT",
                "-t filter -A FORWARD -d 10.88.0.5/32 ! -i nsrun0 -o nsrun0 -m conntrack --ctstate "
                "RELATED,ESTABLISHED -m comment --comment nsrun:web1 -j ACCEPT",
                "-t filter -A FORWARD -d 10.88.0.5/32 ! -i nsrun0 -o nsrun0 -m comment --comment "
                "nsrun:web1 -j DROP",
            }));
}

TEST(BuildRules, PublishedPortsGetDnatFromOutsideAndFromTheHost) {
  auto rules = text(
      build_rules(input({parse_publish("8080:80"), parse_publish("203.0.113.1:53:5353/udp")})));
  auto has = [&](const std::string& line) {
    return std::find(rules.begin(), rules.end(), line) != rules.end();
  };
  EXPECT_TRUE(
      has("-t nat -A PREROUTING -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080 -m comment "
          "--comment nsrun:web1 -j DNAT --to-destination 10.88.0.5:80"));
  EXPECT_TRUE(
      has("-t nat -A OUTPUT -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 8080 -m comment "
          "--comment nsrun:web1 -j DNAT --to-destination 10.88.0.5:80"));
  EXPECT_TRUE(
      has("-t nat -A PREROUTING -d 203.0.113.1/32 -p udp -m udp --dport 53 -m comment --comment "
          "nsrun:web1 -j DNAT --to-destination 10.88.0.5:5353"));
  EXPECT_TRUE(
      has("-t filter -A FORWARD -d 10.88.0.5/32 -o nsrun0 -p tcp -m tcp --dport 80 -m comment "
          "--comment nsrun:web1 -j ACCEPT"));
  EXPECT_TRUE(
      has("-t nat -A POSTROUTING -s 127.0.0.0/8 -d 10.88.0.5/32 -o nsrun0 -m comment --comment "
          "nsrun:web1 -j MASQUERADE"));
  EXPECT_TRUE(
      has("-t nat -A POSTROUTING -s 10.88.0.0/24 -d 10.88.0.5/32 -o nsrun0 -p tcp -m tcp "
          "--dport 80 -m conntrack --ctstate DNAT -m comment --comment nsrun:web1 -j "
          "MASQUERADE"));
  // The published ACCEPTs come before the DROP in FORWARD.
  auto position = [&](const std::string& needle) {
    for (std::size_t i = 0; i < rules.size(); ++i)
      if (rules[i].find(needle) != std::string::npos) return i;
    return rules.size();
  };
  EXPECT_LT(position("--dport 80 "), position("-j DROP"));
  EXPECT_LT(position("--dport 5353 "), position("-j DROP"));
  for (const auto& rule : rules)
    EXPECT_NE(rule.find("--comment nsrun:web1 "), std::string::npos) << rule;
}

TEST(EncodeRule, LaysOutEntryMatchesAndTarget) {
  auto rules = build_rules(input({parse_publish("8080:80")}));
  for (const auto& rule : rules) {
    auto bytes = encode_rule(rule);
    const auto* e = reinterpret_cast<const ipt_entry*>(bytes.data());
    ASSERT_EQ(e->next_offset, bytes.size()) << rule.str();
    ASSERT_LT(e->target_offset, e->next_offset);
    EXPECT_EQ(e->target_offset % 8, 0u);
    const auto* target = reinterpret_cast<const xt_entry_target*>(bytes.data() + e->target_offset);
    EXPECT_EQ(std::string(target->u.user.name), rule.target);
    bool comment_found = false;
    for (unsigned at = sizeof(ipt_entry); at < e->target_offset;) {
      const auto* m = reinterpret_cast<const xt_entry_match*>(bytes.data() + at);
      ASSERT_GT(m->u.match_size, 0u);
      if (std::string(m->u.user.name) == "comment")
        comment_found =
            std::string(reinterpret_cast<const xt_comment_info*>(m->data)->comment) == "nsrun:web1";
      at += m->u.match_size;
    }
    EXPECT_TRUE(comment_found) << rule.str();
  }
  for (const auto& rule : rules) {
    if (rule.target != "DNAT") continue;
    auto bytes = encode_rule(rule);
    const auto* e = reinterpret_cast<const ipt_entry*>(bytes.data());
    const auto* t = reinterpret_cast<const xt_entry_target*>(bytes.data() + e->target_offset);
    EXPECT_EQ(t->u.user.revision, 2) << "nf_nat_range2, which iptables-legacy-save can print";
    EXPECT_EQ(t->u.user.target_size, XT_ALIGN(sizeof(xt_entry_target) + sizeof(nf_nat_range2)));
  }
  auto masquerade = std::find_if(rules.begin(), rules.end(), [](const Rule& rule) {
    return rule.target == "MASQUERADE" && rule.out_negated;
  });
  ASSERT_NE(masquerade, rules.end());
  auto first = encode_rule(*masquerade);  // -s 10.88.0.5/32 ! -o nsrun0 -j MASQUERADE
  const auto* e = reinterpret_cast<const ipt_entry*>(first.data());
  EXPECT_EQ(ntohl(e->ip.src.s_addr), 0x0a580005u);
  EXPECT_EQ(e->ip.smsk.s_addr, 0xffffffffu);
  EXPECT_STREQ(e->ip.outiface, "nsrun0");
  EXPECT_EQ(e->ip.outiface_mask[6], 0xff);  // the NUL too: exact name
  EXPECT_EQ(e->ip.outiface_mask[7], 0);
  EXPECT_EQ(e->ip.invflags, IPT_INV_VIA_OUT);
}

TEST(BuildRules, AKeptNetworkHasOneSetOfRulesForItsWholeSubnet) {
  EXPECT_EQ(text(build_network_rules(*Ipv4Network::parse("10.88.0.0/24"), "nsrun0",
                                     network_rule_comment("nsrun0"))),
            (std::vector<std::string>{
                "-t nat -A POSTROUTING -s 10.88.0.0/24 ! -o nsrun0 -m comment --comment "
                "nsrun-network:nsrun0 -j MASQUERADE",
                "-t filter -A FORWARD -s 10.88.0.0/24 -i nsrun0 ! -o nsrun0 -m comment --comment "
                "nsrun-network:nsrun0 -j ACCEPT",
                "-t filter -A FORWARD -d 10.88.0.0/24 ! -i nsrun0 -o nsrun0 -m conntrack "
                "--ctstate RELATED,ESTABLISHED -m comment --comment nsrun-network:nsrun0 -j ACCEPT",
                "-t filter -A FORWARD -d 10.88.0.0/24 ! -i nsrun0 -o nsrun0 -m comment --comment "
                "nsrun-network:nsrun0 -j DROP",
            }));
}

TEST(BuildRules, AContainerOnABridgeAddsRulesOnlyForItsPorts) {
  EXPECT_TRUE(build_port_rules(input()).empty());
  auto rules = text(build_port_rules(input({parse_publish("8080:80")})));
  EXPECT_EQ(rules.front(),
            "-t filter -A FORWARD -d 10.88.0.5/32 -o nsrun0 -p tcp -m tcp --dport 80 -m comment "
            "--comment nsrun:web1 -j ACCEPT");
  for (const auto& rule : rules) {
    EXPECT_NE(rule.find("--comment nsrun:web1 "), std::string::npos) << rule;
    EXPECT_EQ(rule.find("-j DROP"), std::string::npos) << "the network's DROP is not a port's";
  }
}

// --- setup/teardown against a recording Firewall -------------------------------------------

struct Recorder {
  std::vector<std::string> calls;
};

class RecordingFirewall final : public Firewall {
 public:
  explicit RecordingFirewall(Recorder& recorder) : recorder_(recorder) {}
  void insert(const std::vector<Rule>& rules) override {
    for (const auto& r : rules) recorder_.calls.push_back("insert -t " + r.table + " " + r.str());
  }
  int remove_marked(std::string_view comment) override {
    recorder_.calls.push_back("remove " + std::string(comment));
    return 0;
  }

 private:
  Recorder& recorder_;
};

using ::nsrun::testing::MemoryJournal;
using QuietLogger = ::nsrun::testing::RecordingLogger;

TEST(NetworkTeardown, WorksFromTheJournalAloneAndIsIdempotent) {
  namespace fs = std::filesystem;
  std::string pattern = (fs::temp_directory_path() / "nsrun-teardown-XXXXXX").string();
  ASSERT_TRUE(::mkdtemp(pattern.data()));
  const std::string root = pattern, state_dir = root + "/web1";
  fs::create_directories(state_dir);
  {
    auto session = Ipam(root).lock();
    session.write_lease(
        {*Ipv4Address::parse("10.88.0.5"), "web1", "10.88.0.0/24", "bridge", "nsrun0"});
    session.reserve_port("tcp", 8080, "web1", "8080:80/tcp");
  }
  MemoryJournal journal;
  journal.entries = {
      {"lease",
       {{"address", "10.88.0.5"},
        {"network", "10.88.0.0/24"},
        {"mode", "bridge"},
        {"link", "nsrun0"},
        {"veth", "nsvdoesnotexist"},
        {"ports", boost::json::array{boost::json::object{{"protocol", "tcp"}, {"port", 8080}}}}}},
      {"nat", {{"comment", "nsrun:web1"}}},
  };
  QuietLogger log;
  ContainerSpec spec;
  boost::json::object config;
  Recorder recorder;
  for (int round = 0; round < 2; ++round) {
    // A fresh stage object each time, as after a crash.
    NetworkStage stage(Mode::bridge, [&] { return std::make_unique<RecordingFirewall>(recorder); });
    Context ctx{"web1", state_dir, spec, config, journal, log, 0, root};
    EXPECT_NO_THROW(stage.teardown(ctx));
  }
  EXPECT_EQ(recorder.calls, (std::vector<std::string>{"remove nsrun:web1", "remove nsrun:web1"}));
  auto session = Ipam(root).lock();
  EXPECT_TRUE(session.live_leases().empty());
  EXPECT_FALSE(session.port_owner("tcp", 8080));
  fs::remove_all(root);
}

}  // namespace
}  // namespace nsrun::network
