// End to end: bin/nsrun, the launcher (core/launcher/nsrun.c), copied into an installation of its
// own whose program is a shell script that records what it was given. `run`, `create` and `exec`
// go through a read-only mount of the program; the security tests check that (CVE-2019-5736).
#include <gtest/gtest.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "e2e.hpp"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(prefix)) found.push_back(line.substr(prefix.size()));
  return found;
}

unsigned long long monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<unsigned long long>(now.tv_sec) * 1000000000ULL +
         static_cast<unsigned long long>(now.tv_nsec);
}

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    install_ = std::make_unique<TempDir>("nsrun-e2e-launcher-");
    launcher_ = install_->path() + "/bin/nsrun";
    program_ = install_->path() + "/" + NSRUN_PROGRAM_SUBPATH;
    fs::create_directories(fs::path(launcher_).parent_path());
    fs::copy_file(nsrun_binary(), launcher_);
  }
  // The program: a script that writes its arguments and environment next to itself.
  void install_recording_program(fs::perms permissions) {
    fs::create_directories(fs::path(program_).parent_path());
    std::ofstream(program_) << "#!/bin/sh\n"
                               "dir=$(dirname \"$0\")\n"
                               "printf '%s\\n' \"$@\" > \"$dir/args\"\n"
                               "env > \"$dir/env\"\n"
                               "exit 7\n";
    fs::permissions(program_, permissions);
  }
  std::string recorded(const std::string& name) {
    return read_text((fs::path(program_).parent_path() / name).string());
  }
  std::unique_ptr<TempDir> install_;
  std::string launcher_, program_;
};

TEST_F(LauncherTest, PassesItsArgumentsAndEnvironmentAndTheProgramsExitCode) {
  install_recording_program(fs::perms::owner_all);
  const unsigned long long before = monotonic_ns();
  auto result = run({"env", "NSRUN_BINARY=/stale/bin/nsrun", "NSRUN_LAUNCHED_AT=5",
                     "NSRUN_TEST_KEPT=yes", launcher_, "version", "a", "b c"});
  const unsigned long long after = monotonic_ns();
  EXPECT_EQ(result.exit_code, 7) << result.err;
  EXPECT_EQ(result.err, "");
  EXPECT_EQ(recorded("args"), "version\na\nb c\n");
  const std::string env = recorded("env");
  EXPECT_EQ(lines_starting(env, "NSRUN_TEST_KEPT="), std::vector<std::string>{"yes"});
  // Its own path, for the program to find its installation: the inherited one is replaced.
  EXPECT_EQ(lines_starting(env, "NSRUN_BINARY="), std::vector<std::string>{launcher_});
  // When it started, on CLOCK_MONOTONIC in nanoseconds (the trace's first span): replaced too.
  auto launched = lines_starting(env, "NSRUN_LAUNCHED_AT=");
  ASSERT_EQ(launched.size(), 1u) << env;
  ASSERT_FALSE(launched[0].empty());
  EXPECT_EQ(launched[0].find_first_not_of("0123456789"), std::string::npos) << launched[0];
  const unsigned long long at = std::stoull(launched[0]);
  EXPECT_GE(at, before);
  EXPECT_LE(at, after);
}

TEST_F(LauncherTest, AMissingProgramIs127InOneLine) {
  auto result = run({launcher_, "version"});
  EXPECT_EQ(result.exit_code, 127);
  EXPECT_EQ(result.err, "nsrun: cannot run " + program_ + ": No such file or directory\n");
}

TEST_F(LauncherTest, AProgramThatCannotBeExecutedIs126InOneLine) {
  install_recording_program(fs::perms::owner_read | fs::perms::owner_write);
  auto result = run({launcher_, "--root", install_->path(), "run", "/bin/true"});
  // Root may not execute it either: from the read-only mount `run` makes (125: nsrun's own
  // failure, it protects the binary first) nor as it is (126).
  EXPECT_EQ(result.exit_code, 125);
  EXPECT_EQ(result.err.find("nsrun: cannot run " + program_ + ": Permission denied"), 0u)
      << result.err;
  result = run({launcher_, "version"});
  EXPECT_EQ(result.exit_code, 126);
  EXPECT_EQ(result.err, "nsrun: cannot run " + program_ + ": Permission denied\n");
  EXPECT_FALSE(fs::exists(fs::path(program_).parent_path() / "args"));
}

}  // namespace
}  // namespace nsrun::test
