#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/run_flags.hpp"
#include "nsrun/core/spec_json.hpp"

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

// Run from /, the current directory is the host's whole root: it is not given to the container.
TEST(SpecFromFlags, TheHostsRootIsNotMountedAtApp) {
  for (const char* cwd : {"/", "//", "/."}) {
    ContainerSpec spec = spec_from_flags(command({"/bin/sh"}), cwd, "/var/lib/nsrun/rootfs");
    EXPECT_TRUE(spec.mounts.empty()) << cwd;
    EXPECT_EQ(spec.process.cwd, "/") << cwd;
    EXPECT_TRUE(shares_the_host_root(cwd)) << cwd;
  }
  EXPECT_FALSE(shares_the_host_root("/home/me"));
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

// --init: the workload becomes the init's child, the init a read-only bind mount of a file that
// only root may change.
TEST(SpecFromFlags, InitPrefixesTheCommandAndMountsATrustedBinary) {
  boost::json::object spec = spec_to_json(
      spec_from_flags(command({"sh", "-c", "exit 3"}), "/home/me", "/var/lib/nsrun/rootfs"));
  // /bin/true stands for the installed nsrun-init: a root-owned executable no one else writes.
  add_init_process(spec, "/bin/true");
  EXPECT_EQ(spec.at("process").at("args"),
            (boost::json::array{"/sbin/nsrun-init", "--", "sh", "-c", "exit 3"}));
  const auto& mounts = spec.at("mounts").as_array();
  ASSERT_FALSE(mounts.empty());
  EXPECT_EQ(mounts.back(), (boost::json::object{{"destination", "/sbin/nsrun-init"},
                                                {"type", "bind"},
                                                {"source", "/bin/true"},
                                                {"options", {"bind", "ro", "nosuid", "nodev"}}}));
  spec_from_json(spec, "");  // still a well-formed spec

  auto error_with = [](const std::string& init, boost::json::object target) {
    try {
      add_init_process(target, init);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  boost::json::object plain{{"process", {{"args", {"true"}}}}};
  EXPECT_EQ(
      error_with("/nonexistent/nsrun-init", plain).rfind("--init: /nonexistent/nsrun-init: ", 0),
      0u);
  std::string data = ::testing::TempDir() + "nsrun-init-data";
  std::ofstream(data) << "not a program\n";
  std::filesystem::permissions(
      data, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(error_with(data, plain),
            "--init: " + data + " is not an executable file (reinstall nsrun)");
  std::filesystem::remove(data);
  std::string writable = ::testing::TempDir() + "nsrun-init-writable";
  std::ofstream(writable) << "#!/bin/sh\n";
  std::filesystem::permissions(writable, std::filesystem::perms::owner_all |
                                             std::filesystem::perms::group_all |
                                             std::filesystem::perms::others_read);
  EXPECT_NE(error_with(writable, plain).find("must be owned by root and writable by no one else"),
            std::string::npos);
  std::filesystem::remove(writable);
  EXPECT_EQ(
      error_with("/bin/true", boost::json::object{{"process", {{"args", boost::json::array{}}}}}),
      "--init: the container has no command (process.args is empty)");
}

// Whether a namespace is the container's own or joined (a path) is asked by several stages: the
// SDK answers it once.
TEST(ContainerSpecNamespaces, OwnJoinedAndAbsentAreTold) {
  ContainerSpec spec;
  spec.namespaces = {{"pid", ""}, {"network", "/proc/42/ns/net"}};
  EXPECT_TRUE(spec.has_own_namespace("pid"));
  EXPECT_EQ(spec.joined_namespace("pid"), "");
  EXPECT_FALSE(spec.has_own_namespace("network"));
  EXPECT_EQ(spec.joined_namespace("network"), "/proc/42/ns/net");
  EXPECT_FALSE(spec.has_own_namespace("mount")) << "absent: neither own nor joined";
  EXPECT_EQ(spec.joined_namespace("mount"), "");
}

}  // namespace
}  // namespace nsrun::core
