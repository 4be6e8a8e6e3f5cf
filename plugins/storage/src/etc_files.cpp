// The generated /etc files (see etc_files.hpp).
#include "nsrun/storage/etc_files.hpp"

#include "nsrun/support/files.hpp"

namespace nsrun::storage {

std::string hostname_file(std::string_view hostname) {
  return std::string(hostname) + "\n";
}

std::string hosts_file(std::string_view hostname, std::string_view address) {
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (!hostname.empty())
    out +=
        std::string(address.empty() ? "127.0.1.1" : address) + "\t" + std::string(hostname) + "\n";
  return out;
}

std::string read_host_resolv_conf(const std::string& path) {
  return support::read_file(path).value_or("");
}

}  // namespace nsrun::storage
