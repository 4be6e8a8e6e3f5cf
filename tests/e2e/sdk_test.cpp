// A third-party plugin built against the installed SDK only (no nsrun source tree), loaded by
// nsrun, and refused with a clear message when built for another API version.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "e2e.hpp"
#include "nsrun/plugin.h"

namespace nsrun::test {
namespace {

namespace fs = std::filesystem;

class ThirdPartyPlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "end-to-end tests need root";
    work_ = std::make_unique<TempDir>("nsrun-sdk-");
    prefix_ = work_->path() + "/prefix";
    auto install = run({"cmake", "--install", NSRUN_BUILD_DIR, "--prefix", prefix_});
    ASSERT_EQ(install.exit_code, 0) << install.err;
    plugins_ = work_->path() + "/plugins";
    fs::create_directory(plugins_);
    // The example's source is copied out, so the compiler sees no nsrun source tree at all.
    fs::copy_file(std::string(NSRUN_SOURCE_DIR) + "/examples/hello-plugin/hello_stage.cpp",
                  work_->path() + "/hello_stage.cpp");
  }

  CommandResult compile(const std::string& include_dir, const std::string& output,
                        const std::string& extra_flags = "-O1") {
    std::string pc = "PKG_CONFIG_PATH=" + prefix_ + "/lib/pkgconfig pkg-config";
    std::string flags = "$(" + pc + " --cflags nsrun-sdk) $(" + pc + " --libs nsrun-sdk)";
    if (!include_dir.empty()) flags = "-I" + include_dir + " " + flags;
    return sh("cd " + work_->path() + " && g++ " + extra_flags + " hello_stage.cpp -o " + output +
                  " " + flags,
              300);
  }
  // Runs `sh -c 'echo $HELLO_GREETING'` with the example's pipeline and `run_flags`.
  CommandResult run_hello(const std::string& state_root,
                          const std::vector<std::string>& run_flags = {}) {
    const std::string rootfs = busybox_rootfs(),
                      pipeline = std::string(NSRUN_SOURCE_DIR) +
                                 "/examples/hello-plugin/hello-pipeline.json";
    std::vector<std::string> argv = {nsrun_binary(), "--root", state_root,
                                     "--plugin-dir", plugins_, "run"};
    argv.insert(argv.end(), run_flags.begin(), run_flags.end());
    for (std::string arg : {"--rootfs", rootfs.c_str(), "--pipeline", pipeline.c_str(), "-w", "/",
                            "sh", "-c", "echo $HELLO_GREETING"})
      argv.push_back(arg);
    return run(argv);
  }

  std::unique_ptr<TempDir> work_;
  std::string prefix_, plugins_;
};

TEST_F(ThirdPartyPlugin, BuildsAgainstTheInstalledSdkAndRuns) {
  auto build = compile("", plugins_ + "/org.example.hello.so");
  ASSERT_EQ(build.exit_code, 0) << build.err;
  TempDir state("nsrun-sdk-state-");
  auto r = run_hello(state.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "bonjour\n");
  auto list = run({nsrun_binary(), "--plugin-dir", plugins_, "plugins"});
  EXPECT_NE(list.out.find("org.example.hello"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("example third-party stage"), std::string::npos) << "the summary";
  // The boundary is the entry point alone.
  auto symbols =
      sh("nm -D --defined-only " + plugins_ + "/org.example.hello.so | awk '{print $3}'");
  EXPECT_EQ(symbols.out, "nsrun_plugin_entry\n");
}

// Only C crosses the boundary, so a plugin compiled with flags that change the layout of
// standard containers (_GLIBCXX_DEBUG) and without optimisation still works with this nsrun.
TEST_F(ThirdPartyPlugin, APluginBuiltWithOtherCompilerFlagsWorks) {
  auto build = compile("", plugins_ + "/org.example.hello.so",
                       "-O0 -D_GLIBCXX_DEBUG -D_GLIBCXX_ASSERTIONS -fno-inline");
  ASSERT_EQ(build.exit_code, 0) << build.err;
  TempDir state("nsrun-sdk-state-");
  auto r = run_hello(state.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "bonjour\n");
}

// The example as a third party builds it with CMake: find_package(nsrun 2 CONFIG) from the
// installed prefix and nsrun_add_plugin, its unit test on the installed test kit, and `cmake
// --install` into the installed plugin directory.
TEST_F(ThirdPartyPlugin, BuildsWithTheCMakePackageAndRuns) {
  // The example's files alone, copied out: the build sees no nsrun source tree.
  const std::string source = work_->path() + "/hello-plugin", build = source + "/build";
  fs::create_directory(source);
  for (const auto& entry :
       fs::directory_iterator(std::string(NSRUN_SOURCE_DIR) + "/examples/hello-plugin"))
    if (entry.is_regular_file())
      fs::copy_file(entry.path(), source + "/" + entry.path().filename().string());
  auto configure =
      run({"cmake", "-S", source, "-B", build, "-DCMAKE_PREFIX_PATH=" + prefix_}, "", 120);
  ASSERT_EQ(configure.exit_code, 0) << configure.out << configure.err;
  std::ifstream cache(build + "/CMakeCache.txt");
  std::string cache_text((std::istreambuf_iterator<char>(cache)), {});
  EXPECT_NE(cache_text.find("nsrun_DIR:PATH=" + prefix_ + "/lib/cmake/nsrun"), std::string::npos)
      << "the package of the installed prefix, not another";
  auto compile = run({"cmake", "--build", build, "-j2"}, "", 300);
  ASSERT_EQ(compile.exit_code, 0) << compile.out << compile.err;

  // The stage's unit test, built on the installed <nsrun/testing.hpp>.
  auto unit = run({build + "/hello_stage_test"});
  EXPECT_EQ(unit.exit_code, 0) << unit.out << unit.err;

  // The plugin: one exported symbol, loaded and run by nsrun.
  auto symbols = sh("nm -D --defined-only " + build + "/org.example.hello.so | awk '{print $3}'");
  EXPECT_EQ(symbols.out, "nsrun_plugin_entry\n");
  fs::copy_file(build + "/org.example.hello.so", plugins_ + "/org.example.hello.so");
  TempDir state("nsrun-sdk-state-");
  auto r = run_hello(state.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "bonjour\n");
  // The greeting is a default (set_env_default): the user's -e wins.
  auto mine = run_hello(state.path(), {"-e", "HELLO_GREETING=mine"});
  EXPECT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_EQ(mine.out, "mine\n");

  auto install = run({"cmake", "--install", build}, "", 60);
  ASSERT_EQ(install.exit_code, 0) << install.out << install.err;
  EXPECT_TRUE(fs::is_regular_file(prefix_ + "/lib/nsrun/plugins/org.example.hello.so"))
      << install.out;
}

// The example declares a flag of its own and reads the network stage's output: the flag is
// parsed by nsrun and handed over, the output comes through the core (the test runs in a
// throwaway network namespace, so the bridge network is safe to use).
TEST_F(ThirdPartyPlugin, ItsOwnFlagAndAnotherStagesOutputWork) {
  auto build = compile("", plugins_ + "/org.example.hello.so");
  ASSERT_EQ(build.exit_code, 0) << build.err;
  std::string pipeline = work_->path() + "/networked.json";
  std::ofstream(pipeline) << R"({"stages": [
    {"kind": "namespaces", "plugin": "nsrun.namespaces"},
    {"kind": "storage", "plugin": "nsrun.storage"},
    {"kind": "audit", "plugin": "org.example.hello"},
    {"kind": "network", "plugin": "nsrun.network.bridge"},
    {"kind": "exec", "plugin": "nsrun.exec"}]})";
  TempDir state("nsrun-sdk-state-");
  auto r = run({nsrun_binary(), "--root", state.path(), "--plugin-dir", plugins_, "--log-level",
                "info", "run", "--rootfs", busybox_rootfs(), "--pipeline", pipeline, "--greeting",
                "salut", "-w", "/", "sh", "-c", "echo $HELLO_GREETING"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "salut\n");
  EXPECT_NE(r.err.find("nsrun: audit: greeted a container at 192.168.1.2\n"), std::string::npos)
      << r.err;
  auto help =
      run({nsrun_binary(), "--plugin-dir", plugins_, "run", "--pipeline", pipeline, "--help"});
  EXPECT_NE(help.out.find("Flags of the audit stage (org.example.hello):"), std::string::npos)
      << help.out;
}

// A container's state records the plugin files it was created with, so that `delete` after a
// crash finds a plugin that came from --plugin-dir without being told the directory again.
TEST_F(ThirdPartyPlugin, DeleteAfterACrashFindsAPluginFromAPluginDir) {
  auto build = compile("", plugins_ + "/org.example.hello.so");
  ASSERT_EQ(build.exit_code, 0) << build.err;
  TempDir state("nsrun-sdk-state-");
  BackgroundProcess nsrun(
      {nsrun_binary(), "--root", state.path(), "--plugin-dir", plugins_, "run", "--rootfs",
       busybox_rootfs(), "--pipeline",
       std::string(NSRUN_SOURCE_DIR) + "/examples/hello-plugin/hello-pipeline.json", "--name",
       "crashed", "-w", "/", "sleep", "60"});
  bool running = false;
  for (int i = 0; i < 1200 && !running; ++i) {
    std::ifstream in(state.path() + "/crashed/state.json");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    running = text.find("\"status\":\"running\"") != std::string::npos;
    if (!running) ::usleep(25000);
  }
  ASSERT_TRUE(running);
  ::kill(nsrun.pid(), SIGKILL);  // our own nsrun; its container dies with it
  nsrun.wait();
  auto del = run({nsrun_binary(), "--root", state.path(), "delete", "--force", "crashed"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_FALSE(fs::exists(state.path() + "/crashed"));
}

TEST_F(ThirdPartyPlugin, AnotherApiVersionIsRefusedNamingBoth) {
  // The same plugin against an SDK whose API version moved on.
  std::string future = work_->path() + "/future-sdk";
  fs::create_directories(future);
  fs::copy(prefix_ + "/include/nsrun", future + "/nsrun");
  auto bump = sh("sed -i 's/^#define NSRUN_API_MAJOR .*/#define NSRUN_API_MAJOR 99/' " + future +
                 "/nsrun/plugin.h");
  ASSERT_EQ(bump.exit_code, 0);
  auto build = compile(future, plugins_ + "/org.example.hello.so");
  ASSERT_EQ(build.exit_code, 0) << build.err;
  auto list = run({nsrun_binary(), "--plugin-dir", plugins_, "plugins"});
  EXPECT_NE(list.out.find("refused " + plugins_ +
                          "/org.example.hello.so: built for nsrun plugin API 99, "
                          "this nsrun speaks API " +
                          std::to_string(NSRUN_API_MAJOR) + "." + std::to_string(NSRUN_API_MINOR)),
            std::string::npos)
      << list.out;
  TempDir state("nsrun-sdk-state-");
  auto r =
      run({nsrun_binary(), "--root", state.path(), "--plugin-dir", plugins_, "run", "--rootfs",
           busybox_rootfs(), "--pipeline",
           std::string(NSRUN_SOURCE_DIR) + "/examples/hello-plugin/hello-pipeline.json", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("plugin org.example.hello was refused: built for nsrun plugin API 99"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace nsrun::test
