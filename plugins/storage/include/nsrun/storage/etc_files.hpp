// nsrun.storage: the /etc/hostname, /etc/hosts and /etc/resolv.conf a container sees.
//
// nsrun never writes into the base rootfs (several containers may share it): these files are
// written to <state dir>/etc/ and bind-mounted over the rootfs's own, as docker does.
#pragma once

#include <string>
#include <string_view>

namespace nsrun::storage {

/// The content of /etc/hostname: the name and a newline.
std::string hostname_file(std::string_view hostname);

/// The content of /etc/hosts: the loopback names, plus "127.0.1.1 <hostname>" (as Debian's
/// installer writes it) when the hostname is not empty.
std::string hosts_file(std::string_view hostname);

/// A container's resolv.conf derived from the host's.
struct ResolvConf {
  std::string content;
  bool has_nameserver = false;  ///< false: the container has no usable nameserver
};

/// Keeps the host's nameserver, search and options lines, minus loopback nameservers
/// (127.0.0.0/8 such as systemd-resolved's 127.0.0.53, and ::1): those listen in the host's
/// network namespace and are unreachable from the container's. When no nameserver is left, the
/// file is only a comment saying so.
ResolvConf container_resolv_conf(std::string_view host_resolv_conf);

/// Reads the host's resolv.conf at `path`; an empty string when it does not exist or cannot be
/// read (the container then gets the commented, nameserver-less file).
std::string read_host_resolv_conf(const std::string& path);

}  // namespace nsrun::storage
