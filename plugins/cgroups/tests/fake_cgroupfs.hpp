// A temporary directory laid out like /proc/self and /sys/fs/cgroup, standing in for the host.
//
// FakeCgroupFs is the real LinuxHost rooted at a temporary directory, with what cgroupfs does on
// its own simulated: mkdir fills a new cgroup with its control files (v2: those of the controllers
// the parent delegates; v1: the hierarchy's), cgroup.subtree_control takes "+x -y" requests and
// refuses them the way the kernel does, cgroup.procs gains the pids written to it, cgroup.kill
// and kill(2) empty it, rmdir fails with EBUSY while a cgroup has processes or children, the
// freezers report their state (v1 freezer.state, v2 cgroup.freeze into cgroup.events). Every
// write is recorded so tests can assert exact files and values; kill(2) never reaches a real
// process.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "nsrun/cgroups/host.hpp"
#include "nsrun/stage.hpp"
#include "nsrun/testing.hpp"

namespace nsrun::cgroups::test {

class FakeCgroupFs : public LinuxHost {
 public:
  FakeCgroupFs();
  explicit FakeCgroupFs(std::string root);
  ~FakeCgroupFs() override;
  FakeCgroupFs(const FakeCgroupFs&) = delete;
  FakeCgroupFs& operator=(const FakeCgroupFs&) = delete;

  /// A pure cgroup v2 host: cgroup2 on /sys/fs/cgroup with `controllers` at its root; nsrun runs
  /// in `own` ("/" or e.g. "/ci").
  static void make_v2_host(FakeCgroupFs& fs, const std::string& own = "/",
                           const std::string& controllers = "cpuset cpu io memory hugetlb pids");
  /// A cgroup v1 host like this one: cpu,cpuacct co-mounted, cpuset, memory, pids, freezer, a
  /// name=systemd hierarchy; nsrun in memory:/process_api/abc and "/" elsewhere. With `hybrid`,
  /// a cgroup2 mount on /sys/fs/cgroup/unified whose root offers `unified_controllers`.
  static void make_v1_host(FakeCgroupFs& fs, bool hybrid = false,
                           const std::string& unified_controllers = "");

  /// Adds a v1 devices hierarchy (nsrun in "/") to a host made by make_v1_host.
  static void add_v1_devices(FakeCgroupFs& fs);

  void put(const std::string& path, const std::string& content);  ///< creates parent dirs
  std::string get(const std::string& path) const;                 ///< "<missing>" when absent
  bool exists(const std::string& path) const;
  void remove(const std::string& path);  ///< a file or a tree
  const std::string& root() const { return root_; }

  /// The root cgroup of a hierarchy. `files` are the control files of every cgroup in it (with
  /// their initial content); a v2 hierarchy adds the core files and per-controller files.
  void add_v1_hierarchy(const std::string& mount_point, std::map<std::string, std::string> files);
  void add_v2_hierarchy(const std::string& mount_point, const std::string& root_controllers);
  /// Leaves swap accounting out of new cgroups (no memory.memsw.*, no memory.swap.max).
  void without_swap() { swap_ = false; }
  /// Makes the next `count` rmdirs of a populated-looking cgroup fail with EBUSY.
  void busy_rmdirs(int count) { busy_ = count; }
  /// The next `count` reads of a frozen cgroup's state say it is still freezing (v1 FREEZING,
  /// v2 "frozen 0"), as while a task is in an uninterruptible sleep; -1: forever.
  int freezing_reads = 0;

  int read_file(const std::string& path, std::string& out) override;
  int write_file(const std::string& path, std::string_view value) override;
  int make_dir(const std::string& path) override;
  int remove_dir(const std::string& path) override;
  int kill_process(pid_t pid, int signal) override;
  void sleep_for(std::chrono::microseconds duration) override;
  /// Descriptor writes are recorded with the path they were opened on; "0" written to a v1
  /// `tasks` file moves the "calling process", whose pid is `self_pid`.
  int open_for_write(const std::string& path) override;
  int write_fd(int fd, std::string_view value) override;
  void close_fd(int fd) override;
  /// Records the program instead of loading it; `attach_error` makes it fail.
  int attach_device_program(const std::string& dir, const std::vector<bpf_insn>& program,
                            std::string& verifier_log) override;
  std::vector<std::pair<std::string, std::vector<bpf_insn>>> device_programs;
  int attach_error = 0;
  pid_t self_pid = 4242;
  std::map<int, std::string> open_files;

  /// Every write_file, in order: (host path, value).
  std::vector<std::pair<std::string, std::string>> writes;
  /// Writes beneath `dir` only, with paths relative to it.
  std::vector<std::pair<std::string, std::string>> writes_under(const std::string& dir) const;
  std::vector<std::string> made_dirs, removed_dirs;
  std::vector<std::pair<pid_t, int>> kills;
  int sleeps = 0;

 private:
  struct Hierarchy {
    std::string mount_point;
    bool v2;
    std::map<std::string, std::string> files;
  };
  const Hierarchy* hierarchy_of(const std::string& path) const;
  void drop_pid(pid_t pid);

  std::string root_;
  bool owns_root_;
  bool swap_ = true;
  int busy_ = 0;
  std::vector<Hierarchy> hierarchies_;
};

// The SDK's test kit: the journal the core would keep, in memory, and a logger that keeps every
// line.
using FakeJournal = ::nsrun::testing::MemoryJournal;
using FakeLogger = ::nsrun::testing::RecordingLogger;

/// The limits most driver tests use: 64 MiB memory, 128 MiB memory+swap, 32 pids.
inline ResourcesSpec memory_and_pids() {
  ResourcesSpec r;
  r.memory_limit = 64LL << 20;
  r.memory_swap = 128LL << 20;
  r.pids_limit = 32;
  return r;
}

}  // namespace nsrun::cgroups::test
