#include "nsrun/support/link.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
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

void in_network_namespace_of(pid_t pid, const std::function<void()>& step) {
  const std::string target = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own)
    throw std::runtime_error(std::string("cannot open this thread's network namespace: ") +
                             std::strerror(errno));
  UniqueFd other(::open(target.c_str(), O_RDONLY | O_CLOEXEC));
  if (!other || ::setns(other.get(), CLONE_NEWNET) != 0)
    throw std::runtime_error("cannot enter the network namespace " + target + ": " +
                             std::strerror(errno));
  auto come_back = [&own] {
    if (::setns(own.get(), CLONE_NEWNET) != 0) std::abort();
  };
  try {
    step();
  } catch (...) {
    come_back();
    throw;
  }
  come_back();
}

}  // namespace nsrun::support
