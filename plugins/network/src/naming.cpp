// Names of host-side links (see naming.hpp).
#include "nsrun/network/naming.hpp"

#include <cstdint>

namespace nsrun::network {

std::string veth_name(std::string_view container_id, int attempt) {
  // FNV-1a, 64 bits: stable across builds and machines (std::hash is not).
  std::uint64_t hash = 0xcbf29ce484222325ull;
  auto mix = [&](std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash ^= c;
      hash *= 0x100000001b3ull;
    }
  };
  mix(container_id);
  if (attempt > 0) mix("#" + std::to_string(attempt));
  static const char hex[] = "0123456789abcdef";
  std::string name = "nsv";
  for (int shift = 44; shift >= 0; shift -= 4) name += hex[(hash >> shift) & 0xf];
  return name;  // 3 + 12 = 15 bytes
}

}  // namespace nsrun::network
