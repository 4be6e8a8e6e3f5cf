// The libiptc Firewall (see iptc_firewall.hpp).
#include "nsrun/network/iptc_firewall.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "nsrun/stage.hpp"

namespace nsrun::network {
namespace {

// The flock the iptables tools take around every change (xtables.c: XT_LOCK_NAME).
class XtablesLock {
 public:
  XtablesLock() {
    const char* path = std::getenv("XTABLES_LOCKFILE");
    if (!path || !*path) path = "/run/xtables.lock";
    fd_ = ::open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0)
      throw StageError(std::string("nat: cannot open the xtables lock ") + path + ": " +
                       std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) throw StageError(std::string("nat: cannot lock ") + path);
  }
  ~XtablesLock() { ::close(fd_); }
  XtablesLock(const XtablesLock&) = delete;
  XtablesLock& operator=(const XtablesLock&) = delete;

 private:
  int fd_ = -1;
};

struct HandleDeleter {
  void operator()(xtc_handle* h) const { iptc_free(h); }
};
using Handle = std::unique_ptr<xtc_handle, HandleDeleter>;

Handle open_table(const std::string& table) {
  Handle handle(iptc_init(table.c_str()));
  if (!handle)
    throw StageError("nat: cannot read the iptables " + table + " table: " + iptc_strerror(errno) +
                     " (needs root and the ip_tables/iptable_" + table + " kernel support)");
  return handle;
}

void commit(xtc_handle* handle, const std::string& table) {
  if (!iptc_commit(handle))
    throw StageError("nat: cannot commit the iptables " + table +
                     " table: " + iptc_strerror(errno));
}

// A match or target extension before it is laid out: its name, revision and payload (the struct
// that follows the xt_entry_match/xt_entry_target header).
struct Extension {
  const char* name;
  std::uint8_t revision;
  std::vector<unsigned char> payload;

  template <typename Payload>
  static Extension of(const char* name, std::uint8_t revision, const Payload& payload) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(&payload);
    return {name, revision, std::vector<unsigned char>(bytes, bytes + sizeof(Payload))};
  }
  // The header of a match and of a target have the same size; XT_ALIGN pads each to 8 bytes.
  std::size_t size() const { return XT_ALIGN(sizeof(xt_entry_match) + payload.size()); }
};
static_assert(sizeof(xt_entry_match) == sizeof(xt_entry_target));

void set_interface(const std::string& name, char* field, unsigned char* mask) {
  std::strncpy(field, name.c_str(), IFNAMSIZ - 1);
  // Exact match: the name and its terminating NUL, as iptables does without a '+' wildcard.
  std::memset(mask, 0xff, std::min<std::size_t>(name.size() + 1, IFNAMSIZ));
}

bool has_comment(const ipt_entry* entry, std::string_view comment) {
  for (unsigned offset = sizeof(ipt_entry); offset < entry->target_offset;) {
    const auto* match = reinterpret_cast<const xt_entry_match*>(
        reinterpret_cast<const unsigned char*>(entry) + offset);
    if (match->u.match_size == 0) break;
    if (std::strcmp(match->u.user.name, "comment") == 0) {
      const auto* info = reinterpret_cast<const xt_comment_info*>(match->data);
      if (std::string_view(info->comment, strnlen(info->comment, sizeof info->comment)) == comment)
        return true;
    }
    offset += match->u.match_size;
  }
  return false;
}

}  // namespace

// The entry is laid out in one buffer allocated at its final size: every extension is built
// first, then copied in. (Growing the buffer extension by extension made GCC 12 at -O3 report a
// false -Warray-bounds inside the inlined vector::resize; with one allocation of a known size
// the writes' bounds are plain.)
std::vector<unsigned char> encode_rule(const Rule& rule) {
  ipt_entry header{};
  if (rule.source) {
    header.ip.src.s_addr = htonl(rule.source->network().value);
    header.ip.smsk.s_addr = htonl(rule.source->mask());
  }
  if (rule.destination) {
    header.ip.dst.s_addr = htonl(rule.destination->network().value);
    header.ip.dmsk.s_addr = htonl(rule.destination->mask());
  }
  if (!rule.in_interface.empty()) {
    set_interface(rule.in_interface, header.ip.iniface, header.ip.iniface_mask);
    if (rule.in_negated) header.ip.invflags |= IPT_INV_VIA_IN;
  }
  if (!rule.out_interface.empty()) {
    set_interface(rule.out_interface, header.ip.outiface, header.ip.outiface_mask);
    if (rule.out_negated) header.ip.invflags |= IPT_INV_VIA_OUT;
  }
  if (rule.protocol == "tcp")
    header.ip.proto = IPPROTO_TCP;
  else if (rule.protocol == "udp")
    header.ip.proto = IPPROTO_UDP;
  else if (!rule.protocol.empty())
    throw StageError("nat: unknown protocol " + rule.protocol);

  std::vector<Extension> matches;
  if (rule.destination_local) {
    xt_addrtype_info_v1 info{};
    info.dest = XT_ADDRTYPE_LOCAL;
    matches.push_back(Extension::of("addrtype", 1, info));
  }
  if (rule.protocol == "tcp" && rule.destination_port) {
    xt_tcp info{};
    info.spts[0] = 0;
    info.spts[1] = 0xffff;
    info.dpts[0] = info.dpts[1] = rule.destination_port;
    matches.push_back(Extension::of("tcp", 0, info));
  } else if (rule.protocol == "udp" && rule.destination_port) {
    xt_udp info{};
    info.spts[0] = 0;
    info.spts[1] = 0xffff;
    info.dpts[0] = info.dpts[1] = rule.destination_port;
    matches.push_back(Extension::of("udp", 0, info));
  }
  if (rule.established || rule.dnatted) {
    xt_conntrack_mtinfo3 info{};
    info.match_flags = XT_CONNTRACK_STATE;
    if (rule.established)
      info.state_mask =
          XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED) | XT_CONNTRACK_STATE_BIT(IP_CT_RELATED);
    if (rule.dnatted) info.state_mask |= XT_CONNTRACK_STATE_DNAT;
    matches.push_back(Extension::of("conntrack", 3, info));
  }
  if (!rule.comment.empty()) {
    if (rule.comment.size() >= XT_MAX_COMMENT_LEN) throw StageError("nat: comment too long");
    xt_comment_info info{};
    std::memcpy(info.comment, rule.comment.data(), rule.comment.size());
    matches.push_back(Extension::of("comment", 0, info));
  }

  // The target: a verdict (ACCEPT/DROP, which libiptc maps by name) or a NAT extension.
  Extension target{rule.target.c_str(), 0, {}};
  if (rule.target == "ACCEPT" || rule.target == "DROP") {
    target.payload.assign(sizeof(xt_standard_target) - sizeof(xt_entry_target), 0);
  } else if (rule.target == "MASQUERADE") {
    // Revision 0 (the IPv4 multi-range layout), what iptables writes for MASQUERADE.
    nf_nat_ipv4_multi_range_compat range{};
    range.rangesize = 1;
    target = Extension::of("MASQUERADE", 0, range);
  } else if (rule.target == "DNAT") {
    // Revision 2 (nf_nat_range2), what current iptables writes and can print back.
    if (!rule.to_address) throw StageError("nat: DNAT without a destination");
    nf_nat_range2 range{};
    range.flags = NF_NAT_RANGE_MAP_IPS;
    range.min_addr.ip = range.max_addr.ip = htonl(rule.to_address->value);
    if (rule.to_port) {
      range.flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
      range.min_proto.all = range.max_proto.all = htons(rule.to_port);
    }
    target = Extension::of("DNAT", 2, range);
  } else {
    throw StageError("nat: unknown target " + rule.target);
  }

  std::size_t target_offset = sizeof(ipt_entry);
  for (const auto& match : matches) target_offset += match.size();
  const std::size_t total = target_offset + target.size();
  header.target_offset = static_cast<__u16>(target_offset);
  header.next_offset = static_cast<__u16>(total);

  std::vector<unsigned char> buffer(total, 0);
  std::memcpy(buffer.data(), &header, sizeof header);
  std::size_t offset = sizeof(ipt_entry);
  for (const auto& extension : matches) {
    xt_entry_match match{};
    match.u.user.match_size = static_cast<__u16>(extension.size());
    std::strncpy(match.u.user.name, extension.name, sizeof match.u.user.name - 1);
    match.u.user.revision = extension.revision;
    std::memcpy(buffer.data() + offset, &match, sizeof match);
    std::memcpy(buffer.data() + offset + sizeof match, extension.payload.data(),
                extension.payload.size());
    offset += extension.size();
  }
  xt_entry_target head{};
  head.u.user.target_size = static_cast<__u16>(target.size());
  std::strncpy(head.u.user.name, target.name, sizeof head.u.user.name - 1);
  head.u.user.revision = target.revision;
  std::memcpy(buffer.data() + offset, &head, sizeof head);
  std::memcpy(buffer.data() + offset + sizeof head, target.payload.data(), target.payload.size());
  return buffer;
}

void IptcFirewall::insert(const std::vector<Rule>& rules) {
  std::map<std::string, std::vector<const Rule*>> by_table;
  for (const auto& rule : rules) by_table[rule.table].push_back(&rule);
  XtablesLock lock;
  for (const auto& [table, list] : by_table) {
    Handle handle = open_table(table);
    std::map<std::string, unsigned> position;  // next insert position per chain
    for (const Rule* rule : list) {
      auto entry = encode_rule(*rule);
      unsigned& at = position[rule->chain];
      if (!iptc_insert_entry(rule->chain.c_str(), reinterpret_cast<const ipt_entry*>(entry.data()),
                             at, handle.get()))
        throw StageError("nat: cannot add the rule \"" + rule->str() + "\" to the " + table +
                         " table: " + iptc_strerror(errno));
      ++at;
    }
    commit(handle.get(), table);
  }
}

int IptcFirewall::remove_marked(std::string_view comment) {
  static const std::map<std::string, std::vector<std::string>> chains{
      {"nat", {"PREROUTING", "OUTPUT", "POSTROUTING"}}, {"filter", {"FORWARD"}}};
  XtablesLock lock;
  int removed = 0;
  for (const auto& [table, names] : chains) {
    Handle handle = open_table(table);
    int here = 0;
    for (const auto& chain : names) {
      std::vector<unsigned> numbers;
      unsigned number = 0;
      for (const ipt_entry* e = iptc_first_rule(chain.c_str(), handle.get()); e;
           e = iptc_next_rule(e, handle.get()), ++number)
        if (has_comment(e, comment)) numbers.push_back(number);
      for (auto it = numbers.rbegin(); it != numbers.rend(); ++it) {
        if (!iptc_delete_num_entry(chain.c_str(), *it, handle.get()))
          throw StageError("nat: cannot delete rule " + std::to_string(*it) + " of " + chain +
                           " in the " + table + " table: " + iptc_strerror(errno));
        ++here;
      }
    }
    if (here) commit(handle.get(), table);
    removed += here;
  }
  return removed;
}

}  // namespace nsrun::network
