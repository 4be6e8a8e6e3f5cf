// nsrun support: bringing a network link up, in whatever network namespace the caller is in.
#pragma once

#include <string>

namespace nsrun::support {

/// Sets the link `name` up; std::runtime_error with the reason otherwise. Used for the loopback of
/// a new network namespace. Through the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls, as crun does for its
/// loopback: a flag on one link needs no netlink socket, and no libnl to load into the process
/// (0.9 ms of every `--network none` start, measured with DEBUG=1, was libnl's).
void bring_link_up(const std::string& name);

}  // namespace nsrun::support
