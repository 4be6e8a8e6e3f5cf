#include "nsrun/core/spec_json.hpp"

#include <gtest/gtest.h>

#include "nsrun/core/json_util.hpp"

namespace nsrun::core {
namespace {

TEST(SpecJson, ReadsTheSupportedSubset) {
  auto doc = parse_json_document(R"({
    "ociVersion": "1.0.2",
    "process": {"args": ["sh", "-c", "true"], "env": ["PATH=/bin"], "cwd": "/work", "terminal": false},
    "root": {"path": "rootfs", "readonly": true},
    "hostname": "oci",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/data", "source": "/srv", "options": ["rbind", "ro"]}],
    "annotations": {"a": "b"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}],
              "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 32},
                            "cpu": {"quota": 50000, "period": 100000}}},
    "unsupportedYet": {"ignored": true}
  })",
                                 "config.json");
  ContainerSpec spec = spec_from_json(doc, "/bundle");
  EXPECT_EQ(spec.process.args, (std::vector<std::string>{"sh", "-c", "true"}));
  EXPECT_EQ(spec.process.cwd, "/work");
  EXPECT_EQ(spec.root.path, "/bundle/rootfs");
  EXPECT_TRUE(spec.root.readonly);
  EXPECT_EQ(spec.hostname, "oci");
  ASSERT_EQ(spec.mounts.size(), 2u);
  EXPECT_EQ(spec.mounts[1].type, "bind") << "bind is implied by rbind";
  EXPECT_EQ(spec.namespaces.size(), 2u);
  EXPECT_EQ(*spec.resources.memory_limit, 67108864);
  EXPECT_EQ(*spec.resources.pids_limit, 32);
  EXPECT_EQ(*spec.resources.cpu_quota, 50000);
  EXPECT_EQ(spec.annotations.at("a"), "b");
}

TEST(SpecJson, RoundTrips) {
  auto doc = parse_json_document(
      R"({"process": {"args": ["x"]}, "root": {"path": "/r"}, "linux": {"resources": {"pids": {"limit": -1}}}})",
      "config.json");
  ContainerSpec spec = spec_from_json(doc, "/b");
  ContainerSpec again = spec_from_json(spec_to_json(spec), "/b");
  EXPECT_EQ(again.process.args, spec.process.args);
  EXPECT_EQ(again.root.path, "/r");
  EXPECT_EQ(*again.resources.pids_limit, -1);
}

TEST(SpecJson, WrongTypesNameTheField) {
  auto error = [](const char* text) {
    try {
      spec_from_json(parse_json_document(text, "config.json"), "/b");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(R"({"process": {"args": "sh"}})"),
            "config.json: process.args must be an array of strings");
  EXPECT_EQ(error(R"({"mounts": [{"source": "/x"}]})"),
            "config.json: mounts[0].destination is required");
  EXPECT_EQ(error(R"({"linux": {"resources": {"memory": {"limit": "64m"}}}})"),
            "config.json: linux.resources.memory.limit must be an integer");
  EXPECT_EQ(error(R"([1])"), "config.json: the document must be a JSON object");
}

TEST(SpecJson, MalformedJsonSaysLineAndColumn) {
  try {
    parse_json_document("{\n  \"a\": 1,\n  \"b\" 2\n}", "bundle config.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(
        std::string(e.what()).rfind("bundle config.json: malformed JSON at line 3, column 7", 0),
        0u)
        << e.what();
  }
}

}  // namespace
}  // namespace nsrun::core
