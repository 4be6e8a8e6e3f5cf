// nsrun.network.bridge: the default network stage (see network_stage.hpp).
#include "nsrun/network/network_stage.hpp"
#include "nsrun/plugin.hpp"

NSRUN_PLUGIN(nsrun::network::BridgeStage, "nsrun.network.bridge", "1.0.0", "network",
             "host bridge nsrun0 + veth per container, IPAM, NAT via libiptc, -p, --dns")
