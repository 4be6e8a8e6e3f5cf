// The rule set of one container (see rules.hpp).
#include "nsrun/network/rules.hpp"

namespace nsrun::network {

std::string rule_comment(std::string_view container_id) {
  return "nsrun:" + std::string(container_id);
}

std::string Rule::str() const {
  std::string out = "-A " + chain;
  auto network = [](const Ipv4Network& n) { return n.str(); };
  if (source) out += " -s " + network(*source);
  if (destination) out += " -d " + network(*destination);
  if (!in_interface.empty()) out += std::string(in_negated ? " !" : "") + " -i " + in_interface;
  if (!out_interface.empty()) out += std::string(out_negated ? " !" : "") + " -o " + out_interface;
  if (!protocol.empty()) out += " -p " + protocol;
  if (destination_local) out += " -m addrtype --dst-type LOCAL";
  if (!protocol.empty() && destination_port)
    out += " -m " + protocol + " --dport " + std::to_string(destination_port);
  if (established) out += " -m conntrack --ctstate RELATED,ESTABLISHED";
  if (dnatted) out += " -m conntrack --ctstate DNAT";
  if (!comment.empty()) out += " -m comment --comment " + comment;
  out += " -j " + target;
  if (to_address)
    out +=
        " --to-destination " + to_address->str() + (to_port ? ":" + std::to_string(to_port) : "");
  return out;
}

std::string network_rule_comment(std::string_view network) {
  return "nsrun-network:" + std::string(network);
}

std::vector<Rule> build_network_rules(const Ipv4Network& addresses, const std::string& link,
                                      const std::string& comment) {
  std::vector<Rule> rules;
  auto add = [&](Rule rule) {
    rule.comment = comment;
    rules.push_back(std::move(rule));
  };
  // Out: masquerade whatever leaves through another interface than the network's link, so the
  // uplink's name never matters.
  add({.table = "nat",
       .chain = "POSTROUTING",
       .source = addresses,
       .out_interface = link,
       .out_negated = true,
       .target = "MASQUERADE"});
  add({.table = "filter",
       .chain = "FORWARD",
       .source = addresses,
       .in_interface = link,
       .out_interface = link,
       .out_negated = true,
       .target = "ACCEPT"});
  // In from elsewhere: answers only.
  const Rule inbound{.table = "filter",
                     .chain = "FORWARD",
                     .destination = addresses,
                     .in_interface = link,
                     .in_negated = true,
                     .out_interface = link};
  Rule answers = inbound;
  answers.established = true;
  answers.target = "ACCEPT";
  add(answers);
  Rule rest = inbound;
  rest.target = "DROP";
  add(rest);
  return rules;
}

std::vector<Rule> build_port_rules(const RuleInput& in) {
  const std::string comment = rule_comment(in.container_id);
  const Ipv4Network self{in.container_ip, 32};
  std::vector<Rule> rules;
  auto add = [&](Rule rule) {
    rule.comment = comment;
    rules.push_back(std::move(rule));
  };
  for (const auto& port : in.ports) {
    add({.table = "filter",
         .chain = "FORWARD",
         .destination = self,
         .out_interface = in.link,
         .protocol = port.protocol,
         .destination_port = port.container_port,
         .target = "ACCEPT"});
  }
  bool localhost = false;
  for (const auto& port : in.ports) {
    for (const char* chain : {"PREROUTING", "OUTPUT"}) {
      Rule dnat{.table = "nat",
                .chain = chain,
                .protocol = port.protocol,
                .destination_port = port.host_port,
                .target = "DNAT",
                .to_address = in.container_ip,
                .to_port = port.container_port};
      if (port.host_ip)
        dnat.destination = Ipv4Network{*port.host_ip, 32};
      else
        dnat.destination_local = true;
      add(std::move(dnat));
    }
    if (!port.host_ip || (port.host_ip->value >> 24) == 127) localhost = true;
    // Hairpin: a container of this network (this one too) reaching the published port through
    // the host's address. Without this the answer would go straight back over the bridge from
    // the container's own address, which the client does not expect.
    add({.table = "nat",
         .chain = "POSTROUTING",
         .source = in.subnet,
         .destination = self,
         .out_interface = in.link,
         .protocol = port.protocol,
         .destination_port = port.container_port,
         .dnatted = true,
         .target = "MASQUERADE"});
  }
  if (localhost) {
    // From the host itself via 127.0.0.1: route_localnet lets such packets leave through the
    // link; the reply must come back to an address the host owns on it.
    add({.table = "nat",
         .chain = "POSTROUTING",
         .source = Ipv4Network{Ipv4Address{0x7f000000}, 8},
         .destination = self,
         .out_interface = in.link,
         .target = "MASQUERADE"});
  }
  return rules;
}

std::vector<Rule> build_rules(const RuleInput& in) {
  // Inserted as one batch at the top of each chain: the published ports' ACCEPTs land above the
  // DROP that closes the container to everything else.
  std::vector<Rule> rules = build_port_rules(in);
  auto own =
      build_network_rules(Ipv4Network{in.container_ip, 32}, in.link, rule_comment(in.container_id));
  rules.insert(rules.end(), own.begin(), own.end());
  return rules;
}

}  // namespace nsrun::network
