// Unit tests of the hello stage with the SDK's test kit (<nsrun/testing.hpp>): the stage's
// phases run in-process against fakes, without nsrun and without root.
#include <gtest/gtest.h>

#include <nsrun/testing.hpp>

// The stage lives in one file that is also the whole plugin; the test compiles it in.
#include "hello_stage.cpp"

namespace {

using nsrun::Phase;

std::string greeting(const nsrun::testing::StageHarness& h) {
  const std::string* entry = h.spec.process.env_value("HELLO_GREETING");
  return entry ? entry->substr(entry->find('=') + 1) : "<unset>";
}

TEST(HelloStage, GreetsWithTheConfiguredGreeting) {
  nsrun::testing::StageHarness h;
  h.config = {{"greeting", "bonjour"}};
  HelloStage stage;
  h.run(stage, Phase::validate);
  h.run(stage, Phase::prepare);
  EXPECT_EQ(greeting(h), "bonjour");
}

TEST(HelloStage, GreetsWithHelloByDefault) {
  nsrun::testing::StageHarness h;
  HelloStage stage;
  h.run(stage, Phase::validate);
  h.run(stage, Phase::prepare);
  EXPECT_EQ(greeting(h), "hello");
}

TEST(HelloStage, RefusesAnUnknownConfigKeyNamingIt) {
  nsrun::testing::StageHarness h;
  h.config = {{"greting", "bonjour"}};
  HelloStage stage;
  try {
    h.run(stage, Phase::validate);
    FAIL() << "validate accepted an unknown key";
  } catch (const nsrun::StageError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown config key \"greting\""), std::string::npos)
        << e.what();
  }
}

TEST(HelloStage, KeepsTheUsersGreeting) {
  nsrun::testing::StageHarness h;
  h.config = {{"greeting", "bonjour"}};
  h.spec.process.env = {"PATH=/bin", "HELLO_GREETING=from the user"};  // nsrun run -e
  HelloStage stage;
  h.run(stage, Phase::validate);
  h.run(stage, Phase::prepare);
  EXPECT_EQ(greeting(h), "from the user");
  EXPECT_EQ(h.spec.process.env.size(), 2u) << "no second HELLO_GREETING";
}

TEST(HelloStage, ItsFlagWinsOverTheConfigAndMustNotBeEmpty) {
  nsrun::testing::StageHarness h;
  h.config = {{"greeting", "bonjour"}};
  h.flags = {{"greeting", "salut"}};  // nsrun run --greeting salut
  HelloStage stage;
  h.run(stage, Phase::validate);
  h.run(stage, Phase::prepare);
  EXPECT_EQ(greeting(h), "salut");
  h.flags = {{"greeting", ""}};
  EXPECT_THROW(h.run(stage, Phase::validate), nsrun::StageError);
}

TEST(HelloStage, ReportsTheAddressTheNetworkStageProvides) {
  nsrun::testing::StageHarness h;
  HelloStage stage;
  h.run(stage, Phase::poststart);
  EXPECT_TRUE(h.log.infos.empty()) << "no network stage, nothing to report";
  h.services.outputs["network.address"] = "10.88.0.7";
  h.run(stage, Phase::poststart);
  ASSERT_EQ(h.log.infos.size(), 1u);
  EXPECT_EQ(h.log.infos[0], "greeted a container at 10.88.0.7");
}

}  // namespace
