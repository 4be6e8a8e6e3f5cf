// linux.seccomp: the plan (checks, names, actions, arguments), Docker's profile format, the
// default profile, and that profile loaded for real into a forked child (no root needed: a
// process with no_new_privs may load a filter).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/keyctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "nsrun/security/seccomp.hpp"
#include "nsrun/stage.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::security {
namespace {

std::string plan_error(const SeccompSpec& spec) {
  try {
    make_seccomp_plan(spec);
  } catch (const StageError& e) {
    return e.what();
  }
  return "no error";
}

SeccompSpec allow_all() {
  SeccompSpec spec;
  spec.default_action = "SCMP_ACT_ALLOW";
  return spec;
}

TEST(SeccompPlan, ResolvesNamesActionsAndArguments) {
  SeccompSpec spec;
  spec.default_action = "SCMP_ACT_ERRNO";
  spec.default_errno_ret = ENOSYS;
  spec.architectures = {"SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_X86"};
  spec.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"};
  spec.syscalls = {
      {{"read", "write", "no_such_syscall"}, "SCMP_ACT_ALLOW", {}, {}},
      {{"mkdir"}, "SCMP_ACT_ERRNO", {}, {}},
      {{"socket"}, "SCMP_ACT_ERRNO", 97, {{0, 2, 0, "SCMP_CMP_EQ"}}},
      {{"ioctl"}, "SCMP_ACT_LOG", {}, {{1, 0xffffffff, 0x5412, "SCMP_CMP_MASKED_EQ"}}},
      {{"kill"}, "SCMP_ACT_KILL", {}, {}},
      {{"tkill"}, "SCMP_ACT_KILL_PROCESS", {}, {}},
      {{"tgkill"}, "SCMP_ACT_TRAP", {}, {}},
      {{"ptrace"}, "SCMP_ACT_TRACE", 7, {}},
      {{"getpid"}, "SCMP_ACT_ERRNO", ENOSYS, {}},  // the default already: left out
  };
  SeccompPlan plan = make_seccomp_plan(spec);
  EXPECT_EQ(plan.default_action, SCMP_ACT_ERRNO(ENOSYS));
  EXPECT_EQ(plan.architectures, (std::vector<std::uint32_t>{SCMP_ARCH_X86, SCMP_ARCH_X32}));
  EXPECT_TRUE(plan.log);
  EXPECT_TRUE(plan.spec_allow);
  EXPECT_FALSE(plan.tsync);
  EXPECT_EQ(plan.skipped, (std::vector<std::string>{"linux.seccomp.syscalls[0]: no_such_syscall"}));
  EXPECT_EQ(plan.same_as_default, 1u);
  std::map<std::string, const SeccompRulePlan*> rules;
  for (const auto& rule : plan.rules) rules[rule.name] = &rule;
  ASSERT_EQ(plan.rules.size(), 9u);
  EXPECT_EQ(rules["read"]->number, SCMP_SYS(read));
  EXPECT_EQ(rules["read"]->action, SCMP_ACT_ALLOW);
  EXPECT_EQ(rules["mkdir"]->action, SCMP_ACT_ERRNO(EPERM)) << "EPERM unless errnoRet says";
  EXPECT_EQ(rules["mkdir"]->field, "linux.seccomp.syscalls[1]");
  EXPECT_EQ(rules["socket"]->action, SCMP_ACT_ERRNO(97));
  ASSERT_EQ(rules["socket"]->args.size(), 1u);
  EXPECT_EQ(rules["socket"]->args[0].op, SCMP_CMP_EQ);
  EXPECT_EQ(rules["socket"]->args[0].datum_a, 2u);
  EXPECT_EQ(rules["ioctl"]->action, SCMP_ACT_LOG);
  EXPECT_EQ(rules["ioctl"]->args[0].index, 1u);
  EXPECT_EQ(rules["ioctl"]->args[0].op, SCMP_CMP_MASKED_EQ);
  EXPECT_EQ(rules["ioctl"]->args[0].datum_a, 0xffffffffu);
  EXPECT_EQ(rules["ioctl"]->args[0].datum_b, 0x5412u);
  EXPECT_EQ(rules["kill"]->action, SCMP_ACT_KILL_THREAD);
  EXPECT_EQ(rules["tkill"]->action, SCMP_ACT_KILL_PROCESS);
  EXPECT_EQ(rules["tgkill"]->action, SCMP_ACT_TRAP);
  EXPECT_EQ(rules["ptrace"]->action, SCMP_ACT_TRACE(7));
  EXPECT_EQ(seccomp_action_name(plan.default_action), "SCMP_ACT_ERRNO(38)");
  SeccompFilter filter(plan);  // libseccomp takes every rule
  EXPECT_GT(filter.instructions(), 9u);
}

TEST(SeccompPlan, SeveralComparisonsOfOneArgumentBecomeOneRuleEach) {
  // libseccomp takes one comparison per argument in a rule; runc splits such entries.
  SeccompSpec spec = allow_all();
  spec.syscalls = {
      {{"personality"},
       "SCMP_ACT_ERRNO",
       {},
       {{0, 8, 0, "SCMP_CMP_EQ"}, {0, 0x20000, 0, "SCMP_CMP_EQ"}}},
      {{"socket"}, "SCMP_ACT_ERRNO", {}, {{0, 2, 0, "SCMP_CMP_EQ"}, {1, 1, 0, "SCMP_CMP_EQ"}}}};
  SeccompPlan plan = make_seccomp_plan(spec);
  ASSERT_EQ(plan.rules.size(), 3u);
  EXPECT_EQ(plan.rules[0].args.size(), 1u);
  EXPECT_EQ(plan.rules[1].args.size(), 1u);
  EXPECT_EQ(plan.rules[1].args[0].datum_a, 0x20000u);
  EXPECT_EQ(plan.rules[2].args.size(), 2u) << "different arguments stay one rule";
  EXPECT_NO_THROW(SeccompFilter{plan});
}

TEST(SeccompPlan, EveryMistakeIsOneLineNamingTheField) {
  auto with = [](auto change) {
    SeccompSpec spec = allow_all();
    spec.syscalls = {{{"mkdir"}, "SCMP_ACT_ERRNO", {}, {{0, 1, 0, "SCMP_CMP_EQ"}}}};
    change(spec);
    return plan_error(spec);
  };
  EXPECT_EQ(with([](SeccompSpec& s) { s.default_action = "SCMP_ACT_FOO"; }),
            "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\" (use SCMP_ACT_ALLOW, "
            "SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, "
            "SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG)");
  EXPECT_EQ(with([](SeccompSpec& s) { s.syscalls[0].action = "allow"; }).substr(0, 67),
            "linux.seccomp.syscalls[0].action: unknown action \"allow\" (use SCMP_");
  EXPECT_EQ(with([](SeccompSpec& s) { s.default_errno_ret = 1; }),
            "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take it, not "
            "\"SCMP_ACT_ALLOW\" (remove it, or change the action)");
  EXPECT_EQ(with([](SeccompSpec& s) {
              s.syscalls[0].action = "SCMP_ACT_KILL";
              s.syscalls[0].errno_ret = 1;
            }),
            "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take it, "
            "not \"SCMP_ACT_KILL\" (remove it, or change the action)");
  EXPECT_EQ(with([](SeccompSpec& s) { s.syscalls[0].errno_ret = 5000; }),
            "linux.seccomp.syscalls[0].errnoRet: 5000 is not an errno value (use 0 to 4095, e.g. "
            "1 for EPERM)");
  EXPECT_EQ(with([](SeccompSpec& s) {
              s.architectures = {"SCMP_ARCH_X86_64", "x86_64"};
            }),
            "linux.seccomp.architectures[1]: unknown architecture \"x86_64\" (use "
            "SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM, "
            "...)");
  EXPECT_EQ(with([](SeccompSpec& s) { s.syscalls[0].args[0].op = "SCMP_CMP_FOO"; }),
            "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_FOO\" (use "
            "SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_GT, SCMP_CMP_GE or "
            "SCMP_CMP_MASKED_EQ)");
  EXPECT_EQ(with([](SeccompSpec& s) { s.syscalls[0].args[0].index = 6; }),
            "linux.seccomp.syscalls[0].args[0].index: 6 is not a syscall argument (use 0 to 5)");
  EXPECT_EQ(with([](SeccompSpec& s) {
              s.syscalls[0].names = {"no_such_syscall"};
              s.syscalls[0].args[0].index = 6;
            }),
            "linux.seccomp.syscalls[0].args[0].index: 6 is not a syscall argument (use 0 to 5)")
      << "checked even when the name is skipped";
  EXPECT_EQ(with([](SeccompSpec& s) { s.flags = {"SECCOMP_FILTER_FLAG_NEW_LISTENER"}; }),
            "linux.seccomp.flags[0]: unsupported flag \"SECCOMP_FILTER_FLAG_NEW_LISTENER\" (use "
            "SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW or "
            "SECCOMP_FILTER_FLAG_TSYNC)");
  EXPECT_EQ(with([](SeccompSpec& s) { s.listener_path = "/run/agent.sock"; }),
            "linux.seccomp.listenerPath: seccomp agents (SCMP_ACT_NOTIFY) are not supported by "
            "nsrun (remove it)");
  EXPECT_EQ(with([](SeccompSpec& s) { s.syscalls[0].action = "SCMP_ACT_NOTIFY"; }),
            "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY needs a seccomp agent, which nsrun "
            "does not support (use SCMP_ACT_ERRNO or SCMP_ACT_ALLOW)");
  EXPECT_EQ(with([](SeccompSpec& s) { s.syscalls[0].names.clear(); }),
            "linux.seccomp.syscalls[0].names: empty (name at least one syscall)");
}

// ---- Docker's profile format ----

boost::json::value json(const char* text) {
  return boost::json::parse(text);
}

constexpr const char* docker_profile = R"({
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "archMap": [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
  ],
  "syscalls": [
    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
    {"name": "arch_prctl", "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
    {"names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW",
     "includes": {"arches": ["ppc64le"]}},
    {"names": ["s390_pci_mmio_read"], "action": "SCMP_ACT_ALLOW",
     "excludes": {"arches": ["amd64"]}},
    {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
    {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_BOOT"]}},
    {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "comment": "no namespaces",
     "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
     "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
     "excludes": {"caps": ["CAP_SYS_ADMIN"]}}
  ]
})";

std::vector<std::string> names_of(const SeccompSpec& spec) {
  std::vector<std::string> out;
  for (const auto& s : spec.syscalls) out.insert(out.end(), s.names.begin(), s.names.end());
  return out;
}

TEST(DockerProfile, KeepsTheEntriesForThisArchitectureAndTheseCapabilities) {
  auto spec =
      seccomp_spec_from_docker_profile(json(docker_profile), {"CAP_CHOWN"}, "p.json", "amd64");
  EXPECT_EQ(spec.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(spec.default_errno_ret, 1u);
  EXPECT_EQ(spec.architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_EQ(names_of(spec),
            (std::vector<std::string>{"read", "write", "arch_prctl", "ptrace", "clone", "clone3"}));
  const auto& clone = spec.syscalls[3];
  ASSERT_EQ(clone.args.size(), 1u);
  EXPECT_EQ(clone.args[0], (SeccompArgSpec{0, 2114060288, 0, "SCMP_CMP_MASKED_EQ"}));
  EXPECT_EQ(spec.syscalls[4].errno_ret, 38u);
  EXPECT_NO_THROW(make_seccomp_plan(spec));

  auto admin = seccomp_spec_from_docker_profile(json(docker_profile),
                                                {"CAP_CHOWN", "CAP_SYS_ADMIN"}, "p.json", "amd64");
  EXPECT_EQ(names_of(admin),
            (std::vector<std::string>{"read", "write", "arch_prctl", "mount", "ptrace"}));

  auto arm = seccomp_spec_from_docker_profile(json(docker_profile), {}, "p.json", "ppc64le");
  EXPECT_EQ(names_of(arm),
            (std::vector<std::string>{"read", "write", "sync_file_range2", "s390_pci_mmio_read",
                                      "ptrace", "clone", "clone3"}));
}

TEST(DockerProfile, AnOciObjectIsAProfileToo) {
  auto spec = seccomp_spec_from_docker_profile(
      json(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
               "flags": ["SECCOMP_FILTER_FLAG_LOG"],
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]})"),
      {}, "oci.json");
  SeccompSpec expected = allow_all();
  expected.architectures = {"SCMP_ARCH_X86_64"};
  expected.flags = {"SECCOMP_FILTER_FLAG_LOG"};
  expected.syscalls = {{{"mkdir"}, "SCMP_ACT_ERRNO", 1, {}}};
  EXPECT_EQ(spec, expected);
}

TEST(DockerProfile, MistakesNameTheFileAndTheJsonPath) {
  auto error = [](const char* text) {
    try {
      seccomp_spec_from_docker_profile(json(text), {}, "--security-opt seccomp=p.json", "amd64");
    } catch (const StageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(R"([])"),
            "--security-opt seccomp=p.json: the profile must be a JSON object (Docker's seccomp "
            "profile format, or an OCI linux.seccomp object)");
  EXPECT_EQ(error(R"({"syscalls": []})"),
            "--security-opt seccomp=p.json: defaultAction is required (e.g. \"SCMP_ACT_ERRNO\")");
  EXPECT_EQ(error(R"({"defaultAction": "SCMP_ACT_ALLOW",
                      "syscalls": [{"names": ["a"], "action": "SCMP_ACT_LOG"}, {"names": ["b"], "action": 1}]})"),
            "--security-opt seccomp=p.json: syscalls[1].action must be a string");
  EXPECT_EQ(error(R"({"defaultAction": "SCMP_ACT_ALLOW",
                      "syscalls": [{"names": ["a"], "action": "SCMP_ACT_BAD"}]})")
                .substr(0, 80),
            "--security-opt seccomp=p.json: syscalls[0].action: unknown action \"SCMP_ACT_BAD\"");
  EXPECT_EQ(error(R"({"defaultAction": "SCMP_ACT_ALLOW",
                      "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_LOG"}]})"),
            "--security-opt seccomp=p.json: syscalls[0].name: name and names are both set (keep "
            "one)");
  EXPECT_EQ(error(R"({"defaultAction": "SCMP_ACT_ALLOW",
                      "syscalls": [{"names": ["a"], "action": "SCMP_ACT_LOG",
                                    "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]})"),
            "--security-opt seccomp=p.json: syscalls[0].args[0].index: 9 is not a syscall "
            "argument (use 0 to 5)");
  EXPECT_EQ(error(R"({"defaultAction": "SCMP_ACT_ALLOW",
                      "syscalls": [{"names": ["a"], "action": "SCMP_ACT_LOG",
                                    "includes": {"caps": "CAP_SYS_ADMIN"}}]})"),
            "--security-opt seccomp=p.json: syscalls[0].includes.caps must be an array of "
            "strings");
  EXPECT_EQ(error(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                      "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]})"),
            "--security-opt seccomp=p.json: architectures and archMap are both set (keep one)");
  EXPECT_EQ(error(R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["amd64"]})"),
            "--security-opt seccomp=p.json: architectures[0]: unknown architecture \"amd64\" (use "
            "SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM, "
            "...)");
  EXPECT_EQ(error(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1})"),
            "--security-opt seccomp=p.json: defaultErrnoRet must be an integer from 0 to "
            "4294967295");
}

TEST(DockerProfile, FilesThatCannotBeReadOrParsedAreOneLine) {
  auto error = [](const std::string& path) {
    try {
      load_seccomp_profile_file(path, {});
    } catch (const StageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("/nonexistent/profile.json"),
            "--security-opt seccomp=/nonexistent/profile.json: cannot read it: No such file or "
            "directory");
  auto path = std::filesystem::temp_directory_path() /
              ("nsrun-seccomp-test-" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [,]\n}";
  EXPECT_EQ(
      error(path).rfind(
          "--security-opt seccomp=" + path.string() + ": not valid JSON at line 3, column 16: ", 0),
      0u)
      << error(path);
  std::ofstream(path) << R"({"defaultAction": "SCMP_ACT_ALLOW",
                             "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})";
  auto spec = load_seccomp_profile_file(path, {});
  EXPECT_EQ(names_of(spec), (std::vector<std::string>{"mkdir"}));
  std::filesystem::remove(path);
}

// ---- the default profile ----

const SeccompSyscallSpec* entry_for(const SeccompSpec& spec, const std::string& name,
                                    const std::string& action) {
  for (const auto& s : spec.syscalls)
    if (s.action == action && s.args.empty() &&
        std::find(s.names.begin(), s.names.end(), name) != s.names.end())
      return &s;
  return nullptr;
}

TEST(DefaultProfile, AllowsTheOrdinaryRefusesTheDangerousAndKnowsNothingElse) {
  SeccompSpec spec = default_seccomp_profile();
  EXPECT_EQ(spec.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(spec.default_errno_ret, static_cast<std::uint32_t>(ENOSYS));
  EXPECT_EQ(spec.architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  for (const char* name : {"read", "write", "openat", "execve", "execveat", "mmap", "fork", "vfork",
                           "wait4", "chroot", "ptrace", "socket", "close_range"})
    EXPECT_TRUE(entry_for(spec, name, "SCMP_ACT_ALLOW")) << name;
  for (const char* name : {"keyctl",
                           "add_key",
                           "request_key",
                           "bpf",
                           "perf_event_open",
                           "mount",
                           "umount",
                           "umount2",
                           "pivot_root",
                           "unshare",
                           "setns",
                           "init_module",
                           "finit_module",
                           "delete_module",
                           "kexec_load",
                           "kexec_file_load",
                           "open_by_handle_at",
                           "userfaultfd",
                           "reboot",
                           "swapon",
                           "swapoff",
                           "clock_settime",
                           "clock_adjtime",
                           "settimeofday",
                           "stime",
                           "adjtimex",
                           "acct",
                           "quotactl",
                           "lookup_dcookie",
                           "syslog",
                           "vhangup",
                           "iopl",
                           "ioperm",
                           "create_module",
                           "get_kernel_syms",
                           "query_module",
                           "nfsservctl",
                           "uselib"}) {
    const auto* refused = entry_for(spec, name, "SCMP_ACT_ERRNO");
    ASSERT_TRUE(refused) << name;
    EXPECT_EQ(refused->errno_ret, static_cast<std::uint32_t>(EPERM)) << name;
    EXPECT_FALSE(entry_for(spec, name, "SCMP_ACT_ALLOW")) << name;
  }
  const auto* clone3 = entry_for(spec, "clone3", "SCMP_ACT_ERRNO");
  ASSERT_TRUE(clone3);
  EXPECT_EQ(clone3->errno_ret, static_cast<std::uint32_t>(ENOSYS));
  for (const char* filtered : {"clone", "ioctl", "personality"}) {
    EXPECT_FALSE(entry_for(spec, filtered, "SCMP_ACT_ALLOW")) << filtered << ": only with args";
    EXPECT_FALSE(entry_for(spec, filtered, "SCMP_ACT_ERRNO")) << filtered << ": only with args";
  }
  // clone is allowed when its flags hold no namespace flag.
  constexpr std::uint64_t namespaces = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                       CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
  SeccompSyscallSpec clone_allowed{
      {"clone"}, "SCMP_ACT_ALLOW", {}, {{0, namespaces, 0, "SCMP_CMP_MASKED_EQ"}}};
  EXPECT_NE(std::find(spec.syscalls.begin(), spec.syscalls.end(), clone_allowed),
            spec.syscalls.end());
  // TIOCSTI is refused on its low 32 bits, which are all the kernel looks at.
  SeccompSyscallSpec tiocsti{
      {"ioctl"}, "SCMP_ACT_ERRNO", EPERM, {{1, 0xffffffff, 0x5412, "SCMP_CMP_MASKED_EQ"}}};
  EXPECT_NE(std::find(spec.syscalls.begin(), spec.syscalls.end(), tiocsti), spec.syscalls.end());

  SeccompPlan plan = make_seccomp_plan(spec, "default profile");
  SeccompFilter filter(plan);
  EXPECT_LT(filter.instructions(), 4096u) << "the kernel's limit for one filter";
  RecordProperty("bpf_instructions", static_cast<int>(filter.instructions()));
  RecordProperty("rules", static_cast<int>(plan.rules.size()));
}

// What a child process with the default profile loaded gets from each syscall: "0" for
// success, else the errno's number. A syscall the filter kills the child for ends the list.
std::map<std::string, std::string> probe_default_profile() {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  SeccompPlan plan = make_seccomp_plan(default_seccomp_profile(), "default profile");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    SeccompFilter filter(plan);
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || filter.load() != 0) ::_exit(2);
    FILE* out = ::fdopen(fds[1], "w");
    ::setvbuf(out, nullptr, _IONBF, 0);
    auto report = [&](const char* name, long rc) {
      std::fprintf(out, "%s %d\n", name, rc < 0 ? errno : 0);
    };
    int pipe_fds[2];
    report("pipe2", ::pipe2(pipe_fds, O_CLOEXEC));
    int pending = 0;
    report("ioctl FIONREAD", ::ioctl(pipe_fds[0], FIONREAD, &pending));
    char c = 'x';
    report("ioctl TIOCSTI", ::syscall(SYS_ioctl, pipe_fds[0], 0x5412UL, &c));
    report("ioctl TIOCSTI high bits", ::syscall(SYS_ioctl, pipe_fds[0], 0x100005412UL, &c));
    report("ioctl TIOCLINUX", ::syscall(SYS_ioctl, pipe_fds[0], 0x541CUL, &c));
    report("getpid", ::syscall(SYS_getpid));
    report("keyctl", ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
    report("unshare user", ::unshare(CLONE_NEWUSER));
    report("mount", ::mount("none", "/tmp", "tmpfs", 0, nullptr));
    report("clone3", ::syscall(SYS_clone3, nullptr, 0));
    long forked = ::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (forked == 0) ::_exit(0);
    report("clone", forked);
    if (forked > 0) ::waitpid(static_cast<pid_t>(forked), nullptr, 0);
    long user_ns = ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (user_ns == 0) ::_exit(0);
    report("clone newuser", user_ns);
    report("personality query", ::personality(0xffffffff));
    report("personality other", ::syscall(SYS_personality, 0x0040000UL));  // ADDR_NO_RANDOMIZE
    report("open_by_handle_at", ::syscall(SYS_open_by_handle_at, -1, nullptr, 0));
    report("bpf", ::syscall(SYS_bpf, 0, nullptr, 0));
    report("unknown 1000", ::syscall(1000));
    report("x32 getpid", ::syscall(SYS_getpid | 0x40000000));
    ::_exit(0);
  }
  ::close(fds[1]);
  std::map<std::string, std::string> results;
  FILE* in = ::fdopen(fds[0], "r");
  char line[256];
  while (std::fgets(line, sizeof line, in)) {
    std::string text(line);
    auto space = text.rfind(' ');
    results[text.substr(0, space)] = text.substr(space + 1, text.size() - space - 2);
  }
  std::fclose(in);
  int status = 0;
  ::waitpid(pid, &status, 0);
  results["exit"] =
      std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return results;
}

TEST(DefaultProfile, LoadedItRefusesWhatItSaysWithTheErrnoItSays) {
  auto r = probe_default_profile();
  auto is = [](int error) { return std::to_string(error); };
  EXPECT_EQ(r["exit"], "0");
  EXPECT_EQ(r["pipe2"], "0");
  EXPECT_EQ(r["ioctl FIONREAD"], "0");
  EXPECT_EQ(r["ioctl TIOCSTI"], is(EPERM));
  EXPECT_EQ(r["ioctl TIOCSTI high bits"], is(EPERM));
  EXPECT_EQ(r["ioctl TIOCLINUX"], is(EPERM));
  EXPECT_EQ(r["getpid"], "0");
  EXPECT_EQ(r["keyctl"], is(EPERM));
  EXPECT_EQ(r["unshare user"], is(EPERM));
  EXPECT_EQ(r["mount"], is(EPERM));
  EXPECT_EQ(r["clone3"], is(ENOSYS)) << "so that libc falls back to clone";
  EXPECT_EQ(r["clone"], "0");
  EXPECT_EQ(r["clone newuser"], is(EPERM));
  EXPECT_EQ(r["personality query"], "0");
  EXPECT_EQ(r["personality other"], is(ENOSYS)) << "the default (see default_profile.cpp)";
  EXPECT_EQ(r["open_by_handle_at"], is(EPERM));
  EXPECT_EQ(r["bpf"], is(EPERM));
  EXPECT_EQ(r["unknown 1000"], is(ENOSYS));
  // x32's getpid is x86_64's number with bit 30; the filter covers x32 (the kernel may not
  // have x32 enabled: then ENOSYS comes from the kernel, not a kill).
  EXPECT_TRUE(r["x32 getpid"] == "0" || r["x32 getpid"] == is(ENOSYS)) << r["x32 getpid"];
}

}  // namespace
}  // namespace nsrun::security

namespace nsrun::security {
namespace {

// The default profile is filed under a short key, its sources' digest and what it depends on at
// run time: a run that finds it cached never builds the 466 rules.
TEST(SeccompCache, TheDefaultProfileIsFoundByItsKeyWithoutBuildingIt) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("nsrun-seccomp-cache-" + std::to_string(::getpid()));
  ::nsrun::testing::RecordingLogger log;
  SeccompSource source = default_seccomp_source();
  EXPECT_EQ(source.key.rfind("nsrun default profile ", 0), 0u) << source.key;
  EXPECT_LT(source.key.size(), 300u) << "a digest, not the profile's text";
  EXPECT_EQ(default_seccomp_source().key, source.key) << "stable from one run to the next";
  EXPECT_NE(source.key.find("libseccomp "), std::string::npos);

  int builds = 0;
  SeccompSource counted{source.key, [&] {
                          ++builds;
                          return default_seccomp_profile();
                        }};
  auto first = compile_seccomp(counted, dir, log);
  EXPECT_EQ(builds, 1);
  EXPECT_FALSE(first->from_cache);
  cache_compiled_seccomp(counted, *first, dir);
  auto second = compile_seccomp(counted, dir, log);
  EXPECT_EQ(builds, 1) << "read from the cache, not built";
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ(second->program.size(), first->program.size());
  EXPECT_TRUE(std::equal(first->program.begin(), first->program.end(), second->program.begin(),
                         [](const sock_filter& a, const sock_filter& b) {
                           return a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k;
                         }));
  // Another key (another profile's text) does not find it.
  SeccompSource other = seccomp_source(SeccompSpec{});
  EXPECT_NE(other.key, source.key);
  std::filesystem::remove_all(dir);
}

// The cache is a file any earlier nsrun may have written: one that does not hold exactly the
// program for this key, in this version's format, is never loaded, only built again.
TEST(SeccompCache, ADamagedOrOlderCacheFileIsBuiltAgain) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("nsrun-seccomp-damaged-" + std::to_string(::getpid()));
  ::nsrun::testing::RecordingLogger log;
  int builds = 0;
  SeccompSource counted{default_seccomp_source().key, [&] {
                          ++builds;
                          return default_seccomp_profile();
                        }};
  auto built = compile_seccomp(counted, dir, log);
  cache_compiled_seccomp(counted, *built, dir);
  ASSERT_TRUE(compile_seccomp(counted, dir, log)->from_cache);
  std::string file;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) file = entry.path();
  ASSERT_FALSE(file.empty());
  std::string good;
  {
    std::ifstream in(file, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_EQ(good.rfind("nsrun-seccomp 2 ", 0), 0u) << good.substr(0, 40);
  auto damaged = [&](std::string text) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    int before = builds;
    auto compiled = compile_seccomp(counted, dir, log);
    return !compiled->from_cache && builds == before + 1;
  };
  std::string older = good;
  older[std::string("nsrun-seccomp ").size()] = '1';
  EXPECT_TRUE(damaged(older)) << "a version 1 file (list-shaped programs)";
  EXPECT_TRUE(damaged(good.substr(0, good.size() - 3))) << "a program cut short";
  EXPECT_TRUE(damaged(good.substr(0, good.find('\n') + 10))) << "a key cut short";
  std::string other_key = good;
  other_key[good.find("profile ") + 8] ^= 1;
  EXPECT_TRUE(damaged(other_key)) << "another key of the same length";
  EXPECT_TRUE(damaged("")) << "an empty file";
  EXPECT_TRUE(damaged("nsrun-seccomp 2 x y z\n")) << "a header that is not numbers";
  std::ofstream(file, std::ios::binary | std::ios::trunc) << good;
  EXPECT_TRUE(compile_seccomp(counted, dir, log)->from_cache) << "the good file is used again";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nsrun::security
