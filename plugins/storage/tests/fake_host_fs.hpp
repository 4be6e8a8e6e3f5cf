// Test doubles for the storage stage: a HostFs that records every call as one line of text, a
// Logger and a Journal that keep what they are given, and a temporary directory.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "nsrun/stage.hpp"
#include "nsrun/storage/host_fs.hpp"
#include "nsrun/storage/secure_join.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::storage::testing {

/// Records each call as a line such as
///   "mount tmpfs $ROOT/dev tmpfs MS_NOSUID|MS_STRICTATIME mode=755,size=65536k"
/// ("-" for an empty argument), with registered path prefixes replaced by short aliases so that
/// tests can spell out the expected sequence. Every call succeeds unless told to fail.
class FakeHostFs final : public HostFs {
 public:
  /// Shows `real` as `shown` in recorded lines (e.g. a temporary rootfs as "$ROOT").
  void alias(std::string real, std::string shown);
  /// Makes calls whose recorded line starts with `line_prefix` fail with `err`, `times` times
  /// (-1: always).
  void fail(std::string line_prefix, Errno err, int times = -1);

  std::vector<std::string> calls;               ///< the recorded lines, in order
  std::map<std::string, std::string> files;     ///< write_file contents by (aliased) path
  bool host_mount_namespace = false;            ///< what in_host_mount_namespace() answers
  std::string current_mount_namespace = "0:1";  ///< what mount_namespace() answers
  /// Look-ups of the host, answered from these and not recorded: a path missing from a map is
  /// ENOENT (by default the host has no cgroup filesystem).
  std::map<std::string, std::int64_t> filesystem_types;              ///< statfs type by path
  std::map<std::string, std::string> readable_files;                 ///< read_file by path
  std::map<std::string, std::vector<SymlinkEntry>> symlink_entries;  ///< read_symlinks by dir

  Errno mount(const std::string& source, const std::string& target, const std::string& fstype,
              unsigned long flags, const std::string& data) override;
  Errno umount2(const std::string& target, int flags) override;
  Errno mount_setattr(const std::string& path, unsigned int at_flags, std::uint64_t attr_set,
                      std::uint64_t attr_clr) override;
  Errno pivot_root(const std::string& new_root, const std::string& put_old) override;
  Errno chroot(const std::string& path) override;
  Errno chdir(const std::string& path) override;
  Errno mkdir(const std::string& path, mode_t mode) override;
  Errno mknod(const std::string& path, mode_t mode, dev_t device) override;
  Errno symlink(const std::string& target, const std::string& link_path) override;
  Errno create_file(const std::string& path, mode_t mode) override;
  Errno lchown(const std::string& path, uid_t uid, gid_t gid) override;
  Errno write_file(const std::string& path, std::string_view content, mode_t mode) override;
  mode_t umask(mode_t mask) override;
  bool in_host_mount_namespace() override { return host_mount_namespace; }
  std::string mount_namespace() override { return current_mount_namespace; }
  Errno filesystem_type(const std::string& path, std::int64_t& type) override;
  Errno read_file(const std::string& path, std::string& content) override;
  Errno read_symlinks(const std::string& dir, std::vector<SymlinkEntry>& links) override;
  /// Resolves against the real directory `root` and records the components it creates; returns
  /// a descriptor number that recorded lines show as "fd:" and the resolved path.
  Errno open_in_root(const std::string& root, const std::string& container_path, bool create,
                     bool last_is_file, int& fd) override;
  /// Records "open_directory fd:<path>"; the descriptor it returns shows as the same path.
  Errno open_directory(const std::string& path, int& fd) override;
  /// Records "copy_tree fd:<the directory open_directory opened> <to>".
  Errno copy_tree(int from_fd, const std::string& to) override;
  void close(int) override {}

 private:
  struct Failure {
    std::string prefix;
    Errno err;
    int times;
  };
  std::string shown(std::string text) const;
  Errno record(std::string line);

  std::vector<std::pair<std::string, std::string>> aliases_;
  std::vector<Failure> failures_;
  std::map<std::string, std::string> pinned_;  ///< descriptor number -> the host path pinned
  int next_fd_ = 1000;
  std::set<std::string> created_;  ///< what open_in_root recorded as created
  mode_t umask_ = 022;
};

/// "MS_BIND|MS_REC", "0" for none.
std::string mount_flag_names(unsigned long flags);

/// Makes `fs` a cgroup v1 host like this project's test machine, with cpu and cpuacct
/// co-mounted: pids, cpu,cpuacct (and its cpu and cpuacct links), memory, systemd and unified
/// hierarchies under /sys/fs/cgroup, the process in `cgroup` (e.g. "/nsrun-c1") in each.
void play_cgroup_v1_host(FakeHostFs& fs, const std::string& cgroup);

/// Makes `fs` a cgroup v2 host (cgroup2 at /sys/fs/cgroup), the process in `cgroup`.
void play_cgroup_v2_host(FakeHostFs& fs, const std::string& cgroup);

// The SDK's test kit.
using FakeLogger = ::nsrun::testing::RecordingLogger;
using FakeJournal = ::nsrun::testing::MemoryJournal;

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  /// Creates `relative` and its parents as directories; returns the host path.
  std::string make_dir(const std::string& relative) const;
  /// Creates the file `relative` with `content`; returns the host path.
  std::string make_file(const std::string& relative, const std::string& content = "") const;
  /// Creates the symlink `relative` pointing at `target`.
  void make_symlink(const std::string& relative, const std::string& target) const;

 private:
  std::string path_;
};

}  // namespace nsrun::storage::testing
