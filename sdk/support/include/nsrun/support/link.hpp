// nsrun support: network links through libnl, in whatever network namespace the caller is in.
#pragma once

#include <string>

namespace nsrun::support {

/// Sets the link `name` up (rtnetlink, in-process); std::runtime_error with libnl's reason
/// otherwise. Used for the loopback of a new network namespace and for host-side links.
void bring_link_up(const std::string& name);

}  // namespace nsrun::support
