#include "nsrun/core/loader.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "nsrun/core/orchestrator.hpp"

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

PluginRegistry load(const std::vector<std::string>& dirs) {
  LoaderOptions options;
  options.directories = dirs;
  options.required_owner = ::getuid();  // the build's owner; root in CI, anyone locally
  return PluginRegistry::discover(options);
}

const PluginRecord& by_file(const PluginRegistry& registry, const std::string& file) {
  for (const auto& p : registry.plugins())
    if (fs::path(p.path).filename() == file) return p;
  throw std::runtime_error("no record for " + file);
}

TEST(Loader, LoadsAGoodPlugin) {
  auto registry = load({NSRUN_FIXTURE_PLUGIN_DIR});
  const PluginRecord* good = registry.find("test.good");
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(good->version, "0.0.1");
  EXPECT_EQ(good->kind, "test");
  EXPECT_EQ(good->api_major, NSRUN_API_MAJOR);
  EXPECT_EQ(good->api_minor, NSRUN_API_MINOR);
  EXPECT_EQ(good->summary, "a loader test fixture");
}

const std::string our_api = std::to_string(NSRUN_API_MAJOR) + "." + std::to_string(NSRUN_API_MINOR);

TEST(Loader, RefusesANewerMajorVersionNamingBoth) {
  auto fixtures = load({NSRUN_FIXTURE_PLUGIN_DIR});
  const auto& record = by_file(fixtures, "test.wrong_api.so");
  EXPECT_FALSE(record.loaded());
  EXPECT_EQ(record.refusal, "built for nsrun plugin API 999, this nsrun speaks API " + our_api +
                                " (rebuild it against this nsrun's SDK)");
}

// API 1 passed C++ objects across the boundary: loading it would crash, not degrade.
TEST(Loader, RefusesAnOlderMajorVersionNamingBoth) {
  auto fixtures = load({NSRUN_FIXTURE_PLUGIN_DIR});
  const auto& record = by_file(fixtures, "test.older_api.so");
  EXPECT_FALSE(record.loaded());
  EXPECT_EQ(record.name, "test.older_api") << "the name is read to say what is refused";
  EXPECT_EQ(record.refusal, "built for nsrun plugin API 1, this nsrun speaks API " + our_api +
                                " (rebuild it against this nsrun's SDK)");
}

TEST(Loader, RefusesANewerMinorVersion) {
  auto fixtures = load({NSRUN_FIXTURE_PLUGIN_DIR});
  const auto& record = by_file(fixtures, "test.newer_minor.so");
  EXPECT_FALSE(record.loaded());
  EXPECT_NE(record.refusal.find("newer than this nsrun's API " + our_api), std::string::npos)
      << record.refusal;
}

TEST(Loader, RefusesADescriptorShorterThanItsMajorVersion) {
  auto fixtures = load({NSRUN_FIXTURE_PLUGIN_DIR});
  const auto& record = by_file(fixtures, "test.short.so");
  EXPECT_FALSE(record.loaded());
  EXPECT_NE(record.refusal.find("descriptor is 24 bytes"), std::string::npos) << record.refusal;
}

// nsrun runs as root and executes what it loads: a file or directory some other user owns is
// refused, whatever its mode.
TEST(Loader, RefusesAPluginFileOwnedBySomeoneElse) {
  LoaderOptions options;
  options.directories = {NSRUN_FIXTURE_PLUGIN_DIR};
  options.required_owner = ::getuid() + 1;  // everything here is the build owner's
  auto registry = PluginRegistry::discover(options);
  ASSERT_EQ(registry.plugins().size(), 1u) << "the directory itself is refused first";
  EXPECT_FALSE(registry.plugins()[0].loaded());
  EXPECT_EQ(registry.plugins()[0].refusal, "plugin directory owned by uid " +
                                               std::to_string(::getuid()) + ", not " +
                                               std::to_string(::getuid() + 1) + " (chown root it)");

  // A directory of the right owner holding a file of another owner: made by copying the fixture
  // into a fresh directory and asking for that directory's owner while the file keeps its own.
  fs::path dir = fs::temp_directory_path() / ("nsrun-owner-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  fs::copy_file(std::string(NSRUN_FIXTURE_PLUGIN_DIR) + "/test.good.so", dir / "test.good.so");
  fs::permissions(dir / "test.good.so",
                  fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  if (::getuid() == 0) {
    ASSERT_EQ(::chown((dir / "test.good.so").c_str(), 4242, 4242), 0);
    options.required_owner = 0;
  } else {
    GTEST_SKIP() << "giving a file away needs root";
  }
  options.directories = {dir.string()};
  auto files = PluginRegistry::discover(options);
  fs::remove_all(dir);
  ASSERT_EQ(files.plugins().size(), 1u);
  EXPECT_FALSE(files.plugins()[0].loaded());
  EXPECT_EQ(files.plugins()[0].refusal, "plugin file owned by uid 4242, not root (chown root it)");
}

TEST(Loader, RefusesAMissingEntryPoint) {
  auto fixtures = load({NSRUN_FIXTURE_PLUGIN_DIR});
  const auto& record = by_file(fixtures, "no_entry.so");
  EXPECT_FALSE(record.loaded());
  EXPECT_EQ(record.refusal, "no nsrun_plugin_entry symbol (not an nsrun plugin?)");
}

TEST(Loader, RefusesANullDescriptor) {
  auto fixtures = load({NSRUN_FIXTURE_PLUGIN_DIR});
  const auto& record = by_file(fixtures, "null_descriptor.so");
  EXPECT_EQ(record.refusal, "nsrun_plugin_entry returned no descriptor");
}

TEST(Loader, RefusesTheSameNameInALaterDirectory) {
  auto registry = load({NSRUN_FIXTURE_PLUGIN_DIR, NSRUN_FIXTURE_PLUGIN_DIR2});
  std::string first = std::string(NSRUN_FIXTURE_PLUGIN_DIR) + "/test.good.so";
  ASSERT_NE(registry.find("test.good"), nullptr);
  EXPECT_EQ(registry.find("test.good")->path, first);
  std::size_t refused = 0;
  for (const auto& p : registry.plugins()) {
    if (p.path != std::string(NSRUN_FIXTURE_PLUGIN_DIR2) + "/test.good.so") continue;
    EXPECT_FALSE(p.loaded());
    EXPECT_EQ(p.refusal, "duplicate name test.good, already provided by " + first);
    ++refused;
  }
  EXPECT_EQ(refused, 1u);
}

TEST(Loader, RefusesAFileNotNamedAfterItsPlugin) {
  auto fixtures = load({NSRUN_FIXTURE_PLUGIN_DIR});
  const auto& record = by_file(fixtures, "misnamed.so");
  EXPECT_FALSE(record.loaded());
  EXPECT_EQ(record.refusal,
            "declares the name test.other, so its file must be named test.other.so");
}

TEST(Loader, LoadNamedLoadsOnlyWhatThePipelineNames) {
  LoaderOptions options;
  options.directories = {NSRUN_FIXTURE_PLUGIN_DIR, NSRUN_FIXTURE_PLUGIN_DIR2};
  options.required_owner = ::getuid();
  auto registry = PluginRegistry::load_named(options, {"test.good", "test.throws", "test.absent"});
  EXPECT_NE(registry.find("test.good"), nullptr);
  EXPECT_NE(registry.find("test.throws"), nullptr);
  EXPECT_EQ(registry.find("test.absent"), nullptr);
  EXPECT_EQ(registry.find("test.null_create"), nullptr) << "not named, not loaded";
  ASSERT_NE(registry.find_refused("test.good"), nullptr) << "the duplicate is still refused";
  EXPECT_EQ(registry.plugins().size(), 3u);
}

TEST(Loader, NullCreateAndThrowingStageBecomeFailuresNotCrashes) {
  auto registry = load({NSRUN_FIXTURE_PLUGIN_DIR});
  Pipeline pipeline;
  pipeline.stages = {{"test", "test.null_create", {}}};
  auto null_stages = bind_pipeline(pipeline, registry);
  StderrLogger log(false);
  CallSite site{"id", "/nonexistent", "/", nullptr, nullptr, &log, 0};
  auto failure = null_stages[0].instantiate(site);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->message, "test: plugin test.null_create: create returned no stage object");

  pipeline.stages = {{"test", "test.throws", {}}};
  auto throwing = bind_pipeline(pipeline, registry);
  auto thrown = throwing[0].invoke(Phase::validate, site);
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->message, "test: fixture stage exploded in validate");
  EXPECT_EQ(thrown->exit_code, exit_code::runtime_error);
}

TEST(Loader, BindingNamesUnknownAndRefusedPlugins) {
  auto registry = load({NSRUN_FIXTURE_PLUGIN_DIR});
  Pipeline pipeline;
  pipeline.stages = {{"test", "test.missing", {}}};
  try {
    bind_pipeline(pipeline, registry);
    FAIL();
  } catch (const Error& e) {
    // Only the pipeline's plugins are loaded: the message does not claim to know the others.
    EXPECT_STREQ(e.what(),
                 "test: unknown plugin \"test.missing\" (no test.missing.so in the plugin "
                 "directories; nsrun plugins lists the installed ones)");
  }
  pipeline.stages = {{"network", "test.good", {}}};
  try {
    bind_pipeline(pipeline, registry);
    FAIL() << "a test plugin cannot fill network";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "network: plugin test.good (" +
                                         std::string(NSRUN_FIXTURE_PLUGIN_DIR) +
                                         "/test.good.so) is of kind \"test\" and cannot fill the "
                                         "network stage");
  }
}

// A plugin directory of the test's own, 0755 as the loader wants one, removed at the end.
struct PluginDirectory {
  explicit PluginDirectory(const std::string& prefix)
      : path(fs::temp_directory_path() / (prefix + std::to_string(::getpid()))) {
    fs::create_directories(path);
    fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  }
  ~PluginDirectory() { fs::remove_all(path); }
  fs::path path;
};

// A file that is no shared object is refused with the dynamic loader's own words.
TEST(Loader, AFileThatIsNoSharedObjectIsRefusedWithTheLoadersReason) {
  PluginDirectory plugins("nsrun-loader-elf-");
  const fs::path& dir = plugins.path;
  std::ofstream(dir / "test.garbage.so") << "garbage\n";
  fs::permissions(dir / "test.garbage.so", fs::perms::owner_read | fs::perms::owner_write |
                                               fs::perms::group_read | fs::perms::others_read);
  auto registry = load({dir.string()});
  const auto& file = by_file(registry, "test.garbage.so");
  EXPECT_FALSE(file.loaded());
  EXPECT_NE(file.refusal.find("cannot load: "), std::string::npos) << file.refusal;
  EXPECT_EQ(file.refusal.find("Bad file descriptor"), std::string::npos) << file.refusal;
  EXPECT_NE(file.refusal.find("test.garbage.so"), std::string::npos) << file.refusal;
}

TEST(Loader, RefusesGroupWritableFilesAndDirectories) {
  PluginDirectory plugins("nsrun-loader-");
  const fs::path& dir = plugins.path;
  fs::copy_file(fs::path(NSRUN_FIXTURE_PLUGIN_DIR) / "test.good.so", dir / "test.good.so");
  fs::permissions(dir / "test.good.so", fs::perms::group_write, fs::perm_options::add);
  auto writable = load({dir.string()});
  const auto& file = by_file(writable, "test.good.so");
  EXPECT_FALSE(file.loaded());
  EXPECT_EQ(file.refusal, "plugin file writable by group or others (chmod go-w it)");

  fs::permissions(dir / "test.good.so", fs::perms::group_write, fs::perm_options::remove);
  EXPECT_TRUE(load({dir.string()}).find("test.good"));
  fs::permissions(dir, fs::perms::others_write, fs::perm_options::add);
  auto registry = load({dir.string()});
  EXPECT_FALSE(registry.find("test.good"));
  ASSERT_EQ(registry.plugins().size(), 1u);
  EXPECT_EQ(registry.plugins()[0].refusal,
            "plugin directory writable by group or others (chmod go-w it)");
}

TEST(Loader, SearchPathOrder) {
  ::setenv("NSRUN_PLUGIN_PATH", "/a:/b::/c", 1);
  EXPECT_EQ(plugin_search_path({"/x"}, "/installed"),
            (std::vector<std::string>{"/x", "/a", "/b", "/c", "/installed"}));
  ::unsetenv("NSRUN_PLUGIN_PATH");
}

}  // namespace
}  // namespace nsrun::core
