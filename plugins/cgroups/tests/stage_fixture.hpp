// A container's cgroups stage on the fake host, phase by phase as nsrun runs it: nsrun run's
// phases on one stage object, and each later command (exec, pause, update, teardown) on a fresh
// one with only the journal, all on the same machine.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "fake_cgroupfs.hpp"
#include "nsrun/cgroups/cgroups_stage.hpp"

namespace nsrun::cgroups::test {

// Every stage object of a test works on the same fake host (the machine outlives the stage).
class SharedHost final : public Host {
 public:
  explicit SharedHost(Host& host) : h_(host) {}
  int read_file(const std::string& p, std::string& out) override { return h_.read_file(p, out); }
  int write_file(const std::string& p, std::string_view v) override { return h_.write_file(p, v); }
  int make_dir(const std::string& p) override { return h_.make_dir(p); }
  int remove_dir(const std::string& p) override { return h_.remove_dir(p); }
  bool is_dir(const std::string& p) override { return h_.is_dir(p); }
  int open_for_write(const std::string& p) override { return h_.open_for_write(p); }
  int write_fd(int fd, std::string_view v) override { return h_.write_fd(fd, v); }
  void close_fd(int fd) override { h_.close_fd(fd); }
  int kill_process(pid_t pid, int signal) override { return h_.kill_process(pid, signal); }
  void sleep_for(std::chrono::microseconds d) override { h_.sleep_for(d); }
  int attach_device_program(const std::string& dir, const std::vector<bpf_insn>& program,
                            std::string& verifier_log) override {
    return h_.attach_device_program(dir, program, verifier_log);
  }

 private:
  Host& h_;
};

struct StageOnFakeHost : ::testing::Test {
  FakeCgroupFs fs;
  ContainerSpec spec;  ///< the container as nsrun run made it (its config.json)
  boost::json::object config;
  FakeJournal journal;
  FakeLogger log;
  /// A bundle's (every hierarchy, as runc), unless a test runs the stage for `nsrun run FLAGS`.
  SpecSource source = SpecSource::bundle;

  /// `nsrun run` without limits where no cgroup filesystem is in sight (`ip netns exec`
  /// remounts /sys): it runs without its default device rules, and without any cgroup.
  void without_any_cgroup() {
    source = SpecSource::flags;
    spec.resources = {};
    fs.remove("/proc/self/mountinfo");
  }
  std::unique_ptr<CgroupsStage> fresh_stage() {
    return std::make_unique<CgroupsStage>(std::make_unique<SharedHost>(fs));
  }
  Context context(ContainerSpec& of, pid_t pid = 0) {
    Context ctx{"c1", "/run/nsrun/c1", of, config, journal, log, pid};
    ctx.spec_source = source;
    return ctx;
  }
  /// nsrun run up to the running workload (pid 4242), then a clean slate for what follows.
  void start_container() {
    auto stage = fresh_stage();
    Context ctx = context(spec);
    stage->validate(ctx);
    stage->prepare(ctx);
    Context runtime = context(spec, 4242);
    stage->create_container(runtime);  // the container process joins its v1 cgroups itself
    stage->create_runtime(runtime);    // the host moves it into its cgroup2 ones
    fs.writes.clear();
    fs.made_dirs.clear();
    log = FakeLogger{};
  }
};

}  // namespace nsrun::cgroups::test
