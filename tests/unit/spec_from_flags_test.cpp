#include <gtest/gtest.h>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/run_flags.hpp"

namespace nsrun::core {
namespace {

RunFlags command(std::vector<std::string> args) {
  RunFlags flags;
  flags.rootfs = "/srv/rootfs";
  flags.command = std::move(args);
  return flags;
}

std::string error_of(const RunFlags& flags) {
  try {
    spec_from_flags(flags, "/home/me", "/var/lib/nsrun/rootfs");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(SpecFromFlags, DefaultsFollowTheOriginalProgram) {
  ContainerSpec spec = spec_from_flags(command({"/bin/sh"}), "/home/me", "/var/lib/nsrun/rootfs");
  EXPECT_EQ(spec.hostname, "container");
  EXPECT_EQ(spec.root.path, "/srv/rootfs");
  EXPECT_EQ(spec.process.args, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(spec.process.cwd, "/app");
  ASSERT_EQ(spec.mounts.size(), 1u);
  EXPECT_EQ(spec.mounts[0].source, "/home/me");
  EXPECT_EQ(spec.mounts[0].destination, "/app");
  EXPECT_EQ(spec.mounts[0].options, (std::vector<std::string>{"rbind", "rw"}));
  EXPECT_TRUE(spec.has_namespace("pid"));
  EXPECT_TRUE(spec.has_namespace("mount"));
  EXPECT_TRUE(spec.has_namespace("uts"));
  EXPECT_TRUE(spec.has_namespace("ipc"));
  EXPECT_TRUE(spec.annotations.empty()) << "network flags are the network plugin's";
}

TEST(SpecFromFlags, EnvironmentIsCleanPlusEnvFlags) {
  RunFlags flags = command({"env"});
  flags.hostname = "box";
  flags.env = {"A=1", "HOME=/home/x"};
  ::setenv("NSRUN_TEST_HOST_ONLY", "leak", 1);
  ContainerSpec spec = spec_from_flags(flags, "/", "/r");
  std::vector<std::string> expected{
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
      "HOSTNAME=box", "A=1", "HOME=/home/x"};
  EXPECT_EQ(spec.process.env, expected);
}

TEST(SpecFromFlags, EnvKeyAlonePassesTheHostValue) {
  ::setenv("NSRUN_TEST_PASS", "yes", 1);
  RunFlags flags = command({"env"});
  flags.env = {"NSRUN_TEST_PASS", "NSRUN_TEST_UNSET_VARIABLE"};
  ::unsetenv("NSRUN_TEST_UNSET_VARIABLE");
  ContainerSpec spec = spec_from_flags(flags, "/", "/r");
  EXPECT_EQ(spec.process.env.back(), "NSRUN_TEST_PASS=yes");
}

TEST(SpecFromFlags, MountsAndWorkdir) {
  RunFlags flags = command({"ls"});
  flags.mounts = {"data:/data:ro", "/etc/hosts:/etc/x"};
  ContainerSpec spec = spec_from_flags(flags, "/home/me", "/r");
  ASSERT_EQ(spec.mounts.size(), 2u);
  EXPECT_EQ(spec.mounts[0].source, "/home/me/data");
  EXPECT_EQ(spec.mounts[0].options, (std::vector<std::string>{"rbind", "ro"}));
  EXPECT_EQ(spec.mounts[1].options, (std::vector<std::string>{"rbind", "rw"}));
  EXPECT_EQ(spec.process.cwd, "/") << "no default /app mount, so no /app workdir";
  flags.workdir = "/data";
  EXPECT_EQ(spec_from_flags(flags, "/home/me", "/r").process.cwd, "/data");
}

TEST(SpecFromFlags, RejectsBadMountSpecs) {
  auto with_mount = [](std::string m) {
    RunFlags flags = command({"ls"});
    flags.mounts = {std::move(m)};
    return error_of(flags);
  };
  EXPECT_EQ(with_mount("/only"), "--mount \"/only\" must be HOST:CONTAINER[:ro|:rw]");
  EXPECT_EQ(with_mount("/a:/b:ro:x"), "--mount \"/a:/b:ro:x\" must be HOST:CONTAINER[:ro|:rw]");
  EXPECT_EQ(with_mount("/a:/b:rx"), "--mount \"/a:/b:rx\": unknown option \"rx\" (use ro or rw)");
  EXPECT_EQ(with_mount(":/b"), "--mount \":/b\" has an empty host path");
  EXPECT_EQ(with_mount("/a:"), "--mount \"/a:\" has an empty container path");
}

TEST(SpecFromFlags, RejectsBadHostnamesAndEmptyCommand) {
  EXPECT_EQ(error_of(command({})).rfind("no command given", 0), 0u);
  RunFlags flags = command({"ls"});
  flags.hostname = std::string(65, 'h');
  EXPECT_NE(error_of(flags).find("the limit is 64"), std::string::npos);
  flags.hostname = std::string(64, 'h');
  EXPECT_EQ(error_of(flags), "no error");
  flags.hostname = "a/b";
  EXPECT_EQ(error_of(flags), "--hostname \"a/b\" must not contain '/'");
  flags.hostname = "ok";
  flags.workdir = "relative";
  EXPECT_EQ(error_of(flags), "--workdir \"relative\" must be an absolute path");
}

}  // namespace
}  // namespace nsrun::core
