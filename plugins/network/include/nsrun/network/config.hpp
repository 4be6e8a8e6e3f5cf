// nsrun network plugins: the typed network configuration of one container.
//
// The plugin owns its flags (--network, --host-ip, --container-ip, --bridge, --nat, --publish,
// --dns: see network_stage.hpp); a bundle sets the same through spec annotations
// (nsrun.network.*); the stage config in the pipeline gives defaults (bridge name, subnet, nat).
// A flag wins over an annotation, which wins over the stage config. Everything is validated
// here, strictly and before any side effect, with one-line messages that name the flag (or the
// annotation, for a bundle) and the fix.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/annotations.hpp"
#include "nsrun/ipv4.hpp"
#include "nsrun/spec.hpp"

namespace nsrun::network {

inline constexpr const char* default_subnet = "192.168.1.0/24";
inline constexpr const char* default_bridge = "nsrun0";

enum class Mode { bridge, veth };

/// One -p/--publish value: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp].
struct PortMapping {
  std::optional<Ipv4Address> host_ip;  ///< unset: every local address of the host
  std::uint16_t host_port = 0;
  std::uint16_t container_port = 0;
  std::string protocol = "tcp";
  std::string str() const;
  bool operator==(const PortMapping&) const = default;
};

/// Parses one --publish value; throws StageError naming the flag on malformed input.
PortMapping parse_publish(std::string_view text);

/// Throws StageError unless `name` is a valid Linux interface name (1-15 bytes, no '/', ':' or
/// whitespace, not "." or ".."). `flag` names the setting in the message.
void check_interface_name(std::string_view name, std::string_view flag);

struct NetworkConfig {
  Mode mode = Mode::bridge;
  Ipv4Network subnet;                       ///< network address with host bits cleared
  Ipv4Address gateway;                      ///< --host-ip: the bridge's (or host veth's) address
  std::optional<Ipv4Address> container_ip;  ///< pinned with --container-ip; else IPAM chooses
  std::string bridge = default_bridge;      ///< bridge mode only
  bool nat = true;
  std::vector<PortMapping> ports;
  std::vector<std::string> dns;  ///< nameserver addresses, in order
};

/// Reads and validates the configuration (flags over annotations over stage config over
/// defaults).
/// `stage_name` is the plugin's name for config key messages. Throws StageError.
NetworkConfig parse_network_config(const ContainerSpec& spec, const boost::json::object& config,
                                   Mode mode, std::string_view stage_name,
                                   const boost::json::object* flags = nullptr);

/// Splits a comma-separated annotation value, dropping empty items.
std::vector<std::string> split_list(std::string_view text);

}  // namespace nsrun::network
