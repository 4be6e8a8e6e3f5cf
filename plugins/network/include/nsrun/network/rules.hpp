// nsrun network plugins: the NAT and filter rules of one container, as data.
//
// build_rules() decides the rule set (pure, unit-tested); a Firewall applies it. The real
// Firewall (iptc_firewall.hpp) talks to the kernel through libiptc; tests use a recording fake.
// A container's rules carry the comment "nsrun:<container id>", a kept network's
// "nsrun-network:<bridge>": that is how teardown, `nsrun gc` and `nsrun network rm` find exactly
// those rules again, with no memory of setup.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/ipv4.hpp"
#include "nsrun/network/config.hpp"

namespace nsrun::network {

struct Rule {
  std::string table{};  ///< "nat" or "filter"
  std::string chain{};  ///< a built-in chain: PREROUTING, OUTPUT, POSTROUTING, FORWARD
  std::optional<Ipv4Network> source{};
  std::optional<Ipv4Network> destination{};
  std::string in_interface{};
  bool in_negated = false;
  std::string out_interface{};
  bool out_negated = false;
  std::string protocol{};                   ///< "", "tcp" or "udp"
  std::uint16_t destination_port = 0;       ///< with protocol
  bool established = false;                 ///< -m conntrack --ctstate RELATED,ESTABLISHED
  bool dnatted = false;                     ///< -m conntrack --ctstate DNAT
  bool destination_local = false;           ///< -m addrtype --dst-type LOCAL
  std::string comment{};                    ///< -m comment --comment
  std::string target{};                     ///< ACCEPT, DROP, MASQUERADE, DNAT
  std::optional<Ipv4Address> to_address{};  ///< DNAT --to-destination ADDRESS:PORT
  std::uint16_t to_port = 0;

  /// The rule in iptables-save syntax ("-A CHAIN ..."), for logs, tests and the benchmark's
  /// shell baseline.
  std::string str() const;
  bool operator==(const Rule&) const = default;
};

/// The marker every rule of container `id` carries.
std::string rule_comment(std::string_view container_id);

struct RuleInput {
  std::string container_id;
  Ipv4Network subnet;
  Ipv4Address container_ip;
  std::string link;  ///< the bridge (bridge mode) or host veth (veth mode) the container is behind
  std::vector<PortMapping> ports;
};

/// The marker of the rules of the kept network `network` (a bridge's name).
std::string network_rule_comment(std::string_view network);

/// The rules of a network: what its `addresses` send out through another interface than `link`
/// is masqueraded and may go; only answers come back in. In the order they must appear in each
/// chain (first = top), all carrying `comment`:
///   nat POSTROUTING  -s ADDRS ! -o LINK -j MASQUERADE
///   filter FORWARD   -s ADDRS -i LINK ! -o LINK -j ACCEPT
///   filter FORWARD   -d ADDRS -o LINK ! -i LINK ctstate RELATED,ESTABLISHED -j ACCEPT
///   filter FORWARD   -d ADDRS -o LINK ! -i LINK -j DROP
/// The bridge plugin adds them once per network (comment network_rule_comment), the veth plugin
/// once per container (its /32, comment rule_comment).
std::vector<Rule> build_network_rules(const Ipv4Network& addresses, const std::string& link,
                                      const std::string& comment);

/// One container's published ports, comment rule_comment(id): per port an ACCEPT in FORWARD
/// (inserted above its network's DROP), DNAT in PREROUTING (from other hosts) and OUTPUT (from
/// the host itself), MASQUERADE of DNATed connections from the container's own network (hairpin:
/// a container, itself or another on the bridge, reaching the port through the host's address)
/// and, for ports on every or a 127.x address, of 127.0.0.0/8 towards the container (localhost,
/// with route_localnet on the link). Empty without ports.
std::vector<Rule> build_port_rules(const RuleInput& input);

/// Everything of a container that has a link of its own (the veth plugin): its port rules, then
/// its network rules for its /32 address, all with the container's comment.
std::vector<Rule> build_rules(const RuleInput& input);

/// Where rules go. Implementations serialise with other iptables users themselves.
class Firewall {
 public:
  virtual ~Firewall() = default;
  /// Inserts the rules at the top of their chains, keeping their relative order.
  virtual void insert(const std::vector<Rule>& rules) = 0;
  /// Deletes every rule whose comment is `comment` from the chains build_rules uses. Returns how
  /// many it deleted; succeeds when there is none.
  virtual int remove_marked(std::string_view comment) = 0;
};

}  // namespace nsrun::network
