// End to end, as root: bundles with the security fields, checked from inside the container with
// busybox (its /proc/self/status, /proc/self/limits, id, and what /proc lets it read and write).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>

#include "e2e.hpp"
#include "nsrun/security/seccomp.hpp"
#include "nsrun/spec_json.hpp"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;

// The capability mask /proc/<pid>/status shows for these capability numbers.
std::string mask(std::initializer_list<int> caps) {
  unsigned long long bits = 0;
  for (int cap : caps) bits |= 1ULL << cap;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", bits);
  return text;
}

std::string status_caps(const std::string& inh, const std::string& prm, const std::string& eff,
                        const std::string& bnd, const std::string& amb) {
  return "CapInh:\t" + inh + "\nCapPrm:\t" + prm + "\nCapEff:\t" + eff + "\nCapBnd:\t" + bnd +
         "\nCapAmb:\t" + amb + "\n";
}

class SecurityE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    state_ = std::make_unique<TempDir>("nsrun-e2e-security-state-");
    bundle_ = std::make_unique<TempDir>("nsrun-e2e-security-bundle-");
  }
  void TearDown() override {
    if (!state_) return;
    std::vector<std::string> left;
    for (const auto& entry : fs::directory_iterator(state_->path()))
      if (entry.path().filename().string().front() != '_') left.push_back(entry.path().filename());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
  }
  // Runs `script` with sh in a bundle whose process gets `process_fields` and linux section
  // `linux_fields` (JSON members, each with a trailing comma), with only a loopback network.
  CommandResult run_bundle(const std::string& script, const std::string& process_fields,
                           const std::string& linux_fields) {
    write_config(R"({
      "ociVersion": "1.0.2",
      "process": {)" +
                 process_fields + R"( "args": ["sh", "-c", ")" + script + R"("],
                  "env": ["PATH=/bin:/sbin:/usr/bin"], "cwd": "/"},
      "root": {"path": ")" +
                 busybox_rootfs() +
                 R"("},
      "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
      "linux": {)" +
                 linux_fields +
                 R"( "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                {"type": "ipc"}, {"type": "network"}]}
    })");
    return test::run({nsrun_binary(), "--root", state_->path(), "run", "--network", "none",
                      "--bundle", bundle_->path()});
  }
  void write_config(const std::string& text) {
    std::ofstream(bundle_->path() + "/config.json") << text;
  }
  std::unique_ptr<TempDir> state_, bundle_;
};

// Docker's default capability set, which containerd and podman send.
constexpr const char* default_caps =
    R"(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"])";

TEST_F(SecurityE2E, RootContainerGetsTheBundlesPrivilegesPathsAndSysctls) {
  std::string caps = default_caps;
  auto r = run_bundle(
      "grep Cap /proc/self/status; grep NoNewPrivs /proc/self/status; "
      "grep 'Max open files' /proc/self/limits; id -u; id -G; umask; "
      "cat /proc/self/oom_score_adj; "
      "cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward; "
      "echo kallsyms $(cat /proc/kallsyms | wc -c); echo acpi $(ls -A /proc/acpi | wc -l); "
      "echo kcore $(cat /proc/kcore 2>/dev/null | wc -c); "
      "echo 1 > /proc/sys/kernel/shm_rmid_forced || echo refused",
      R"("capabilities": {"bounding": )" + caps + R"(, "effective": )" + caps +
          R"(, "permitted": )" + caps +
          R"(, "inheritable": ["CAP_KILL"]},
         "noNewPrivileges": true, "oomScoreAdj": 300,
         "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}],
         "user": {"uid": 0, "gid": 0, "additionalGids": [10, 20], "umask": 23},)",
      R"("maskedPaths": ["/proc/kcore", "/proc/kallsyms", "/proc/acpi", "/proc/not-here"],
         "readonlyPaths": ["/proc/sys", "/proc/not-here-either"],
         "sysctl": {"kernel.shmmax": "4096000", "net.ipv4.ip_forward": "1"},)");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // CAP_CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4, KILL 5, SETGID 6, SETUID 7, SETPCAP 8,
  // NET_BIND_SERVICE 10, NET_RAW 13, SYS_CHROOT 18, MKNOD 27, AUDIT_WRITE 29, SETFCAP 31.
  // Root's execve makes permitted and effective the bounding set (capabilities(7)).
  std::string defaults = mask({0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31});
  std::string expected = status_caps(mask({5}), defaults, defaults, defaults, mask({})) +
                         "NoNewPrivs:\t1\n"
                         "Max open files            1024                 4096                 "
                         "files     \n"
                         "0\n0 10 20\n0027\n300\n4096000\n1\n"
                         "kallsyms 0\n";
  if (fs::exists("/proc/acpi")) expected += "acpi 0\n";
  EXPECT_EQ(r.out.substr(0, expected.size()), expected) << r.out << r.err;
  EXPECT_NE(r.out.find("kcore 0\n"), std::string::npos) << "masked, or absent on this host";
  EXPECT_NE(r.out.find("refused\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("Read-only file system"), std::string::npos) << r.err;
}

TEST_F(SecurityE2E, UnprivilegedUserKeepsOnlyItsAmbientCapabilities) {
  auto r = run_bundle(
      "grep Cap /proc/self/status; grep NoNewPrivs /proc/self/status; id -u; id -g; id -G; "
      "echo 1 > /proc/sys/kernel/shm_rmid_forced || echo refused",
      R"("capabilities": {"bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                          "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                          "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                          "inheritable": ["CAP_NET_BIND_SERVICE"],
                          "ambient": ["CAP_NET_BIND_SERVICE"]},
         "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]},)",
      R"("readonlyPaths": ["/proc/sys"],)");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Across execve a non-root process keeps its ambient set as permitted and effective.
  std::string nbs = mask({10});
  EXPECT_EQ(r.out, status_caps(nbs, nbs, nbs, mask({0, 5, 10}), nbs) +
                       "NoNewPrivs:\t0\n1000\n1000\n1000 10 20\nrefused\n")
      << r.err;
}

TEST_F(SecurityE2E, ARlimitAboveWhatTheKernelAllowsIsAClearError) {
  // Above fs.nr_open, which no capability lifts: refused on any host.
  std::ifstream nr_open_file("/proc/sys/fs/nr_open");
  unsigned long long nr_open = 0;
  nr_open_file >> nr_open;
  std::string limit = std::to_string(nr_open + 1);
  auto r = run_bundle(
      "echo ran",
      R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": )" + limit + R"(, "hard": )" + limit + "}],",
      "");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("nsrun: security: process.rlimits: cannot set RLIMIT_NOFILE to soft " +
                       limit + ", hard " + limit + ": Operation not permitted"),
            std::string::npos)
      << r.err;
}

TEST_F(SecurityE2E, InvalidFieldsAreRefusedBeforeAnythingRuns) {
  auto r = run_bundle("echo ran", R"("capabilities": {"bounding": ["CAP_FOO"]},)", "");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("nsrun: security: process.capabilities.bounding: unknown capability "
                       "\"CAP_FOO\" (see capabilities(7))"),
            std::string::npos)
      << r.err;

  r = run_bundle("echo ran", "", R"("sysctl": {"kernel.core_pattern": "core"},)");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("linux.sysctl: \"kernel.core_pattern\" is not namespaced"),
            std::string::npos)
      << r.err;
}

TEST_F(SecurityE2E, WithoutTheFieldsTheProcessKeepsNsrunsCapabilities) {
  auto r = run_bundle("grep CapBnd /proc/self/status; grep NoNewPrivs /proc/self/status", "", "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::ifstream status("/proc/self/status");
  std::string line, bounding;
  while (std::getline(status, line))
    if (line.starts_with("CapBnd:")) bounding = line;
  EXPECT_EQ(r.out, bounding + "\nNoNewPrivs:\t0\n");
}

// ---- linux.seccomp ----

// The linux section member for a seccomp profile, written from the model as config.json has it.
std::string seccomp_member(const SeccompSpec& profile) {
  ContainerSpec spec;
  spec.seccomp = profile;
  auto document = spec_to_json(spec);
  return "\"seccomp\": " + boost::json::serialize(document.at("linux").at("seccomp")) + ",";
}

TEST_F(SecurityE2E, SeccompErrnoRetRefusesTheSyscallWithThatErrno) {
  auto r =
      run_bundle("grep Seccomp /proc/self/status; mkdir /tmp/x || echo mkdir refused; ls -d /tmp/x",
                 R"("noNewPrivileges": true,)",
                 R"("seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                     "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                                   "errnoRet": 1}]},)");
  EXPECT_EQ(r.exit_code, 1) << r.err;  // ls finds nothing
  EXPECT_EQ(r.out, "Seccomp:\t2\nSeccomp_filters:\t1\nmkdir refused\n");
  EXPECT_NE(r.err.find("mkdir: can't create directory '/tmp/x': Operation not permitted"),
            std::string::npos)
      << r.err;
}

TEST_F(SecurityE2E, SeccompLogAndArgumentFiltersWork) {
  // socket(AF_INET, ...) gets EAFNOSUPPORT; AF_UNIX and the rest go through. Without
  // noNewPrivileges the filter is loaded while nsrun still has CAP_SYS_ADMIN.
  auto r = run_bundle(
      "nc 127.0.0.1 1 </dev/null || echo inet refused; "
      "nc local:/nonexistent </dev/null 2>/dev/null || echo unix tried; echo done",
      "",
      R"("seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                     "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                     "syscalls": [{"names": ["getppid", "uname"], "action": "SCMP_ACT_LOG"},
                                  {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
                                   "errnoRet": 97,
                                   "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]},)");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "inet refused\nunix tried\ndone\n");
  EXPECT_NE(r.err.find("Address family not supported by protocol"), std::string::npos) << r.err;
}

TEST_F(SecurityE2E, TheDefaultProfileRefusesWhatCapabilitiesAloneWouldAllow) {
  // No process.capabilities: every capability is kept, so what fails here is the filter's doing.
  auto r = run_bundle(
      "grep Seccomp /proc/self/status; "
      "mount -t tmpfs x /mnt 2>/dev/null || echo mount refused; "
      "unshare -m true 2>/dev/null || echo unshare refused; "
      "linux32 uname -m; ls / >/dev/null && echo ls ran",
      "", seccomp_member(security::default_seccomp_profile()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "Seccomp:\t2\nSeccomp_filters:\t1\nmount refused\nunshare refused\ni686\nls ran\n")
      << r.err;

  r = run_bundle("mount -t tmpfs x /mnt; unshare -m true", "",
                 seccomp_member(security::default_seccomp_profile()));
  EXPECT_NE(r.err.find("mount: permission denied"), std::string::npos) << r.err;  // EPERM
  EXPECT_NE(r.err.find("unshare: unshare(0x20000): Operation not permitted"), std::string::npos)
      << r.err;

  // The same without the filter: the capabilities allow both.
  r = run_bundle("mount -t tmpfs x /mnt && unshare -m true && echo allowed", "", "");
  EXPECT_EQ(r.out, "allowed\n") << r.err;
}

TEST_F(SecurityE2E, AnInvalidSeccompProfileIsRefusedBeforeAnythingRuns) {
  auto r = run_bundle("echo ran", "",
                      R"("seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                                     "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_FOO"}]},)");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "nsrun: security: linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_FOO\" "
            "(use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, "
            "SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG)\n");

  r = run_bundle("echo ran", "", R"("seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                                                "architectures": ["x86_64"]},)");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("linux.seccomp.architectures[0]: unknown architecture \"x86_64\""),
            std::string::npos)
      << r.err;

  r = run_bundle("echo ran", "", R"("seccomp": {"defaultAction": 7},)");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err, "nsrun: config.json: linux.seccomp.defaultAction must be a string\n");
}

}  // namespace
}  // namespace nsrun::test
