// nsrun.network.host: the container shares the host's network namespace (--network host).
#include <algorithm>

#include "nsrun/config.hpp"
#include "nsrun/plugin.hpp"

namespace {

class HostNetworkStage final : public nsrun::IStage {
 public:
  void validate(nsrun::Context& ctx) override {
    nsrun::ConfigReader(ctx.config, "nsrun.network.host").finish();
  }
  void prepare(nsrun::Context& ctx) override {
    std::erase_if(ctx.spec.namespaces,
                  [](const nsrun::NamespaceSpec& ns) { return ns.type == "network"; });
  }
};

}  // namespace

NSRUN_PLUGIN(HostNetworkStage, "nsrun.network.host", "1.0.0", "network",
             "share the host's network namespace (--network host)")
