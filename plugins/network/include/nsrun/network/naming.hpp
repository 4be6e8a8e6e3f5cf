// nsrun network plugins: names of host-side links, derived from the container id alone so that
// teardown finds them after a crash.
#pragma once

#include <string>
#include <string_view>

namespace nsrun::network {

/// The host-side veth name of container `id`: "nsv" + 12 hex digits of a hash of the id (15
/// bytes, the kernel's limit); `attempt` > 0 re-hashes with a salt after a collision.
std::string veth_name(std::string_view container_id, int attempt = 0);

}  // namespace nsrun::network
