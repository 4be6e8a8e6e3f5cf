// libnl-3 wrappers (see netlink.hpp).
#include "nsrun/network/netlink.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "nsrun/stage.hpp"
#include "nsrun/support/link.hpp"

namespace nsrun::network {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};
using Link = std::unique_ptr<rtnl_link, Deleter<rtnl_link, rtnl_link_put>>;
using Addr = std::unique_ptr<nl_addr, Deleter<nl_addr, nl_addr_put>>;
using RtAddr = std::unique_ptr<rtnl_addr, Deleter<rtnl_addr, rtnl_addr_put>>;
using Route = std::unique_ptr<rtnl_route, Deleter<rtnl_route, rtnl_route_put>>;
using Cache = std::unique_ptr<nl_cache, Deleter<nl_cache, nl_cache_free>>;

StageError netlink_error(const std::string& what, int err) {
  return StageError(what + ": " + nl_geterror(err));
}

Addr ipv4(Ipv4Address address, int prefix_length) {
  in_addr raw{htonl(address.value)};
  Addr addr(nl_addr_build(AF_INET, &raw, sizeof raw));
  if (!addr) throw StageError("netlink: out of memory");
  nl_addr_set_prefixlen(addr.get(), prefix_length);
  return addr;
}

std::uint32_t to_host(const nl_addr* addr) {
  if (!addr || nl_addr_get_family(addr) != AF_INET || nl_addr_get_len(addr) != 4) return 0;
  std::uint32_t raw;
  std::memcpy(&raw, nl_addr_get_binary_addr(addr), 4);
  return ntohl(raw);
}

}  // namespace

Netlink::Netlink() {
  open_socket();
}

Netlink::Netlink(pid_t in_network_namespace_of) {
  try {
    support::in_network_namespace_of(in_network_namespace_of, [this] { open_socket(); });
  } catch (const StageError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw StageError(std::string("netlink: ") + e.what());
  }
}

void Netlink::open_socket() {
  sock_ = nl_socket_alloc();
  if (!sock_) throw StageError("netlink: cannot allocate a socket");
  if (int err = nl_connect(sock_, NETLINK_ROUTE); err < 0) {
    nl_socket_free(sock_);
    sock_ = nullptr;
    throw netlink_error("netlink: cannot open rtnetlink", err);
  }
}

Netlink::~Netlink() {
  if (sock_) nl_socket_free(sock_);
}

int Netlink::descriptor() const {
  return nl_socket_get_fd(sock_);
}

int Netlink::index_of(const std::string& name) {
  return find(name).index;
}

Netlink::Found Netlink::find(const std::string& name) {
  rtnl_link* found = nullptr;
  int err = rtnl_link_get_kernel(sock_, 0, name.c_str(), &found);
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return {};
  if (err < 0) throw netlink_error("netlink: cannot look up " + name, err);
  Link link(found);
  const char* kind = rtnl_link_get_type(link.get());
  return {rtnl_link_get_ifindex(link.get()), kind ? kind : ""};
}

bool Netlink::create_bridge(const std::string& name) {
  Link link(rtnl_link_bridge_alloc());
  if (!link) throw StageError("netlink: out of memory");
  rtnl_link_set_name(link.get(), name.c_str());
  rtnl_link_set_flags(link.get(), IFF_UP);
  int err = rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err == -NLE_EXIST) return false;
  if (err < 0) throw netlink_error("cannot create the bridge " + name, err);
  return true;
}

void Netlink::set_up(const std::string& name) {
  rtnl_link* found = nullptr;
  if (int err = rtnl_link_get_kernel(sock_, 0, name.c_str(), &found); err < 0)
    throw netlink_error("cannot find " + name, err);
  Link link(found);
  Link change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sock_, link.get(), change.get(), 0); err < 0)
    throw netlink_error("cannot bring " + name + " up", err);
}

void Netlink::add_address(int index, Ipv4Address address, int prefix_length) {
  RtAddr addr(rtnl_addr_alloc());
  if (!addr) throw StageError("netlink: out of memory");
  rtnl_addr_set_ifindex(addr.get(), index);
  rtnl_addr_set_family(addr.get(), AF_INET);
  Addr local = ipv4(address, prefix_length);
  rtnl_addr_set_local(addr.get(), local.get());
  if (prefix_length < 31) {
    Ipv4Network network{address, prefix_length};
    Addr broadcast = ipv4(network.broadcast(), 32);
    rtnl_addr_set_broadcast(addr.get(), broadcast.get());
  }
  int err = rtnl_addr_add(sock_, addr.get(), 0);
  if (err < 0 && err != -NLE_EXIST)
    throw netlink_error(
        "cannot add the address " + address.str() + "/" + std::to_string(prefix_length), err);
}

std::vector<InterfaceAddress> Netlink::ipv4_addresses(int index) {
  nl_cache* raw = nullptr;
  if (int err = rtnl_addr_alloc_cache(sock_, &raw); err < 0)
    throw netlink_error("netlink: cannot list addresses", err);
  Cache cache(raw);
  std::vector<InterfaceAddress> out;
  for (nl_object* object = nl_cache_get_first(cache.get()); object;
       object = nl_cache_get_next(object)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(object);
    if (rtnl_addr_get_family(addr) != AF_INET || rtnl_addr_get_ifindex(addr) != index) continue;
    out.push_back({Ipv4Address{to_host(rtnl_addr_get_local(addr))}, rtnl_addr_get_prefixlen(addr)});
  }
  return out;
}

void Netlink::create_veth(const std::string& host_name, const std::string& peer_name, pid_t pid,
                          int master_index) {
  Link link(rtnl_link_veth_alloc());
  if (!link) throw StageError("netlink: out of memory");
  rtnl_link_set_name(link.get(), host_name.c_str());
  rtnl_link_set_flags(link.get(), IFF_UP);
  if (master_index) rtnl_link_set_master(link.get(), master_index);
  Link peer(rtnl_link_veth_get_peer(link.get()));
  rtnl_link_set_name(peer.get(), peer_name.c_str());
  rtnl_link_set_ns_pid(peer.get(), pid);
  if (int err = rtnl_link_add(sock_, link.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    throw netlink_error("cannot create the veth pair " + host_name + "/" + peer_name, err);
}

bool Netlink::delete_link(const std::string& name) {
  Link link(rtnl_link_alloc());
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(sock_, link.get());
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return false;
  if (err < 0) throw netlink_error("cannot delete " + name, err);
  return true;
}

std::vector<RouteInfo> Netlink::ipv4_routes() {
  nl_cache* raw = nullptr;
  if (int err = rtnl_route_alloc_cache(sock_, AF_INET, 0, &raw); err < 0)
    throw netlink_error("netlink: cannot list routes", err);
  Cache cache(raw);
  std::vector<RouteInfo> out;
  for (nl_object* object = nl_cache_get_first(cache.get()); object;
       object = nl_cache_get_next(object)) {
    auto* route = reinterpret_cast<rtnl_route*>(object);
    if (rtnl_route_get_family(route) != AF_INET || rtnl_route_get_table(route) == RT_TABLE_LOCAL)
      continue;
    RouteInfo info;
    const nl_addr* dst = rtnl_route_get_dst(route);
    info.destination = Ipv4Network{Ipv4Address{to_host(dst)},
                                   dst ? static_cast<int>(nl_addr_get_prefixlen(dst)) : 0};
    info.table = rtnl_route_get_table(route);
    if (rtnl_route_get_nnexthops(route) > 0)
      info.interface_index = rtnl_route_nh_get_ifindex(rtnl_route_nexthop_n(route, 0));
    out.push_back(std::move(info));
  }
  return out;
}

std::optional<RouteInfo> foreign_route_overlapping(const Ipv4Network& subnet,
                                                   const std::string& own_bridge,
                                                   int own_bridge_index, RouteView& host) {
  for (auto& route : host.ipv4_routes()) {
    if (route.is_default() || !route.destination.overlaps(subnet)) continue;
    if (!own_bridge.empty() && own_bridge_index > 0 && route.interface_index == own_bridge_index)
      continue;
    route.interface = host.name_of(route.interface_index);
    if (route.interface_index != 0 && route.interface.empty()) continue;  // its link is gone
    if (!own_bridge.empty() && route.interface == own_bridge) continue;
    return route;
  }
  return std::nullopt;
}

std::string Netlink::name_of(int index) {
  rtnl_link* found = nullptr;
  if (index <= 0 || rtnl_link_get_kernel(sock_, index, nullptr, &found) < 0) return {};
  Link link(found);
  const char* name = rtnl_link_get_name(link.get());
  return name ? name : "";
}

void Netlink::add_default_route(Ipv4Address gateway, int index) {
  Route route(rtnl_route_alloc());
  if (!route) throw StageError("netlink: out of memory");
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  Addr any = ipv4(Ipv4Address{0}, 0);
  rtnl_route_set_dst(route.get(), any.get());
  rtnl_nexthop* hop = rtnl_route_nh_alloc();
  Addr via = ipv4(gateway, 32);
  rtnl_route_nh_set_gateway(hop, via.get());
  rtnl_route_nh_set_ifindex(hop, index);
  rtnl_route_add_nexthop(route.get(), hop);  // the route owns the hop now
  if (int err = rtnl_route_add(sock_, route.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    throw netlink_error("cannot add the default route via " + gateway.str(), err);
}

std::string read_sysctl(const std::string& path) {
  std::ifstream in(path);
  std::string value;
  if (!in || !std::getline(in, value)) return {};
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

void write_sysctl(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw StageError("cannot open " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  int err = errno;
  ::close(fd);
  if (!ok) throw StageError("cannot write " + path + ": " + std::strerror(err));
}

}  // namespace nsrun::network
