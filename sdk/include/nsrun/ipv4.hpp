// nsrun SDK: IPv4 addresses and networks, parsed strictly (shared by the CLI and network stages).
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nsrun {

/// An IPv4 address in host byte order.
struct Ipv4Address {
  std::uint32_t value = 0;

  /// Dotted quad only ("10.0.0.1"); nullopt for anything else (ranges, IPv6, "300.1.1.1").
  static std::optional<Ipv4Address> parse(std::string_view text) {
    std::string copy(text);
    in_addr addr{};
    if (copy.empty() || ::inet_pton(AF_INET, copy.c_str(), &addr) != 1) return std::nullopt;
    return Ipv4Address{ntohl(addr.s_addr)};
  }
  std::string str() const {
    in_addr addr{htonl(value)};
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &addr, buf, sizeof buf);
    return buf;
  }
  bool operator==(const Ipv4Address&) const = default;
};

/// An IPv4 network "a.b.c.d/len". The address part may have host bits set (like 10.0.0.1/24);
/// `network()` clears them.
struct Ipv4Network {
  Ipv4Address address;
  int prefix_length = 0;

  /// Parses "a.b.c.d/len" with len 0..32; on failure `error` says why in a few words.
  static std::optional<Ipv4Network> parse(std::string_view text, std::string* error = nullptr) {
    auto fail = [&](const char* why) -> std::optional<Ipv4Network> {
      if (error) *error = why;
      return std::nullopt;
    };
    if (text.find(':') != std::string_view::npos) return fail("IPv6 is not supported yet");
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return fail("missing the /prefix length");
    auto address = Ipv4Address::parse(text.substr(0, slash));
    if (!address) return fail("not an IPv4 address");
    std::string_view length = text.substr(slash + 1);
    if (length.empty() || length.size() > 2) return fail("prefix length must be 0 to 32");
    int value = 0;
    for (char c : length) {
      if (c < '0' || c > '9') return fail("prefix length must be 0 to 32");
      value = value * 10 + (c - '0');
    }
    if (value > 32) return fail("prefix length must be 0 to 32");
    return Ipv4Network{*address, value};
  }

  std::uint32_t mask() const {
    return prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_length);
  }
  Ipv4Address network() const { return {address.value & mask()}; }
  Ipv4Address broadcast() const { return {network().value | ~mask()}; }
  bool contains(Ipv4Address a) const { return (a.value & mask()) == network().value; }
  /// True when `a` can be given to a host: inside, and neither the network nor broadcast address
  /// (a /31 or /32 has no such reserved addresses, as RFC 3021 says).
  bool is_usable_host(Ipv4Address a) const {
    if (!contains(a)) return false;
    if (prefix_length >= 31) return true;
    return a != network() && a != broadcast();
  }
  bool overlaps(const Ipv4Network& other) const {
    int shorter = prefix_length < other.prefix_length ? prefix_length : other.prefix_length;
    std::uint32_t m = shorter == 0 ? 0 : ~std::uint32_t{0} << (32 - shorter);
    return (address.value & m) == (other.address.value & m);
  }
  std::string str() const { return network().str() + "/" + std::to_string(prefix_length); }
};

}  // namespace nsrun
