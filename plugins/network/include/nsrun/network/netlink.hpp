// nsrun network plugins: link, address and route work through libnl-3, in-process.
//
// Each Netlink object holds one rtnetlink socket in the network namespace it was opened in: the
// thread's own, or a process's (the container's, which create_runtime configures from the host, as
// CNI plugins configure a container's side of its interface).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/ipv4.hpp"

struct nl_sock;

namespace nsrun::network {

struct RouteInfo {
  Ipv4Network destination;
  int interface_index = 0;  ///< the first next hop's output interface, 0 if none
  std::string interface;    ///< its name, when filled in
  std::uint32_t table = 0;
  bool is_default() const { return destination.prefix_length == 0; }
};

struct InterfaceAddress {
  Ipv4Address address;
  int prefix_length = 0;
};

/// What the host-route overlap check reads: the routes, and the name behind an interface index.
class RouteView {
 public:
  virtual ~RouteView() = default;
  virtual std::vector<RouteInfo> ipv4_routes() = 0;
  virtual std::string name_of(int index) = 0;
};

/// The first host route that overlaps `subnet` and is neither a default route nor a route of
/// `own_bridge` (empty: none); nullopt when there is none. A route on `own_bridge_index` (the
/// bridge's index, read before the routes; 0 when there was no bridge) is the bridge's without
/// another netlink round trip: that is every run once the network is up. Any other route is told
/// to be the bridge's by the name of its interface, read after the routes: a bridge that a
/// concurrent nsrun creates at any moment before that is still recognised as ours (comparing
/// with the earlier index alone was a race). A route whose interface is gone by then went with
/// it and is skipped.
std::optional<RouteInfo> foreign_route_overlapping(const Ipv4Network& subnet,
                                                   const std::string& own_bridge,
                                                   int own_bridge_index, RouteView& host);

class Netlink final : public RouteView {
 public:
  /// A socket in the calling thread's network namespace.
  Netlink();
  /// A socket in the network namespace of process `pid`: the thread enters that namespace to
  /// open it (a socket stays in the namespace it was opened in) and returns to its own.
  explicit Netlink(pid_t in_network_namespace_of);
  ~Netlink() override;
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  /// The interface index of `name`, 0 when there is none.
  int index_of(const std::string& name);
  /// The interface `name`: its index (0 when there is none) and its kind ("bridge", "veth";
  /// empty for a device that has none, a NIC).
  struct Found {
    int index = 0;
    std::string kind;
  };
  Found find(const std::string& name);
  /// Creates an (up) bridge; false when it already existed.
  bool create_bridge(const std::string& name);
  void set_up(const std::string& name);
  /// Adds address/prefix to the interface; an address already there is fine.
  void add_address(int index, Ipv4Address address, int prefix_length);
  std::vector<InterfaceAddress> ipv4_addresses(int index);
  /// Creates a veth pair: `host_name` here (up, enslaved to `master_index` when not 0) and
  /// `peer_name` directly in the network namespace of process `pid`, in one request.
  void create_veth(const std::string& host_name, const std::string& peer_name, pid_t pid,
                   int master_index);
  /// Deletes a link; false when it was already gone.
  bool delete_link(const std::string& name);
  /// The name of interface `index`, "" when there is none.
  std::string name_of(int index) override;
  /// Every IPv4 route outside the local table (routes to the host's own addresses); the
  /// interface names are left empty (name_of() when needed).
  std::vector<RouteInfo> ipv4_routes() override;
  void add_default_route(Ipv4Address gateway, int index);
  /// The socket's descriptor, for a process that inherited this object and must close it without
  /// using it (the container process, which never talks to the host's namespace).
  int descriptor() const;

 private:
  /// Opens the rtnetlink socket in the calling thread's network namespace.
  void open_socket();

  nl_sock* sock_ = nullptr;
};

/// Reads a /proc/sys value (trimmed); empty when it cannot be read.
std::string read_sysctl(const std::string& path);
/// Writes a /proc/sys value; throws StageError on failure.
void write_sysctl(const std::string& path, const std::string& value);

}  // namespace nsrun::network
