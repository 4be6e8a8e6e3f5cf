// nsrun.network.bridge and nsrun.network.veth: one stage class, two topologies.
//
//   bridge  a host bridge (default nsrun0) holds the gateway address; each container gets a veth
//           pair whose host end joins the bridge and whose other end is the container's eth0,
//           an address from IPAM (or --container-ip) and a default route via the gateway.
//   veth    the original point-to-point model: the host end carries --host-ip, the container end
//           --container-ip; one container per network.
//
// Phases: validate checks everything, host routes and leases included, and changes nothing;
// prepare takes the lease, the veth name and the published ports under the IPAM lock and
// provides the container's address and resolv.conf (outputs "network.address" and
// "network.resolv_conf") to the stage that writes the /etc files; create_runtime (host) creates the
// bridge if needed, the veth pair (its peer created directly in the container's namespace), the
// container's rules, and configures eth0, lo and the route through a socket it opens in the
// container's namespace (as CNI plugins do); teardown works from the journal alone.
//
// The bridge network is kept up between runs, as docker keeps docker0: its bridge, address and
// NAT rules (one set per network) are made by the first container that needs them and stay; per
// container only the veth, the lease and the published ports' rules come and go. `nsrun network
// ls|rm|prune` (the bridge plugin's commands) and `nsrun gc --networks` show and remove kept
// networks; an idle network is remade when a run asks its bridge for another subnet.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "nsrun/network/config.hpp"
#include "nsrun/network/ipam.hpp"
#include "nsrun/network/rules.hpp"
#include "nsrun/plugin.h"
#include "nsrun/stage.hpp"

namespace nsrun::network {

class Netlink;

/// Removes a kept network: its rules, its bridge when nsrun made it (`delete_link`), its record.
/// The caller holds the IPAM lock and checked that no container uses it.
void remove_kept_network(IpamSession& session, const KeptNetwork& network, Firewall& firewall,
                         const std::function<void(const std::string&)>& delete_link);
/// Turns ip_forward back off when nsrun turned it on and nothing of nsrun's needs it any more.
void release_ip_forward_if_unused(IpamSession& session);

class NetworkStage : public IStage {
 public:
  static constexpr nsrun_contract provides[] = {{"network.address", 0}, {"network.resolv_conf", 0}};
  /// The original program's network flags plus docker's -p and --dns. "--network none|host"
  /// picks those plugins instead (a selector of the default pipeline).
  static constexpr nsrun_flag flags[] = {
      {"network", nullptr, NSRUN_FLAG_STRING, "CIDR",
       "Container network (default 192.168.1.0/24), or none, or host"},
      {"host-ip", nullptr, NSRUN_FLAG_STRING, "IP",
       "Host-side address (default: the first host of --network)"},
      {"container-ip", nullptr, NSRUN_FLAG_STRING, "IP",
       "Container address (default: chosen from --network)"},
      {"bridge", nullptr, NSRUN_FLAG_STRING, "NAME", "Host bridge of the network (default nsrun0)"},
      {"nat", nullptr, NSRUN_FLAG_SWITCH, nullptr,
       "Masquerade the container's traffic out (default; --nat=false: off)"},
      {"publish", "p", NSRUN_FLAG_STRINGS, "[HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]",
       "Publish a port with DNAT, repeatable"},
      {"dns", nullptr, NSRUN_FLAG_STRINGS, "IP",
       "Nameserver for the container's resolv.conf, repeatable"},
  };

  using FirewallFactory = std::function<std::unique_ptr<Firewall>()>;
  explicit NetworkStage(Mode mode, FirewallFactory firewall = {});
  ~NetworkStage() override;

  void validate(Context& ctx) override;
  void prepare(Context& ctx) override;
  void create_runtime(Context& ctx) override;
  void create_container(Context& ctx) override;
  void teardown(Context& ctx) override;

  /// The plugin's name, e.g. "nsrun.network.bridge".
  const char* name() const;

 private:
  void check_host(Context& ctx);
  /// The kept network of our bridge is nsrun's, idle, and for another subnet than this run's.
  bool replaceable_network(Context& ctx) const;
  /// Makes the kept bridge network ready (see network_stage.cpp); returns the bridge's index.
  int bring_up_network(Context& ctx, Netlink& nl);
  void provide_outputs(Context& ctx);
  /// The records teardown works from when the journal has none (see network_stage.cpp).
  std::vector<JournalRecord> records_from_the_lease(Context& ctx);
  Firewall& firewall();
  /// One rtnetlink socket in the host's network namespace for every host phase of this process,
  /// opened on first use (each socket costs four system calls to open).
  Netlink& host_netlink();
  /// Configures the container's interfaces (see network_stage.cpp).
  void configure_container_side(pid_t pid);

  Mode mode_;
  FirewallFactory firewall_factory_;
  std::unique_ptr<Firewall> firewall_;
  std::unique_ptr<Netlink> host_netlink_;
  int host_netlink_descriptor_ = -1;
  bool validated_ = false;
  NetworkConfig config_;
  Ipv4Address address_;  ///< the container's address, chosen in prepare
  std::string link_;     ///< the host-side veth name, chosen in prepare
};

class BridgeStage final : public NetworkStage {
 public:
  BridgeStage() : NetworkStage(Mode::bridge) {}

  /// `nsrun network ls|rm|prune` (see network_admin.hpp).
  static constexpr nsrun_command commands[] = {
      {"ls", "[-q]", "List the networks kept up, with the containers on each (-q: names only)"},
      {"rm", "NAME...", "Remove idle networks: bridge, address and NAT rules"},
      {"prune", "", "Remove every idle network (as nsrun gc --networks), printing their names"},
  };
  static void run_command(Command& command);
};

class VethStage final : public NetworkStage {
 public:
  VethStage() : NetworkStage(Mode::veth) {}
};

}  // namespace nsrun::network
