// nsrun.security: every call the security stage makes into the kernel, behind one interface.
//
// The stage runs inside the container process, after the root switch, so every path here is a
// container path. Unit tests replace LinuxHost with a fake that records the calls, which is how
// they check the order the kernel needs (the bounding set before the user switch, capsets after
// it, no_new_privs last) without root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/security/seccomp.hpp"

namespace nsrun::security {

enum class PathKind { missing, file, directory };

/// Capability numbers (CAP_CHOWN is 0) of the three sets capset(2) takes at once.
struct CapabilitySets {
  std::vector<int> effective;
  std::vector<int> permitted;
  std::vector<int> inheritable;
};

/// Every int result is 0 or an errno value.
class Host {
 public:
  virtual ~Host() = default;
  /// The highest capability number the running kernel knows (CAP_LAST_CAP).
  virtual int last_capability() = 0;
  /// The capabilities nsrun itself holds in its permitted set (what --privileged can give), up to
  /// last_capability(), in ascending order.
  virtual std::vector<int> permitted_capabilities() = 0;
  /// Writes `value` to an existing file (a /proc/sys or /proc/self file) in one write(2).
  virtual int write_file(const std::string& path, std::string_view value) = 0;
  /// What `path` is, following symlinks; a dangling or absent path is `missing`.
  virtual int path_kind(const std::string& path, PathKind& kind) = 0;
  virtual int bind_mount(const std::string& source, const std::string& target, bool recursive) = 0;
  virtual int mount_readonly_tmpfs(const std::string& target) = 0;
  /// Makes the mount at `target` and every mount beneath it read-only.
  virtual int make_readonly(const std::string& target) = 0;
  virtual int set_rlimit(int resource, std::uint64_t soft, std::uint64_t hard) = 0;
  virtual int drop_bounding(int capability) = 0;
  virtual int set_keep_capabilities() = 0;
  virtual int set_groups(const std::vector<gid_t>& groups) = 0;
  virtual int set_gid(gid_t gid) = 0;
  virtual int set_uid(uid_t uid) = 0;
  virtual void set_umask(mode_t mask) = 0;
  virtual int set_capabilities(const CapabilitySets& sets) = 0;
  virtual int reset_ambient() = 0;
  virtual int raise_ambient(int capability) = 0;
  virtual int set_no_new_privileges() = 0;
  /// Joins a new session keyring named `name` (keyctl(2) KEYCTL_JOIN_SESSION_KEYRING).
  virtual int join_session_keyring(const std::string& name) = 0;
  /// Builds the filter of `plan` and loads it into the calling thread (libseccomp; the build
  /// allocates, which is fine in the container process).
  virtual int load_seccomp(const SeccompPlan& plan) = 0;
  /// Loads a compiled filter into the calling thread (seccomp(2) SECCOMP_SET_MODE_FILTER).
  virtual int load_seccomp_program(const CompiledSeccomp& compiled) = 0;
};

class LinuxHost final : public Host {
 public:
  int last_capability() override;
  std::vector<int> permitted_capabilities() override;
  int write_file(const std::string& path, std::string_view value) override;
  int path_kind(const std::string& path, PathKind& kind) override;
  int bind_mount(const std::string& source, const std::string& target, bool recursive) override;
  int mount_readonly_tmpfs(const std::string& target) override;
  int make_readonly(const std::string& target) override;
  int set_rlimit(int resource, std::uint64_t soft, std::uint64_t hard) override;
  int drop_bounding(int capability) override;
  int set_keep_capabilities() override;
  int set_groups(const std::vector<gid_t>& groups) override;
  int set_gid(gid_t gid) override;
  int set_uid(uid_t uid) override;
  void set_umask(mode_t mask) override;
  int set_capabilities(const CapabilitySets& sets) override;
  int reset_ambient() override;
  int raise_ambient(int capability) override;
  int set_no_new_privileges() override;
  int join_session_keyring(const std::string& name) override;
  int load_seccomp(const SeccompPlan& plan) override;
  int load_seccomp_program(const CompiledSeccomp& compiled) override;
};

}  // namespace nsrun::security
