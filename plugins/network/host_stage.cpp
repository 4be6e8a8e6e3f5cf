// nsrun.network.host: the container shares the host's network namespace (--network host).
#include <algorithm>

#include "nsrun/config.hpp"
#include "nsrun/network/resolv_conf.hpp"
#include "nsrun/plugin.hpp"

namespace {

class HostNetworkStage final : public nsrun::IStage {
 public:
  static constexpr nsrun_contract provides[] = {{"network.resolv_conf", 0}};
  static constexpr nsrun_flag flags[] = {
      {"network", nullptr, NSRUN_FLAG_STRING, "host",
       "host: the host's network (a CIDR picks the bridge plugin)"}};

  void validate(nsrun::Context& ctx) override {
    nsrun::ConfigReader(ctx.config, "nsrun.network.host").finish();
    if (const auto* network = ctx.flag("network"); network && network->as_string() != "host")
      throw nsrun::StageError("--network " + std::string(network->as_string()) +
                              ": this pipeline's network stage is nsrun.network.host (drop "
                              "--stage network=nsrun.network.host to use a CIDR)");
  }
  void prepare(nsrun::Context& ctx) override {
    std::erase_if(ctx.spec.namespaces,
                  [](const nsrun::NamespaceSpec& ns) { return ns.type == "network"; });
    // The host's own network namespace: its resolvers, loopback ones (127.0.0.53) included,
    // are reachable exactly as they are.
    ctx.provide("network.resolv_conf", nsrun::network::read_text("/etc/resolv.conf"));
  }
};

}  // namespace

NSRUN_PLUGIN(HostNetworkStage, "nsrun.network.host", "1.0.0", "network",
             "share the host's network namespace (--network host)")
