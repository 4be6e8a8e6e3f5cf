// nsrun.exec through its ABI: the process spec it refuses before anything is created.
#include <gtest/gtest.h>

#include "passwd.hpp"
#include "plugin_harness.hpp"

namespace nsrun::test {
namespace {

ContainerSpec process(std::vector<std::string> args, std::string cwd = "/",
                      std::vector<std::string> env = {"PATH=/bin"}) {
  ContainerSpec spec;
  spec.process.args = std::move(args);
  spec.process.cwd = std::move(cwd);
  spec.process.env = std::move(env);
  return spec;
}

TEST(ExecStage, ValidatesTheProcess) {
  PluginHarness stage("nsrun.exec", "exec");
  auto refused = [&](ContainerSpec spec, const boost::json::object& config = {}) {
    return stage.run(Phase::validate, spec, config).value_or("accepted");
  };
  EXPECT_EQ(refused(process({"sh"})), "accepted");
  EXPECT_EQ(refused(process({})), "exec: no command given (process.args is empty)");
  EXPECT_EQ(refused(process({""})), "exec: no command given (process.args is empty)");
  EXPECT_EQ(refused(process({"sh"}, "work")),
            "exec: working directory \"work\" (process.cwd) must be an absolute path");
  EXPECT_EQ(refused(process({"sh"}, "/", {"NOEQUALS"})),
            "exec: environment entry \"NOEQUALS\" (process.env) must be KEY=VALUE");
  EXPECT_EQ(refused(process({"sh"}, "/", {"=x"})),
            "exec: environment entry \"=x\" (process.env) must be KEY=VALUE");
  EXPECT_EQ(refused(process({"sh", std::string("tr\0ue", 5)})),
            "exec: process.args[1] contains a NUL byte (\\u0000), which a command line cannot hold "
            "(remove it)");
  EXPECT_EQ(refused(process({"sh"}, "/", {std::string("A=b\0c", 5)})),
            "exec: process.env[0] contains a NUL byte (\\u0000), which a command line cannot hold "
            "(remove it)");
  EXPECT_EQ(refused(process({"sh"}), {{"shell", true}}),
            "exec: unknown config key \"shell\" for nsrun.exec (remove it or check its spelling)");
}

// runc's HOME for a process.env without one: the user's home in the container's /etc/passwd.
TEST(ExecStage, HomeIsTheFirstPasswdLineOfTheUid) {
  const std::string passwd =
      "root:x:0:0:root:/root:/bin/sh\n"
      "\n"
      "broken:x:notanumber:0::/broken:/bin/sh\n"
      "app:x:1000:1000:App,,,:/home/app:/bin/sh\n"
      "again:x:1000:1000::/home/again:/bin/sh\n"
      "short:x:1001\n"
      "nohome:x:1002:1002:::/bin/false";
  EXPECT_EQ(exec::home_of(passwd, 0), "/root");
  EXPECT_EQ(exec::home_of(passwd, 1000), "/home/app") << "the first match wins, as in runc";
  EXPECT_EQ(exec::home_of(passwd, 1001), "") << "a short line has an empty home";
  EXPECT_EQ(exec::home_of(passwd, 1002), "");
  EXPECT_EQ(exec::home_of(passwd, 4242), std::nullopt);
  EXPECT_EQ(exec::home_of("", 0), std::nullopt);
}

}  // namespace
}  // namespace nsrun::test
