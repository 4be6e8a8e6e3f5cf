// nsrun support: bringing a network link up, in whatever network namespace the caller is in.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

namespace nsrun::support {

/// Sets the link `name` up; std::runtime_error with the reason otherwise. Used for the loopback of
/// a new network namespace. Through the SIOCGIFFLAGS/SIOCSIFFLAGS ioctls, as crun does for its
/// loopback: a flag on one link needs no netlink socket, and no libnl to load into the process
/// (0.9 ms of every `--network none` start, measured with DEBUG=1, was libnl's).
void bring_link_up(const std::string& name);

/// Runs `step` with the calling thread in the network namespace of process `pid`, then returns
/// the thread to its own: a socket `step` opens stays in that namespace, so the host can configure
/// a container's interfaces, as CNI plugins do. std::runtime_error when the namespace cannot be
/// entered; what `step` throws is thrown on, after the return. A thread that cannot return aborts
/// the process: nothing of the host's may go on in the container's namespace.
void in_network_namespace_of(pid_t pid, const std::function<void()>& step);

}  // namespace nsrun::support
