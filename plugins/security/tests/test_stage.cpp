// start_container against a recording fake host: the exact calls, in the kernel's order.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "fake_host.hpp"
#include "nsrun/security/security_stage.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::security {
namespace {

struct SecurityStageTest : ::testing::Test {
  testing::StageHarness h;
  test::FakeHost* host = nullptr;
  std::unique_ptr<SecurityStage> stage;

  void SetUp() override {
    auto fake = std::make_unique<test::FakeHost>();
    host = fake.get();
    host->last_cap = 12;  // a short bounding set keeps the expected calls readable
    stage = std::make_unique<SecurityStage>(std::move(fake));
    // The session keyring every container process joins first has tests of its own (Keyring).
    h.flags["no-new-keyring"] = true;
    h.spec.process.args = {"sh"};
    h.spec.namespaces = {{"pid", ""}, {"mount", ""}, {"ipc", ""}, {"network", ""}};
  }
  // validate then start_container, as the core runs them; the calls of start_container.
  std::vector<std::string> run() {
    h.run(*stage, Phase::validate);
    EXPECT_TRUE(host->calls.empty()) << "validate acted on the host";
    h.run(*stage, Phase::start_container);
    return host->calls;
  }
  std::string start_error() {
    h.run(*stage, Phase::validate);
    try {
      h.run(*stage, Phase::start_container);
    } catch (const StageError& e) {
      return e.what();
    }
    return "";
  }
  // exec_prepare then exec_container on one object, as `nsrun exec` runs them; the calls of
  // exec_container.
  std::vector<std::string> run_exec() {
    h.run(*stage, Phase::exec_prepare);
    EXPECT_TRUE(host->calls.empty()) << "exec_prepare acted on the host";
    h.run(*stage, Phase::exec_container);
    return host->calls;
  }
  std::string exec_error() {
    try {
      run_exec();
    } catch (const StageError& e) {
      return e.what();
    }
    return "";
  }
  // Every field, the container's and the process's, with paths the fake reports as present.
  void set_every_field() {
    auto& p = h.spec.process;
    // CAP_CHOWN 0, CAP_KILL 5, CAP_NET_BIND_SERVICE 10.
    p.capabilities = CapabilitiesSpec{{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
                                      {"CAP_KILL", "CAP_NET_BIND_SERVICE"},
                                      {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
                                      {"CAP_NET_BIND_SERVICE"},
                                      {"CAP_NET_BIND_SERVICE"}};
    p.no_new_privileges = true;
    p.rlimits = {{"RLIMIT_NOFILE", 1024, 4096}};
    p.user = UserSpec{1000, 1000, 022, {10, 20}};
    p.oom_score_adj = 500;
    h.spec.masked_paths = {"/proc/kcore", "/proc/acpi"};
    h.spec.readonly_paths = {"/proc/sys"};
    h.spec.sysctl = {{"net.ipv4.ip_forward", "1"}};
    host->kinds = {{"/proc/kcore", PathKind::file},
                   {"/proc/acpi", PathKind::directory},
                   {"/proc/sys", PathKind::directory}};
  }
  // What start_container does for the process after the container-level part, for
  // set_every_field's spec.
  static std::vector<std::string> every_process_call() {
    std::vector<std::string> expected = {
        "rlimit " + std::to_string(RLIMIT_NOFILE) + " 1024 4096",
        "write /proc/self/oom_score_adj 500",
    };
    for (auto& drop : drops_except({0, 5, 10}, 12)) expected.push_back(drop);
    for (const char* line :
         {"keepcaps", "setgroups 10 20", "setresgid 1000", "setresuid 1000", "umask 18",
          "capset e=5,10 p=0,5,10 i=10", "ambient-reset", "ambient-raise 10", "no-new-privs"})
      expected.push_back(line);
    return expected;
  }
  static std::vector<std::string> drops_except(std::vector<int> kept, int last) {
    std::vector<std::string> out;
    for (int cap = 0; cap <= last; ++cap)
      if (std::find(kept.begin(), kept.end(), cap) == kept.end())
        out.push_back("drop-bound " + std::to_string(cap));
    return out;
  }
};

TEST_F(SecurityStageTest, AppliesEveryFieldInTheKernelsOrder) {
  auto& p = h.spec.process;
  // CAP_CHOWN 0, CAP_KILL 5, CAP_NET_BIND_SERVICE 10.
  p.capabilities = CapabilitiesSpec{{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
                                    {"CAP_KILL", "CAP_NET_BIND_SERVICE"},
                                    {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
                                    {"CAP_NET_BIND_SERVICE"},
                                    {"CAP_NET_BIND_SERVICE"}};
  p.no_new_privileges = true;
  p.rlimits = {{"RLIMIT_NOFILE", 1024, 4096}};
  p.user = UserSpec{1000, 1000, 022, {10, 20}};
  p.oom_score_adj = 500;
  h.spec.masked_paths = {"/proc/kcore", "/proc/acpi", "/proc/not-here"};
  h.spec.readonly_paths = {"/proc/sys", "/proc/gone"};
  h.spec.sysctl = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "4096"}};
  host->kinds = {{"/proc/kcore", PathKind::file},
                 {"/proc/acpi", PathKind::directory},
                 {"/proc/sys", PathKind::directory}};

  std::vector<std::string> expected = {
      "write /proc/sys/kernel/shmmax 4096",
      "write /proc/sys/net/ipv4/ip_forward 1",
      "bind /dev/null /proc/kcore",
      "tmpfs-ro /proc/acpi",
      "rbind /proc/sys /proc/sys",
      "readonly /proc/sys",
      "rlimit " + std::to_string(RLIMIT_NOFILE) + " 1024 4096",
      "write /proc/self/oom_score_adj 500",
  };
  for (auto& drop : drops_except({0, 5, 10}, 12)) expected.push_back(drop);
  for (const char* line :
       {"keepcaps", "setgroups 10 20", "setresgid 1000", "setresuid 1000", "umask 18",
        "capset e=5,10 p=0,5,10 i=10", "ambient-reset", "ambient-raise 10", "no-new-privs"})
    expected.push_back(line);
  EXPECT_EQ(run(), expected);
  EXPECT_TRUE(h.log.contains("/proc/not-here does not exist here; skipped"));
  EXPECT_TRUE(h.log.contains("/proc/gone does not exist here; skipped"));
}

TEST_F(SecurityStageTest, AnAbsentFieldLeavesTheProcessAsItIs) {
  EXPECT_TRUE(run().empty());
}

TEST_F(SecurityStageTest, AUserWithoutCapabilitiesSwitchesWithoutKeepingThem) {
  h.spec.process.user = UserSpec{1000, 100, std::nullopt, {}};
  EXPECT_EQ(run(), (std::vector<std::string>{"setgroups", "setresgid 100", "setresuid 1000"}));
}

TEST_F(SecurityStageTest, EmptyCapabilitySetsDropEverything) {
  h.spec.process.capabilities = CapabilitiesSpec{};
  auto expected = drops_except({}, 12);
  for (const char* line : {"keepcaps", "capset e= p= i=", "ambient-reset"})
    expected.push_back(line);
  EXPECT_EQ(run(), expected);
}

TEST_F(SecurityStageTest, NoNewPrivilegesAlone) {
  h.spec.process.no_new_privileges = true;
  EXPECT_EQ(run(), (std::vector<std::string>{"no-new-privs"}));
}

TEST_F(SecurityStageTest, ARlimitTheKernelRefusesNamesTheLimit) {
  h.spec.process.rlimits = {{"RLIMIT_NOFILE", 1048577, 1048577}};
  h.spec.process.no_new_privileges = true;
  host->failures = {{"rlimit", EPERM}};
  EXPECT_EQ(start_error(),
            "process.rlimits: cannot set RLIMIT_NOFILE to soft 1048577, hard 1048577: Operation "
            "not permitted (raising a hard limit above the current one needs CAP_SYS_RESOURCE, "
            "and RLIMIT_NOFILE cannot exceed fs.nr_open; lower the limit)");
  EXPECT_EQ(host->calls.back(), "rlimit " + std::to_string(RLIMIT_NOFILE) + " 1048577 1048577")
      << "nothing after a failure";
}

TEST_F(SecurityStageTest, FailuresNameTheFieldAndWhat) {
  h.spec.sysctl = {{"net.ipv4.no_such", "1"}};
  host->failures = {{"write /proc/sys", ENOENT}};
  EXPECT_EQ(start_error(),
            "linux.sysctl: cannot set net.ipv4.no_such to \"1\" (/proc/sys/net/ipv4/no_such): No "
            "such file or directory (this kernel has no such sysctl; remove it)");

  h.spec.sysctl.clear();
  h.spec.masked_paths = {"/proc/kcore"};
  host->kinds = {{"/proc/kcore", PathKind::file}};
  host->failures = {{"bind /dev/null", ENOENT}};
  EXPECT_EQ(start_error(),
            "linux.maskedPaths: cannot mask /proc/kcore: No such file or directory (the "
            "container has no /dev/null to mask it with)");

  h.spec.masked_paths.clear();
  h.spec.process.user = UserSpec{1000, 1000, std::nullopt, {}};
  host->failures = {{"setresuid", EAGAIN}};
  EXPECT_EQ(start_error(),
            "process.user.uid: cannot switch to user 1000: Resource temporarily unavailable");

  h.spec.process.user.reset();
  h.spec.process.capabilities = CapabilitiesSpec{{"CAP_KILL"}, {}, {"CAP_KILL"}, {}, {}};
  host->failures = {{"capset", EPERM}};
  EXPECT_EQ(start_error(),
            "process.capabilities: cannot set the effective, permitted and inheritable sets: "
            "Operation not permitted (nsrun itself lacks one of the permitted capabilities)");
}

// `nsrun exec`: the new process gets the process-level calls of start_container, in its order,
// and not one call for the container's sysctls, masked or read-only paths.
TEST_F(SecurityStageTest, ExecConfinesTheProcessOnlyInStartContainersOrder) {
  set_every_field();
  auto calls = run_exec();
  EXPECT_EQ(calls, every_process_call());
  for (const auto& call : calls)
    for (const char* container_level : {"write /proc/sys", "bind", "rbind", "tmpfs-ro", "readonly"})
      EXPECT_FALSE(call.starts_with(container_level)) << call;
}

TEST_F(SecurityStageTest, ExecDoesWhatStartContainerDoesAfterTheContainerLevelPart) {
  set_every_field();
  auto start_calls = run();
  std::vector<std::string> process_part(start_calls.begin() + 5, start_calls.end());
  ASSERT_EQ(start_calls[4], "readonly /proc/sys");  // the container-level part ends here

  auto fake = std::make_unique<test::FakeHost>();
  host = fake.get();
  host->last_cap = 12;
  host->kinds = {{"/proc/kcore", PathKind::file},
                 {"/proc/acpi", PathKind::directory},
                 {"/proc/sys", PathKind::directory}};
  stage = std::make_unique<SecurityStage>(std::move(fake));
  EXPECT_EQ(run_exec(), process_part);
}

TEST_F(SecurityStageTest, ExecOfAnUnconfinedProcessDoesNothing) {
  h.spec.masked_paths = {"/proc/kcore"};
  h.spec.sysctl = {{"net.ipv4.ip_forward", "1"}};
  host->kinds = {{"/proc/kcore", PathKind::file}};
  EXPECT_TRUE(run_exec().empty());
}

TEST_F(SecurityStageTest, ExecLeavesTheContainersFieldsToTheContainer) {
  // The container's fields are not the exec'd process's to check: the container started with
  // them (here they would be refused: no uts namespace, a relative path), and they hold.
  h.spec.sysctl = {{"kernel.domainname", "x"}};
  h.spec.readonly_paths = {"proc/sys"};
  h.spec.process.no_new_privileges = true;
  EXPECT_EQ(run_exec(), (std::vector<std::string>{"no-new-privs"}));
}

TEST_F(SecurityStageTest, ExecContainerOnAFreshObjectStillConfines) {
  // Should a core not carry exec_prepare's object into the process, the plan is made again.
  set_every_field();
  h.run(*stage, Phase::exec_container);
  EXPECT_EQ(host->calls, every_process_call());
}

TEST_F(SecurityStageTest, ExecAppliesThePlanOfExecPrepare) {
  h.spec.process.no_new_privileges = true;
  h.run(*stage, Phase::exec_prepare);
  h.spec.process.no_new_privileges = false;  // only prepare may change the spec; exec_prepare
  h.run(*stage, Phase::exec_container);      // checked what is applied
  EXPECT_EQ(host->calls, (std::vector<std::string>{"no-new-privs"}));
}

TEST_F(SecurityStageTest, ExecFailuresNameTheFieldAsStartContainersDo) {
  h.spec.process.rlimits = {{"RLIMIT_NOFILE", 1048577, 1048577}};
  h.spec.process.no_new_privileges = true;
  host->failures = {{"rlimit", EPERM}};
  EXPECT_EQ(exec_error(),
            "process.rlimits: cannot set RLIMIT_NOFILE to soft 1048577, hard 1048577: Operation "
            "not permitted (raising a hard limit above the current one needs CAP_SYS_RESOURCE, "
            "and RLIMIT_NOFILE cannot exceed fs.nr_open; lower the limit)");
  EXPECT_EQ(host->calls.back(), "rlimit " + std::to_string(RLIMIT_NOFILE) + " 1048577 1048577")
      << "nothing after a failure";
}

TEST_F(SecurityStageTest, ExecPrepareRefusesABadProcessBeforeAnythingIsDone) {
  h.spec.process.user = UserSpec{1000, 1000, 512, {}};
  try {
    h.run(*stage, Phase::exec_prepare);
    ADD_FAILURE() << "a bad umask was accepted";
  } catch (const StageError& e) {
    EXPECT_STREQ(e.what(),
                 "process.user.umask: 512 is not a umask (use 0 to 511, i.e. octal 0 to 0777; 18 "
                 "is 022)");
  }
  EXPECT_TRUE(host->calls.empty());
}

// runc's default: each container process joins a session keyring of its own, first of all, so
// the caller's session keys are not the container's; --no-new-keyring keeps the caller's.
TEST_F(SecurityStageTest, KeyringEveryContainerProcessJoinsANewSessionKeyringFirst) {
  h.flags.erase("no-new-keyring");
  h.spec.process.no_new_privileges = true;
  h.container_id = "web1";
  EXPECT_EQ(run(), (std::vector<std::string>{"keyring _ses.nsrun.web1", "no-new-privs"}));
  host->calls.clear();
  EXPECT_EQ(run_exec(), (std::vector<std::string>{"keyring _ses.nsrun.web1", "no-new-privs"}));
}

TEST_F(SecurityStageTest, KeyringAKernelWithoutKeyringsIsNotAnError) {
  h.flags.erase("no-new-keyring");
  host->failures = {{"keyring", ENOSYS}};
  EXPECT_EQ(start_error(), "");
  host->failures = {{"keyring", EDQUOT}};
  EXPECT_EQ(start_error(),
            "cannot join a new session keyring _ses.nsrun.test: Disk quota exceeded (or run with "
            "--no-new-keyring)");
}

// A spec from `nsrun run FLAGS CMD`: prepare writes docker's defaults into it.
TEST_F(SecurityStageTest, AFlagBuiltSpecGetsTheDefaultsInPrepare) {
  h.spec_source = SpecSource::flags;
  host->last_cap = 40;
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  ASSERT_TRUE(h.spec.process.capabilities);
  const std::vector<std::string> eleven = {
      "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FOWNER",  "CAP_FSETID",           "CAP_KILL",
      "CAP_SETGID", "CAP_SETUID",       "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_SETFCAP"};  // in capability-number order
  EXPECT_EQ(h.spec.process.capabilities->bounding, eleven);
  EXPECT_EQ(h.spec.process.capabilities->effective, eleven);
  EXPECT_EQ(h.spec.process.capabilities->permitted, eleven);
  EXPECT_TRUE(h.spec.process.capabilities->inheritable.empty());
  EXPECT_TRUE(h.spec.process.capabilities->ambient.empty());
  EXPECT_TRUE(h.spec.process.no_new_privileges);
  EXPECT_EQ(h.spec.masked_paths, default_masked_paths());
  EXPECT_EQ(h.spec.readonly_paths, default_readonly_paths());
  EXPECT_TRUE(host->calls.empty()) << "prepare acted on the host";
  // The default profile, named rather than written out (466 rules in every phase's spec).
  EXPECT_FALSE(h.spec.seccomp);
  EXPECT_EQ(h.spec.annotations.at("org.nsrun.security.seccomp"), "default");
  // What the container process loads: validate compiled it.
  h.run(*stage, Phase::start_container);
  ASSERT_FALSE(host->calls.empty());
  EXPECT_TRUE(host->calls.back().starts_with("seccomp-bpf ")) << host->calls.back();
  // A process that joins it (nsrun exec) gets the same filter from the annotation.
  host->calls.clear();
  h.run(*stage, Phase::exec_prepare);
  h.run(*stage, Phase::exec_container);
  ASSERT_FALSE(host->calls.empty());
  EXPECT_TRUE(host->calls.back().starts_with("seccomp-bpf ")) << host->calls.back();
}

TEST_F(SecurityStageTest, ABundleIsAppliedAsWritten) {
  h.spec_source = SpecSource::bundle;
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  EXPECT_FALSE(h.spec.process.capabilities);
  EXPECT_FALSE(h.spec.process.no_new_privileges);
  EXPECT_TRUE(h.spec.masked_paths.empty());
  EXPECT_FALSE(h.spec.seccomp);
}

TEST_F(SecurityStageTest, ABundleRefusesTheRunFlags) {
  h.spec_source = SpecSource::bundle;
  h.flags["cap-add"] = boost::json::array{"NET_ADMIN"};
  try {
    h.run(*stage, Phase::validate);
    ADD_FAILURE() << "--cap-add was accepted with a bundle";
  } catch (const StageError& e) {
    EXPECT_NE(std::string(e.what()).find("a bundle's config.json decides them"), std::string::npos)
        << e.what();
  }
}

TEST_F(SecurityStageTest, FlagsChangeTheDefaults) {
  h.spec_source = SpecSource::flags;
  h.flags["cap-drop"] = boost::json::array{"ALL"};
  h.flags["cap-add"] = boost::json::array{"net_raw", "CAP_KILL"};
  host->last_cap = 40;
  h.flags["security-opt"] = boost::json::array{"no-new-privileges=false"};
  h.flags["user"] = "1000:100";
  h.flags["ulimit"] = boost::json::array{"nofile=100:200", "core=0"};
  h.flags["oom-score-adj"] = "300";
  h.flags["sysctl"] = boost::json::array{"net.ipv4.ip_forward=1"};
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  EXPECT_EQ(h.spec.process.capabilities->bounding,
            (std::vector<std::string>{"CAP_KILL", "CAP_NET_RAW"}));
  EXPECT_FALSE(h.spec.process.no_new_privileges);
  ASSERT_TRUE(h.spec.process.user);
  EXPECT_EQ(h.spec.process.user->uid, 1000);
  EXPECT_EQ(h.spec.process.user->gid, 100);
  ASSERT_EQ(h.spec.process.rlimits.size(), 2u);
  EXPECT_EQ(h.spec.process.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(h.spec.process.rlimits[0].soft, 100u);
  EXPECT_EQ(h.spec.process.rlimits[0].hard, 200u);
  EXPECT_EQ(h.spec.process.rlimits[1].hard, 0u);
  EXPECT_EQ(h.spec.process.oom_score_adj, 300);
  EXPECT_EQ(h.spec.sysctl.at("net.ipv4.ip_forward"), "1");
}

TEST_F(SecurityStageTest, PrivilegedKeepsEveryCapabilityAndDropsTheMasks) {
  h.spec_source = SpecSource::flags;
  h.flags["privileged"] = true;
  h.flags["cap-drop"] = boost::json::array{"SYS_ADMIN"};
  host->last_cap = 40;
  host->not_held = {24};  // a machine that withholds CAP_SYS_RESOURCE from root
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  auto& bounding = h.spec.process.capabilities->bounding;
  EXPECT_EQ(bounding.size(), 39u) << "41 known, less SYS_ADMIN, less one nsrun lacks";
  EXPECT_EQ(std::count(bounding.begin(), bounding.end(), "CAP_SYS_RESOURCE"), 0);
  EXPECT_TRUE(h.spec.masked_paths.empty());
  EXPECT_TRUE(h.spec.readonly_paths.empty());
  EXPECT_FALSE(h.spec.seccomp);
  EXPECT_FALSE(h.spec.annotations.contains("org.nsrun.security.seccomp"));
  EXPECT_TRUE(h.spec.process.no_new_privileges) << "as docker, --privileged keeps it";
}

TEST_F(SecurityStageTest, BadFlagsAreOneLineNamingTheFlag) {
  h.spec_source = SpecSource::flags;
  auto refusal = [&](const char* flag, boost::json::value value) {
    h.flags = {{flag, value}};
    try {
      h.run(*stage, Phase::validate);
    } catch (const StageError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal("cap-add", boost::json::array{"FLY"}),
            "--cap-add \"FLY\" is not a capability (e.g. NET_ADMIN or CAP_NET_ADMIN, or ALL; see "
            "capabilities(7))");
  EXPECT_EQ(refusal("cap-add", boost::json::array{"CAP_BPF"}),
            "--cap-add \"CAP_BPF\": this kernel does not know CAP_BPF (its last capability is "
            "CAP_NET_ADMIN)");
  EXPECT_EQ(refusal("user", "bob"),
            "--user \"bob\" is not UID[:GID] (numbers from 0 to 4294967294, e.g. 1000:1000; "
            "names are not looked up in the rootfs)");
  EXPECT_EQ(refusal("ulimit", boost::json::array{"nofile=10:5"}),
            "--ulimit \"nofile=10:5\": the soft limit is above the hard limit (lower SOFT or "
            "raise HARD)");
  EXPECT_EQ(refusal("ulimit", boost::json::array{"files=1"}).substr(0, 41),
            "--ulimit \"files=1\": unknown limit \"files\"");
  EXPECT_EQ(refusal("oom-score-adj", "1001"),
            "--oom-score-adj \"1001\" is not a number from -1000 to 1000");
  EXPECT_EQ(refusal("security-opt", boost::json::array{"apparmor=x"}),
            "--security-opt \"apparmor=x\": nsrun applies no AppArmor or SELinux profile "
            "(remove it)");
  EXPECT_EQ(refusal("security-opt", boost::json::array{"no-new-privileges=maybe"}),
            "--security-opt \"no-new-privileges=maybe\": no-new-privileges takes true or false");
  EXPECT_NE(refusal("sysctl", boost::json::array{"kernel.core_pattern=|/x"})
                .find("--sysctl \"kernel.core_pattern=|/x\": linux.sysctl: \"kernel.core_pattern\" "
                      "is not namespaced"),
            std::string::npos);
  EXPECT_TRUE(host->calls.empty());
}

// The namespace a --sysctl needs is checked once the pipeline has built the spec: with
// --network host there is no network namespace, and net.* would be the host's.
TEST_F(SecurityStageTest, ASysctlWithoutItsNamespaceIsRefusedInPrepare) {
  h.spec_source = SpecSource::flags;
  h.spec.namespaces = {{"pid", ""}, {"mount", ""}};
  h.flags["sysctl"] = boost::json::array{"net.ipv4.ip_forward=1"};
  h.run(*stage, Phase::validate);
  try {
    h.run(*stage, Phase::prepare);
    ADD_FAILURE() << "accepted";
  } catch (const StageError& e) {
    EXPECT_NE(std::string(e.what()).find("needs its own network namespace"), std::string::npos);
  }
}

// ---- linux.seccomp ----

SeccompSpec mkdir_refused() {
  SeccompSpec spec;
  spec.default_action = "SCMP_ACT_ALLOW";
  spec.syscalls = {{{"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", EPERM, {}}};
  return spec;
}

// validate compiles the filter on the host; the container process, a copy of that nsrun, loads
// the BPF (seccomp(2)) without building it again.
bool is_compiled_filter(const std::string& call) {
  return call.starts_with("seccomp-bpf ") && call != "seccomp-bpf 0 instructions";
}

TEST_F(SecurityStageTest, WithNoNewPrivilegesTheFilterIsLoadedLast) {
  set_every_field();
  h.spec.seccomp = mkdir_refused();
  auto expected = every_process_call();
  expected.insert(expected.begin(),
                  {"write /proc/sys/net/ipv4/ip_forward 1", "bind /dev/null /proc/kcore",
                   "tmpfs-ro /proc/acpi", "rbind /proc/sys /proc/sys", "readonly /proc/sys"});
  auto calls = run();
  ASSERT_FALSE(calls.empty());
  EXPECT_TRUE(is_compiled_filter(calls.back())) << calls.back();
  calls.pop_back();
  EXPECT_EQ(calls, expected);
  EXPECT_TRUE(
      h.log.contains("seccomp: default action SCMP_ACT_ALLOW, 0 architectures "
                     "besides this one's, 2 rules"));
}

TEST_F(SecurityStageTest, WithoutNoNewPrivilegesTheFilterIsLoadedWhileCapSysAdminIsThere) {
  set_every_field();
  h.spec.process.no_new_privileges = false;
  h.spec.seccomp = mkdir_refused();
  auto calls = run();
  // After the mounts and limits (which it would refuse), before the first capability goes.
  auto seccomp = std::find_if(calls.begin(), calls.end(), is_compiled_filter);
  ASSERT_NE(seccomp, calls.end());
  EXPECT_EQ(*(seccomp - 1), "write /proc/self/oom_score_adj 500");
  EXPECT_EQ(*(seccomp + 1), "drop-bound 1");
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "no-new-privs"), 0);
  EXPECT_EQ(calls.back(), "ambient-raise 10");
}

TEST_F(SecurityStageTest, ExecLoadsTheContainersFilter) {
  h.spec.seccomp = mkdir_refused();
  auto calls = run_exec();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(is_compiled_filter(calls[0]));
  h.spec.process.no_new_privileges = true;
  host->calls.clear();
  calls = run_exec();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], "no-new-privs");
  EXPECT_TRUE(is_compiled_filter(calls[1]));
  // A fresh object plans again from the spec and builds the filter with libseccomp.
  auto fake = std::make_unique<test::FakeHost>();
  host = fake.get();
  stage = std::make_unique<SecurityStage>(std::move(fake));
  h.run(*stage, Phase::exec_container);
  EXPECT_EQ(host->calls,
            (std::vector<std::string>{"no-new-privs", "seccomp SCMP_ACT_ALLOW 2 rules"}));
  ASSERT_TRUE(host->loaded_seccomp);
  EXPECT_EQ(host->loaded_seccomp->rules[0].name, "mkdir");
  EXPECT_EQ(host->loaded_seccomp->rules[1].action, SCMP_ACT_ERRNO(EPERM));
}

// The same profile is built once per machine: later runs read its BPF from the cache in the
// state root, and an entry whose key differs (another profile) is not used.
TEST_F(SecurityStageTest, TheCompiledFilterIsCachedByItsProfile) {
  char root_template[] = "/tmp/nsrun-seccomp-cache-XXXXXX";
  ASSERT_NE(::mkdtemp(root_template), nullptr);
  const std::string root = root_template;
  h.state_root = root;
  h.spec.seccomp = mkdir_refused();
  h.run(*stage, Phase::validate);
  EXPECT_TRUE(h.log.contains("2 rules")) << "built";
  EXPECT_FALSE(std::filesystem::exists(root + "/_seccomp")) << "validate leaves nothing behind";
  h.run(*stage, Phase::prepare);  // every stage validated: now it is kept
  EXPECT_FALSE(h.log.contains("from the cache"));
  h.log.debugs.clear();
  h.run(*stage, Phase::validate);
  EXPECT_TRUE(h.log.contains("from the cache"));
  h.log.debugs.clear();
  h.spec.seccomp->syscalls[0].names = {"rmdir"};
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  EXPECT_FALSE(h.log.contains("from the cache")) << "another profile is built, not read";
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(root + "/_seccomp"))
    ++entries;
  EXPECT_EQ(entries, 2u);
  EXPECT_EQ(std::filesystem::status(root + "/_seccomp").permissions(),
            std::filesystem::perms::owner_all);
  std::filesystem::remove_all(root);
}

TEST_F(SecurityStageTest, AnInvalidFilterIsRefusedInValidate) {
  h.spec.seccomp = mkdir_refused();
  h.spec.seccomp->syscalls[0].action = "SCMP_ACT_FOO";
  try {
    h.run(*stage, Phase::validate);
    ADD_FAILURE() << "an unknown action was accepted";
  } catch (const StageError& e) {
    EXPECT_STREQ(e.what(),
                 "linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_FOO\" (use "
                 "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, "
                 "SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG)");
  }
  EXPECT_THROW(h.run(*stage, Phase::exec_prepare), StageError);
  EXPECT_TRUE(host->calls.empty());
}

TEST_F(SecurityStageTest, AFilterTheKernelRefusesNamesIt) {
  h.spec.seccomp = mkdir_refused();
  h.spec.process.no_new_privileges = true;
  host->failures = {{"seccomp", EINVAL}};
  EXPECT_EQ(start_error(), "linux.seccomp: cannot load the filter: Invalid argument");
  host->failures = {{"seccomp", EACCES}};
  h.spec.process.no_new_privileges = false;
  EXPECT_EQ(start_error(),
            "linux.seccomp: cannot load the filter: Permission denied (without noNewPrivileges it "
            "needs CAP_SYS_ADMIN)");
}

}  // namespace
}  // namespace nsrun::security
