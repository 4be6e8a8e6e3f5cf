// Validation: every field check of the stage, from config.json text as a bundle gives it, and
// the SDK's reading and writing of the fields.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "fake_host.hpp"
#include "nsrun/security/security_stage.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::security {
namespace {

// A container with the namespaces every namespaced sysctl needs, plus `process` and `linux`
// fields given as JSON text.
ContainerSpec bundle(const std::string& process_fields, const std::string& linux_fields = "") {
  std::string text = R"({"process": {"args": ["sh"])" +
                     (process_fields.empty() ? "" : ", " + process_fields) +
                     R"(}, "root": {"path": "/r"}, "linux": {"namespaces": [{"type": "ipc"},
                     {"type": "uts"}, {"type": "network"}, {"type": "mount"}])" +
                     (linux_fields.empty() ? "" : ", " + linux_fields) + "}}";
  return spec_from_json(boost::json::parse(text));
}

std::string validate_error(const ContainerSpec& spec, boost::json::object config = {}) {
  testing::StageHarness h;
  h.spec = spec;
  h.config = std::move(config);
  auto host = std::make_unique<test::FakeHost>();
  test::FakeHost& fake = *host;
  SecurityStage stage(std::move(host));
  try {
    h.run(stage, Phase::validate);
  } catch (const StageError& e) {
    EXPECT_TRUE(fake.calls.empty()) << "validate acted on the host";
    return e.what();
  }
  EXPECT_TRUE(fake.calls.empty()) << "validate acted on the host";
  return "";
}

std::string exec_prepare_error(const ContainerSpec& spec) {
  testing::StageHarness h;
  h.spec = spec;
  auto host = std::make_unique<test::FakeHost>();
  test::FakeHost& fake = *host;
  SecurityStage stage(std::move(host));
  try {
    h.run(stage, Phase::exec_prepare);
  } catch (const StageError& e) {
    EXPECT_TRUE(fake.calls.empty()) << "exec_prepare acted on the host";
    return e.what();
  }
  EXPECT_TRUE(fake.calls.empty()) << "exec_prepare acted on the host";
  return "";
}

struct BadField {
  std::string process;
  std::string linux_fields;
  std::string message;
};

// The message names the case in test output (instead of the struct's bytes).
void PrintTo(const BadField& field, std::ostream* os) {
  *os << field.message;
}

class RefusedFields : public ::testing::TestWithParam<BadField> {};

TEST_P(RefusedFields, NameTheFieldAndTheFix) {
  const auto& c = GetParam();
  EXPECT_EQ(validate_error(bundle(c.process, c.linux_fields)), c.message);
}

// `nsrun exec`: the process-level fields are refused with validate's very message; the
// container-level ones (linux.*) are the running container's, not checked again.
TEST_P(RefusedFields, ExecPrepareRefusesTheProcessFieldsAlike) {
  const auto& c = GetParam();
  EXPECT_EQ(exec_prepare_error(bundle(c.process, c.linux_fields)),
            c.linux_fields.empty() ? c.message : "");
}

INSTANTIATE_TEST_SUITE_P(
    Security, RefusedFields,
    ::testing::Values(
        BadField{
            R"("capabilities": {"bounding": ["CAP_CHOWN", "CAP_FOO"]})", "",
            R"(process.capabilities.bounding: unknown capability "CAP_FOO" (see capabilities(7)))"},
        BadField{
            R"("capabilities": {"effective": ["cap_chown"]})", "",
            R"(process.capabilities.effective: unknown capability "cap_chown" (see capabilities(7)))"},
        BadField{
            R"("capabilities": {"permitted": ["12"]})", "",
            R"(process.capabilities.permitted: unknown capability "12" (see capabilities(7)))"},
        BadField{R"("capabilities": {"effective": ["CAP_KILL"], "permitted": ["CAP_CHOWN"]})", "",
                 "process.capabilities.effective: CAP_KILL is not in "
                 "process.capabilities.permitted (only a permitted capability can be effective; "
                 "add it to permitted)"},
        BadField{R"("capabilities": {"bounding": ["CAP_CHOWN"], "inheritable": ["CAP_KILL"]})", "",
                 "process.capabilities.inheritable: CAP_KILL is not in "
                 "process.capabilities.bounding (the kernel refuses it; add it to bounding or "
                 "remove it)"},
        BadField{R"("capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                                     "ambient": ["CAP_KILL"]})",
                 "",
                 "process.capabilities.ambient: CAP_KILL must also be in permitted and "
                 "inheritable (add it to both, or remove it from ambient)"},
        BadField{
            R"("rlimits": [{"type": "RLIMIT_FOO", "soft": 1, "hard": 1}])", "",
            R"(process.rlimits[0].type: unknown rlimit "RLIMIT_FOO" (use one of RLIMIT_AS, RLIMIT_CORE, ..., RLIMIT_STACK; see getrlimit(2)))"},
        BadField{R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])", "",
                 "process.rlimits[0]: the soft limit 2048 of RLIMIT_NOFILE is above its hard "
                 "limit 1024 (lower soft or raise hard)"},
        BadField{R"("rlimits": [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                                {"type": "RLIMIT_CORE", "soft": 1, "hard": 1}])",
                 "", "process.rlimits[1]: RLIMIT_CORE is set twice (keep one entry per type)"},
        BadField{R"("user": {"uid": -1, "gid": 0})", "",
                 "process.user.uid: -1 is not a valid user id (use 0 to 4294967294)"},
        BadField{R"("user": {"uid": 0, "gid": 4294967295})", "",
                 "process.user.gid: 4294967295 is not a valid group id (use 0 to 4294967294)"},
        BadField{R"("user": {"uid": 1, "gid": 1, "additionalGids": [2, -5]})", "",
                 "process.user.additionalGids[1]: -5 is not a valid group id (use 0 to "
                 "4294967294)"},
        BadField{R"("user": {"uid": 1, "gid": 1, "umask": 512})", "",
                 "process.user.umask: 512 is not a umask (use 0 to 511, i.e. octal 0 to 0777; "
                 "18 is 022)"},
        BadField{R"("oomScoreAdj": 1001)", "",
                 "process.oomScoreAdj: 1001 is out of range (use -1000 to 1000)"},
        BadField{
            "", R"("sysctl": {"kernel.core_pattern": "|/bin/evil"})",
            R"(linux.sysctl: "kernel.core_pattern" is not namespaced: setting it in a container would change the host (remove it; only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname and kernel.domainname are allowed))"},
        BadField{
            "", R"("sysctl": {"vm.swappiness": "0"})",
            R"(linux.sysctl: "vm.swappiness" is not namespaced: setting it in a container would change the host (remove it; only net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname and kernel.domainname are allowed))"},
        BadField{
            "", R"("sysctl": {"net..ip_forward": "1"})",
            R"(linux.sysctl: "net..ip_forward" is not a sysctl name (e.g. net.ipv4.ip_forward))"},
        BadField{
            "", R"("sysctl": {"net/ipv4/../../kernel/core_pattern": "x"})",
            R"(linux.sysctl: "net/ipv4/../../kernel/core_pattern" is not a sysctl name (e.g. net.ipv4.ip_forward))"},
        BadField{
            "", R"("maskedPaths": ["/proc/kcore", "proc/keys"])",
            R"(linux.maskedPaths[1]: "proc/keys" is not an absolute path in the container (e.g. /proc/kcore))"},
        BadField{
            "", R"("readonlyPaths": [""])",
            R"(linux.readonlyPaths[0]: "" is not an absolute path in the container (e.g. /proc/kcore))"}));

TEST(SecurityValidate, ASysctlNeedsTheNamespaceThatIsolatesIt) {
  auto without = [](const char* key, const char* missing) {
    ContainerSpec spec = bundle("", std::string(R"("sysctl": {")") + key + R"(": "1"})");
    std::erase_if(spec.namespaces, [&](const NamespaceSpec& ns) { return ns.type == missing; });
    return validate_error(spec);
  };
  EXPECT_EQ(
      without("net.ipv4.ip_forward", "network"),
      R"(linux.sysctl: "net.ipv4.ip_forward" needs its own network namespace, or it would change the host's (add {"type": "network"} to linux.namespaces))");
  EXPECT_EQ(
      without("kernel.shmmax", "ipc"),
      R"(linux.sysctl: "kernel.shmmax" needs its own ipc namespace, or it would change the host's (add {"type": "ipc"} to linux.namespaces))");
  EXPECT_EQ(
      without("fs.mqueue.msg_max", "ipc"),
      R"(linux.sysctl: "fs.mqueue.msg_max" needs its own ipc namespace, or it would change the host's (add {"type": "ipc"} to linux.namespaces))");
  EXPECT_EQ(
      without("kernel.domainname", "uts"),
      R"(linux.sysctl: "kernel.domainname" needs its own uts namespace, or it would change the host's (add {"type": "uts"} to linux.namespaces))");
  for (const char* key : {"kernel.msgmax", "kernel.sem", "kernel.shm_rmid_forced",
                          "fs.mqueue.queues_max", "kernel.hostname", "net.core.somaxconn"})
    EXPECT_EQ(without(key, "pid"), "") << key;
}

TEST(SecurityValidate, UnknownConfigKeyIsNamed) {
  EXPECT_NE(validate_error(bundle(""), {{"capabilities", true}}).find("capabilities"),
            std::string::npos);
}

TEST(SecurityValidate, AnEmptyProcessAsksForNothing) {
  EXPECT_EQ(validate_error(bundle("")), "");
}

TEST(SecurityValidate, CapabilitiesTheKernelDoesNotKnowAreWarnedAboutAndLeftOut) {
  ContainerSpec spec = bundle(R"("capabilities": {"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"]})");
  Plan plan = make_plan(spec, /*last_capability=*/12);
  EXPECT_EQ(plan.capabilities->bounding, (std::vector<int>{0}));
  EXPECT_EQ(plan.unknown_to_kernel,
            (std::vector<std::string>{"process.capabilities.bounding: CAP_SYS_ADMIN"}));

  testing::StageHarness h;
  h.spec = spec;
  auto host = std::make_unique<test::FakeHost>();
  host->last_cap = 12;
  SecurityStage stage(std::move(host));
  h.run(stage, Phase::validate);
  ASSERT_EQ(h.log.warnings.size(), 1u);
  EXPECT_EQ(h.log.warnings[0],
            "process.capabilities.bounding: CAP_SYS_ADMIN is unknown to this kernel; ignored");
}

TEST(SecurityValidate, ExecPrepareChecksTheConfigAndWarnsAsValidateDoes) {
  EXPECT_EQ(exec_prepare_error(bundle("")), "");

  ContainerSpec spec = bundle(R"("capabilities": {"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"]})");
  auto run_exec_prepare = [&](boost::json::object config, testing::StageHarness& h) {
    h.spec = spec;
    h.config = std::move(config);
    auto host = std::make_unique<test::FakeHost>();
    host->last_cap = 12;
    SecurityStage stage(std::move(host));
    h.run(stage, Phase::exec_prepare);
  };
  testing::StageHarness refused;
  try {
    run_exec_prepare({{"capabilities", true}}, refused);
    ADD_FAILURE() << "an unknown config key was accepted";
  } catch (const StageError& e) {
    EXPECT_NE(std::string(e.what()).find("capabilities"), std::string::npos) << e.what();
  }

  testing::StageHarness h;
  run_exec_prepare({}, h);
  ASSERT_EQ(h.log.warnings.size(), 1u);
  EXPECT_EQ(h.log.warnings[0],
            "process.capabilities.bounding: CAP_SYS_ADMIN is unknown to this kernel; ignored");
}

TEST(SecurityPlan, TheProcessPlanIsTheProcessPartOfTheWholePlan) {
  ContainerSpec spec = bundle(
      R"("capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
         "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}], "oomScoreAdj": -7,
         "user": {"uid": 5, "gid": 6}, "noNewPrivileges": true)",
      R"("sysctl": {"net.ipv4.ip_forward": "1"}, "maskedPaths": ["/proc/kcore"],
         "readonlyPaths": ["/proc/sys"])");
  Plan whole = make_plan(spec, 40);
  Plan process = make_process_plan(spec.process, 40);
  EXPECT_TRUE(process.sysctls.empty());
  EXPECT_TRUE(process.masked_paths.empty());
  EXPECT_TRUE(process.readonly_paths.empty());
  ASSERT_EQ(process.rlimits.size(), 1u);
  EXPECT_EQ(process.rlimits[0].resource, whole.rlimits[0].resource);
  EXPECT_EQ(process.rlimits[0].soft, 10u);
  EXPECT_EQ(process.oom_score_adj, whole.oom_score_adj);
  EXPECT_EQ(process.capabilities->bounding, whole.capabilities->bounding);
  EXPECT_EQ(process.capabilities->permitted, whole.capabilities->permitted);
  EXPECT_EQ(process.user->uid, whole.user->uid);
  EXPECT_EQ(process.user->gid, whole.user->gid);
  EXPECT_TRUE(process.no_new_privileges);
  EXPECT_EQ(whole.sysctls.size(), 1u);
}

TEST(SecurityPlan, ResolvesNamesToWhatTheKernelTakes) {
  EXPECT_EQ(capability_number("CAP_CHOWN"), 0);
  EXPECT_EQ(capability_number("CAP_NET_BIND_SERVICE"), 10);
  EXPECT_EQ(capability_number("CAP_SYS_ADMIN"), 21);
  for (const char* wrong : {"chown", "cap_chown", "CAP_", "0", "CAP_0", "CAP_chown", ""})
    EXPECT_FALSE(capability_number(wrong)) << wrong;
  EXPECT_EQ(capability_name(10), "CAP_NET_BIND_SERVICE");
  EXPECT_EQ(rlimit_resource("RLIMIT_NOFILE"), RLIMIT_NOFILE);
  EXPECT_FALSE(rlimit_resource("NOFILE"));

  Plan plan = make_plan(bundle(R"("rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024,
                                               "hard": 18446744073709551615}],
                                  "user": {"uid": 1000, "gid": 100, "additionalGids": [4, 5],
                                           "umask": 18})",
                               R"("sysctl": {"net/ipv4/conf/eth0.100/forwarding": "1",
                                             "kernel.shmmax": "4096"})"),
                        40);
  ASSERT_EQ(plan.sysctls.size(), 2u);
  EXPECT_EQ(plan.sysctls[0].path, "/proc/sys/kernel/shmmax");
  EXPECT_EQ(plan.sysctls[1].path, "/proc/sys/net/ipv4/conf/eth0.100/forwarding");
  ASSERT_EQ(plan.rlimits.size(), 1u);
  EXPECT_EQ(plan.rlimits[0].hard, UINT64_MAX);  // RLIM_INFINITY
  EXPECT_EQ(plan.user->uid, 1000u);
  EXPECT_EQ(plan.user->additional_gids, (std::vector<gid_t>{4, 5}));
  EXPECT_EQ(plan.user->umask, 022u);
  EXPECT_FALSE(plan.capabilities) << "no capabilities object: leave them as they are";
}

// The SDK reads and writes the fields; a stage that changes the spec in prepare keeps them.
TEST(SecuritySpecJson, FieldsRoundTripAndAbsentOnesStayAbsent) {
  const char* text = R"({"process": {"args": ["sh"],
      "capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
      "noNewPrivileges": true, "oomScoreAdj": -5,
      "rlimits": [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}],
      "user": {"uid": 5, "gid": 6, "additionalGids": [7], "umask": 63, "username": "kept"}},
    "linux": {"maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
              "sysctl": {"net.ipv4.ip_forward": "1"}}})";
  auto document = boost::json::parse(text).as_object();
  ContainerSpec spec = spec_from_json(document);
  EXPECT_TRUE(spec.process.no_new_privileges);
  EXPECT_EQ(spec.process.oom_score_adj, -5);
  EXPECT_EQ(spec.process.user->umask, 63);
  auto written = spec_to_json(spec, document);
  EXPECT_EQ(written.at("process").at("capabilities"), document.at("process").at("capabilities"));
  EXPECT_EQ(written.at("process").at("user"), document.at("process").at("user"));
  EXPECT_EQ(written.at("process").at("rlimits"), document.at("process").at("rlimits"));
  EXPECT_EQ(written.at("process").at("oomScoreAdj"), -5);
  EXPECT_EQ(written.at("linux").at("maskedPaths"), document.at("linux").at("maskedPaths"));
  EXPECT_EQ(written.at("linux").at("sysctl"), document.at("linux").at("sysctl"));

  auto plain = spec_to_json(spec_from_json(boost::json::parse(R"({"process": {"args": ["sh"]}})")));
  for (const char* key : {"capabilities", "noNewPrivileges", "rlimits", "user", "oomScoreAdj"})
    EXPECT_FALSE(plain.at("process").as_object().contains(key)) << key;
  for (const char* key : {"maskedPaths", "readonlyPaths", "sysctl"})
    EXPECT_FALSE(plain.at("linux").as_object().contains(key)) << key;
}

TEST(SecuritySpecJson, WrongShapesNameTheField) {
  auto error = [](const char* text) {
    try {
      spec_from_json(boost::json::parse(text));
    } catch (const SpecError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(R"({"process": {"rlimits": [{"type": "RLIMIT_CORE", "soft": 1}]}})"),
            "config.json: process.rlimits[0] needs type, soft and hard");
  EXPECT_EQ(error(R"({"process": {"rlimits": [{"type": "RLIMIT_CORE", "soft": -1, "hard": 1}]}})"),
            "config.json: process.rlimits[0].soft must be an integer from 0 to "
            "18446744073709551615");
  EXPECT_EQ(error(R"({"process": {"capabilities": {"bounding": "CAP_KILL"}}})"),
            "config.json: process.capabilities.bounding must be an array of strings");
  EXPECT_EQ(error(R"({"process": {"user": {"uid": "root"}}})"),
            "config.json: process.user.uid must be an integer");
  EXPECT_EQ(error(R"({"linux": {"sysctl": {"net.ipv4.ip_forward": 1}}})"),
            "config.json: linux.sysctl.net.ipv4.ip_forward must be a string");
}

}  // namespace
}  // namespace nsrun::security
