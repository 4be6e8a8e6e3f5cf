// The kept bridge networks' commands (see network_admin.hpp).
#include "nsrun/network/network_admin.hpp"

#include <algorithm>

#include "nsrun/network/iptc_firewall.hpp"
#include "nsrun/network/netlink.hpp"
#include "nsrun/network/network_stage.hpp"

namespace nsrun::network {
namespace {

std::vector<std::string> users_of(const std::vector<Lease>& leases, const std::string& network) {
  std::vector<std::string> users;
  for (const auto& lease : leases)
    if (lease.mode == "bridge" && lease.link == network) users.push_back(lease.id);
  std::sort(users.begin(), users.end());
  return users;
}

std::string joined(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

}  // namespace

NetworkAdmin::NetworkAdmin(std::string state_root, FirewallFactory firewall,
                           LinkRemover remove_link)
    : state_root_(std::move(state_root)),
      firewall_factory_(std::move(firewall)),
      remove_link_(std::move(remove_link)) {
  if (!remove_link_)
    remove_link_ = [](const std::string& name) {
      Netlink nl;
      if (nl.index_of(name)) nl.delete_link(name);
    };
}

std::vector<NetworkAdmin::Row> NetworkAdmin::list() const {
  std::vector<Row> rows;
  auto session = Ipam(state_root_).reader();
  if (!session) return rows;
  auto leases = session->live_leases();
  for (auto& network : session->networks()) {
    auto users = users_of(leases, network.name);
    rows.push_back({std::move(network), std::move(users)});
  }
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.network.name < b.network.name; });
  return rows;
}

void NetworkAdmin::remove_locked(IpamSession& session, const KeptNetwork& network) {
  if (!firewall_)
    firewall_ = firewall_factory_ ? firewall_factory_() : std::make_unique<IptcFirewall>();
  remove_kept_network(session, network, *firewall_, remove_link_);
}

void NetworkAdmin::remove(const std::string& name) {
  if (!Ipam(state_root_).reader())
    throw StageError("network " + name + ": no such network (see: nsrun network ls)");
  IpamSession session = Ipam(state_root_).lock();
  auto network = session.network(name);
  if (!network) throw StageError("network " + name + ": no such network (see: nsrun network ls)");
  if (auto users = users_of(session.live_leases(), name); !users.empty())
    throw StageError("network " + name + ": in use by container" + (users.size() > 1 ? "s " : " ") +
                     joined(users, ", ") + " (stop or delete them first)");
  remove_locked(session, *network);
  release_ip_forward_if_unused(session);
}

std::vector<std::string> NetworkAdmin::prune() {
  std::vector<std::string> removed;
  if (!Ipam(state_root_).reader()) return removed;
  IpamSession session = Ipam(state_root_).lock();
  auto leases = session.live_leases();
  for (const auto& network : session.networks()) {
    if (!users_of(leases, network.name).empty()) continue;
    remove_locked(session, network);
    removed.push_back(network.name);
  }
  release_ip_forward_if_unused(session);
  std::sort(removed.begin(), removed.end());
  return removed;
}

std::string network_table(const std::vector<NetworkAdmin::Row>& rows) {
  std::vector<std::vector<std::string>> cells{{"NAME", "SUBNET", "GATEWAY", "NAT", "CONTAINERS"}};
  for (const auto& row : rows)
    cells.push_back({row.network.name, row.network.subnet, row.network.gateway,
                     row.network.nat ? "yes" : "no",
                     row.containers.empty() ? "-" : joined(row.containers, ",")});
  std::vector<std::size_t> width(cells.front().size(), 0);
  for (const auto& line : cells)
    for (std::size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  std::string out;
  for (const auto& line : cells) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      out += line[i];
      if (i + 1 < line.size()) out += std::string(width[i] - line[i].size() + 3, ' ');
    }
    out += "\n";
  }
  return out;
}

void BridgeStage::run_command(Command& command) {
  NetworkAdmin admin{std::string(command.state_root)};
  if (command.name == "ls") {
    bool quiet = false;
    for (const auto& arg : command.args) {
      if (arg != "-q" && arg != "--quiet")
        throw StageError("unknown argument \"" + arg + "\" (usage: nsrun network ls [-q])");
      quiet = true;
    }
    auto rows = admin.list();
    if (!quiet) return command.print(network_table(rows));
    for (const auto& row : rows) command.print(row.network.name + "\n");
  } else if (command.name == "rm") {
    if (command.args.empty())
      throw StageError("no network named (usage: nsrun network rm NAME...)");
    // Each name on its own, as docker does: one in use does not keep the others.
    std::string first_error;
    for (const auto& name : command.args) {
      try {
        admin.remove(name);
        command.print(name + "\n");
      } catch (const StageError& e) {
        if (first_error.empty())
          first_error = e.what();
        else
          command.log.error(e.what());
      }
    }
    if (!first_error.empty()) throw StageError(first_error);
  } else if (command.name == "prune") {
    if (!command.args.empty())
      throw StageError(
          "takes no argument (to remove one network: nsrun network "
          "rm NAME)");
    for (const auto& name : admin.prune()) command.print(name + "\n");
  } else {
    throw StageError("network: no command \"" + std::string(command.name) + "\"");
  }
}

}  // namespace nsrun::network
