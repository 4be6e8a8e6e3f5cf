// A plugin written in plain C (tests/fixtures/c-plugin/c_stage.c, built by the C compiler
// against <nsrun/plugin.h> alone) loads and runs through the core like any other: the boundary
// is C, so no C++ or Boost of the plugin's is needed on either side.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "nsrun/core/orchestrator.hpp"

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

PluginRegistry load_c_plugin() {
  LoaderOptions options;
  options.directories = {NSRUN_C_PLUGIN_DIR};
  options.required_owner = ::getuid();  // the build's owner; root in CI, anyone locally
  return PluginRegistry::load_named(options, {"test.c"});
}

class CPlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "nsrun-c-plugin-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    journal_ = std::make_unique<JournalFile>(dir_ + "/journal.jsonl");
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  // The one-stage pipeline {"kind": "c", "plugin": "test.c", "config": config}, bound.
  std::vector<BoundStage> bind(boost::json::object config = {}) {
    Pipeline pipeline;
    pipeline.stages.push_back(PipelineStage{"c", "test.c", std::move(config)});
    return bind_pipeline(pipeline, registry_);
  }
  CallSite site() {
    return CallSite{"c-test", dir_, dir_, &spec_, journal_.get(), &log_, 0, &exchange_};
  }

  PluginRegistry registry_ = load_c_plugin();
  std::string dir_;
  std::unique_ptr<JournalFile> journal_;
  SpecDocument spec_;
  StderrLogger log_{LogLevel::warn};
  StageExchange exchange_;
};

TEST_F(CPlugin, LoadsWithItsDescriptor) {
  const PluginRecord* record = registry_.find("test.c");
  ASSERT_NE(record, nullptr) << (registry_.plugins().empty() ? "test.c.so not found"
                                                             : registry_.plugins()[0].refusal);
  EXPECT_EQ(record->kind, "c");
  EXPECT_EQ(record->version, "1.0.0");
  EXPECT_EQ(record->api_major, NSRUN_API_MAJOR);
  EXPECT_EQ(record->api_minor, NSRUN_API_MINOR);
  auto stages = bind();
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(stages[0].provides(), std::vector<std::string>{"c.greeting"});
  EXPECT_TRUE(stages[0].needs().empty());
}

TEST_F(CPlugin, ValidatePasses) {
  auto stages = bind();
  auto failure = stages[0].invoke(Phase::validate, site());
  EXPECT_FALSE(failure) << failure->message;
}

TEST_F(CPlugin, PrepareSetsItsOutputAndWritesTheJournal) {
  auto stages = bind();
  auto call_site = site();
  ASSERT_FALSE(stages[0].invoke(Phase::validate, call_site));
  auto failure = stages[0].invoke(Phase::prepare, call_site);
  ASSERT_FALSE(failure) << failure->message;
  ASSERT_EQ(exchange_.outputs.count("c.greeting"), 1u);
  EXPECT_EQ(exchange_.outputs.at("c.greeting"), "\"hello from C\"");
  auto records = journal_->records_of("test.c");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].type, "note");
  EXPECT_EQ(records[0].data, (boost::json::object{{"by", "c"}}));
}

TEST_F(CPlugin, TheOtherPhasesDoNothing) {
  auto stages = bind();
  auto call_site = site();
  for (Phase phase : {Phase::create_runtime, Phase::poststart, Phase::teardown}) {
    auto failure = stages[0].invoke(phase, call_site);
    EXPECT_FALSE(failure) << phase_name(phase) << ": " << failure->message;
  }
  EXPECT_TRUE(exchange_.outputs.empty());
  EXPECT_TRUE(journal_->records_of("test.c").empty());
}

TEST_F(CPlugin, AConfigItRefusesFailsValidateWithItsMessage) {
  auto stages = bind(boost::json::object{{"mode", "fail"}});
  auto failure = stages[0].invoke(Phase::validate, site());
  ASSERT_TRUE(failure) << "validate passed";
  EXPECT_EQ(failure->message, "c: c stage refused its config");
  EXPECT_EQ(failure->exit_code, 125);
  EXPECT_TRUE(exchange_.outputs.empty());
}

}  // namespace
}  // namespace nsrun::core
