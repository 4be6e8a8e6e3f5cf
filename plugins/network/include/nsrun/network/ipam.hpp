// nsrun network plugins: address management shared by every container of a state root.
//
// Layout under <state root>/_ipam/ (root-only, 0700; "_ipam" is no valid container id, so no
// state directory can clash with it). Everything is changed under one flock on
// <state root>/_ipam/lock, so concurrent `nsrun run`s get distinct addresses and names:
//   leases/<a.b.c.d>      {"id","network","mode","link"}  an address and who holds it
//   links/<ifname>        {"id"}                          a host-side veth name reservation
//   ports/<proto>-<port>  {"id","publish"}                a published host port
//   networks/<bridge>     {"subnet","gateway","nat","made_bridge","up"}  a network kept up between
//                                                         runs (its bridge, address, NAT rules)
//   markers/<name>        {...}                           nsrun-owned shared things (ip_forward
//                                                         it turned on)
// A reservation whose owner has no state directory (<state root>/<id>) any more is stale: it is
// reclaimed when someone needs it. Normal teardown and `nsrun gc` free them explicitly.
#pragma once

#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/ipv4.hpp"

namespace nsrun::network {

/// A host port a container published, as the store names it.
struct PublishedPort {
  std::string protocol;  ///< "tcp" or "udp"
  int port = 0;
};

struct Lease {
  Ipv4Address address;
  std::string id;       ///< the container holding it
  std::string network;  ///< "10.88.0.0/24"
  std::string mode;     ///< "bridge" or "veth"
  std::string link;     ///< the bridge name (bridge mode) or host veth name (veth mode)
};

/// A bridge network kept up between runs, as docker keeps docker0: created by the first container
/// that needs it, removed only by `nsrun network rm` or `nsrun gc --networks` when idle. Its
/// record is written before the bridge or rule it describes exists, so that the removal finds
/// whatever a crash left half made.
struct KeptNetwork {
  std::string name;  ///< the bridge's name, which is the network's
  std::string subnet;
  std::string gateway;
  bool nat = false;          ///< the network's NAT and filter rules were (being) added
  bool made_bridge = false;  ///< nsrun created the bridge (a user's own bridge is left alone)
  bool up = false;           ///< the bridge has the gateway address and is up
};

class Ipam;

/// The lock held: every read and change of the IPAM files goes through one of these.
class IpamSession {
 public:
  IpamSession(const IpamSession&) = delete;
  IpamSession& operator=(const IpamSession&) = delete;
  IpamSession(IpamSession&& other) noexcept;
  ~IpamSession();

  /// True when container `id` still has a state directory.
  bool alive(const std::string& id) const;

  /// Every lease whose holder is alive (stale ones are skipped).
  std::vector<Lease> live_leases() const;
  /// The live lease of `address`, if any.
  std::optional<Lease> lease_of(Ipv4Address address) const;
  /// The lowest free host address of `network` not in `excluded`; nullopt when exhausted.
  std::optional<Ipv4Address> free_address(const Ipv4Network& network,
                                          const std::vector<Ipv4Address>& excluded) const;
  void write_lease(const Lease& lease);
  /// Removes the lease of `address` when `id` holds it. False when it was not there.
  bool remove_lease(Ipv4Address address, const std::string& id);

  /// A free host-side interface name for `id`, from `candidate(attempt)` for attempt 0, 1, ...
  /// (a name is free when no live container reserved it and `in_use(name)` is false).
  std::string free_link_name(const std::string& id,
                             const std::function<std::string(int)>& candidate,
                             const std::function<bool(const std::string&)>& in_use) const;
  void reserve_link_name(const std::string& name, const std::string& id);
  bool release_link_name(const std::string& name, const std::string& id);

  /// The live container that published host port `port`/`protocol`, if any.
  std::optional<std::string> port_owner(const std::string& protocol, int port) const;
  void reserve_port(const std::string& protocol, int port, const std::string& id,
                    const std::string& publish);
  bool release_port(const std::string& protocol, int port, const std::string& id);
  /// The ports reserved by `id` (for a teardown that lost its journal).
  std::vector<PublishedPort> ports_of(const std::string& id) const;

  std::vector<KeptNetwork> networks() const;
  std::optional<KeptNetwork> network(const std::string& name) const;
  void write_network(const KeptNetwork& network);
  void remove_network(const std::string& name);

  std::optional<boost::json::object> marker(const std::string& name) const;
  void write_marker(const std::string& name, const boost::json::object& data);
  void remove_marker(const std::string& name);

 private:
  friend class Ipam;
  IpamSession(std::string root, int lock_fd);
  std::string dir(const char* sub) const;
  std::string root_;  ///< the state root
  int lock_fd_ = -1;
};

class Ipam {
 public:
  /// `state_root` is the parent of the containers' state directories.
  explicit Ipam(std::string state_root) : root_(std::move(state_root)) {}
  /// Takes the lock (blocking), creating the layout on first use.
  IpamSession lock() const;
  /// A session WITHOUT the lock, for read-only checks (validate) that must neither create
  /// anything nor wait behind writers: every file is replaced atomically (rename), so a reader
  /// sees each reservation whole, old or new. nullopt when the layout does not exist yet.
  /// Decisions are taken again under lock() before anything is written.
  std::optional<IpamSession> reader() const;
  const std::string& state_root() const { return root_; }

 private:
  std::string root_;
};

}  // namespace nsrun::network
