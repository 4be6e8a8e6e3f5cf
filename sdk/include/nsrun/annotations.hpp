// nsrun SDK: the spec annotations through which `nsrun run` flags reach their stage.
//
// Flags that are not part of the OCI spec (the network addresses, published ports, the cgroup
// driver) travel as annotations, so a bundle's config.json can set exactly the same things and
// whichever plugin fills the slot reads them. Stages must validate them: a bundle is user input.
#pragma once

namespace nsrun::annotation {

inline constexpr const char* subnet = "nsrun.network.subnet";              ///< --network CIDR
inline constexpr const char* host_ip = "nsrun.network.host-ip";            ///< --host-ip
inline constexpr const char* container_ip = "nsrun.network.container-ip";  ///< --container-ip
inline constexpr const char* bridge = "nsrun.network.bridge";              ///< --bridge
inline constexpr const char* nat = "nsrun.network.nat";               ///< --nat: "true" or "false"
inline constexpr const char* publish = "nsrun.network.publish";       ///< -p, comma-separated
inline constexpr const char* dns = "nsrun.network.dns";               ///< --dns, comma-separated
inline constexpr const char* cgroup_driver = "nsrun.cgroups.driver";  ///< --cgroup-driver

}  // namespace nsrun::annotation
