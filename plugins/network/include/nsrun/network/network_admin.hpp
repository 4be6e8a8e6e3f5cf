// The kept bridge networks, for the people who run nsrun: `nsrun network ls`, `nsrun network rm
// NAME...`, `nsrun network prune` and `nsrun gc --networks` (which runs prune). Everything is
// decided under the IPAM lock, the one every run takes for its lease, so a network is never
// removed while a run is joining it: a run holds its lease from prepare on, before it looks at
// the bridge.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nsrun/network/ipam.hpp"
#include "nsrun/network/rules.hpp"

namespace nsrun::network {

class NetworkAdmin {
 public:
  using FirewallFactory = std::function<std::unique_ptr<Firewall>()>;
  /// Deletes the link of that name if it exists.
  using LinkRemover = std::function<void(const std::string&)>;

  struct Row {
    KeptNetwork network;
    std::vector<std::string> containers;  ///< the live containers on it
  };

  /// Tests pass fakes; empty factories mean the real firewall (libiptc) and netlink.
  explicit NetworkAdmin(std::string state_root, FirewallFactory firewall = {},
                        LinkRemover remove_link = {});

  std::vector<Row> list() const;
  /// Removes an idle network. StageError naming the network and the fix when it is unknown or in
  /// use.
  void remove(const std::string& name);
  /// Removes every idle network; returns their names.
  std::vector<std::string> prune();

 private:
  void remove_locked(IpamSession& session, const KeptNetwork& network);

  std::string state_root_;
  FirewallFactory firewall_factory_;
  LinkRemover remove_link_;
  std::unique_ptr<Firewall> firewall_;
};

/// `nsrun network ls`'s table: NAME BRIDGE SUBNET GATEWAY NAT CONTAINERS.
std::string network_table(const std::vector<NetworkAdmin::Row>& rows);

}  // namespace nsrun::network
