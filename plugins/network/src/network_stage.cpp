// The bridge and veth network stages (see network_stage.hpp).
#include "nsrun/network/network_stage.hpp"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "nsrun/network/ipam.hpp"
#include "nsrun/network/iptc_firewall.hpp"
#include "nsrun/network/naming.hpp"
#include "nsrun/network/netlink.hpp"
#include "nsrun/network/resolv_conf.hpp"

namespace nsrun::network {
namespace {

constexpr const char* ip_forward_path = "/proc/sys/net/ipv4/ip_forward";
constexpr const char* container_interface = "eth0";

// The IPAM store is shared by every container under the same state root.
std::string state_root_of(const Context& ctx) {
  if (ctx.state_root.empty()) throw StageError("no state root given to the network stage");
  return std::string(ctx.state_root);
}

std::string string_of(const boost::json::object& data, const char* key) {
  const auto* value = data.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

// The live containers on the kept network `bridge`, except `except`.
std::vector<std::string> users_of(const IpamSession& session, const std::string& bridge,
                                  const std::string& except = {}) {
  std::vector<std::string> users;
  for (const auto& lease : session.live_leases())
    if (lease.mode == "bridge" && lease.link == bridge && lease.id != except)
      users.push_back(lease.id);
  return users;
}

}  // namespace

// nsrun turned ip_forward on for its NAT: back off once nothing of nsrun's needs it (no live
// lease with NAT, no kept network with NAT rules).
void release_ip_forward_if_unused(IpamSession& session) {
  if (!session.marker("ip_forward") || !session.live_leases().empty()) return;
  for (const auto& network : session.networks())
    if (network.nat) return;
  write_sysctl(ip_forward_path, "0");
  session.remove_marker("ip_forward");
}

void remove_kept_network(IpamSession& session, const KeptNetwork& network, Firewall& firewall,
                         const std::function<void(const std::string&)>& delete_link) {
  if (network.nat) firewall.remove_marked(network_rule_comment(network.name));
  if (network.made_bridge) delete_link(network.name);
  session.remove_network(network.name);
}

bool NetworkStage::replaceable_network(Context& ctx) const {
  if (mode_ != Mode::bridge) return false;
  auto session = Ipam(state_root_of(ctx)).reader();
  if (!session) return false;
  auto kept = session->network(config_.bridge);
  return kept && kept->made_bridge && users_of(*session, config_.bridge).empty() &&
         (kept->subnet != config_.subnet.str() || kept->gateway != config_.gateway.str());
}

NetworkStage::NetworkStage(Mode mode, FirewallFactory firewall)
    : mode_(mode), firewall_factory_(std::move(firewall)) {}

NetworkStage::~NetworkStage() = default;

const char* NetworkStage::name() const {
  return mode_ == Mode::bridge ? "nsrun.network.bridge" : "nsrun.network.veth";
}

Firewall& NetworkStage::firewall() {
  if (!firewall_)
    firewall_ = firewall_factory_ ? firewall_factory_() : std::make_unique<IptcFirewall>();
  return *firewall_;
}

Netlink& NetworkStage::host_netlink() {
  if (!host_netlink_) {
    host_netlink_ = std::make_unique<Netlink>();
    host_netlink_descriptor_ = host_netlink_->descriptor();
  }
  return *host_netlink_;
}

// Read-only checks against the host: routes, the bridge's addresses, leases and ports.
void NetworkStage::check_host(Context& ctx) {
  const Ipv4Network& subnet = config_.subnet;
  // Leases first: they name the container in the way, which a route cannot.
  if (auto session = Ipam(state_root_of(ctx)).reader()) {
    for (const auto& lease : session->live_leases()) {
      Ipv4Network network;
      if (auto parsed = Ipv4Network::parse(lease.network))
        network = *parsed;
      else
        continue;
      if (!network.overlaps(subnet)) continue;
      if (mode_ == Mode::veth || lease.mode != "bridge" || network.str() != subnet.str())
        throw StageError("--network " + subnet.str() + " is already used by container " + lease.id +
                         (lease.mode == "veth" || mode_ == Mode::veth
                              ? " (the veth plugin serves one container per network; use another "
                                "--network or the bridge plugin)"
                              : " on " + lease.network + " (choose another --network)"));
      if (lease.link != config_.bridge)
        throw StageError("--network " + subnet.str() + " is already served by bridge " +
                         lease.link + " (use --bridge " + lease.link + " or another --network)");
    }
    if (config_.container_ip)
      if (auto lease = session->lease_of(*config_.container_ip))
        throw StageError("--container-ip " + config_.container_ip->str() +
                         " is already leased to container " + lease->id +
                         " (omit --container-ip to get a free address)");
    for (const auto& port : config_.ports)
      if (auto owner = session->port_owner(port.protocol, port.host_port))
        throw StageError("--publish " + port.str() + ": host port " +
                         std::to_string(port.host_port) + "/" + port.protocol +
                         " is already published by container " + *owner +
                         " (choose another host port)");
  }
  Netlink& nl = host_netlink();
  const std::string own_bridge = mode_ == Mode::bridge ? config_.bridge : "";
  int bridge_index = 0;
  if (!own_bridge.empty()) {
    const Netlink::Found link = nl.find(own_bridge);
    // The host's eth0 given as --bridge: nothing of a container belongs on it.
    if (link.index && link.kind != "bridge")
      throw StageError("--bridge " + own_bridge + " is " +
                       (link.kind.empty() ? "a device" : "a " + link.kind + " link") +
                       ", not a bridge (name a bridge, or a new name for nsrun to make one)");
    bridge_index = link.index;
  }
  if (auto route = foreign_route_overlapping(subnet, own_bridge, bridge_index, nl))
    throw StageError("--network " + subnet.str() + " overlaps the host route " +
                     route->destination.str() +
                     (route->interface.empty() ? "" : " dev " + route->interface) +
                     " (choose a --network that no host route covers)");
  // A network nsrun keeps up with no container on it is remade for this run's subnet, as the
  // bridge of the original program went with its last container and came back with the next.
  if (bridge_index && replaceable_network(ctx)) bridge_index = 0;
  if (bridge_index) {
    for (const auto& a : nl.ipv4_addresses(bridge_index)) {
      Ipv4Network on_bridge{a.address, a.prefix_length};
      if (on_bridge.str() != subnet.str())
        throw StageError("--bridge " + config_.bridge + " already serves " + on_bridge.str() +
                         ", not --network " + subnet.str() +
                         " (give this network its own bridge with --bridge NAME)");
      if (a.address != config_.gateway)
        throw StageError("--host-ip " + config_.gateway.str() + " differs from the gateway " +
                         a.address.str() + " of bridge " + config_.bridge + " (use --host-ip " +
                         a.address.str() + " or another --bridge)");
    }
  }
}

void NetworkStage::validate(Context& ctx) {
  config_ = parse_network_config(ctx.spec, ctx.config, mode_, name(), ctx.flags);
  check_host(ctx);
  validated_ = true;
}

void NetworkStage::prepare(Context& ctx) {
  if (!validated_) config_ = parse_network_config(ctx.spec, ctx.config, mode_, name(), ctx.flags);
  if (!ctx.spec.has_namespace("network")) ctx.spec.namespaces.push_back({"network", ""});
  const std::string id(ctx.container_id);
  // Whether an interface already carries a candidate name (someone else's, not nsrun's). The
  // first candidate, the one nearly every run takes, is asked before the lock, so that no netlink
  // round trip (which waits on the kernel's rtnl lock) is made while every other nsrun waits on
  // ours; a later one is asked only when the ones before it are taken.
  Netlink& nl = host_netlink();
  const std::string first_name = veth_name(id, 0);
  const bool first_name_taken = nl.index_of(first_name) != 0;
  Ipam ipam(state_root_of(ctx));
  IpamSession session = ipam.lock();
  // Validate ran without the lock: whatever changed since is caught here, under it.
  for (const auto& lease : session.live_leases()) {
    auto network = Ipv4Network::parse(lease.network);
    if (!network || !network->overlaps(config_.subnet) || lease.id == id) continue;
    if (mode_ == Mode::veth || lease.mode != "bridge" || network->str() != config_.subnet.str() ||
        lease.link != config_.bridge)
      throw StageError("--network " + config_.subnet.str() + " is already used by container " +
                       lease.id + " (" + lease.mode + " on " + lease.network +
                       "; choose another --network)");
  }
  if (config_.container_ip) {
    if (auto lease = session.lease_of(*config_.container_ip); lease && lease->id != id)
      throw StageError("--container-ip " + config_.container_ip->str() +
                       " is already leased to container " + lease->id +
                       " (omit --container-ip to get a free address)");
    address_ = *config_.container_ip;
  } else {
    auto address = session.free_address(config_.subnet, {config_.gateway});
    if (!address)
      throw StageError("--network " + config_.subnet.str() +
                       " has no free address left (use a larger --network)");
    address_ = *address;
  }
  for (const auto& port : config_.ports)
    if (auto owner = session.port_owner(port.protocol, port.host_port); owner && *owner != id)
      throw StageError("--publish " + port.str() + ": host port " + std::to_string(port.host_port) +
                       "/" + port.protocol + " is already published by container " + *owner +
                       " (choose another host port)");
  link_ = session.free_link_name(
      id, [&](int attempt) { return veth_name(id, attempt); },
      [&](const std::string& name) {
        return name == first_name ? first_name_taken : nl.index_of(name) != 0;
      });

  boost::json::array ports;
  for (const auto& port : config_.ports)
    ports.push_back(boost::json::object{{"protocol", port.protocol}, {"port", port.host_port}});
  const std::string lease_link = mode_ == Mode::bridge ? config_.bridge : link_;
  ctx.journal.record("lease", {{"address", address_.str()},
                               {"network", config_.subnet.str()},
                               {"mode", mode_ == Mode::bridge ? "bridge" : "veth"},
                               {"link", lease_link},
                               {"veth", link_},
                               {"ports", ports}});
  session.write_lease(
      {address_, id, config_.subnet.str(), mode_ == Mode::bridge ? "bridge" : "veth", lease_link});
  session.reserve_link_name(link_, id);
  for (const auto& port : config_.ports)
    session.reserve_port(port.protocol, port.host_port, id, port.str());
  if (ctx.log.debug_enabled())
    ctx.log.debug(id + " gets " + address_.str() + "/" +
                  std::to_string(config_.subnet.prefix_length) + " behind " + link_);
  provide_outputs(ctx);
}

// The container's address and resolver configuration, for the stage that writes /etc/hosts and
// /etc/resolv.conf (the storage stage): the resolver policy is the network's to decide.
void NetworkStage::provide_outputs(Context& ctx) {
  ctx.provide("network.address", address_.str());
  ResolvSources sources{config_.dns, read_text("/etc/resolv.conf"),
                        read_text("/run/systemd/resolve/resolv.conf"), config_.nat};
  ctx.provide("network.resolv_conf", resolv_conf(sources));
}

void NetworkStage::create_runtime(Context& ctx) {
  if (ctx.pid <= 0) throw StageError("create_runtime needs the container's pid");
  Netlink& nl = host_netlink();
  Ipam ipam(state_root_of(ctx));
  const int master = mode_ == Mode::bridge ? bring_up_network(ctx, nl) : 0;
  if (config_.nat && read_sysctl(ip_forward_path) != "1") {
    IpamSession session = ipam.lock();
    if (read_sysctl(ip_forward_path) != "1") {
      session.write_marker("ip_forward", {{"by", std::string(ctx.container_id)}});
      write_sysctl(ip_forward_path, "1");
    }
  }
  {
    const bool joined = !ctx.spec.joined_namespace("network").empty();
    ctx.journal.record("veth", {{"name", link_}, {"namespace", joined ? "joined" : "own"}});
    nl.create_veth(link_, container_interface, ctx.pid, master);
    if (mode_ == Mode::veth) {
      int index = nl.index_of(link_);
      nl.add_address(index, config_.gateway, config_.subnet.prefix_length);
    }
  }
  configure_container_side(ctx.pid);
  // The network's own rules came with it (bridge) or come now (veth); a container on a bridge
  // adds rules only for the ports it publishes.
  const bool own_rules = mode_ == Mode::veth || !config_.ports.empty();
  if (config_.nat && own_rules) {
    const std::string link = mode_ == Mode::bridge ? config_.bridge : link_;
    bool localhost = false;
    for (const auto& port : config_.ports)
      localhost |= !port.host_ip || (port.host_ip->value >> 24) == 127;
    // Published on 127.0.0.1 too: let such packets be routed out through the link (docker sets
    // the same on its bridge); it is per interface and goes away with it.
    if (localhost) write_sysctl("/proc/sys/net/ipv4/conf/" + link + "/route_localnet", "1");
    const RuleInput input{std::string(ctx.container_id), config_.subnet, address_, link,
                          config_.ports};
    auto rules = mode_ == Mode::bridge ? build_port_rules(input) : build_rules(input);
    ctx.journal.record("nat", {{"comment", rule_comment(ctx.container_id)}});
    firewall().insert(rules);
    if (ctx.log.debug_enabled())
      for (const auto& rule : rules) ctx.log.debug("-t " + rule.table + " " + rule.str());
  }
}

// The bridge network, kept up between runs as docker keeps docker0: made by the first container
// that needs it, under the IPAM lock (so that concurrent first runs make it once), and from then
// on only looked at, without the lock: its record and the bridge's index say it is ready.
int NetworkStage::bring_up_network(Context& ctx, Netlink& nl) {
  const std::string& bridge = config_.bridge;
  Ipam ipam(state_root_of(ctx));
  auto ready = [&](const std::optional<KeptNetwork>& kept) {
    return kept && kept->up && kept->subnet == config_.subnet.str() &&
           kept->gateway == config_.gateway.str() && (kept->nat || !config_.nat);
  };
  if (int master = nl.index_of(bridge))
    if (auto reader = ipam.reader(); reader && ready(reader->network(bridge))) return master;

  IpamSession session = ipam.lock();
  auto kept = session.network(bridge);
  int master = nl.index_of(bridge);
  if (kept && master && ready(kept)) return master;  // made while we waited for the lock
  if (kept && (kept->subnet != config_.subnet.str() || kept->gateway != config_.gateway.str())) {
    // Kept for another subnet: remade for ours when idle and nsrun's (validate said so; checked
    // again here, under the lock), refused otherwise.
    auto users = users_of(session, bridge, std::string(ctx.container_id));
    const std::string fix = ", not --network " + config_.subnet.str() +
                            " (give this network its own bridge with --bridge NAME)";
    if (!users.empty())
      throw StageError("--bridge " + bridge + " serves " + kept->subnet + " for container " +
                       users.front() + fix);
    if (!kept->made_bridge)
      throw StageError("--bridge " + bridge + " is not nsrun's and serves " + kept->subnet + fix);
    remove_kept_network(session, *kept, firewall(), [&](const std::string& name) {
      if (nl.index_of(name)) nl.delete_link(name);
    });
    kept.reset();
    master = 0;
  }
  if (!kept) {
    kept = KeptNetwork{bridge, config_.subnet.str(), config_.gateway.str()};
    // An nsrun before kept networks marked the bridges it made so: still nsrun's to remove.
    if (master && session.marker("bridge-" + bridge)) {
      kept->made_bridge = true;
      session.write_network(*kept);
      session.remove_marker("bridge-" + bridge);
    }
  }
  if (!master && kept->nat) {
    // Made before and gone since (deleted by hand; a reboot under a kept state root): its rules
    // went stale with it.
    firewall().remove_marked(network_rule_comment(bridge));
    kept->nat = false;
  }
  if (!master) {
    kept->made_bridge = true;
    kept->up = false;
  }
  session.write_network(*kept);  // recorded before it is made
  if (!master) {
    nl.create_bridge(bridge);
    master = nl.index_of(bridge);
    if (!master) throw StageError("the bridge " + bridge + " vanished after creation");
  }
  if (!kept->up) {
    nl.add_address(master, config_.gateway, config_.subnet.prefix_length);  // idempotent
    nl.set_up(bridge);
    kept->up = true;
    session.write_network(*kept);
  }
  if (config_.nat && !kept->nat) {
    kept->nat = true;
    session.write_network(*kept);
    auto rules = build_network_rules(config_.subnet, bridge, network_rule_comment(bridge));
    firewall().insert(rules);
    if (ctx.log.debug_enabled())
      for (const auto& rule : rules) ctx.log.debug("-t " + rule.table + " " + rule.str());
  }
  return master;
}

// The container's side, from the host through a socket opened in the container's network
// namespace, as CNI plugins do: lo and eth0 up, eth0's address and the default route. Done here
// and not in the container process's create_container, whose every step is on the way to the
// workload's start while the host waits: there it took 1.1 to 1.3 ms, most of it loading the
// libnl code into the new process, which the host has warm.
void NetworkStage::configure_container_side(pid_t pid) {
  Netlink inside(pid);
  inside.set_up("lo");
  int index = inside.index_of(container_interface);
  if (!index) throw StageError("the container has no eth0 after the veth pair was created");
  inside.add_address(index, address_, config_.subnet.prefix_length);
  inside.set_up(container_interface);
  inside.add_default_route(config_.gateway, index);
}

void NetworkStage::create_container(Context&) {
  // The container process inherited the host's socket, which it never uses: its copy is closed
  // without libnl, whose code this process would otherwise have to load, and the object left
  // unfreed, so that nothing closes that descriptor number again once another file has it.
  if (host_netlink_descriptor_ >= 0) {
    ::close(host_netlink_descriptor_);
    host_netlink_descriptor_ = -1;
    static_cast<void>(host_netlink_.release());
  }
}

// A journal lost or damaged (delete --force of a broken state directory): what this stage made
// is found from the container's id instead. Its lease, in the IPAM store, says it got this far;
// its rules carry the id in their comment; its veth's name derives from the id. No lease: the
// stage never got to create anything (the lease comes first), and nothing is done.
std::vector<JournalRecord> NetworkStage::records_from_the_lease(Context& ctx) {
  const std::string id(ctx.container_id);
  std::vector<JournalRecord> records;
  std::optional<Lease> lease;
  boost::json::array ports;
  {
    IpamSession session = Ipam(state_root_of(ctx)).lock();
    for (const Lease& candidate : session.live_leases())
      if (candidate.id == id) lease = candidate;
    for (const PublishedPort& port : session.ports_of(id))
      ports.push_back(boost::json::object{{"protocol", port.protocol}, {"port", port.port}});
  }
  if (!lease) return records;
  ctx.log.warn("no journal records: removing what the lease of " + lease->address.str() +
               " and the container's id identify");
  // The veth is not looked for: its host end went with the container's network namespace, and a
  // link of the same name may be another container's (the names are hashes, retried on a clash).
  records.push_back({"lease",
                     {{"address", lease->address.str()},
                      {"link", lease->link},
                      {"mode", lease->mode},
                      {"veth", veth_name(id)},
                      {"ports", std::move(ports)}}});
  records.push_back({"nat", {{"comment", rule_comment(id)}}});
  return records;
}

// From the journal alone, in reverse order; every step runs even when an earlier one failed, and
// the first failure is reported.
void NetworkStage::teardown(Context& ctx) {
  auto records = ctx.journal.records();
  if (records.empty()) records = records_from_the_lease(ctx);
  if (records.empty()) return;
  const std::string id(ctx.container_id);
  std::string first_error;
  auto attempt = [&](const std::string& what, auto&& step) {
    try {
      step();
    } catch (const std::exception& e) {
      if (first_error.empty())
        first_error = what + ": " + e.what();
      else
        ctx.log.warn(what + ": " + e.what());
    }
  };
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    const auto& data = it->data;
    if (it->type == "nat") {
      attempt("removing the NAT rules", [&] {
        std::string comment = string_of(data, "comment");
        if (comment.empty()) comment = rule_comment(id);
        firewall().remove_marked(comment);
      });
    } else if (it->type == "veth") {
      attempt("removing the veth " + string_of(data, "name"), [&] {
        std::string name = string_of(data, "name");
        if (name.empty()) return;
        // A veth pair dies with the network namespace of either end. The container's own
        // namespace goes once its last process and the kernel's deferred references are gone:
        // the kernel then removes both ends on its own time, and deleting the host end here
        // would only wait for that (an RTM_DELLINK waits an RCU grace period: 15 to 20 ms
        // measured). A namespace the container joined (a path in the spec) outlives it, and
        // so would the pair: that one is removed.
        if (string_of(data, "namespace") == "own") return;
        if (host_netlink().index_of(name)) host_netlink().delete_link(name);
      });
    } else if (it->type == "lease") {
      attempt("freeing the lease " + string_of(data, "address"), [&] {
        IpamSession session = Ipam(state_root_of(ctx)).lock();
        if (auto address = Ipv4Address::parse(string_of(data, "address")))
          session.remove_lease(*address, id);
        if (auto veth = string_of(data, "veth"); !veth.empty()) session.release_link_name(veth, id);
        if (const auto* ports = data.if_contains("ports"); ports && ports->is_array())
          for (const auto& port : ports->as_array())
            if (port.is_object() && port.as_object().if_contains("port") &&
                port.as_object().at("port").is_int64())
              session.release_port(string_of(port.as_object(), "protocol"),
                                   static_cast<int>(port.as_object().at("port").as_int64()), id);
        // The network stays up for the next container (nsrun network rm, gc --networks).
        release_ip_forward_if_unused(session);
      });
    }
    // "bridge" and "ip_forward", in journals of earlier nsrun versions, are shared: left alone.
  }
  if (!first_error.empty()) throw StageError(first_error);
}

}  // namespace nsrun::network
