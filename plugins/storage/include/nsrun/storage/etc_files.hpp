// nsrun.storage: the /etc/hostname, /etc/hosts and /etc/resolv.conf a container sees.
//
// nsrun never writes into the base rootfs (several containers may share it): these files are
// written to <state dir>/etc/ and bind-mounted over the rootfs's own, as docker does. The storage
// stage is their one writer; what the network decides (the container's address, its resolvers)
// comes from the network stage's outputs.
#pragma once

#include <string>
#include <string_view>

namespace nsrun::storage {

/// The content of /etc/hostname: the name and a newline.
std::string hostname_file(std::string_view hostname);

/// The content of /etc/hosts: the loopback names, plus "<address> <hostname>" when the hostname
/// is not empty; without an address (no network stage gave one) 127.0.1.1, as Debian's
/// installer writes it.
std::string hosts_file(std::string_view hostname, std::string_view address);

/// Reads the host's resolv.conf at `path`; an empty string when it does not exist or cannot be
/// read.
std::string read_host_resolv_conf(const std::string& path);

}  // namespace nsrun::storage
