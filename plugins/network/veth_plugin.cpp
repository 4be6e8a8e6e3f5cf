// nsrun.network.veth: the point-to-point model (see network_stage.hpp).
#include "nsrun/network/network_stage.hpp"
#include "nsrun/plugin.hpp"

NSRUN_PLUGIN(nsrun::network::VethStage, "nsrun.network.veth", "1.0.0", "network",
             "one veth pair per container, host end is the gateway (one container per network)")
