// nsrun network plugins: the Firewall that talks to the kernel through libiptc.
//
// libiptc is the legacy x_tables interface (what `iptables-legacy` uses): it reads a whole table,
// changes it in memory and commits it back in one replace. Two writers would lose each other's
// changes, so every transaction holds the flock on /run/xtables.lock, the same lock the
// iptables tools take (XTABLES_LOCKFILE overrides the path, as it does for them). On hosts whose
// firewall lives in nftables (iptables-nft, firewalld, nft) these rules sit in the legacy tables
// next to it: both are consulted for each packet, see docs/network.md.
#pragma once

#include "nsrun/network/rules.hpp"

namespace nsrun::network {

class IptcFirewall final : public Firewall {
 public:
  void insert(const std::vector<Rule>& rules) override;
  int remove_marked(std::string_view comment) override;
};

/// Builds the binary ipt_entry (matches and target) for a rule; exposed for tests.
std::vector<unsigned char> encode_rule(const Rule& rule);

}  // namespace nsrun::network
