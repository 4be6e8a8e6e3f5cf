// nsrun network plugins: the resolv.conf a container gets. The network stage decides it (which
// nameservers the container can reach is a property of its network) and hands it to the stage
// that writes the /etc files as the output "network.resolv_conf". Nothing is written into the
// rootfs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nsrun::network {

/// The nameservers of a resolv.conf text that a container can reach: loopback ones (127.0.0.0/8,
/// ::1, such as systemd-resolved's 127.0.0.53) listen in the host's namespace and are dropped.
std::vector<std::string> reachable_nameservers(std::string_view resolv_conf);

/// Docker's fallback when the host has no reachable nameserver and NAT is on.
inline const std::vector<std::string> fallback_nameservers{"8.8.8.8", "8.8.4.4"};

struct ResolvSources {
  std::vector<std::string> dns;      ///< --dns: used as given when not empty
  std::string host_resolv_conf;      ///< the host's /etc/resolv.conf
  std::string upstream_resolv_conf;  ///< /run/systemd/resolve/resolv.conf (the real upstreams
                                     ///< when the host's points at 127.0.0.53), may be empty
  bool nat = true;                   ///< without NAT public fallbacks are unreachable
};

/// The container's resolv.conf: --dns, else the host's reachable nameservers, else systemd-
/// resolved's upstreams, else (with NAT) 8.8.8.8 and 8.8.4.4; search/options lines of the host
/// are kept.
std::string resolv_conf(const ResolvSources& sources);

/// The content of a file, or "" when it does not exist or cannot be read.
std::string read_text(const std::string& path);

}  // namespace nsrun::network
