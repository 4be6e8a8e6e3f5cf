// Declared contracts between stages (provides, needs, placement) and claimed spec fields: what
// the core refuses before any stage runs, and the outputs it carries between stages.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "nsrun/core/orchestrator.hpp"
#include "nsrun/plugin.hpp"

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

// Provides "x" in prepare when its config says so, reads "x" in poststart and writes what it
// read to the file its config names; with "undeclared", sets an output it did not declare.
class ExchangeStage final : public IStage {
 public:
  void prepare(Context& ctx) override {
    if (ctx.config.contains("provide")) ctx.provide("x", ctx.config.at("provide"));
    if (ctx.config.contains("undeclared")) ctx.provide("y", "1");
    if (ctx.config.contains("hostname"))
      ctx.spec.hostname = std::string(ctx.config.at("hostname").as_string());
  }
  void start_container(Context& ctx) override {
    if (ctx.config.contains("exec")) {
      ::execl("/bin/true", "true", nullptr);
      throw StageError("cannot exec /bin/true", 126);
    }
  }
  void poststart(Context& ctx) override {
    if (!ctx.config.contains("report")) return;
    auto value = ctx.output("x");
    std::ofstream(std::string(ctx.config.at("report").as_string()))
        << (value ? boost::json::serialize(*value) : "none");
  }
};

constexpr nsrun_contract provides_x[] = {{"x", 0}, {nullptr, 0}};
constexpr nsrun_contract needs_x[] = {{"x", 0}, {nullptr, 0}};
constexpr nsrun_contract needs_x_later[] = {{"x", NSRUN_NEED_AFTER_PREPARE}, {nullptr, 0}};
constexpr nsrun_contract needs_x_optional[] = {{"x", NSRUN_NEED_OPTIONAL}, {nullptr, 0}};
constexpr const char* claims_process[] = {"process", nullptr};
constexpr const char* claims_resources[] = {"linux.resources", "root", nullptr};

constexpr nsrun_plugin descriptor(const char* name, const nsrun_contract* provides,
                                  const nsrun_contract* needs, std::uint32_t placement = 0,
                                  const char* const* claims = nullptr) {
  return nsrun_plugin{NSRUN_API_MAJOR,
                      sizeof(nsrun_plugin),
                      name,
                      NSRUN_API_MINOR,
                      "1",
                      "test",
                      "",
                      nullptr,
                      0,
                      placement,
                      provides,
                      needs,
                      claims,
                      &detail::create_stage<ExchangeStage>,
                      &detail::destroy_stage,
                      &detail::invoke_stage,
                      nullptr,
                      0,
                      nullptr};
}

const nsrun_plugin provider = descriptor("test.provider", provides_x, nullptr);
const nsrun_plugin provider2 = descriptor("test.provider2", provides_x, nullptr);
const nsrun_plugin consumer = descriptor("test.consumer", nullptr, needs_x);
const nsrun_plugin late_consumer = descriptor("test.late", nullptr, needs_x_later);
const nsrun_plugin optional_consumer = descriptor("test.optional", nullptr, needs_x_optional);
const nsrun_plugin last =
    descriptor("test.last", nullptr, nullptr, NSRUN_PLACE_LAST, claims_process);
const nsrun_plugin plain = descriptor("test.plain", nullptr, nullptr, 0, claims_resources);
const nsrun_plugin reader =
    descriptor("test.reader", nullptr, needs_x, NSRUN_PLACE_LAST, claims_process);

std::vector<BoundStage> bind(std::vector<std::pair<std::string, const nsrun_plugin*>> stages) {
  std::vector<BoundStage> bound;
  for (auto& [kind, plugin] : stages)
    bound.emplace_back(PipelineStage{kind, plugin->name, {}}, plugin);
  return bound;
}

std::string contract_error(std::vector<std::pair<std::string, const nsrun_plugin*>> stages) {
  try {
    check_contracts(bind(std::move(stages)));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Contracts, AnOrderedPipelineIsAccepted) {
  EXPECT_EQ(contract_error({{"a", &provider}, {"b", &consumer}, {"exec", &last}}), "");
}

TEST(Contracts, ANeedNobodyProvidesNamesTheStageAndTheKey) {
  EXPECT_EQ(contract_error({{"b", &consumer}, {"exec", &last}}),
            "pipeline: the b stage (test.consumer) needs \"x\", which no stage of the pipeline "
            "provides (add a stage that provides it)");
}

TEST(Contracts, AProviderAfterItsConsumerNamesBoth) {
  EXPECT_EQ(contract_error({{"b", &consumer}, {"a", &provider}}),
            "pipeline: the b stage (test.consumer) needs \"x\" from the a stage (test.provider), "
            "which comes after it (move a before b)");
}

TEST(Contracts, ANeedReadAfterPrepareMayComeFromALaterStage) {
  EXPECT_EQ(contract_error({{"b", &late_consumer}, {"a", &provider}}), "");
}

TEST(Contracts, AnOptionalNeedMayGoUnprovided) {
  EXPECT_EQ(contract_error({{"b", &optional_consumer}}), "");
  EXPECT_NE(contract_error({{"b", &optional_consumer}, {"a", &provider}}), "")
      << "but a provider that exists must still come first";
}

TEST(Contracts, TwoProvidersOfOneKeyNameBoth) {
  EXPECT_EQ(contract_error({{"a", &provider}, {"c", &provider2}}),
            "pipeline: the a stage (test.provider) and the c stage (test.provider2) both provide "
            "\"x\" (keep one of them in the pipeline)");
}

TEST(Contracts, AStageAfterTheLastOneNamesBoth) {
  EXPECT_EQ(contract_error({{"exec", &last}, {"a", &provider}}),
            "pipeline: the exec stage (test.last) runs the workload and must be last, but the a "
            "stage (test.provider) comes after it (move it before exec)");
}

std::string claims_error(const char* spec_json, bool spec_from_flags = false) {
  auto stages = bind({{"a", &plain}, {"exec", &last}});
  try {
    check_claims(stages, boost::json::parse(spec_json).as_object(), spec_from_flags);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Claims, AFieldNoStageImplementsIsRefusedByName) {
  EXPECT_EQ(claims_error(R"({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ERRNO"}}})"),
            "config.json: linux.seccomp is set but no stage in the pipeline implements it (add a "
            "stage that does, or remove the field)");
  EXPECT_EQ(claims_error(R"({"mounts": [{"destination": "/x"}]})").substr(0, 33),
            "config.json: mounts is set but no");
  // `nsrun run CMD` with a pipeline of its own: there is no config.json to name.
  EXPECT_EQ(claims_error(R"({"hostname": "c1"})", true),
            "the pipeline has no stage for hostname, which nsrun run sets from its flags or their "
            "defaults (add a stage that implements it to the pipeline, e.g. the default "
            "pipeline's)");
}

TEST(Claims, ClaimedFieldsAndTheirChildrenPass) {
  EXPECT_EQ(claims_error(R"({"process": {"args": ["x"], "user": {"uid": 5}},
                             "linux": {"resources": {"memory": {"limit": 1}}}, "root": {"path": "/r"}})"),
            "");
}

TEST(Claims, EmptyOrDefaultValuesAskForNothing) {
  auto stages = bind({{"a", &provider}});  // claims nothing
  for (const char* spec :
       {R"({"hostname": "", "mounts": [], "linux": {"seccomp": null, "maskedPaths": []}})",
        R"({"process": {"user": {"uid": 0, "gid": 0}, "terminal": false}})",
        R"({"linux": {"resources": {"devices": []}}, "annotations": {"a": "b"}})",
        R"({"ociVersion": "1.0.2", "somethingNew": {"x": 1}})"})
    EXPECT_NO_THROW(check_claims(stages, boost::json::parse(spec).as_object())) << spec;
  EXPECT_THROW(
      check_claims(stages,
                   boost::json::parse(R"({"process": {"user": {"uid": 1000}}})").as_object()),
      Error);
  EXPECT_THROW(
      check_claims(stages,
                   boost::json::parse(R"({"process": {"noNewPrivileges": true}})").as_object()),
      Error);
  // The terminal is the core's (terminal.hpp): no stage has to claim it.
  EXPECT_NO_THROW(check_claims(
      stages, boost::json::parse(R"({"process": {"terminal": true, "consoleSize": {"height": 5}}})")
                  .as_object()));
}

// Outputs go from a stage's prepare through the core to a later phase of another stage; an
// output the plugin did not declare is refused with the reason.
class ExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nsrun-exchange-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  int run(std::vector<std::pair<PipelineStage, const nsrun_plugin*>> stages) {
    std::vector<BoundStage> bound;
    ContainerRequest request;
    for (auto& [stage, plugin] : stages) {
      request.pipeline.stages.push_back(stage);
      bound.emplace_back(stage, plugin);
    }
    check_contracts(bound);
    request.id = "x1";
    request.state_root = (dir_ / "state").string();
    request.spec = {{"process", {{"args", {"true"}}}}};
    StderrLogger log(false);
    Orchestrator orchestrator(std::move(bound), log);
    return orchestrator.run(request);
  }
  std::string report() const {
    std::ifstream in(dir_ / "report");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  fs::path dir_;
};

TEST_F(ExchangeTest, AnOutputReachesTheStageThatNeedsIt) {
  boost::json::object provide{{"provide", {{"address", "10.0.0.7"}}}};
  boost::json::object read{{"report", (dir_ / "report").string()}, {"exec", true}};
  EXPECT_EQ(
      run({{{"a", "test.provider", provide}, &provider}, {{"exec", "test.reader", read}, &reader}}),
      0);
  EXPECT_EQ(report(), R"({"address":"10.0.0.7"})");
}

TEST(Exchange, AnUndeclaredOutputIsRefusedWithTheReason) {
  std::vector<BoundStage> stages;
  stages.emplace_back(PipelineStage{"a", "test.provider", {{"undeclared", true}}}, &provider);
  StderrLogger log(false);
  StageExchange exchange;
  SpecDocument spec(boost::json::object{{"process", {{"args", {"true"}}}}});
  CallSite site{"x1", "/nonexistent", "/", &spec, nullptr, &log, 0, &exchange};
  auto failure = stages[0].invoke(Phase::prepare, site);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->message, "a: output \"y\" is not declared in the plugin's provides");
  EXPECT_TRUE(exchange.outputs.empty());
}

TEST(Exchange, AnOutputSetInPrepareIsKeptAsJsonText) {
  std::vector<BoundStage> stages;
  stages.emplace_back(PipelineStage{"a", "test.provider", {{"provide", 1}}}, &provider);
  StderrLogger log(false);
  StageExchange exchange;
  SpecDocument spec(boost::json::object{{"process", {{"args", {"true"}}}}});
  CallSite site{"x1", "/nonexistent", "/", &spec, nullptr, &log, 0, &exchange};
  ASSERT_FALSE(stages[0].invoke(Phase::prepare, site));
  EXPECT_EQ(spec.revision(), 1u) << "a stage that changes nothing does not replace the spec";
  EXPECT_EQ(exchange.outputs.at("x"), "1");
}

// What a stage changes in prepare goes back to the core once, as a whole document with the
// fields the model does not know kept; the same value again is no change.
TEST(Exchange, AChangeInPrepareReplacesTheSpecAndTheSameValueDoesNot) {
  StderrLogger log(false);
  StageExchange exchange;
  SpecDocument spec(boost::json::object{
      {"process", {{"args", {"true"}}}}, {"hostname", "before"}, {"org.example.unknown", 7}});
  CallSite site{"x1", "/nonexistent", "/", &spec, nullptr, &log, 0, &exchange};
  BoundStage renamer(PipelineStage{"a", "test.provider", {{"hostname", "after"}}}, &provider);
  ASSERT_FALSE(renamer.invoke(Phase::prepare, site));
  EXPECT_EQ(spec.revision(), 2u);
  EXPECT_EQ(spec.document().at("hostname"), "after");
  EXPECT_EQ(spec.document().at("org.example.unknown"), 7);
  BoundStage same(PipelineStage{"b", "test.provider", {{"hostname", "after"}}}, &provider);
  ASSERT_FALSE(same.invoke(Phase::prepare, site));
  EXPECT_EQ(spec.revision(), 2u) << "the same hostname again is no change";
}

}  // namespace
}  // namespace nsrun::core
