// start_container against a recording fake host: the exact calls, in the kernel's order.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

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

// ---- linux.seccomp ----

SeccompSpec mkdir_refused() {
  SeccompSpec spec;
  spec.default_action = "SCMP_ACT_ALLOW";
  spec.syscalls = {{{"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", EPERM, {}}};
  return spec;
}

TEST_F(SecurityStageTest, WithNoNewPrivilegesTheFilterIsLoadedLast) {
  set_every_field();
  h.spec.seccomp = mkdir_refused();
  auto expected = every_process_call();
  expected.insert(expected.begin(),
                  {"write /proc/sys/net/ipv4/ip_forward 1", "bind /dev/null /proc/kcore",
                   "tmpfs-ro /proc/acpi", "rbind /proc/sys /proc/sys", "readonly /proc/sys"});
  expected.push_back("seccomp SCMP_ACT_ALLOW 2 rules");
  EXPECT_EQ(run(), expected);
  ASSERT_TRUE(host->loaded_seccomp);
  EXPECT_EQ(host->loaded_seccomp->rules[0].name, "mkdir");
  EXPECT_EQ(host->loaded_seccomp->rules[1].action, SCMP_ACT_ERRNO(EPERM));
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
  auto seccomp = std::find(calls.begin(), calls.end(), "seccomp SCMP_ACT_ALLOW 2 rules");
  ASSERT_NE(seccomp, calls.end());
  EXPECT_EQ(*(seccomp - 1), "write /proc/self/oom_score_adj 500");
  EXPECT_EQ(*(seccomp + 1), "drop-bound 1");
  EXPECT_EQ(std::count(calls.begin(), calls.end(), "no-new-privs"), 0);
  EXPECT_EQ(calls.back(), "ambient-raise 10");
}

TEST_F(SecurityStageTest, ExecLoadsTheContainersFilter) {
  h.spec.seccomp = mkdir_refused();
  EXPECT_EQ(run_exec(), (std::vector<std::string>{"seccomp SCMP_ACT_ALLOW 2 rules"}));
  h.spec.process.no_new_privileges = true;
  host->calls.clear();
  EXPECT_EQ(run_exec(),
            (std::vector<std::string>{"no-new-privs", "seccomp SCMP_ACT_ALLOW 2 rules"}));
  // A fresh object plans again from the spec, filter included.
  auto fake = std::make_unique<test::FakeHost>();
  host = fake.get();
  stage = std::make_unique<SecurityStage>(std::move(fake));
  h.run(*stage, Phase::exec_container);
  EXPECT_EQ(host->calls,
            (std::vector<std::string>{"no-new-privs", "seccomp SCMP_ACT_ALLOW 2 rules"}));
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
