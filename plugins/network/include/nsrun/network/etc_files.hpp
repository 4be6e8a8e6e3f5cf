// nsrun network plugins: naming and the /etc/hosts and /etc/resolv.conf a networked container
// gets. The storage stage generates both files in <state dir>/etc/ and bind-mounts them; the
// network stage runs after it and rewrites them with the container's address and nameservers.
// Nothing is ever written into the rootfs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nsrun::network {

/// The host-side veth name of container `id`: "nsv" + 12 hex digits of a hash of the id (15
/// bytes, the kernel's limit); `attempt` > 0 re-hashes with a salt after a collision.
std::string veth_name(std::string_view container_id, int attempt = 0);

/// /etc/hosts: loopback names plus "<address> <hostname>".
std::string hosts_file(std::string_view hostname, std::string_view address);

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

}  // namespace nsrun::network
