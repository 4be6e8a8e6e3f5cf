// A third-party plugin built against the installed SDK only (no nsrun source tree), loaded by
// nsrun, and refused with a clear message when built for another API version.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "e2e.hpp"

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
  CommandResult run_hello(const std::string& state_root) {
    return run({nsrun_binary(), "--root", state_root, "--plugin-dir", plugins_, "run", "--rootfs",
                busybox_rootfs(), "--pipeline",
                std::string(NSRUN_SOURCE_DIR) + "/examples/hello-plugin/hello-pipeline.json", "-w",
                "/", "sh", "-c", "echo $HELLO_GREETING"});
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
                          "this nsrun speaks API 2.0"),
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
