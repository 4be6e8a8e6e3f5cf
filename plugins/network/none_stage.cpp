// nsrun.network.none: a network namespace of its own with only the loopback interface up.

#include <memory>
#include <stdexcept>
#include <string>

#include "nsrun/config.hpp"
#include "nsrun/network/resolv_conf.hpp"
#include "nsrun/plugin.hpp"
#include "nsrun/support/link.hpp"

namespace {

class NoneNetworkStage final : public nsrun::IStage {
 public:
  static constexpr nsrun_contract provides[] = {{"network.resolv_conf", 0}};
  static constexpr nsrun_flag flags[] = {{"network", nullptr, NSRUN_FLAG_STRING, "none",
                                          "none: only loopback (a CIDR picks the bridge plugin)"}};

  void validate(nsrun::Context& ctx) override {
    nsrun::ConfigReader(ctx.config, "nsrun.network.none").finish();
    if (const auto* network = ctx.flag("network"); network && network->as_string() != "none")
      throw nsrun::StageError("--network " + std::string(network->as_string()) +
                              ": this pipeline's network stage is nsrun.network.none (drop "
                              "--stage network=nsrun.network.none to use a CIDR)");
  }
  void prepare(nsrun::Context& ctx) override {
    if (!ctx.spec.has_namespace("network")) ctx.spec.namespaces.push_back({"network", ""});
    // Only loopback: nothing beyond it is reachable, the host's loopback resolvers least of all.
    nsrun::network::ResolvSources sources{
        {},
        nsrun::network::read_text("/etc/resolv.conf"),
        nsrun::network::read_text("/run/systemd/resolve/resolv.conf"),
        false};
    ctx.provide("network.resolv_conf", nsrun::network::resolv_conf(sources));
  }
  // From the host, in the container's namespace: the container process would do it on its way
  // to the workload, while the host, which has nothing else to do then, waits for it.
  void create_runtime(nsrun::Context& ctx) override {
    if (ctx.pid <= 0) throw nsrun::StageError("create_runtime needs the container's pid");
    try {
      nsrun::support::in_network_namespace_of(ctx.pid, [] { nsrun::support::bring_link_up("lo"); });
    } catch (const std::runtime_error& e) {
      throw nsrun::StageError(std::string("network: ") + e.what());
    }
  }
};

}  // namespace

NSRUN_PLUGIN(NoneNetworkStage, "nsrun.network.none", "1.0.0", "network",
             "own network namespace with only loopback (--network none)")
