// End-to-end tests of the network plugins (root). Safety: nothing here touches the machine's
// own network namespace. Each test creates a throwaway namespace that plays the host (nsrun runs
// inside it through `ip netns exec`) and a second one that plays the internet, joined by a veth
// pair created directly inside them (`ip -n`), on TEST-NET-2 198.51.100.0/24:
//
//   [container eth0] --veth-- [bridge nsrun0 | host ns: up0 198.51.100.1] --veth-- [inet ns:
//   wan0 198.51.100.2]
//
// Both namespaces are deleted by RAII guards, even when an assertion fails.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "e2e.hpp"
#include "nsrun/network/naming.hpp"

namespace nsrun::test {
namespace {
namespace fs = std::filesystem;
using network::veth_name;

constexpr const char* uplink_host = "198.51.100.1";
constexpr const char* uplink_inet = "198.51.100.2";

std::string joined(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

bool wait_until(const std::function<bool()>& condition, int timeout_ms = 10000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

// A process started in the background (stdout and stderr to a file), killed on destruction.
class Background {
 public:
  explicit Background(const std::vector<std::string>& argv) {
    output_ = unique_name("/tmp/nsrun-net-bg-") + ".log";
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(output_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      ::dup2(null, 0);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::setpgid(0, 0);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Background() {
    if (pid_ > 0 && !done_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    ::unlink(output_.c_str());
  }
  pid_t pid() const { return pid_; }
  void signal(int sig) { ::kill(pid_, sig); }
  /// Waits for the exit; returns the exit code (128+N for a signal).
  int wait() {
    if (done_) return code_;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    done_ = true;
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return code_;
  }
  std::string output() const {
    std::ifstream in(output_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  pid_t pid_ = -1;
  std::string output_;
  bool done_ = false;
  int code_ = -1;
};

// A TCP server inside a named netns that answers each connection with an HTTP response whose
// body is "peer=<source address>": how the fake internet host proves what source it sees.
class PeerEchoServer {
 public:
  PeerEchoServer(const std::string& netns, const std::string& address, int port) {
    int ready[2];
    if (::pipe(ready) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(1);
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(static_cast<uint16_t>(port));
      ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
      if (::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(s, 64) != 0)
        ::_exit(2);
      ssize_t ignored = ::write(ready[1], "r", 1);
      (void)ignored;
      while (true) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        int c = ::accept(s, reinterpret_cast<sockaddr*>(&peer), &len);
        if (c < 0) continue;
        char buffer[2048];
        std::string request;
        while (request.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::read(c, buffer, sizeof buffer);
          if (n <= 0) break;
          request.append(buffer, static_cast<std::size_t>(n));
        }
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
        std::string body = std::string("peer=") + text + "\n";
        std::string response =
            "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        ignored = ::write(c, response.data(), response.size());
        ::close(c);
      }
    }
    ::close(ready[1]);
    char r = 0;
    bool ok = ::read(ready[0], &r, 1) == 1;
    ::close(ready[0]);
    if (!ok) throw std::runtime_error("the peer echo server did not start");
  }
  ~PeerEchoServer() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

// An HTTP GET from inside the named netns (a forked child joins it); the response body, or ""
// when the connection fails. (busybox-static's wget crashes in this image, so no wget.)
std::string http_get(const std::string& netns, const std::string& address, int port) {
  int out[2];
  if (::pipe(out) != 0) return "";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(1);
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{2, 0};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr);
    if (::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) ::_exit(2);
    std::string request = "GET / HTTP/1.0\r\nHost: test\r\n\r\n";
    if (::write(s, request.data(), request.size()) < 0) ::_exit(3);
    std::string response;
    char buffer[4096];
    for (ssize_t n; (n = ::read(s, buffer, sizeof buffer)) > 0;) response.append(buffer, n);
    auto body = response.find("\r\n\r\n");
    if (body == std::string::npos) ::_exit(4);
    std::string text = response.substr(body + 4);
    ssize_t ignored = ::write(out[1], text.data(), text.size());
    (void)ignored;
    ::_exit(0);
  }
  ::close(out[1]);
  std::string body;
  char buffer[4096];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) body.append(buffer, n);
  ::close(out[0]);
  ::waitpid(pid, nullptr, 0);
  return body;
}

// The container-side client: busybox nc sends a bare HTTP request.
std::string nc_get(const std::string& address, int port) {
  return "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 " + address + " " + std::to_string(port);
}

class NetworkE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    host_ = std::make_unique<NetnsGuard>(unique_name("nsrh"));
    inet_ = std::make_unique<NetnsGuard>(unique_name("nsri"));
    state_ = std::make_unique<TempDir>("nsrun-net-state-");
    // Created straight inside the throwaway namespaces: the machine's own one never sees them.
    ASSERT_EQ(
        0,
        sh("ip -n " + host() + " link add up0 type veth peer name wan0 netns " + inet()).exit_code);
    ASSERT_EQ(0, sh("ip -n " + host() + " addr add " + uplink_host + "/24 dev up0").exit_code);
    ASSERT_EQ(0, sh("ip -n " + host() + " link set up0 up").exit_code);
    ASSERT_EQ(0, sh("ip -n " + inet() + " addr add " + uplink_inet + "/24 dev wan0").exit_code);
    ASSERT_EQ(0, sh("ip -n " + inet() + " link set wan0 up").exit_code);
    ASSERT_EQ(0, sh("ip -n " + host() + " route add default via " + uplink_inet).exit_code);
    busybox_rootfs();  // built once, outside the timing of any test
  }

  void TearDown() override {
    if (host_ && !HasFatalFailure() && !IsSkipped()) expect_clean();
    state_.reset();
    inet_.reset();
    host_.reset();
  }

  const std::string& host() const { return host_->name(); }
  const std::string& inet() const { return inet_->name(); }
  const std::string& root() const { return state_->path(); }

  std::vector<std::string> nsrun_argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{nsrun_binary(), "--root",   root(),
                                  "run",          "--rootfs", busybox_rootfs()};
    // The bridge unless a test swaps in another plugin. (The shipped pipeline keeps
    // nsrun.network.none until every e2e suite runs nsrun inside a throwaway namespace.)
    if (std::find(args.begin(), args.end(), "--stage") == args.end())
      argv.insert(argv.end(), {"--stage", "network=nsrun.network.bridge"});
    argv.insert(argv.end(), args.begin(), args.end());
    return host_->exec(argv);
  }
  CommandResult nsrun(const std::vector<std::string>& args, int timeout = 60) const {
    return run(nsrun_argv(args), "", timeout);
  }
  CommandResult in_host(const std::string& command) const {
    return sh("ip netns exec " + host() + " " + command);
  }

  std::string links() const { return sh("ip -n " + host() + " -o link").out; }
  std::string rules() const { return in_host("iptables-legacy-save").out; }
  std::vector<std::string> leases() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root() + "/_ipam/leases", ec))
      out.push_back(entry.path().filename().string());
    return out;
  }
  std::vector<std::string> state_dirs() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root(), ec))
      if (entry.path().filename().string().front() != '_')
        out.push_back(entry.path().filename().string());
    return out;
  }

  CommandResult nsrun_command(const std::string& arguments) const {
    return in_host(nsrun_binary() + " --root " + root() + " " + arguments);
  }

  // Nothing of any container is left in the host namespace: no veth, no container rule, no
  // lease, no state. The networks stay up for the next container until `gc --networks`, after
  // which no bridge, no network rule and no network record is left either.
  void expect_clean() {
    // The host end of a veth goes with the container's network namespace, which the kernel
    // dismantles on its own time after the container's last process: nsrun does not wait.
    std::string l;
    EXPECT_TRUE(wait_until(
        [&] {
          l = links();
          return l.find("nsv") == std::string::npos;
        },
        5000))
        << l;
    std::string r = rules();
    EXPECT_EQ(r.find("nsrun:"), std::string::npos) << r;
    EXPECT_TRUE(leases().empty()) << joined(leases());
    EXPECT_TRUE(state_dirs().empty()) << joined(state_dirs());
    for (const char* sub : {"links", "ports"}) {
      std::error_code ec;
      EXPECT_TRUE(fs::is_empty(root() + "/_ipam/" + sub, ec) || ec) << sub;
    }
    auto gc = nsrun_command("gc --networks");
    EXPECT_EQ(gc.exit_code, 0) << gc.err;
    l = links();
    EXPECT_EQ(l.find("nsrun0"), std::string::npos) << l;
    EXPECT_EQ(l.find("nsrtest"), std::string::npos) << l;
    r = rules();
    EXPECT_EQ(r.find("nsrun-network:"), std::string::npos) << r;
    std::error_code ec;
    EXPECT_TRUE(fs::is_empty(root() + "/_ipam/networks", ec) || ec);
  }

  std::unique_ptr<NetnsGuard> host_, inet_;
  std::unique_ptr<TempDir> state_;
};

// busybox ping needs a raw socket: CAP_NET_RAW is not among the capabilities a container keeps by
// default (podman's eleven), so the tests that ping ask for it, as a user would.
TEST_F(NetworkE2E, BridgeContainerReachesItsGateway) {
  auto result =
      nsrun({"--cap-add", "NET_RAW", "--network", "10.88.0.0/24", "--hostname", "box", "/bin/sh",
             "-c", "ip -4 -o addr show eth0; ip route; cat /etc/hosts; ping -c1 -W3 10.88.0.1"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("inet 10.88.0.2/24"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("default via 10.88.0.1 dev eth0"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("10.88.0.2\tbox"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("1 packets received"), std::string::npos) << result.out;
}

TEST_F(NetworkE2E, NatReachesTheInternetHostWhichSeesTheUplinkAddress) {
  PeerEchoServer server(inet(), uplink_inet, 8080);
  std::string forward_before = in_host("cat /proc/sys/net/ipv4/ip_forward").out;
  auto result = nsrun({"--network", "10.88.0.0/24", "/bin/sh", "-c", nc_get(uplink_inet, 8080)});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  // MASQUERADE: the internet host sees the host's uplink address, not 10.88.0.x.
  EXPECT_NE(result.out.find(std::string("\r\n\r\npeer=") + uplink_host + "\n"), std::string::npos)
      << result.out;
  EXPECT_EQ(in_host("cat /proc/sys/net/ipv4/ip_forward").out, "1\n")
      << "the network, kept up, keeps forwarding on";
  auto gc = nsrun_command("gc --networks");
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_EQ(gc.out, "nsrun0\n");
  EXPECT_EQ(in_host("cat /proc/sys/net/ipv4/ip_forward").out, forward_before)
      << "nsrun restores ip_forward with its last network when it turned it on";
}

TEST_F(NetworkE2E, IpForwardAlreadyOnStaysOn) {
  ASSERT_EQ(0, in_host("sysctl -qw net.ipv4.ip_forward=1").exit_code);
  auto result = nsrun({"--network", "10.88.0.0/24", "/bin/true"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(in_host("cat /proc/sys/net/ipv4/ip_forward").out, "1\n");
}

TEST_F(NetworkE2E, NatOffCreatesNoRuleAndNoWayOut) {
  auto container =
      Background(nsrun_argv({"--cap-add", "NET_RAW", "--network", "10.88.0.0/24", "--nat=false",
                             "/bin/sh", "-c", "ping -c1 -W3 10.88.0.1 && sleep 2"}));
  ASSERT_TRUE(wait_until([&] { return links().find("nsv") != std::string::npos; }));
  EXPECT_EQ(rules().find("nsrun"), std::string::npos) << rules();
  EXPECT_EQ(container.wait(), 0) << container.output();
}

TEST_F(NetworkE2E, PublishedPortAnswersFromTheHostAndFromOutside) {
  auto container = Background(nsrun_argv(
      {"--network", "10.88.0.0/24", "-p", "8080:80", "/bin/sh", "-c",
       "trap 'exit 0' TERM; mkdir -p /tmp/www && echo hello-from-container > /tmp/www/index.html "
       "&& httpd -p 80 -h /tmp/www && while :; do sleep 1; done"}));
  const std::string hello = "hello-from-container\n";
  ASSERT_TRUE(wait_until([&] { return http_get(host(), uplink_host, 8080) == hello; }))
      << container.output();
  EXPECT_EQ(http_get(host(), "127.0.0.1", 8080), hello) << "from the host itself via localhost";
  std::string ruleset = rules();
  EXPECT_NE(ruleset.find("-j DNAT --to-destination 10.88.0.2:80"), std::string::npos) << ruleset;
  EXPECT_EQ(ruleset.find("unsupported"), std::string::npos) << "iptables must read our rules";
  EXPECT_EQ(http_get(inet(), uplink_host, 8080), hello) << "from another host";
  // Another container reaching it through the host's address (hairpin through the bridge).
  auto neighbour = nsrun({"--network", "10.88.0.0/24", "/bin/sh", "-c", nc_get(uplink_host, 8080)});
  EXPECT_EQ(neighbour.exit_code, 0) << neighbour.err;
  EXPECT_NE(neighbour.out.find(hello), std::string::npos) << neighbour.out;
  // A second container cannot publish the same host port.
  auto clash = nsrun({"--network", "10.88.0.0/24", "-p", "8080:81", "/bin/true"});
  EXPECT_EQ(clash.exit_code, 125);
  EXPECT_NE(clash.err.find("already published"), std::string::npos) << clash.err;
  container.signal(SIGTERM);
  EXPECT_EQ(container.wait(), 0) << container.output();
}

TEST_F(NetworkE2E, VethPluginSwappedInWorksAndServesOneContainerPerNetwork) {
  PeerEchoServer server(inet(), uplink_inet, 8080);
  auto first = Background(nsrun_argv(
      {"--cap-add", "NET_RAW", "--stage", "network=nsrun.network.veth", "--network", "10.77.0.0/30",
       "/bin/sh", "-c", "ping -c1 -W3 10.77.0.1 && " + nc_get(uplink_inet, 8080) + " && sleep 3"}));
  ASSERT_TRUE(wait_until([&] { return links().find("nsv") != std::string::npos; }));
  EXPECT_EQ(links().find("nsrun0"), std::string::npos) << "the veth plugin makes no bridge";
  auto second =
      nsrun({"--stage", "network=nsrun.network.veth", "--network", "10.77.0.0/30", "/bin/true"});
  EXPECT_EQ(second.exit_code, 125);
  EXPECT_NE(second.err.find("one container per network"), std::string::npos) << second.err;
  EXPECT_EQ(first.wait(), 0) << first.output();
  EXPECT_NE(first.output().find(std::string("peer=") + uplink_host), std::string::npos)
      << first.output();
}

TEST_F(NetworkE2E, CustomCidrAddressesAndDns) {
  auto result = nsrun({"--cap-add", "NET_RAW", "--network", "172.30.5.0/24", "--host-ip",
                       "172.30.5.254", "--container-ip", "172.30.5.9", "--bridge", "nsrtest0",
                       "--dns", "203.0.113.53", "--hostname", "custom", "/bin/sh", "-c",
                       "ip -4 -o addr show eth0; cat /etc/resolv.conf /etc/hosts; "
                       "ping -c1 -W3 172.30.5.254"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("inet 172.30.5.9/24"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("nameserver 203.0.113.53\n"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("172.30.5.9\tcustom"), std::string::npos) << result.out;
  EXPECT_NE(links().find("nsrtest0"), std::string::npos)
      << "the network stays up for the next container";
  auto removed = nsrun_command("network rm nsrtest0");
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "nsrtest0\n");
  EXPECT_EQ(links().find("nsrtest0"), std::string::npos) << "network rm takes the bridge";
}

TEST_F(NetworkE2E, TwentyConcurrentContainersGetDistinctAddressesAndReachTheGateway) {
  // All twenty must be up at the same time (a finished one frees its address for the next), so
  // each waits for /sync/go after reaching the gateway.
  TempDir sync("nsrun-net-sync-");
  std::vector<std::unique_ptr<Background>> containers;
  for (int i = 0; i < 20; ++i)
    containers.push_back(std::make_unique<Background>(nsrun_argv(
        {"--cap-add", "NET_RAW", "--network", "10.88.0.0/24", "-v", sync.path() + ":/sync",
         "/bin/sh", "-c",
         "ip -4 -o addr show eth0 && ping -c1 -W5 10.88.0.1 >/dev/null && echo reached && "
         "while [ ! -e /sync/go ]; do sleep 0.1; done"})));
  bool all_reached = wait_until(
      [&] {
        for (auto& c : containers)
          if (c->output().find("reached") == std::string::npos) return false;
        return true;
      },
      60000);
  std::ofstream(sync.path() + "/go").put('1');
  EXPECT_TRUE(all_reached);
  std::set<std::string> addresses;
  for (auto& c : containers) {
    EXPECT_EQ(c->wait(), 0) << c->output();
    std::string out = c->output();
    EXPECT_NE(out.find("reached"), std::string::npos) << out;
    auto at = out.find("inet ");
    if (at != std::string::npos) addresses.insert(out.substr(at + 5, out.find('/', at) - at - 5));
  }
  EXPECT_EQ(addresses.size(), 20u) << "addresses were shared";
}

TEST_F(NetworkE2E, SigkillMidRunThenGcLeavesNothing) {
  auto container = Background(nsrun_argv(
      {"--network", "10.88.0.0/24", "-p", "8081:80", "--name", "killed", "/bin/sleep", "60"}));
  // Mid-run: the workload runs (state.json is written then), rules and lease are in place.
  ASSERT_TRUE(wait_until([&] {
    return fs::exists(root() + "/killed/state.json") &&
           rules().find("nsrun:killed") != std::string::npos && !leases().empty();
  })) << container.output();
  container.signal(SIGKILL);
  EXPECT_EQ(container.wait(), 128 + SIGKILL);
  ASSERT_FALSE(state_dirs().empty());
  // The container died with nsrun; everything else is still there until gc.
  wait_until([&] {
    return in_host(nsrun_binary() + " --root " + root() + " gc --dry-run").out == "killed\n";
  });
  auto gc = in_host(nsrun_binary() + " --root " + root() + " gc");
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_EQ(gc.out, "killed\n");
  // expect_clean() in TearDown checks that nothing is left.
}

TEST_F(NetworkE2E, SigkillMidRunThenDeleteForceLeavesNothing) {
  auto container =
      Background(nsrun_argv({"--network", "10.88.0.0/24", "--name", "victim", "/bin/sleep", "60"}));
  ASSERT_TRUE(wait_until([&] {
    return fs::exists(root() + "/victim/state.json") && !leases().empty();
  })) << container.output();
  container.signal(SIGKILL);
  EXPECT_EQ(container.wait(), 128 + SIGKILL);
  auto removed = in_host(nsrun_binary() + " --root " + root() + " delete --force victim");
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
}

// A lost journal (issue 10: delete must finish whichever file of the state is damaged): the
// stage finds the container's lease in the IPAM store and removes its rules and its lease; the
// network stays up. expect_clean() in TearDown checks that nothing else is left.
TEST_F(NetworkE2E, DeleteForceWithoutTheJournalStillRemovesRulesAndLease) {
  auto container = Background(nsrun_argv(
      {"--network", "10.88.0.0/24", "-p", "8083:80", "--name", "lost", "/bin/sleep", "60"}));
  ASSERT_TRUE(wait_until([&] {
    return fs::exists(root() + "/lost/state.json") &&
           rules().find("nsrun:lost") != std::string::npos && !leases().empty();
  })) << container.output();
  container.signal(SIGKILL);
  EXPECT_EQ(container.wait(), 128 + SIGKILL);
  ASSERT_TRUE(fs::remove(root() + "/lost/journal.jsonl"));
  auto removed = in_host(nsrun_binary() + " --root " + root() + " delete --force lost");
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(rules().find("nsrun:lost"), std::string::npos) << rules();
  EXPECT_TRUE(leases().empty()) << joined(leases());
}

// --- the kept network (issue 11) ------------------------------------------------------------

// How many rules carry this comment.
int rules_marked(const std::string& ruleset, const std::string& comment) {
  int count = 0;
  for (auto at = ruleset.find(comment); at != std::string::npos; at = ruleset.find(comment, at + 1))
    ++count;
  return count;
}

TEST_F(NetworkE2E, TwoRunsInARowReuseTheNetworkAndAddNoRuleOfTheirOwn) {
  auto first = nsrun({"--network", "10.88.0.0/24", "/bin/true"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string bridge_before = in_host("cat /sys/class/net/nsrun0/ifindex").out;
  ASSERT_FALSE(bridge_before.empty()) << "the bridge stays after its last container";
  auto second = nsrun({"--cap-add", "NET_RAW", "--network", "10.88.0.0/24", "/bin/sh", "-c",
                       "ping -c1 -W3 10.88.0.1 >/dev/null && echo reached"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(second.out, "reached\n");
  EXPECT_EQ(in_host("cat /sys/class/net/nsrun0/ifindex").out, bridge_before)
      << "the same bridge, not a new one";
  const std::string ruleset = rules();
  EXPECT_EQ(rules_marked(ruleset, "nsrun-network:nsrun0"), 4) << ruleset;
  EXPECT_EQ(rules_marked(ruleset, "-j MASQUERADE"), 1) << "one MASQUERADE per network";
  EXPECT_EQ(ruleset.find("nsrun:"), std::string::npos) << "no port published, no rule of its own";
}

TEST_F(NetworkE2E, NetworkLsShowsItsContainersAndRmOfANetworkInUseIsRefused) {
  TempDir sync("nsrun-net-sync-");
  auto user = Background(
      nsrun_argv({"--network", "10.88.0.0/24", "--name", "user1", "-v", sync.path() + ":/sync",
                  "/bin/sh", "-c", "while [ ! -e /sync/go ]; do sleep 0.1; done"}));
  ASSERT_TRUE(wait_until([&] { return fs::exists(root() + "/user1/state.json"); }))
      << user.output();
  auto ls = nsrun_command("network ls");
  EXPECT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out,
            "NAME     SUBNET         GATEWAY     NAT   CONTAINERS\n"
            "nsrun0   10.88.0.0/24   10.88.0.1   yes   user1\n");
  auto refused = nsrun_command("network rm nsrun0");
  EXPECT_EQ(refused.exit_code, 125);
  EXPECT_EQ(refused.err,
            "nsrun: network rm: network nsrun0: in use by container user1 (stop or delete them "
            "first)\n");
  EXPECT_NE(links().find("nsrun0"), std::string::npos);
  auto unknown = nsrun_command("network rm nosuch0");
  EXPECT_EQ(unknown.exit_code, 125);
  EXPECT_NE(unknown.err.find("no such network"), std::string::npos) << unknown.err;
  std::ofstream(sync.path() + "/go").put('1');
  EXPECT_EQ(user.wait(), 0) << user.output();
  EXPECT_EQ(nsrun_command("network ls -q").out, "nsrun0\n");
  auto removed = nsrun_command("network rm nsrun0");
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(links().find("nsrun0"), std::string::npos);
  EXPECT_EQ(rules().find("nsrun-network:"), std::string::npos) << rules();
  EXPECT_EQ(nsrun_command("network ls -q").out, "");
}

// The host end of a container's veth is named from the container's id. Links of someone else's
// that already carry the first two candidate names make nsrun take the third.
TEST_F(NetworkE2E, LinksAlreadyCarryingTheVethNamesMakeTheContainerTakeTheNextName) {
  for (int attempt : {0, 1})
    ASSERT_EQ(0, in_host("ip link add " + veth_name("clash", attempt) + " type bridge").exit_code);
  TempDir sync("nsrun-net-sync-");
  auto container = Background(
      nsrun_argv({"--network", "10.88.0.0/24", "--name", "clash", "-v", sync.path() + ":/sync",
                  "/bin/sh", "-c", "while [ ! -e /sync/go ]; do sleep 0.1; done"}));
  const std::string third = veth_name("clash", 2);
  EXPECT_TRUE(wait_until([&] { return links().find(third) != std::string::npos; }))
      << links() << container.output();
  EXPECT_TRUE(fs::exists(root() + "/_ipam/links/" + third));
  std::ofstream(sync.path() + "/go").put('1');
  EXPECT_EQ(container.wait(), 0) << container.output();
  for (int attempt : {0, 1})
    EXPECT_EQ(0, in_host("ip link del " + veth_name("clash", attempt)).exit_code);
}

TEST_F(NetworkE2E, GcNetworksRemovesOnlyIdleNetworks) {
  ASSERT_EQ(nsrun({"--network", "10.88.0.0/24", "--bridge", "nsrtest1", "/bin/true"}).exit_code, 0);
  TempDir sync("nsrun-net-sync-");
  auto user = Background(
      nsrun_argv({"--network", "10.89.0.0/24", "--bridge", "nsrtest2", "-v", sync.path() + ":/sync",
                  "/bin/sh", "-c", "while [ ! -e /sync/go ]; do sleep 0.1; done"}));
  ASSERT_TRUE(wait_until([&] { return leases().size() == 1; })) << user.output();
  auto gc = nsrun_command("gc --networks");
  EXPECT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_EQ(gc.out, "nsrtest1\n");
  EXPECT_EQ(links().find("nsrtest1"), std::string::npos);
  EXPECT_NE(links().find("nsrtest2"), std::string::npos) << "in use: kept";
  EXPECT_EQ(rules_marked(rules(), "nsrun-network:nsrtest1"), 0) << rules();
  EXPECT_EQ(rules_marked(rules(), "nsrun-network:nsrtest2"), 4) << rules();
  std::ofstream(sync.path() + "/go").put('1');
  EXPECT_EQ(user.wait(), 0) << user.output();
}

TEST_F(NetworkE2E, AnIdleNetworkIsRemadeForAnotherSubnetOneInUseIsNot) {
  ASSERT_EQ(nsrun({"--network", "10.88.0.0/24", "/bin/true"}).exit_code, 0);
  auto other = nsrun({"--network", "10.66.0.0/24", "/bin/sh", "-c", "ip -4 -o addr show eth0"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_NE(other.out.find("inet 10.66.0.2/24"), std::string::npos) << other.out;
  EXPECT_EQ(rules().find("10.88.0.0/24"), std::string::npos) << "the old subnet's rules went";
  TempDir sync("nsrun-net-sync-");
  auto user =
      Background(nsrun_argv({"--network", "10.66.0.0/24", "-v", sync.path() + ":/sync", "/bin/sh",
                             "-c", "while [ ! -e /sync/go ]; do sleep 0.1; done"}));
  ASSERT_TRUE(wait_until([&] { return leases().size() == 1; })) << user.output();
  auto refused = nsrun({"--network", "10.88.0.0/24", "/bin/true"});
  EXPECT_EQ(refused.exit_code, 125);
  EXPECT_NE(refused.err.find("--bridge nsrun0 already serves 10.66.0.0/24"), std::string::npos)
      << refused.err;
  std::ofstream(sync.path() + "/go").put('1');
  EXPECT_EQ(user.wait(), 0) << user.output();
}

TEST_F(NetworkE2E, ConcurrentFirstRunsMakeExactlyOneNetwork) {
  std::vector<std::unique_ptr<Background>> runs;
  for (int i = 0; i < 8; ++i)
    runs.push_back(
        std::make_unique<Background>(nsrun_argv({"--network", "10.88.0.0/24", "/bin/true"})));
  for (auto& run : runs) EXPECT_EQ(run->wait(), 0) << run->output();
  const std::string ruleset = rules();
  EXPECT_EQ(rules_marked(ruleset, "nsrun-network:nsrun0"), 4) << ruleset;
  // The bridge's own line, ": nsrun0:": the host ends of the containers' veths ("master
  // nsrun0") go with their network namespaces, which the kernel cleans up after the runs exit.
  EXPECT_EQ(rules_marked(links(), ": nsrun0:"), 1) << links();
  EXPECT_EQ(nsrun_command("network ls -q").out, "nsrun0\n");
}

// A bridge an nsrun before kept networks made (it left a marker) is still nsrun's to remove; a
// bridge the administrator made keeps existing when its network goes.
TEST_F(NetworkE2E, ABridgeAnOlderNsrunMadeIsRemovedOneTheAdministratorMadeStays) {
  ASSERT_EQ(0, in_host("ip link add nsrun0 type bridge").exit_code);
  ASSERT_EQ(0, in_host("ip link add nsrtest3 type bridge").exit_code);
  fs::create_directories(root() + "/_ipam/markers");
  std::ofstream(root() + "/_ipam/markers/bridge-nsrun0") << "{\"network\":\"10.88.0.0/24\"}\n";
  ASSERT_EQ(nsrun({"--network", "10.88.0.0/24", "/bin/true"}).exit_code, 0);
  ASSERT_EQ(nsrun({"--network", "10.89.0.0/24", "--bridge", "nsrtest3", "/bin/true"}).exit_code, 0);
  auto removed = nsrun_command("network rm nsrun0 nsrtest3");
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(links().find("nsrun0"), std::string::npos) << links();
  EXPECT_NE(links().find("nsrtest3"), std::string::npos) << "the administrator's bridge stays";
  EXPECT_EQ(rules().find("nsrun-network:"), std::string::npos) << rules();
  EXPECT_FALSE(fs::exists(root() + "/_ipam/markers/bridge-nsrun0"));
  EXPECT_EQ(0, in_host("ip link del nsrtest3").exit_code);
}

TEST_F(NetworkE2E, NetworkCommandsHaveHelpAndBadInputIsOneLine) {
  auto help = nsrun_command("network --help");
  EXPECT_EQ(help.exit_code, 0) << help.err;
  for (const char* command : {"network ls", "network rm NAME...", "network prune"})
    EXPECT_NE(help.out.find(command), std::string::npos) << help.out;
  EXPECT_NE(nsrun_command("help").out.find("network"), std::string::npos);
  for (const char* bad :
       {"network", "network bogus", "network ls --all", "network rm", "network prune now",
        "network --plugin nsrun.storage ls", "gc --dry-run --networks"}) {
    auto result = nsrun_command(bad);
    EXPECT_EQ(result.exit_code, 125) << bad;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1)
        << bad << ": " << result.err;
  }
  // The core names the command once; the plugin's message does not repeat it.
  EXPECT_EQ(nsrun_command("network ls --all").err,
            "nsrun: network ls: unknown argument \"--all\" (usage: nsrun network ls [-q])\n");
  EXPECT_EQ(nsrun_command("network rm").err,
            "nsrun: network rm: no network named (usage: nsrun network rm NAME...)\n");
  EXPECT_EQ(nsrun_command("network prune now").err,
            "nsrun: network prune: takes no argument (to remove one network: nsrun network rm "
            "NAME)\n");
}

TEST_F(NetworkE2E, BadInputIsOneLineExit125AndLeavesNothing) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  std::vector<Case> cases{
      {{"--network", "10.0.0.0/33"}, "--network"},
      {{"--network", "300.1.1.1/24"}, "--network"},
      {{"--network", "10.0.0.0"}, "--network"},
      {{"--network", "fd00::/64"}, "IPv6"},
      {{"--network", "10.0.0.0/24", "--host-ip", "10.0.1.1"}, "--host-ip"},
      {{"--network", "10.0.0.0/24", "--container-ip", "10.0.0.255"}, "--container-ip"},
      {{"--network", "10.0.0.0/24", "--container-ip", "10.0.0.0"}, "--container-ip"},
      {{"--network", "10.0.0.0/24", "--host-ip", "10.0.0.7", "--container-ip", "10.0.0.7"},
       "differ"},
      {{"--network", "10.0.0.0/24", "--bridge", "a-very-long-bridge"}, "at most 15"},
      {{"--network", "10.0.0.0/24", "-p", "0:80"}, "--publish"},
      {{"--network", "10.0.0.0/24", "-p", "65536:80"}, "--publish"},
      {{"--network", "10.0.0.0/24", "-p", "http"}, "--publish"},
      {{"--network", "10.0.0.0/24", "--dns", "nope"}, "--dns"},
      {{"--network", "198.51.100.128/25"}, "overlaps the host route 198.51.100.0/24 dev up0"},
  };
  for (const auto& c : cases) {
    auto args = c.args;
    args.push_back("/bin/true");
    auto result = nsrun(args);
    EXPECT_EQ(result.exit_code, 125) << joined(args) << ": " << result.err;
    EXPECT_NE(result.err.find(c.expected), std::string::npos) << joined(args) << ": " << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_TRUE(state_dirs().empty());
  }
  // An interface of the host's that is no bridge: refused before nsrun records a network for it.
  ASSERT_EQ(0, in_host("ip link add nsrtest4 type veth peer name nsrtest5").exit_code);
  ASSERT_EQ(0, in_host("ip addr add 10.0.0.1/24 dev nsrtest4").exit_code);
  for (const char* network : {"10.0.0.0/24", "10.0.1.0/24"}) {
    auto refused = nsrun({"--network", network, "--bridge", "nsrtest4", "/bin/true"});
    EXPECT_EQ(refused.exit_code, 125) << refused.err;
    EXPECT_EQ(refused.err,
              "nsrun: network: --bridge nsrtest4 is a veth link, not a bridge (name a bridge, or a "
              "new name for nsrun to make one)\n");
  }
  EXPECT_EQ(nsrun_command("network ls -q").out, "");
  EXPECT_TRUE(state_dirs().empty());
  EXPECT_EQ(0, in_host("ip link del nsrtest4").exit_code);
  // An address already leased.
  auto holder = Background(nsrun_argv({"--network", "10.0.0.0/24", "--container-ip", "10.0.0.9",
                                       "/bin/sh", "-c", "trap 'exit 0' TERM; sleep 20 & wait"}));
  ASSERT_TRUE(wait_until([&] { return leases().size() == 1; })) << holder.output();
  auto taken = nsrun({"--network", "10.0.0.0/24", "--container-ip", "10.0.0.9", "/bin/true"});
  EXPECT_EQ(taken.exit_code, 125);
  EXPECT_NE(taken.err.find("already leased"), std::string::npos) << taken.err;
  EXPECT_EQ(std::count(taken.err.begin(), taken.err.end(), '\n'), 1) << taken.err;
  holder.signal(SIGTERM);
  holder.wait();
}

}  // namespace
}  // namespace nsrun::test
