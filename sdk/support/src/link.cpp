#include "nsrun/support/link.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "nsrun/support/fd.hpp"

namespace nsrun::support {

void bring_link_up(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    throw std::runtime_error("\"" + name + "\" is no interface name");
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) throw std::runtime_error(std::string("cannot open a socket: ") + std::strerror(errno));
  ifreq request{};
  std::memcpy(request.ifr_name, name.c_str(), name.size());
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0)
    throw std::runtime_error("cannot find " + name + ": " + std::strerror(errno));
  if (request.ifr_flags & IFF_UP) return;
  request.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0)
    throw std::runtime_error("cannot bring " + name + " up: " + std::strerror(errno));
}

}  // namespace nsrun::support
