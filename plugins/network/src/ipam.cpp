// IPAM: leases and reservations under one file lock (see ipam.hpp).
#include "nsrun/network/ipam.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "nsrun/stage.hpp"
#include "nsrun/support/files.hpp"

namespace nsrun::network {
namespace {

std::optional<boost::json::object> read_object(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto value = boost::json::parse(text.str(), ec);
  if (ec || !value.is_object()) return boost::json::object{};  // torn: treat as ownerless
  return value.as_object();
}

std::string string_field(const boost::json::object& object, const char* key) {
  const auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

// Writes the file whole or not at all (the support library's atomic write).
void write_object(const std::string& path, const boost::json::object& data) {
  if (support::Errno err =
          support::write_file_atomically(path, boost::json::serialize(data) + "\n", 0600))
    throw StageError("ipam: cannot write " + path + ": " + std::strerror(err));
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    throw StageError("ipam: cannot create " + path + ": " + std::strerror(errno));
}

}  // namespace

IpamSession Ipam::lock() const {
  make_dir(root_);
  const std::string base = root_ + "/_ipam";
  make_dir(base);
  for (const char* sub : {"leases", "links", "ports", "networks", "markers"})
    make_dir(base + "/" + sub);
  std::string lock_path = base + "/lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw StageError("ipam: cannot open " + lock_path + ": " + std::strerror(errno));
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    throw StageError("ipam: cannot lock " + lock_path + ": " + std::strerror(err));
  }
  return IpamSession(root_, fd);
}

std::optional<IpamSession> Ipam::reader() const {
  const std::string leases = root_ + "/_ipam/leases";
  if (::access(leases.c_str(), F_OK) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;  // never used
    // Not "no leases": a store nobody may read would look empty (nsrun network ls as a user).
    throw StageError("ipam: cannot read " + leases + ": " + std::strerror(errno) +
                     " (run nsrun as root)");
  }
  return IpamSession(root_, -1);
}

IpamSession::IpamSession(std::string root, int lock_fd)
    : root_(std::move(root)), lock_fd_(lock_fd) {}

IpamSession::IpamSession(IpamSession&& other) noexcept
    : root_(std::move(other.root_)), lock_fd_(other.lock_fd_) {
  other.lock_fd_ = -1;
}

IpamSession::~IpamSession() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing the only descriptor releases the flock
}

std::string IpamSession::dir(const char* sub) const {
  return root_ + "/_ipam/" + sub;
}

bool IpamSession::alive(const std::string& id) const {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") return false;
  return ::access((root_ + "/" + id).c_str(), F_OK) == 0;
}

std::vector<Lease> IpamSession::live_leases() const {
  std::vector<Lease> out;
  for (const auto& name : support::list_directory(dir("leases"))) {
    auto address = Ipv4Address::parse(name);
    if (!address) continue;
    auto object = read_object(dir("leases") + "/" + name);
    if (!object) continue;
    Lease lease{*address, string_field(*object, "id"), string_field(*object, "network"),
                string_field(*object, "mode"), string_field(*object, "link")};
    if (alive(lease.id)) out.push_back(std::move(lease));
  }
  return out;
}

std::optional<Lease> IpamSession::lease_of(Ipv4Address address) const {
  auto object = read_object(dir("leases") + "/" + address.str());
  if (!object) return std::nullopt;
  Lease lease{address, string_field(*object, "id"), string_field(*object, "network"),
              string_field(*object, "mode"), string_field(*object, "link")};
  if (!alive(lease.id)) return std::nullopt;
  return lease;
}

std::optional<Ipv4Address> IpamSession::free_address(
    const Ipv4Network& network, const std::vector<Ipv4Address>& excluded) const {
  std::set<std::uint32_t> taken;
  for (const auto& lease : live_leases()) taken.insert(lease.address.value);
  for (const auto& address : excluded) taken.insert(address.value);
  std::uint32_t first = network.network().value, last = network.broadcast().value;
  for (std::uint64_t candidate = first; candidate <= last; ++candidate) {
    Ipv4Address address{static_cast<std::uint32_t>(candidate)};
    if (!network.is_usable_host(address) || taken.count(address.value)) continue;
    return address;
  }
  return std::nullopt;
}

void IpamSession::write_lease(const Lease& lease) {
  write_object(
      dir("leases") + "/" + lease.address.str(),
      {{"id", lease.id}, {"network", lease.network}, {"mode", lease.mode}, {"link", lease.link}});
}

bool IpamSession::remove_lease(Ipv4Address address, const std::string& id) {
  std::string path = dir("leases") + "/" + address.str();
  auto object = read_object(path);
  if (!object) return false;
  std::string owner = string_field(*object, "id");
  if (owner != id && alive(owner)) return false;  // someone else's (ours was reclaimed)
  return ::unlink(path.c_str()) == 0;
}

std::string IpamSession::free_link_name(
    const std::string& id, const std::function<std::string(int)>& candidate,
    const std::function<bool(const std::string&)>& in_use) const {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::string name = candidate(attempt);
    auto object = read_object(dir("links") + "/" + name);
    if (object) {
      std::string owner = string_field(*object, "id");
      if (owner == id) return name;
      if (alive(owner)) continue;
    }
    if (in_use && in_use(name)) continue;
    return name;
  }
  throw StageError("ipam: no free interface name for container " + id);
}

void IpamSession::reserve_link_name(const std::string& name, const std::string& id) {
  write_object(dir("links") + "/" + name, {{"id", id}});
}

bool IpamSession::release_link_name(const std::string& name, const std::string& id) {
  std::string path = dir("links") + "/" + name;
  auto object = read_object(path);
  if (!object) return false;
  std::string owner = string_field(*object, "id");
  if (owner != id && alive(owner)) return false;
  return ::unlink(path.c_str()) == 0;
}

std::optional<std::string> IpamSession::port_owner(const std::string& protocol, int port) const {
  auto object = read_object(dir("ports") + "/" + protocol + "-" + std::to_string(port));
  if (!object) return std::nullopt;
  std::string owner = string_field(*object, "id");
  if (!alive(owner)) return std::nullopt;
  return owner;
}

std::vector<PublishedPort> IpamSession::ports_of(const std::string& id) const {
  std::vector<PublishedPort> out;
  for (const auto& name : support::list_directory(dir("ports"))) {
    auto dash = name.rfind('-');
    if (dash == std::string::npos) continue;
    auto object = read_object(dir("ports") + "/" + name);
    if (!object || string_field(*object, "id") != id) continue;
    try {
      out.push_back({name.substr(0, dash), std::stoi(name.substr(dash + 1))});
    } catch (const std::exception&) {
      // not a port file of ours
    }
  }
  return out;
}

void IpamSession::reserve_port(const std::string& protocol, int port, const std::string& id,
                               const std::string& publish) {
  write_object(dir("ports") + "/" + protocol + "-" + std::to_string(port),
               {{"id", id}, {"publish", publish}});
}

bool IpamSession::release_port(const std::string& protocol, int port, const std::string& id) {
  std::string path = dir("ports") + "/" + protocol + "-" + std::to_string(port);
  auto object = read_object(path);
  if (!object) return false;
  std::string owner = string_field(*object, "id");
  if (owner != id && alive(owner)) return false;
  return ::unlink(path.c_str()) == 0;
}

namespace {

bool bool_field(const boost::json::object& object, const char* key) {
  const auto* value = object.if_contains(key);
  return value && value->is_bool() && value->as_bool();
}

// A network's name is a bridge's: an interface name, never a path.
bool is_network_name(const std::string& name) {
  return !name.empty() && name.size() < 16 && name != "." && name != ".." &&
         name.find('/') == std::string::npos;
}

}  // namespace

std::vector<KeptNetwork> IpamSession::networks() const {
  std::vector<KeptNetwork> out;
  for (const auto& name : support::list_directory(dir("networks")))
    if (auto kept = network(name)) out.push_back(std::move(*kept));
  return out;
}

std::optional<KeptNetwork> IpamSession::network(const std::string& name) const {
  if (!is_network_name(name)) return std::nullopt;
  auto object = read_object(dir("networks") + "/" + name);
  if (!object) return std::nullopt;
  return KeptNetwork{name,
                     string_field(*object, "subnet"),
                     string_field(*object, "gateway"),
                     bool_field(*object, "nat"),
                     bool_field(*object, "made_bridge"),
                     bool_field(*object, "up")};
}

void IpamSession::write_network(const KeptNetwork& network) {
  if (!is_network_name(network.name))
    throw StageError("ipam: \"" + network.name + "\" is no network name");
  write_object(dir("networks") + "/" + network.name, {{"subnet", network.subnet},
                                                      {"gateway", network.gateway},
                                                      {"nat", network.nat},
                                                      {"made_bridge", network.made_bridge},
                                                      {"up", network.up}});
}

void IpamSession::remove_network(const std::string& name) {
  if (is_network_name(name)) ::unlink((dir("networks") + "/" + name).c_str());
}

std::optional<boost::json::object> IpamSession::marker(const std::string& name) const {
  return read_object(dir("markers") + "/" + name);
}

void IpamSession::write_marker(const std::string& name, const boost::json::object& data) {
  write_object(dir("markers") + "/" + name, data);
}

void IpamSession::remove_marker(const std::string& name) {
  ::unlink((dir("markers") + "/" + name).c_str());
}

}  // namespace nsrun::network
