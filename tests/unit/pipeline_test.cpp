#include "nsrun/core/pipeline.hpp"

#include <gtest/gtest.h>

#include "nsrun/core/bench.hpp"
#include "nsrun/core/json_util.hpp"

namespace nsrun::core {
namespace {

Pipeline parse(const char* text) {
  return Pipeline::from_json(parse_json_document(text, "p.json"), "p.json");
}

std::string error_of(const char* text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

constexpr const char* standard = R"({"stages": [
  {"kind": "namespaces", "plugin": "nsrun.namespaces"},
  {"kind": "network", "plugin": "nsrun.network.none", "config": {"a": 1}},
  {"kind": "exec", "plugin": "nsrun.exec"}]})";

TEST(Pipeline, ParsesInOrder) {
  Pipeline p = parse(standard);
  ASSERT_EQ(p.stages.size(), 3u);
  EXPECT_EQ(p.stages[0].kind, "namespaces");
  EXPECT_EQ(p.stages[1].plugin, "nsrun.network.none");
  EXPECT_EQ(p.stages[1].config.at("a").as_int64(), 1);
  EXPECT_EQ(p.stages[2].kind, "exec");
  EXPECT_EQ(Pipeline::from_json(p.to_json(), "again").stages.size(), 3u);
}

TEST(Pipeline, OverrideSwapsOneStage) {
  Pipeline p = parse(standard);
  p.override_stage("network=nsrun.network.host");
  EXPECT_EQ(p.stages[1].plugin, "nsrun.network.host");
  EXPECT_TRUE(p.stages[1].config.empty()) << "the old plugin's config does not carry over";
  try {
    p.override_stage("cgroups=nsrun.cgroups");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "--stage cgroups=nsrun.cgroups: the pipeline has no \"cgroups\" stage (it has: "
                 "namespaces, network, exec)");
  }
  EXPECT_THROW(p.override_stage("network"), Error);
  EXPECT_THROW(p.override_stage("=x"), Error);
  EXPECT_THROW(p.override_stage("network="), Error);
}

TEST(Pipeline, ErrorsNameTheProblem) {
  EXPECT_EQ(error_of(R"({"stages": [], "extra": 1})"),
            "p.json: unknown key \"extra\" (expected \"stages\" and \"selectors\")");
  EXPECT_EQ(error_of(R"({"stages": []})"), "p.json: the pipeline has no stages");
  EXPECT_EQ(error_of(R"({"stages": [{"kind": "exec"}]})"), "p.json: stages[0].plugin is required");
  EXPECT_EQ(error_of(R"({"stages": [{"kind": "exec", "plugin": "x", "conf": {}}]})"),
            "p.json: stages[0]: unknown key \"conf\" (expected kind, plugin, config)");
  EXPECT_EQ(error_of(R"({"stages": [{"kind": "exec", "plugin": "x", "config": []}]})"),
            "p.json: stages[0].config must be an object");
  EXPECT_EQ(
      error_of(R"({"stages": [{"kind": "exec", "plugin": "x"}, {"kind": "exec", "plugin": "y"}]})"),
      "p.json: stages[1]: a second \"exec\" stage (each kind appears once)");
}

// nsrun bench and the trace name nsrun's own time outside the stages core, core.* and workload
// (bench.hpp, core_buckets): a stage of such a kind would be counted as nsrun's, or the reverse.
TEST(Pipeline, TheKindsThatNameNsrunsOwnTimeAreRefused) {
  for (const char* kind : {"core", "workload", "core.startup", "core.mine"}) {
    const std::string text = std::string(R"({"stages": [{"kind": ")") + kind +
                             R"(", "plugin": "test.good"}, {"kind": "exec", "plugin": "x"}]})";
    EXPECT_EQ(error_of(text.c_str()),
              std::string("p.json: stages[0].kind \"") + kind +
                  "\" is reserved: core, core.* and workload name nsrun's own time beside the "
                  "stages' (name the slot after what its stage does, e.g. \"audit\")");
  }
  for (const char* kind : {"cores", "coreutils", "workloads", "my.core"})
    EXPECT_FALSE(is_reserved_stage_kind(kind)) << kind;
  for (const auto& bucket : core_buckets) EXPECT_TRUE(is_reserved_stage_kind(bucket)) << bucket;
}

constexpr const char* with_selectors = R"({"stages": [
  {"kind": "namespaces", "plugin": "nsrun.namespaces"},
  {"kind": "network", "plugin": "nsrun.network.bridge"}],
  "selectors": [
  {"flag": "network", "value": "none", "stage": "network=nsrun.network.none"},
  {"flag": "network", "value": "host", "stage": "network=nsrun.network.host"}]})";

// What check_selector_flags says; selector_flags_declared, which the CLI asks first, agrees.
std::string selector_error(const Pipeline& p,
                           const std::map<std::string, std::vector<std::string>>& declared) {
  const bool all_declared = p.selector_flags_declared(declared);
  try {
    p.check_selector_flags("/etc/nsrun/p.json", declared);
  } catch (const Error& e) {
    EXPECT_FALSE(all_declared) << e.what();
    return e.what();
  }
  EXPECT_TRUE(all_declared);
  return "no error";
}

TEST(Pipeline, NamedPluginsAreTheStagesThenTheSelectorsOnce) {
  EXPECT_EQ(parse(with_selectors).named_plugins(),
            (std::vector<std::string>{"nsrun.namespaces", "nsrun.network.bridge",
                                      "nsrun.network.none", "nsrun.network.host"}));
}

// A selector's flag is declared by some plugin the document names: a stage's (the bridge's
// --network) or the one it selects (a run with --network none loads only that one).
TEST(Pipeline, ASelectorOnADeclaredFlagIsAccepted) {
  Pipeline p = parse(with_selectors);
  EXPECT_EQ(selector_error(p, {{"nsrun.namespaces", {"userns"}},
                               {"nsrun.network.bridge", {"network", "publish"}}}),
            "no error");
  EXPECT_EQ(selector_error(p, {{"nsrun.network.none", {"network"}}}), "no error");
  EXPECT_EQ(selector_error(parse(standard), {}), "no error") << "no selectors, nothing to judge";
}

// A selector on a flag no plugin of the pipeline declares never selects: refused, naming the
// file, the selector's stage and the flag, with the flags there are.
TEST(Pipeline, ASelectorOnAnUndeclaredFlagIsRefused) {
  Pipeline p = parse(R"({"stages": [
    {"kind": "namespaces", "plugin": "nsrun.namespaces"},
    {"kind": "network", "plugin": "nsrun.network.bridge"}],
    "selectors": [
    {"flag": "network", "value": "none", "stage": "network=nsrun.network.none"},
    {"flag": "netwrok", "value": "host", "stage": "network=nsrun.network.host"}]})");
  const std::map<std::string, std::vector<std::string>> declared = {
      {"nsrun.namespaces", {"userns"}},
      {"nsrun.network.bridge", {"network", "publish"}},
      {"nsrun.network.host", {"network"}},
      {"other.plugin", {"netwrok"}}};  // loaded, but not the pipeline's: it does not count
  EXPECT_EQ(selector_error(p, declared),
            "/etc/nsrun/p.json: selectors[1] (stage network=nsrun.network.host): no plugin of the "
            "pipeline declares the flag --netwrok, so it never selects (its plugins declare "
            "--network, --publish, --userns; name one of those)");
  EXPECT_EQ(selector_error(parse(with_selectors), {}),
            "/etc/nsrun/p.json: selectors[0] (stage network=nsrun.network.none): no plugin of the "
            "pipeline declares the flag --network, so it never selects (its plugins declare no "
            "flags; remove the selector)");
}

TEST(Pipeline, MalformedFileSaysWhere) {
  try {
    parse_json_document("{\"stages\": [\n  {\"kind\": \"exec\",}\n]}", "pipeline /tmp/p.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2, column 19"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nsrun::core
