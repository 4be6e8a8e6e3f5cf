// Unit tests: a plugin's own commands (SDK 2.3) crossing the C boundary: found, run with their
// arguments and output descriptor, their failure reported with its exit code; none for a plugin
// built against an SDK before 2.3.
#include "nsrun/core/plugin_command.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "nsrun/core/json_util.hpp"
#include "nsrun/core/loader.hpp"

namespace nsrun::core {
namespace {

PluginRegistry load(const std::string& dir, const std::string& name) {
  LoaderOptions options;
  options.directories = {dir};
  options.required_owner = ::getuid();
  return PluginRegistry::load_named(options, {name});
}

// Runs the command with its output going to a pipe; returns {exit code, output}.
std::pair<int, std::string> run(const nsrun_plugin& plugin, const std::string& command,
                                const std::vector<std::string>& args) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  StderrLogger log(false);
  int code = run_plugin_command(plugin, command, args, "/nonexistent-root", fds[1], log);
  ::close(fds[1]);
  std::string out;
  char buffer[256];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, n);
  ::close(fds[0]);
  return {code, out};
}

TEST(PluginCommand, ACommandRunsWithItsArgumentsAndWritesToTheGivenDescriptor) {
  auto registry = load(NSRUN_FIXTURE_PLUGIN_DIR, "test.good");
  const auto* record = registry.find("test.good");
  ASSERT_NE(record, nullptr);
  auto commands = plugin_commands(*record->descriptor);
  ASSERT_EQ(commands.size(), 2u);
  EXPECT_STREQ(commands[0].name, "echo");
  EXPECT_STREQ(commands[0].usage, "WORD...");
  auto [code, out] = run(*record->descriptor, "echo", {"one", "two words"});
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "one\ntwo words\n");
}

TEST(PluginCommand, AFailureIsOneLineWithThePluginsExitCode) {
  auto registry = load(NSRUN_FIXTURE_PLUGIN_DIR, "test.good");
  const auto* record = registry.find("test.good");
  ASSERT_NE(record, nullptr);
  ::testing::internal::CaptureStderr();
  auto [code, out] = run(*record->descriptor, "fail", {"3"});
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 3);
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "nsrun: test fail: asked to fail\n");
}

TEST(PluginCommand, AnUnknownCommandIsRefusedNamingTheHelp) {
  auto registry = load(NSRUN_FIXTURE_PLUGIN_DIR, "test.good");
  const auto* record = registry.find("test.good");
  ASSERT_NE(record, nullptr);
  try {
    run(*record->descriptor, "bogus", {});
    FAIL() << "ran a command the plugin does not declare";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "no command \"bogus\" in plugin test.good (see: nsrun test --help)");
  }
}

TEST(PluginCommand, APluginBuiltBeforeSdk23HasNone) {
  auto registry = load(NSRUN_FROZEN_PLUGIN_DIR, "test.frozen");
  const auto* record = registry.find("test.frozen");
  ASSERT_NE(record, nullptr);
  EXPECT_TRUE(plugin_commands(*record->descriptor).empty());
  EXPECT_THROW(run(*record->descriptor, "echo", {}), Error);
}

}  // namespace
}  // namespace nsrun::core
