// nsrun.network.none: a network namespace of its own with only the loopback interface up.
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include <memory>

#include "nsrun/config.hpp"
#include "nsrun/network/resolv_conf.hpp"
#include "nsrun/plugin.hpp"

namespace {

// Brings `lo` up through rtnetlink (libnl), in whatever network namespace the caller is in.
void bring_loopback_up() {
  std::unique_ptr<nl_sock, decltype(&nl_socket_free)> sock(nl_socket_alloc(), &nl_socket_free);
  if (!sock) throw nsrun::StageError("cannot allocate a netlink socket");
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    throw nsrun::StageError(std::string("cannot open rtnetlink: ") + nl_geterror(err));
  rtnl_link* found = nullptr;
  if (int err = rtnl_link_get_kernel(sock.get(), 0, "lo", &found); err < 0)
    throw nsrun::StageError(std::string("cannot find lo: ") + nl_geterror(err));
  std::unique_ptr<rtnl_link, decltype(&rtnl_link_put)> lo(found, &rtnl_link_put);
  std::unique_ptr<rtnl_link, decltype(&rtnl_link_put)> change(rtnl_link_alloc(), &rtnl_link_put);
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sock.get(), lo.get(), change.get(), 0); err < 0)
    throw nsrun::StageError(std::string("cannot bring lo up: ") + nl_geterror(err));
}

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
  void create_container(nsrun::Context&) override { bring_loopback_up(); }
};

}  // namespace

NSRUN_PLUGIN(NoneNetworkStage, "nsrun.network.none", "1.0.0", "network",
             "own network namespace with only loopback (--network none)")
