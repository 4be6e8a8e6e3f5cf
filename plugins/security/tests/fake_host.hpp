// A Host that records every call as one line ("bind /dev/null /proc/kcore") and fails the calls
// a test names, for the unit tests.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nsrun/security/host.hpp"

namespace nsrun::security::test {

class FakeHost final : public Host {
 public:
  int last_capability() override { return last_cap; }
  std::vector<int> permitted_capabilities() override {
    std::vector<int> held;
    for (int cap = 0; cap <= last_cap; ++cap)
      if (!not_held.contains(cap)) held.push_back(cap);
    return held;
  }
  std::set<int> not_held;
  int write_file(const std::string& path, std::string_view value) override {
    return record("write " + path + " " + std::string(value));
  }
  int path_kind(const std::string& path, PathKind& kind) override {
    auto it = kinds.find(path);
    kind = it == kinds.end() ? PathKind::missing : it->second;
    return 0;  // a look, not an action: not recorded
  }
  int bind_mount(const std::string& source, const std::string& target, bool recursive) override {
    return record(std::string(recursive ? "rbind " : "bind ") + source + " " + target);
  }
  int mount_readonly_tmpfs(const std::string& target) override {
    return record("tmpfs-ro " + target);
  }
  int make_readonly(const std::string& target) override { return record("readonly " + target); }
  int set_rlimit(int resource, std::uint64_t soft, std::uint64_t hard) override {
    return record("rlimit " + std::to_string(resource) + " " + std::to_string(soft) + " " +
                  std::to_string(hard));
  }
  int drop_bounding(int capability) override {
    return record("drop-bound " + std::to_string(capability));
  }
  int set_keep_capabilities() override { return record("keepcaps"); }
  int set_groups(const std::vector<gid_t>& groups) override {
    std::string line = "setgroups";
    for (gid_t g : groups) line += " " + std::to_string(g);
    return record(line);
  }
  int set_gid(gid_t gid) override { return record("setresgid " + std::to_string(gid)); }
  int set_uid(uid_t uid) override { return record("setresuid " + std::to_string(uid)); }
  void set_umask(mode_t mask) override { record("umask " + std::to_string(mask)); }
  int set_capabilities(const CapabilitySets& sets) override {
    auto text = [](const std::vector<int>& list) {
      std::string out;
      for (int c : list) out += (out.empty() ? "" : ",") + std::to_string(c);
      return out;
    };
    return record("capset e=" + text(sets.effective) + " p=" + text(sets.permitted) +
                  " i=" + text(sets.inheritable));
  }
  int reset_ambient() override { return record("ambient-reset"); }
  int raise_ambient(int capability) override {
    return record("ambient-raise " + std::to_string(capability));
  }
  int set_no_new_privileges() override { return record("no-new-privs"); }
  int join_session_keyring(const std::string& name) override { return record("keyring " + name); }
  int load_seccomp_program(const CompiledSeccomp& compiled) override {
    return record("seccomp-bpf " + std::to_string(compiled.program.size()) + " instructions");
  }
  int load_seccomp(const SeccompPlan& plan) override {
    loaded_seccomp = plan;
    return record("seccomp " + seccomp_action_name(plan.default_action) + " " +
                  std::to_string(plan.rules.size()) + " rules");
  }

  int last_cap = 40;
  std::map<std::string, PathKind> kinds;
  /// A call whose line starts with a key fails with the errno value.
  std::map<std::string, int> failures;
  std::vector<std::string> calls;
  std::optional<SeccompPlan> loaded_seccomp;

 private:
  int record(const std::string& line) {
    calls.push_back(line);
    for (const auto& [prefix, error] : failures)
      if (line.starts_with(prefix)) return error;
    return 0;
  }
};

}  // namespace nsrun::security::test
