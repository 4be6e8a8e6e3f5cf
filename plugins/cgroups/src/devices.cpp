#include "nsrun/cgroups/devices.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

#include "nsrun/stage.hpp"

namespace nsrun::cgroups {
namespace {

constexpr std::int64_t max_device_number = 0x7fffffff;  // fits the program's 32-bit immediates

bool wildcard(const std::optional<std::int64_t>& number) {
  return !number || *number == -1;
}

std::string access_of(const DeviceRuleSpec& rule) {
  return rule.access.empty() ? "rwm" : rule.access;
}

std::string number_text(const std::optional<std::int64_t>& number) {
  return wildcard(number) ? "*" : std::to_string(*number);
}

// BPF_DEVCG_ACC_* bits of an access string ("rwm" subset, checked).
std::int32_t access_bits(const std::string& access) {
  std::int32_t bits = 0;
  for (char c : access)
    bits |= c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  return bits;
}

constexpr std::int32_t all_access = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off,
              std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

}  // namespace

std::vector<DeviceRuleSpec> default_device_rules() {
  auto allow = [](const char* type, std::optional<std::int64_t> major,
                  std::optional<std::int64_t> minor, const char* access) {
    return DeviceRuleSpec{true, type, major, minor, access};
  };
  return {
      DeviceRuleSpec{false, "a", std::nullopt, std::nullopt, "rwm"},
      allow("c", std::nullopt, std::nullopt, "m"),
      allow("b", std::nullopt, std::nullopt, "m"),
      allow("c", 1, 3, "rwm"),               // null
      allow("c", 1, 5, "rwm"),               // zero
      allow("c", 1, 7, "rwm"),               // full
      allow("c", 1, 8, "rwm"),               // random
      allow("c", 1, 9, "rwm"),               // urandom
      allow("c", 5, 0, "rwm"),               // tty
      allow("c", 5, 1, "rwm"),               // console
      allow("c", 5, 2, "rwm"),               // ptmx
      allow("c", 136, std::nullopt, "rwm"),  // pts
      allow("c", 10, 200, "rwm"),            // net/tun
  };
}

std::vector<DeviceRuleSpec> rules_with_defaults(const std::vector<DeviceRuleSpec>& rules) {
  if (rules.empty()) return rules;
  const auto defaults = default_device_rules();
  const auto allows = std::span(defaults).subspan(1);  // the allows, not the deny-all
  // A list that already ends with them (`nsrun run`'s, which are the defaults) would end the
  // same with them twice: the last rule that names a device decides it. Each is a write on v1.
  auto same = [](const DeviceRuleSpec& a, const DeviceRuleSpec& b) {
    return a.allow == b.allow && a.type == b.type && a.major == b.major && a.minor == b.minor &&
           access_of(a) == access_of(b);
  };
  if (rules.size() >= allows.size() &&
      std::equal(allows.begin(), allows.end(), rules.end() - static_cast<long>(allows.size()),
                 same))
    return rules;
  std::vector<DeviceRuleSpec> out = rules;
  out.insert(out.end(), allows.begin(), allows.end());
  return out;
}

void validate_device_rules(const std::vector<DeviceRuleSpec>& rules) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& rule = rules[i];
    std::string field = "config.json: linux.resources.devices[" + std::to_string(i) + "].";
    if (rule.type != "a" && rule.type != "c" && rule.type != "b")
      throw StageError(field + "type: \"" + rule.type +
                       "\" is not a device type (use \"a\" for all, \"c\" or \"b\")");
    for (auto [name, number] : {std::pair{"major", &rule.major}, std::pair{"minor", &rule.minor}})
      if (*number && **number != -1 && (**number < 0 || **number > max_device_number))
        throw StageError(field + name + ": " + std::to_string(**number) +
                         " is not a device number (0 to 2147483647; leave it out for any)");
    bool seen[3] = {false, false, false};
    for (char c : rule.access) {
      const char* at = std::strchr("rwm", c);
      if (c == '\0' || !at || seen[at - "rwm"])
        throw StageError(field + "access: \"" + rule.access + "\" is not a subset of \"rwm\"");
      seen[at - "rwm"] = true;
    }
  }
}

bool is_all_devices_rule(const DeviceRuleSpec& rule) {
  return rule.type == "a" && wildcard(rule.major) && wildcard(rule.minor) &&
         access_bits(access_of(rule)) == all_access;
}

std::vector<CgroupWrite> v1_device_writes(const std::vector<DeviceRuleSpec>& rules) {
  std::vector<CgroupWrite> out;
  for (const auto& rule : rules) {
    std::string file = rule.allow ? "devices.allow" : "devices.deny";
    // "a" resets the whole list (the kernel reads nothing after it), so only a rule that is
    // about every device and every access may be written that way.
    if (is_all_devices_rule(rule)) {
      out.push_back({file, "a"});
      continue;
    }
    std::string rest =
        " " + number_text(rule.major) + ":" + number_text(rule.minor) + " " + access_of(rule);
    if (rule.type == "a") {
      out.push_back({file, "c" + rest});
      out.push_back({file, "b" + rest});
    } else {
      out.push_back({file, rule.type + rest});
    }
  }
  return out;
}

std::vector<bpf_insn> device_program(const std::vector<DeviceRuleSpec>& rules) {
  // Registers: r2 device type, r3 access asked for, r4 major, r5 minor (from the context in r1),
  // r6 the accesses asked for that no rule has decided yet, r7 scratch.
  std::vector<bpf_insn> p = {
      insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0),
      insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff),
      insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 0, 0),
      insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16),
      insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0),
      insn(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0),
      insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_3, 0, 0),
  };
  // Last rule first: the first to decide an access is the last in the list that names it.
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const auto& rule = *it;
    std::vector<std::pair<std::uint8_t, std::int32_t>> checks;  // (register, value): skip if !=
    if (rule.type != "a")
      checks.push_back({BPF_REG_2, rule.type == "c" ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK});
    if (!wildcard(rule.major))
      checks.push_back({BPF_REG_4, static_cast<std::int32_t>(*rule.major)});
    if (!wildcard(rule.minor))
      checks.push_back({BPF_REG_5, static_cast<std::int32_t>(*rule.minor)});
    std::int32_t bits = access_bits(access_of(rule));
    std::vector<bpf_insn> body;
    if (rule.allow) {
      // Its accesses are decided (allowed); when none is left undecided, the request is allowed.
      body = {insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_6, 0, 0, ~bits & all_access),
              insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_6, 0, 2, 0),
              insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1),
              insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)};
    } else {
      // An undecided access it names is denied, and with it the request.
      body = {insn(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_7, BPF_REG_6, 0, 0),
              insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_7, 0, 0, bits),
              insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_7, 0, 2, 0),
              insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
              insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)};
    }
    for (std::size_t i = 0; i < checks.size(); ++i) {
      auto skip = static_cast<std::int16_t>(checks.size() - i - 1 + body.size());
      p.push_back(insn(BPF_JMP | BPF_JNE | BPF_K, checks[i].first, 0, skip, checks[i].second));
    }
    p.insert(p.end(), body.begin(), body.end());
  }
  // What no rule decided is left to the ancestors' programs, as a fresh cgroup leaves it.
  p.push_back(insn(BPF_ALU | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1));
  p.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return p;
}

void apply_device_rules(Host& host, const Plan& plan, const std::vector<DeviceRuleSpec>& rules,
                        Logger& log) {
  if (rules.empty()) return;
  const Placement* target = nullptr;
  for (const auto& p : plan.placements)
    if (p.holds_devices) target = &p;
  if (!target)
    throw StageError(
        "linux.resources.devices was set after the cgroups stage planned the container's cgroups "
        "(a stage after it added device rules to a spec that had none; put that stage first, or "
        "give the rules in the spec)");
  std::string dir = target->dir();
  if (!target->v2) {
    // Rules in a row for the same file go through one descriptor: the kernel takes each write as
    // one rule, and the default spec's twelve rules need two opens instead of twelve.
    struct OpenFile {
      Host& host;
      std::string path;
      int fd = -1;
      ~OpenFile() {
        if (fd >= 0) host.close_fd(fd);
      }
    } file{host, {}, -1};
    for (const auto& w : v1_device_writes(rules)) {
      const std::string path = dir + "/" + w.file;
      int error = 0;
      if (path != file.path) {
        if (file.fd >= 0) host.close_fd(file.fd);
        file.path = path;
        file.fd = host.open_for_write(path);
        if (file.fd < 0) error = -file.fd;
      }
      if (!error) error = host.write_fd(file.fd, w.value);
      if (error)
        throw StageError("cannot write \"" + w.value + "\" to " + path + ": " +
                         std::strerror(error) +
                         (error == EPERM ? " (the parent cgroup does not allow this device)" : ""));
      if (log.debug_enabled()) log.debug(path + " = " + w.value);
    }
    return;
  }
  auto program = device_program(rules);
  std::string verifier_log;
  if (int error = host.attach_device_program(dir, program, verifier_log))
    throw StageError("cannot attach the device program to cgroup " + dir + ": " +
                     std::strerror(error) +
                     (verifier_log.empty() ? std::string(" (nsrun must run as root with a kernel "
                                                         "with CONFIG_CGROUP_BPF)")
                                           : " (verifier: " + verifier_log + ")"));
  if (log.debug_enabled())
    log.debug(dir + ": device program of " + std::to_string(program.size()) +
              " instructions attached for " + std::to_string(rules.size()) + " rules");
}

}  // namespace nsrun::cgroups
