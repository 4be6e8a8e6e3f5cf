// "Stable" tested: a plugin built against the frozen SDK 2.0 headers (tests/fixtures/sdk-2.0)
// loads into this nsrun and works through every service a 2.0 plugin may use.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "nsrun/core/orchestrator.hpp"
#include "nsrun/plugin.hpp"

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

TEST(FrozenSdk, APluginBuiltAgainstSdk20LoadsAndWorks) {
  LoaderOptions options;
  options.directories = {NSRUN_FROZEN_PLUGIN_DIR};
  options.required_owner = ::getuid();
  auto registry = PluginRegistry::load_named(options, {"test.frozen"});
  const PluginRecord* record = registry.find("test.frozen");
  ASSERT_NE(record, nullptr) << (registry.plugins().empty() ? "not found"
                                                            : registry.plugins()[0].refusal);
  EXPECT_EQ(record->api_major, 2u);
  EXPECT_EQ(record->api_minor, 0u);

  Pipeline pipeline;
  pipeline.stages = {{"frozen", "test.frozen", {{"greeting", "hi"}}}};
  auto stages = bind_pipeline(pipeline, registry);
  stages[0].set_flags({{"frozen-greeting", "bonjour"}});

  fs::path dir = fs::temp_directory_path() / ("nsrun-frozen-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  JournalFile journal((dir / "journal.jsonl").string());
  StderrLogger log(false);
  StageExchange exchange;
  SpecDocument spec(boost::json::object{{"process", {{"args", {"true"}}}}});
  EXPECT_NO_THROW(
      check_claims(stages, boost::json::parse(R"({"process": {"user": {"uid": 5}}})").as_object()));
  CallSite site{"f1", dir.string(), dir.parent_path().string(), &spec, &journal, &log,
                0,    &exchange};
  EXPECT_FALSE(stages[0].invoke(Phase::validate, site));
  EXPECT_FALSE(stages[0].invoke(Phase::prepare, site));
  EXPECT_EQ(exchange.outputs.at("frozen.greeting"), "\"bonjour\"") << "the flag won";
  EXPECT_EQ(spec.revision(), 2u);
  ASSERT_NE(spec.spec().process.env_value("FROZEN_GREETING"), nullptr);
  EXPECT_EQ(*spec.spec().process.env_value("FROZEN_GREETING"), "FROZEN_GREETING=bonjour");
  auto records = journal.records_of("test.frozen");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].data.at("text").as_string(), "bonjour");
  fs::remove_all(dir);
}

// SDK 2.2 added nsrun_call.spec_source at the end of the call. A core built before it passes a
// shorter call, whose memory past its struct_size is not the field: the plugin must not read it.
TEST(FrozenSdk, ACallFromACoreBefore22CountsAsABundle) {
  nsrun_call call{};
  call.spec_source = NSRUN_SPEC_FROM_FLAGS;
  call.struct_size = sizeof call;
  EXPECT_EQ(detail::spec_source_of(call), SpecSource::flags);
  call.spec_source = NSRUN_SPEC_FROM_BUNDLE;
  EXPECT_EQ(detail::spec_source_of(call), SpecSource::bundle);
  call.spec_source = NSRUN_SPEC_FROM_FLAGS;
  call.struct_size = offsetof(nsrun_call, spec_source);  // what a 2.1 core sends
  EXPECT_EQ(detail::spec_source_of(call), SpecSource::bundle);
}

}  // namespace
}  // namespace nsrun::core
