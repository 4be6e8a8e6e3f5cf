// nsrun network plugins: link, address and route work through libnl-3, in-process.
//
// Each Netlink object holds one rtnetlink socket in the network namespace of the thread that
// created it: the host's in prepare/create_runtime/teardown, the container's in create_container.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
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

class Netlink {
 public:
  Netlink();
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  /// The interface index of `name`, 0 when there is none.
  int index_of(const std::string& name);
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
  std::string name_of(int index);
  /// Every IPv4 route outside the local table (routes to the host's own addresses); the
  /// interface names are left empty (name_of() when needed).
  std::vector<RouteInfo> ipv4_routes();
  void add_default_route(Ipv4Address gateway, int index);

 private:
  nl_sock* sock_ = nullptr;
};

/// Reads a /proc/sys value (trimmed); empty when it cannot be read.
std::string read_sysctl(const std::string& path);
/// Writes a /proc/sys value; throws StageError on failure.
void write_sysctl(const std::string& path, const std::string& value);

}  // namespace nsrun::network
