#include "nsrun/support/link.hpp"

#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include <memory>
#include <stdexcept>

namespace nsrun::support {

void bring_link_up(const std::string& name) {
  std::unique_ptr<nl_sock, decltype(&nl_socket_free)> sock(nl_socket_alloc(), &nl_socket_free);
  if (!sock) throw std::runtime_error("cannot allocate a netlink socket");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    throw std::runtime_error(std::string("cannot open rtnetlink: ") + nl_geterror(err));
  rtnl_link* found = nullptr;
  if (int err = rtnl_link_get_kernel(sock.get(), 0, name.c_str(), &found); err < 0)
    throw std::runtime_error("cannot find " + name + ": " + nl_geterror(err));
  std::unique_ptr<rtnl_link, decltype(&rtnl_link_put)> link(found, &rtnl_link_put);
  std::unique_ptr<rtnl_link, decltype(&rtnl_link_put)> change(rtnl_link_alloc(), &rtnl_link_put);
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sock.get(), link.get(), change.get(), 0); err < 0)
    throw std::runtime_error("cannot bring " + name + " up: " + nl_geterror(err));
}

}  // namespace nsrun::support
