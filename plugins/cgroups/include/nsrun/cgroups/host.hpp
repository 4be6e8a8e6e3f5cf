// nsrun.cgroups: every host call the cgroups stage makes, behind one small interface.
//
// The stage reads /proc/self/mountinfo, /proc/self/cgroup, /sys/devices/system/{cpu,node}/online
// and cgroupfs files, creates and removes cgroup directories and, at teardown, signals what is left
// in a container's cgroup. All of it goes through Host, whose paths are host paths. LinuxHost
// prefixes each path with a root directory (empty on a real host), so that unit tests drive the
// whole stage against a temporary directory laid out like /proc and /sys/fs/cgroup.
#pragma once

#include <linux/bpf.h>
#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace nsrun::cgroups {

class Host {
 public:
  virtual ~Host() = default;
  /// Reads a whole file into `out`. 0 or an errno value.
  virtual int read_file(const std::string& path, std::string& out) = 0;
  /// Writes `value` to an existing file in one write(2), as cgroupfs wants. 0 or an errno value.
  virtual int write_file(const std::string& path, std::string_view value) = 0;
  /// 0, or an errno value (EEXIST when it exists).
  virtual int make_dir(const std::string& path) = 0;
  /// 0, or an errno value (ENOENT when gone, EBUSY while a cgroup still has processes).
  virtual int remove_dir(const std::string& path) = 0;
  virtual bool is_dir(const std::string& path) = 0;
  /// Opens an existing file for writing, close-on-exec: a descriptor, or -errno.
  virtual int open_for_write(const std::string& path) = 0;
  /// One write(2) of `value` to a descriptor from open_for_write: 0 or an errno value.
  virtual int write_fd(int fd, std::string_view value) = 0;
  virtual void close_fd(int fd) = 0;
  /// kill(2): 0 or an errno value.
  virtual int kill_process(pid_t pid, int signal) = 0;
  virtual void sleep_for(std::chrono::microseconds duration) = 0;
  /// Loads `program` as a BPF_PROG_TYPE_CGROUP_DEVICE program (bpf(2) BPF_PROG_LOAD) and
  /// attaches it to the cgroup2 directory `dir` (BPF_PROG_ATTACH, BPF_CGROUP_DEVICE,
  /// BPF_F_ALLOW_MULTI). The program stays attached until the cgroup is removed. 0 or an errno
  /// value; `verifier_log` holds the verifier's complaint when loading failed.
  virtual int attach_device_program(const std::string& dir, const std::vector<bpf_insn>& program,
                                    std::string& verifier_log) = 0;
};

/// The real host, optionally beneath `root` (every path is `root + path`).
class LinuxHost : public Host {
 public:
  explicit LinuxHost(std::string root = {}) : root_(std::move(root)) {}
  int read_file(const std::string& path, std::string& out) override;
  int write_file(const std::string& path, std::string_view value) override;
  int make_dir(const std::string& path) override;
  int remove_dir(const std::string& path) override;
  bool is_dir(const std::string& path) override;
  int open_for_write(const std::string& path) override;
  int write_fd(int fd, std::string_view value) override;
  void close_fd(int fd) override;
  int kill_process(pid_t pid, int signal) override;
  void sleep_for(std::chrono::microseconds duration) override;
  int attach_device_program(const std::string& dir, const std::vector<bpf_insn>& program,
                            std::string& verifier_log) override;

 protected:
  std::string real(const std::string& path) const { return root_ + path; }

 private:
  std::string root_;
};

}  // namespace nsrun::cgroups
