// nsrun network plugins: the NAT and filter rules of one container, as data.
//
// build_rules() decides the rule set (pure, unit-tested); a Firewall applies it. The real
// Firewall (iptc_firewall.hpp) talks to the kernel through libiptc; tests use a recording fake.
// Every rule carries the comment "nsrun:<container id>", which is how teardown and `nsrun gc`
// find exactly this container's rules again, with no memory of setup.
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

/// The rules for one container, in the order they must appear in each chain (first = top):
///   nat POSTROUTING  -s IP ! -o LINK -j MASQUERADE          (out through any other interface)
///   filter FORWARD   -s IP -i LINK ! -o LINK -j ACCEPT      (the container may go out)
///   filter FORWARD   -d IP -o LINK ! -i LINK ctstate RELATED,ESTABLISHED -j ACCEPT
///   filter FORWARD   -d IP -o LINK -p P --dport CTRPORT -j ACCEPT         (per published port)
///   filter FORWARD   -d IP -o LINK ! -i LINK -j DROP        (nothing else comes in)
/// and per published port: DNAT in PREROUTING (from other hosts) and OUTPUT (from the host
/// itself), MASQUERADE of 127.0.0.0/8 towards the container (localhost, with route_localnet on
/// the link) and of DNATed connections from the container's own network (hairpin: a container,
/// itself or another on the bridge, reaching the port through the host's address).
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
