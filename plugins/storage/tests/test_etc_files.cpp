// The generated /etc/hostname and /etc/hosts, and the host resolv.conf a container sharing the
// host's network gets (a network stage provides its own: see resolv_conf_test in the network
// plugin).
#include <gtest/gtest.h>

#include "fake_host_fs.hpp"
#include "nsrun/storage/etc_files.hpp"

namespace nsrun::storage {
namespace {

using testing::TempDir;

TEST(EtcFiles, Hostname) {
  EXPECT_EQ(hostname_file("box"), "box\n");
}

TEST(EtcFiles, Hosts) {
  EXPECT_EQ(hosts_file("box", ""),
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "127.0.1.1\tbox\n");
}

TEST(EtcFiles, HostsWithoutHostname) {
  EXPECT_EQ(hosts_file("", ""),
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n");
}

TEST(EtcFiles, HostsNamesTheContainerByTheNetworksAddress) {
  EXPECT_EQ(hosts_file("web", "10.0.0.5"),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.5\tweb\n");
}

TEST(EtcFiles, TheHostsResolvConfIsReadAsItIs) {
  TempDir dir;
  std::string path = dir.make_file("resolv.conf", "nameserver 127.0.0.53\nsearch lan\n");
  EXPECT_EQ(read_host_resolv_conf(path), "nameserver 127.0.0.53\nsearch lan\n");
  EXPECT_EQ(read_host_resolv_conf(dir.path() + "/missing"), "");
}

}  // namespace
}  // namespace nsrun::storage
