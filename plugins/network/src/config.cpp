// Parsing and validation of the network configuration (see config.hpp).
#include "nsrun/network/config.hpp"

#include <arpa/inet.h>

#include "nsrun/config.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::network {
namespace {

std::optional<int> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) return std::nullopt;
  return value;
}

// One setting with where it came from: the plugin's flag (named "--network" in messages) or, for
// a bundle, the spec annotation (named "annotations[\"nsrun.network.subnet\"]").
struct Setting {
  std::vector<std::string> values;  ///< one value; a list for repeatable flags
  std::string label;
  const std::string& text() const { return values.front(); }
};

class Settings {
 public:
  Settings(const ContainerSpec& spec, const boost::json::object* flags)
      : spec_(spec), flags_(flags) {}

  // The flag `name` when given, else the annotation `key` (a list annotation is comma-separated).
  std::optional<Setting> get(const char* name, const char* key, bool list = false) const {
    if (flags_)
      if (const auto* v = flags_->if_contains(name)) {
        Setting s{{}, std::string("--") + name};
        if (v->is_string()) s.values.emplace_back(v->as_string());
        if (v->is_bool()) s.values.emplace_back(v->as_bool() ? "true" : "false");
        if (v->is_array())
          for (const auto& item : v->as_array())
            if (item.is_string()) s.values.emplace_back(item.as_string());
        if (!s.values.empty()) return s;
      }
    auto it = spec_.annotations.find(key);
    if (it == spec_.annotations.end()) return std::nullopt;
    Setting s{{}, std::string("annotations[\"") + key + "\"]"};
    if (list)
      s.values = split_list(it->second);
    else
      s.values.push_back(it->second);
    if (s.values.empty()) return std::nullopt;
    return s;
  }

 private:
  const ContainerSpec& spec_;
  const boost::json::object* flags_;
};

}  // namespace

std::string PortMapping::str() const {
  std::string out = host_ip ? host_ip->str() + ":" : "";
  return out + std::to_string(host_port) + ":" + std::to_string(container_port) + "/" + protocol;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

PortMapping parse_publish(std::string_view text) {
  const std::string shown(text);
  auto fail = [&](const std::string& why) {
    return StageError("--publish \"" + shown + "\" " + why +
                      " (use [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp], e.g. -p 8080:80)");
  };
  PortMapping mapping;
  std::string_view rest = text;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view protocol = rest.substr(slash + 1);
    if (protocol != "tcp" && protocol != "udp")
      throw fail("has protocol \"" + std::string(protocol) + "\"; only tcp and udp are supported");
    mapping.protocol = std::string(protocol);
    rest = rest.substr(0, slash);
  }
  std::vector<std::string_view> fields;
  while (true) {
    auto colon = rest.find(':');
    fields.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  if (fields.size() < 2 || fields.size() > 3) throw fail("is malformed");
  if (fields.size() == 3) {
    auto ip = Ipv4Address::parse(fields[0]);
    if (!ip) throw fail("has host address \"" + std::string(fields[0]) + "\", not an IPv4 address");
    mapping.host_ip = ip;
  }
  auto host_port = parse_port(fields[fields.size() - 2]);
  auto container_port = parse_port(fields[fields.size() - 1]);
  if (!host_port)
    throw fail("has host port \"" + std::string(fields[fields.size() - 2]) +
               "\"; ports are 1-65535");
  if (!container_port)
    throw fail("has container port \"" + std::string(fields[fields.size() - 1]) +
               "\"; ports are 1-65535");
  mapping.host_port = static_cast<std::uint16_t>(*host_port);
  mapping.container_port = static_cast<std::uint16_t>(*container_port);
  return mapping;
}

void check_interface_name(std::string_view name, std::string_view flag) {
  const std::string shown(name);
  if (name.empty()) throw StageError(std::string(flag) + " must not be empty");
  if (name.size() > 15)
    throw StageError(std::string(flag) + " \"" + shown + "\" is " + std::to_string(name.size()) +
                     " bytes; interface names are at most 15 (choose a shorter name)");
  if (name == "." || name == "..")
    throw StageError(std::string(flag) + " \"" + shown + "\" is not a valid interface name");
  for (char c : name)
    if (c == '/' || c == ':' || c == ',' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      throw StageError(std::string(flag) + " \"" + shown +
                       "\" contains a character interface names cannot have (/, :, space)");
}

NetworkConfig parse_network_config(const ContainerSpec& spec, const boost::json::object& config,
                                   Mode mode, std::string_view stage_name,
                                   const boost::json::object* flags) {
  ConfigReader reader(config, stage_name);
  NetworkConfig out;
  out.mode = mode;
  std::string subnet_text = reader.string("subnet").value_or(default_subnet);
  std::string subnet_label = "--network";
  std::optional<std::string> bridge_config;
  if (mode == Mode::bridge) bridge_config = reader.string("bridge");
  out.nat = reader.boolean("nat").value_or(true);
  reader.finish();
  Settings settings(spec, flags);

  if (auto value = settings.get("network", annotation::subnet)) {
    subnet_text = value->text();
    subnet_label = value->label;
  }
  std::string why;
  auto subnet = Ipv4Network::parse(subnet_text, &why);
  if (!subnet)
    throw StageError(subnet_label + " \"" + subnet_text + "\" is not an IPv4 network: " + why +
                     " (e.g. 10.88.0.0/24, or none, or host)");
  if (subnet->prefix_length > 30)
    throw StageError(subnet_label + " " + subnet_text + " is too small: a /30 or larger is needed");
  if (subnet->prefix_length < 8)
    throw StageError(subnet_label + " " + subnet_text +
                     " is too large: use a /8 or smaller network");
  out.subnet = Ipv4Network{subnet->network(), subnet->prefix_length};
  // The bridge gets an address of this network in the host's namespace: a range the kernel
  // gives another meaning would take over the host's loopback, link-local or multicast traffic.
  static const std::pair<const char*, const char*> special_ranges[] = {
      {"0.0.0.0/8", "\"this network\""},
      {"127.0.0.0/8", "loopback"},
      {"169.254.0.0/16", "link-local"},
      {"224.0.0.0/4", "multicast"},
      {"240.0.0.0/4", "reserved (and broadcast)"}};
  for (const auto& [range_text, meaning] : special_ranges) {
    Ipv4Network range = *Ipv4Network::parse(range_text);
    if (range.contains(out.subnet.network()) || out.subnet.contains(range.network()))
      throw StageError(subnet_label + " " + subnet_text + " overlaps " + range_text + ", the " +
                       meaning + " range (use a private network such as 10.88.0.0/24)");
  }

  auto address = [&](const char* name, const char* key) -> std::optional<Ipv4Address> {
    auto value = settings.get(name, key);
    if (!value) return std::nullopt;
    const std::string& text = value->text();
    const std::string& flag = value->label;
    if (text.find(':') != std::string::npos)
      throw StageError(flag + " \"" + text + "\": IPv6 is not supported yet");
    auto parsed = Ipv4Address::parse(text);
    if (!parsed) throw StageError(flag + " \"" + text + "\" is not an IPv4 address");
    if (!out.subnet.contains(*parsed))
      throw StageError(flag + " " + text + " is outside --network " + out.subnet.str() +
                       " (pick an address inside it)");
    if (!out.subnet.is_usable_host(*parsed))
      throw StageError(flag + " " + text + " is the network or broadcast address of " +
                       out.subnet.str() + " (pick a host address)");
    return parsed;
  };
  out.gateway =
      address("host-ip", annotation::host_ip).value_or(Ipv4Address{out.subnet.network().value + 1});
  out.container_ip = address("container-ip", annotation::container_ip);
  if (out.container_ip && *out.container_ip == out.gateway)
    throw StageError("--host-ip and --container-ip are both " + out.gateway.str() +
                     "; they must differ");
  if (mode == Mode::veth && !out.container_ip) {
    // The point-to-point model of the original program: the second host unless pinned.
    Ipv4Address second{out.subnet.network().value + 2};
    out.container_ip = second == out.gateway ? Ipv4Address{out.subnet.network().value + 1} : second;
  }
  if (mode == Mode::bridge) {
    std::string label = "--bridge";
    if (auto value = settings.get("bridge", annotation::bridge)) {
      out.bridge = value->text();
      label = value->label;
    } else if (bridge_config) {
      out.bridge = *bridge_config;
    }
    check_interface_name(out.bridge, label);
  } else if (auto value = settings.get("bridge", annotation::bridge)) {
    throw StageError(value->label + " is for the bridge network; the veth plugin has no bridge");
  }
  if (auto value = settings.get("nat", annotation::nat)) {
    if (value->text() == "true")
      out.nat = true;
    else if (value->text() == "false")
      out.nat = false;
    else
      throw StageError(value->label + " \"" + value->text() + "\" must be true or false");
  }
  if (auto value = settings.get("publish", annotation::publish, true)) {
    for (const auto& item : value->values) {
      PortMapping mapping = parse_publish(item);
      for (const auto& other : out.ports)
        if (other.host_port == mapping.host_port && other.protocol == mapping.protocol)
          throw StageError("--publish " + item + " repeats host port " +
                           std::to_string(mapping.host_port) + "/" + mapping.protocol +
                           " (publish each host port once)");
      out.ports.push_back(mapping);
    }
  }
  if (!out.ports.empty() && !out.nat)
    throw StageError("--publish needs NAT, which --nat=false turns off (drop one of them)");
  if (auto value = settings.get("dns", annotation::dns, true)) {
    for (const auto& item : value->values) {
      in6_addr v6{};
      if (!Ipv4Address::parse(item) && inet_pton(AF_INET6, item.c_str(), &v6) != 1)
        throw StageError(value->label + " \"" + item +
                         "\" is not an IP address (e.g. --dns 1.1.1.1)");
      out.dns.push_back(item);
    }
  }
  return out;
}

}  // namespace nsrun::network
