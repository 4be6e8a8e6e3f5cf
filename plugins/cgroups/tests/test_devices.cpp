// linux.resources.devices: validation, runc's defaults, the v1 rule writes, and the v2 device
// program, whose decisions are checked by running it in a small interpreter of the handful of
// eBPF instructions the generator emits.
#include <gtest/gtest.h>

#include <optional>

#include "fake_cgroupfs.hpp"
#include "nsrun/cgroups/cgroups_stage.hpp"
#include "nsrun/cgroups/devices.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::cgroups {
namespace {

using test::FakeCgroupFs;

// --- The test's eBPF interpreter --------------------------------------------------------------

// Runs `program` on a bpf_cgroup_dev_ctx; nullopt (with a test failure) on an instruction the
// generator is not expected to emit, a backward or out-of-range jump, or a read outside the
// context.
std::optional<int> run_program(const std::vector<bpf_insn>& program, char type, unsigned major,
                               unsigned minor, const std::string& access) {
  std::uint32_t dev_type = type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
  std::uint32_t bits = 0;
  for (char c : access)
    bits |= c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  const std::uint32_t context[3] = {(bits << 16) | dev_type, major, minor};
  std::uint64_t r[11] = {};
  bool r0_set = false;
  for (std::size_t pc = 0; pc < program.size(); ++pc) {
    const bpf_insn& i = program[pc];
    auto imm32 = static_cast<std::uint32_t>(i.imm);
    auto imm64 = static_cast<std::uint64_t>(static_cast<std::int64_t>(i.imm));
    if (i.dst_reg > 7 || i.src_reg > 7) {
      ADD_FAILURE() << "register out of use at " << pc;
      return std::nullopt;
    }
    switch (i.code) {
      case BPF_LDX | BPF_W | BPF_MEM:
        if (i.src_reg != BPF_REG_1 || i.off < 0 || i.off > 8 || i.off % 4) {
          ADD_FAILURE() << "load outside the context at " << pc;
          return std::nullopt;
        }
        r[i.dst_reg] = context[i.off / 4];
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        r[i.dst_reg] = static_cast<std::uint32_t>(r[i.dst_reg]) & imm32;
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        r[i.dst_reg] = static_cast<std::uint32_t>(r[i.dst_reg]) >> imm32;
        break;
      case BPF_ALU | BPF_MOV | BPF_K:
        r[i.dst_reg] = imm32;
        if (i.dst_reg == BPF_REG_0) r0_set = true;
        break;
      case BPF_ALU64 | BPF_MOV | BPF_X:
        r[i.dst_reg] = r[i.src_reg];
        break;
      case BPF_JMP | BPF_JNE | BPF_K:
      case BPF_JMP | BPF_JEQ | BPF_K: {
        bool equal = r[i.dst_reg] == imm64;
        bool jump = (BPF_OP(i.code) == BPF_JEQ) == equal;
        if (i.off < 0 || pc + i.off + 1 >= program.size()) {
          ADD_FAILURE() << "jump out of range at " << pc;
          return std::nullopt;
        }
        if (jump) pc += i.off;
        break;
      }
      case BPF_JMP | BPF_EXIT:
        if (!r0_set) {
          ADD_FAILURE() << "exit without a verdict at " << pc;
          return std::nullopt;
        }
        return static_cast<int>(r[0]);
      default:
        ADD_FAILURE() << "unexpected opcode " << int(i.code) << " at " << pc;
        return std::nullopt;
    }
  }
  ADD_FAILURE() << "the program runs off its end";
  return std::nullopt;
}

// The rule semantics, written independently of the generator: for each access asked for, the
// last rule matching the device and naming the access decides; unnamed accesses are allowed.
bool reference_allows(const std::vector<DeviceRuleSpec>& rules, char type, unsigned major,
                      unsigned minor, const std::string& access) {
  for (char wanted : access) {
    std::optional<bool> verdict;
    for (const auto& rule : rules) {
      bool type_ok = rule.type == "a" || rule.type[0] == type;
      bool major_ok = !rule.major || *rule.major == -1 || *rule.major == major;
      bool minor_ok = !rule.minor || *rule.minor == -1 || *rule.minor == minor;
      std::string names = rule.access.empty() ? "rwm" : rule.access;
      if (type_ok && major_ok && minor_ok && names.find(wanted) != std::string::npos)
        verdict = rule.allow;
    }
    if (verdict && !*verdict) return false;
  }
  return true;
}

DeviceRuleSpec rule(bool allow, std::string type, std::optional<std::int64_t> major,
                    std::optional<std::int64_t> minor, std::string access) {
  return DeviceRuleSpec{allow, std::move(type), major, minor, std::move(access)};
}

TEST(DeviceProgram, DefaultsAllowTheStandardNodesOnly) {
  auto program = device_program(default_device_rules());
  struct Case {
    char type;
    unsigned major, minor;
    const char* access;
    int allowed;
  } cases[] = {
      {'c', 1, 3, "rw", 1},                          // /dev/null
      {'c', 1, 5, "r", 1},                           // /dev/zero
      {'c', 1, 9, "rwm", 1},                         // /dev/urandom
      {'c', 136, 7, "rw", 1},                        // a pts
      {'c', 5, 2, "rw", 1},                          // ptmx
      {'c', 10, 200, "rw", 1},                       // tun
      {'b', 8, 0, "m", 1},                           // mknod of a disk is allowed...
      {'b', 8, 0, "r", 0},                           // ...opening it is not
      {'b', 8, 0, "rm", 0},    {'c', 1, 1, "r", 0},  // /dev/mem
      {'c', 1, 11, "w", 0},                          // /dev/kmsg
      {'c', 4, 1, "rw", 0},                          // a host tty
      {'c', 1, 1, "m", 1},
  };
  for (const auto& c : cases)
    EXPECT_EQ(run_program(program, c.type, c.major, c.minor, c.access), c.allowed)
        << c.type << " " << c.major << ":" << c.minor << " " << c.access;
}

TEST(DeviceProgram, LastMatchingRuleDecidesEachAccess) {
  std::vector<DeviceRuleSpec> rules = {
      rule(false, "a", std::nullopt, std::nullopt, "rwm"),
      rule(true, "c", 1, std::nullopt, "rw"),  // every 1:*
      rule(false, "c", 1, 3, "w"),             // but 1:3 read-only
      rule(true, "b", 7, 0, ""),               // empty access: rwm
      rule(false, "a", 7, std::nullopt, "m"),  // no mknod of anything with major 7
  };
  auto program = device_program(rules);
  EXPECT_EQ(run_program(program, 'c', 1, 3, "r"), 1);
  EXPECT_EQ(run_program(program, 'c', 1, 3, "rw"), 0);
  EXPECT_EQ(run_program(program, 'c', 1, 5, "rw"), 1);
  EXPECT_EQ(run_program(program, 'c', 1, 5, "m"), 0);
  EXPECT_EQ(run_program(program, 'b', 7, 0, "rw"), 1);
  EXPECT_EQ(run_program(program, 'b', 7, 0, "m"), 0);
  EXPECT_EQ(run_program(program, 'c', 2, 0, "r"), 0);
  // Without a deny-all rule, what no rule names stays allowed (the parent decides).
  auto open = device_program({rule(false, "c", 1, 3, "w")});
  EXPECT_EQ(run_program(open, 'c', 1, 3, "w"), 0);
  EXPECT_EQ(run_program(open, 'c', 1, 3, "r"), 1);
  EXPECT_EQ(run_program(open, 'b', 8, 0, "rwm"), 1);
  // An empty list allows everything.
  EXPECT_EQ(run_program(device_program({}), 'b', 8, 0, "rwm"), 1);
}

TEST(DeviceProgram, AgreesWithTheRuleSemanticsOnAGrid) {
  std::vector<std::vector<DeviceRuleSpec>> lists = {
      default_device_rules(),
      {rule(true, "a", std::nullopt, std::nullopt, "rwm"), rule(false, "c", 1, 3, "rw"),
       rule(true, "c", 1, 3, "r"), rule(false, "b", std::nullopt, 0, "m")},
      {rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "a", 1, -1, "wm"),
       rule(false, "c", -1, 5, "m"), rule(true, "c", 1, 5, "r")},
  };
  const char* accesses[] = {"r", "w", "m", "rw", "rm", "wm", "rwm"};
  for (std::size_t l = 0; l < lists.size(); ++l) {
    auto program = device_program(lists[l]);
    for (char type : {'c', 'b'})
      for (unsigned major : {0u, 1u, 5u, 7u, 136u})
        for (unsigned minor : {0u, 3u, 5u, 9u})
          for (const char* access : accesses)
            ASSERT_EQ(run_program(program, type, major, minor, access),
                      reference_allows(lists[l], type, major, minor, access) ? 1 : 0)
                << "list " << l << ": " << type << " " << major << ":" << minor << " " << access;
  }
}

// --- Validation and v1 writes -----------------------------------------------------------------

std::string validation_error(const std::vector<DeviceRuleSpec>& rules) {
  try {
    validate_device_rules(rules);
  } catch (const StageError& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceRules, ValidationNamesTheField) {
  auto ok = rule(true, "c", 1, 3, "rwm");
  EXPECT_EQ(validation_error({ok, ok, rule(true, "c", 1, 3, "rwx")}),
            "config.json: linux.resources.devices[2].access: \"rwx\" is not a subset of \"rwm\"");
  EXPECT_EQ(validation_error({rule(true, "c", 1, 3, "rr")}),
            "config.json: linux.resources.devices[0].access: \"rr\" is not a subset of \"rwm\"");
  EXPECT_EQ(validation_error({rule(true, "u", 1, 3, "r")}),
            "config.json: linux.resources.devices[0].type: \"u\" is not a device type (use \"a\" "
            "for all, \"c\" or \"b\")");
  EXPECT_EQ(validation_error({rule(true, "c", -2, 3, "r")}),
            "config.json: linux.resources.devices[0].major: -2 is not a device number (0 to "
            "2147483647; leave it out for any)");
  EXPECT_EQ(validation_error(default_device_rules()), "");
  EXPECT_EQ(validation_error({rule(false, "a", -1, -1, "")}), "");
}

TEST(DeviceRules, V1WritesFollowTheListInOrder) {
  auto writes =
      v1_device_writes({rule(false, "a", std::nullopt, std::nullopt, "rwm"),
                        rule(true, "c", std::nullopt, std::nullopt, "m"),
                        rule(true, "c", 1, 3, "rwm"), rule(true, "c", 136, -1, ""),
                        rule(false, "a", 7, std::nullopt, "m"), rule(true, "a", -1, -1, "rwm")});
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& w : writes) got.emplace_back(w.file, w.value);
  std::vector<std::pair<std::string, std::string>> want = {
      {"devices.deny", "a"},          {"devices.allow", "c *:* m"},
      {"devices.allow", "c 1:3 rwm"}, {"devices.allow", "c 136:* rwm"},
      {"devices.deny", "c 7:* m"},    {"devices.deny", "b 7:* m"},
      {"devices.allow", "a"}};
  EXPECT_EQ(got, want);
}

// --- The stage ---------------------------------------------------------------------------------

// One container's stage on its own fake host.
struct DevicesRun {
  FakeCgroupFs* fs = nullptr;
  std::unique_ptr<CgroupsStage> stage;
  testing::StageHarness h;

  void make(bool v2) {
    auto host = std::make_unique<FakeCgroupFs>();
    fs = host.get();
    if (v2) {
      FakeCgroupFs::make_v2_host(*fs);
    } else {
      FakeCgroupFs::make_v1_host(*fs, /*hybrid=*/true);
      FakeCgroupFs::add_v1_devices(*fs);
    }
    stage = std::make_unique<CgroupsStage>(std::move(host));
    h.container_id = "c1";
    h.spec.namespaces = {{"pid", ""}, {"mount", ""}};
  }
  void run_to_runtime() {
    h.run(*stage, Phase::validate);
    h.run(*stage, Phase::prepare);
    h.pid = 4242;
    h.run(*stage, Phase::create_container);
    h.run(*stage, Phase::create_runtime);
  }
};

struct DevicesStage : ::testing::Test, DevicesRun {};

TEST_F(DevicesStage, FlagsGetRuncsDefaultsAndBundlesNone) {
  make(false);
  h.spec_source = SpecSource::flags;
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  EXPECT_EQ(h.spec.resources.devices.size(), default_device_rules().size());
  EXPECT_FALSE(h.spec.resources.devices.front().allow);
  // Written once each: the list already ends with the allows appended to every list.
  h.pid = 4242;
  h.run(*stage, Phase::create_runtime);
  auto written = fs->writes_under("/sys/fs/cgroup/devices/nsrun-c1");
  std::erase_if(written, [](const auto& w) { return !w.first.starts_with("devices."); });
  EXPECT_EQ(written.size(), v1_device_writes(default_device_rules()).size());

  DevicesRun bundle;
  bundle.make(false);
  bundle.h.spec_source = SpecSource::bundle;
  bundle.h.run(*bundle.stage, Phase::validate);
  bundle.h.run(*bundle.stage, Phase::prepare);
  EXPECT_TRUE(bundle.h.spec.resources.devices.empty());
  // A cgroup in every hierarchy, as runc makes, but no device rule of nsrun's in it.
  EXPECT_FALSE(bundle.fs->made_dirs.empty());
  for (const auto& [path, value] : bundle.fs->writes)
    EXPECT_FALSE(path.find("/devices.") != std::string::npos) << path << " = " << value;

  // A flags run whose spec already has rules (another stage's) keeps them.
  DevicesRun given;
  given.make(false);
  given.h.spec_source = SpecSource::flags;
  given.h.spec.resources.devices = {rule(false, "a", std::nullopt, std::nullopt, "rwm")};
  given.h.run(*given.stage, Phase::validate);
  given.h.run(*given.stage, Phase::prepare);
  EXPECT_EQ(given.h.spec.resources.devices.size(), 1u);
}

TEST(DeviceRules, TheDefaultAllowsAreAppendedUnlessTheListEndsWithThem) {
  const auto defaults = default_device_rules();
  EXPECT_EQ(v1_device_writes(rules_with_defaults(defaults)).size(),
            v1_device_writes(defaults).size());
  // Anything after them (a --device rule) and they come again, last, as runc appends them.
  auto with_device = defaults;
  with_device.push_back(rule(true, "c", 10, 229, "rwm"));
  auto got = rules_with_defaults(with_device);
  ASSERT_EQ(got.size(), with_device.size() + defaults.size() - 1);
  EXPECT_EQ(v1_device_writes({got[defaults.size()]}).front().value, "c 10:229 rwm");
  EXPECT_EQ(v1_device_writes({got.back()}).front().value, "c 10:200 rwm");
  // Equal in what they allow, not in how they are written: "" is "rwm".
  auto same_access = defaults;
  for (auto& r : same_access)
    if (r.access == "rwm") r.access = "";
  EXPECT_EQ(rules_with_defaults(same_access).size(), defaults.size());
  // A list that ends with only some of them gets them all.
  std::vector<DeviceRuleSpec> partial(defaults.end() - 3, defaults.end());
  EXPECT_EQ(rules_with_defaults(partial).size(), partial.size() + defaults.size() - 1);
}

TEST_F(DevicesStage, V1WritesTheFinalSpecsRulesInCreateRuntime) {
  make(false);
  h.spec.resources.devices = {rule(false, "a", std::nullopt, std::nullopt, "rwm"),
                              rule(true, "c", 1, 3, "rwm")};
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  const std::string dir = "/sys/fs/cgroup/devices/nsrun-c1";
  EXPECT_TRUE(fs->writes_under(dir).empty());  // nothing before every stage has prepared
  // A later stage's prepare (storage's --device) adds a rule.
  h.spec.resources.devices.push_back(rule(true, "c", 1, 5, "r"));
  h.pid = 4242;
  h.run(*stage, Phase::create_container);
  h.run(*stage, Phase::create_runtime);
  // Then runc's default allows, appended as runc and crun append them.
  std::vector<std::pair<std::string, std::string>> want = {
      {"devices.deny", "a"}, {"devices.allow", "c 1:3 rwm"}, {"devices.allow", "c 1:5 r"}};
  const auto defaults = default_device_rules();
  for (const auto& write :
       v1_device_writes(std::vector<DeviceRuleSpec>(defaults.begin() + 1, defaults.end())))
    want.push_back({write.file, write.value});
  auto got = fs->writes_under(dir);
  std::erase_if(got, [](const auto& w) { return !w.first.starts_with("devices."); });
  EXPECT_EQ(got, want);
  EXPECT_TRUE(fs->device_programs.empty());
  EXPECT_EQ(fs->get(dir + "/cgroup.procs"), "4242\n");  // joined through its tasks file
}

TEST_F(DevicesStage, V2AttachesTheProgramToTheContainersCgroup) {
  make(true);
  h.spec_source = SpecSource::flags;
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  EXPECT_TRUE(fs->device_programs.empty());
  h.spec.resources.devices.push_back(rule(true, "b", 8, 0, "r"));  // --device /dev/sda:r
  h.pid = 4242;
  h.run(*stage, Phase::create_runtime);
  ASSERT_EQ(fs->device_programs.size(), 1u);
  EXPECT_EQ(fs->device_programs[0].first, "/sys/fs/cgroup/nsrun-c1");
  const auto& program = fs->device_programs[0].second;
  EXPECT_EQ(run_program(program, 'c', 1, 3, "rw"), 1);
  EXPECT_EQ(run_program(program, 'b', 8, 0, "r"), 1);
  EXPECT_EQ(run_program(program, 'b', 8, 0, "w"), 0);
  EXPECT_EQ(run_program(program, 'b', 8, 1, "r"), 0);
  EXPECT_EQ(fs->get("/sys/fs/cgroup/nsrun-c1/cgroup.procs"), "4242\n");
}

TEST_F(DevicesStage, AFailedAttachNamesTheCgroup) {
  make(true);
  h.spec_source = SpecSource::flags;
  fs->attach_error = EPERM;
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  h.pid = 4242;
  try {
    h.run(*stage, Phase::create_runtime);
    FAIL() << "no error";
  } catch (const StageError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot attach the device program to cgroup "
                                         "/sys/fs/cgroup/nsrun-c1: Operation not permitted"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(DevicesStage, WithoutACgroupFilesystemTheDefaultsAreDroppedButAskedRulesFail) {
  auto host = std::make_unique<FakeCgroupFs>();
  fs = host.get();
  fs->put("/proc/self/mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n");
  fs->put("/proc/self/cgroup", "");
  stage = std::make_unique<CgroupsStage>(std::move(host));
  h.spec.namespaces = {{"pid", ""}, {"mount", ""}};
  h.spec_source = SpecSource::flags;
  h.run(*stage, Phase::validate);
  h.run(*stage, Phase::prepare);
  EXPECT_TRUE(h.spec.resources.devices.empty());
  EXPECT_TRUE(h.log.contains("no device allowlist: no cgroup filesystem is mounted"));
  h.spec.resources.devices.push_back(rule(true, "c", 1, 3, "r"));  // --device
  h.pid = 4242;
  h.run(*stage, Phase::create_runtime);
  EXPECT_TRUE(fs->made_dirs.empty());
  // Rules a bundle asks for are not dropped: no cgroup filesystem is an error for them.
  DevicesRun bundle;
  auto bundle_host = std::make_unique<FakeCgroupFs>();
  bundle.fs = bundle_host.get();
  bundle.fs->put("/proc/self/mountinfo", "22 1 0:21 / /proc rw - proc proc rw\n");
  bundle.fs->put("/proc/self/cgroup", "");
  bundle.stage = std::make_unique<CgroupsStage>(std::move(bundle_host));
  bundle.h.spec.namespaces = {{"pid", ""}, {"mount", ""}};
  bundle.h.spec.resources.devices = {rule(false, "a", std::nullopt, std::nullopt, "rwm")};
  EXPECT_THROW(bundle.h.run(*bundle.stage, Phase::validate), StageError);
}

TEST_F(DevicesStage, BadRulesAreRefusedInValidateBeforeAnything) {
  make(false);
  h.spec.resources.devices = {rule(true, "c", 1, 3, "rwx")};
  EXPECT_THROW(h.run(*stage, Phase::validate), StageError);
  EXPECT_TRUE(fs->made_dirs.empty());
}

}  // namespace
}  // namespace nsrun::cgroups
