#include "nsrun/core/spec_json.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

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

// runc resolves a relative bind source against the bundle, as the OCI spec resolves root.path;
// other mounts' sources ("proc", "tmpfs") are names, not paths.
TEST(SpecJson, ARelativeBindSourceIsTheBundles) {
  auto doc = parse_json_document(R"({
    "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/data", "type": "bind", "source": "data"},
               {"destination": "/opt", "source": "sub/opt", "options": ["rbind"]},
               {"destination": "/t", "type": "tmpfs", "source": "data", "options": ["bind"]},
               {"destination": "/abs", "type": "bind", "source": "/srv"}]
  })",
                                 "config.json");
  ContainerSpec spec = spec_from_json(doc, "/bundle");
  ASSERT_EQ(spec.mounts.size(), 5u);
  EXPECT_EQ(spec.mounts[0].source, "proc");
  EXPECT_EQ(spec.mounts[1].source, "/bundle/data");
  EXPECT_EQ(spec.mounts[2].source, "/bundle/sub/opt");
  EXPECT_EQ(spec.mounts[3].source, "/bundle/data") << "a bind option makes it a bind, as in runc";
  EXPECT_EQ(spec.mounts[4].source, "/srv");
  EXPECT_EQ(spec_from_json(doc, "").mounts[1].source, "data") << "no bundle: left as written";
}

// The stages read the bundle's config.json as the core hands it on: with the paths resolved.
TEST(SpecJson, TheBundleConfigHandedOnHasAbsoluteBindSources) {
  std::string pattern = (std::filesystem::temp_directory_path() / "nsrun-bundle-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const std::string bundle = pattern;
  write_file_atomically(bundle + "/config.json", R"({
    "ociVersion": "1.0.2", "process": {"args": ["true"]}, "root": {"path": "rootfs"},
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/data", "type": "bind", "source": "data", "options": ["ro"]}]})");
  boost::json::object config = read_bundle_config(bundle);
  std::filesystem::remove_all(bundle);
  EXPECT_EQ(config.at("root").at("path").as_string(), bundle + "/rootfs");
  const auto& mounts = config.at("mounts").as_array();
  EXPECT_EQ(mounts.at(0).at("source"), "proc");
  EXPECT_EQ(mounts.at(1).at("source").as_string(), bundle + "/data");
  EXPECT_EQ(mounts.at(1).at("options"), (boost::json::array{"ro"})) << "the rest as written";
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

// --- Devices ---

TEST(SpecJson, DevicesRoundTripFaithfully) {
  auto doc = parse_json_document(R"({
    "process": {"args": ["x"]}, "root": {"path": "/r"},
    "linux": {
      "resources": {"devices": [{"allow": false, "access": "rwm"},
                                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                                {"allow": true, "type": "c", "major": 136, "access": "rwm"},
                                {"allow": false, "type": "a", "major": -1, "minor": -1}]},
      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                   "fileMode": 438, "uid": 0, "gid": 0},
                  {"path": "/dev/fifo", "type": "p", "x-vendor": "kept"}]}})",
                                 "config.json");
  ContainerSpec spec = spec_from_json(doc, "");
  ASSERT_EQ(spec.resources.devices.size(), 4u);
  const auto& deny_all = spec.resources.devices[0];
  EXPECT_FALSE(deny_all.allow);
  EXPECT_EQ(deny_all.type, "a");
  EXPECT_FALSE(deny_all.major);
  EXPECT_FALSE(deny_all.minor);
  EXPECT_EQ(deny_all.access, "rwm");
  EXPECT_EQ(spec.resources.devices[1].type, "c");
  EXPECT_EQ(spec.resources.devices[1].minor, 3);
  EXPECT_FALSE(spec.resources.devices[2].minor);
  EXPECT_EQ(spec.resources.devices[3].major, -1);
  EXPECT_EQ(spec.resources.devices[3].access, "");
  ASSERT_EQ(spec.devices.size(), 2u);
  EXPECT_EQ(spec.devices[0].path, "/dev/fuse");
  EXPECT_EQ(spec.devices[0].major, 10);
  EXPECT_EQ(spec.devices[0].file_mode, 438);
  EXPECT_EQ(spec.devices[0].uid, 0);
  EXPECT_FALSE(spec.devices[1].major);
  EXPECT_FALSE(spec.devices[1].file_mode);
  // Written back unchanged: the same document, unmodelled keys of an entry included.
  auto written = spec_to_json(spec, doc.as_object());
  EXPECT_EQ(written.at("linux").at("devices"), doc.at("linux").at("devices"));
  EXPECT_EQ(written.at("linux").at("resources").at("devices"),
            doc.at("linux").at("resources").at("devices"));
  // And a spec built in memory survives the trip.
  ContainerSpec again = spec_from_json(spec_to_json(spec), "");
  ASSERT_EQ(again.resources.devices.size(), 4u);
  EXPECT_EQ(again.resources.devices[1].access, "rw");
  EXPECT_EQ(again.devices[0].gid, 0);
  // No devices: no keys written.
  ContainerSpec none;
  auto empty = spec_to_json(none);
  EXPECT_FALSE(empty.at("linux").as_object().contains("devices"));
  EXPECT_FALSE(empty.at("linux").at("resources").as_object().contains("devices"));
}

TEST(SpecJson, MalformedDevicesNameTheField) {
  auto error = [](const char* text) {
    try {
      spec_from_json(parse_json_document(text, "config.json"), "");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(R"({"linux": {"resources": {"devices": [{"allow": true}, {"access": "r"}]}}})"),
            "config.json: linux.resources.devices[1].allow is required (true or false)");
  EXPECT_EQ(error(R"({"linux": {"resources": {"devices": [{"allow": true, "major": "1"}]}}})"),
            "config.json: linux.resources.devices[0].major must be an integer");
  EXPECT_EQ(error(R"({"linux": {"devices": [{"path": "/dev/x"}]}})"),
            "config.json: linux.devices[0] needs path and type");
  EXPECT_EQ(error(R"({"linux": {"devices": [7]}})"),
            "config.json: linux.devices[0] must be an object");
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

TEST(SpecJson, SeccompRoundTripsAndKeepsWhatItDoesNotModel) {
  auto doc = parse_json_document(R"({
    "process": {"args": ["x"]},
    "linux": {"seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG"],
      "listenerMetadata": "kept",
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
         "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
        {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 18446744073709551615, "valueTwo": 21522,
                   "op": "SCMP_CMP_MASKED_EQ"}]}]}}
  })",
                                 "config.json");
  ContainerSpec spec = spec_from_json(doc, "/b");
  ASSERT_TRUE(spec.seccomp);
  const SeccompSpec& s = *spec.seccomp;
  EXPECT_EQ(s.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s.default_errno_ret, 38u);
  EXPECT_EQ(s.architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}));
  EXPECT_EQ(s.flags, (std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG"}));
  ASSERT_EQ(s.syscalls.size(), 3u);
  EXPECT_EQ(s.syscalls[0].names, (std::vector<std::string>{"read", "write"}));
  EXPECT_FALSE(s.syscalls[0].errno_ret);
  EXPECT_EQ(s.syscalls[1].errno_ret, 97u);
  EXPECT_EQ(s.syscalls[1].args, (std::vector<SeccompArgSpec>{{0, 2, 0, "SCMP_CMP_EQ"}}));
  EXPECT_EQ(s.syscalls[2].args,
            (std::vector<SeccompArgSpec>{{1, UINT64_MAX, 0x5412, "SCMP_CMP_MASKED_EQ"}}));

  auto written = spec_to_json(spec, doc.as_object());
  EXPECT_EQ(spec_from_json(written, "/b").seccomp, spec.seccomp);
  EXPECT_EQ(written.at("linux").at("seccomp").at("listenerMetadata"), "kept");
  EXPECT_EQ(spec_from_json(spec_to_json(spec), "/b").seccomp, spec.seccomp) << "without a base";

  spec.seccomp.reset();
  EXPECT_FALSE(spec_to_json(spec, doc.as_object()).at("linux").as_object().contains("seccomp"));
  EXPECT_FALSE(
      spec_from_json(parse_json_document(R"({"linux": {"seccomp": null}})", "c"), "/b").seccomp);
}

TEST(SpecJson, SeccompWrongTypesNameTheField) {
  auto error = [](const char* text) {
    try {
      spec_from_json(parse_json_document(text, "config.json"), "/b");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(R"({"linux": {"seccomp": {"syscalls": []}}})"),
            "config.json: linux.seccomp.defaultAction is required");
  EXPECT_EQ(error(R"({"linux": {"seccomp": {"defaultAction": 1}}})"),
            "config.json: linux.seccomp.defaultAction must be a string");
  EXPECT_EQ(error(R"({"linux": {"seccomp": {"defaultAction": "A", "defaultErrnoRet": -1}}})"),
            "config.json: linux.seccomp.defaultErrnoRet must be an integer from 0 to 4294967295");
  EXPECT_EQ(error(R"({"linux": {"seccomp": {"defaultAction": "A", "architectures": "x"}}})"),
            "config.json: linux.seccomp.architectures must be an array of strings");
  EXPECT_EQ(error(R"({"linux": {"seccomp": {"defaultAction": "A", "syscalls": [1]}}})"),
            "config.json: linux.seccomp.syscalls[0] must be an object");
  EXPECT_EQ(error(R"({"linux": {"seccomp": {"defaultAction": "A",
                                            "syscalls": [{"names": ["x"]}]}}})"),
            "config.json: linux.seccomp.syscalls[0] needs names and action");
  EXPECT_EQ(error(R"({"linux": {"seccomp": {"defaultAction": "A", "syscalls": [
                      {"names": ["x"], "action": "B", "errnoRet": "1"}]}}})"),
            "config.json: linux.seccomp.syscalls[0].errnoRet must be an integer from 0 to "
            "4294967295");
  EXPECT_EQ(error(R"({"linux": {"seccomp": {"defaultAction": "A", "syscalls": [
                      {"names": ["x"], "action": "B", "args": [{"index": 0, "op": "C"}]}]}}})"),
            "config.json: linux.seccomp.syscalls[0].args[0] needs index, value and op");
  EXPECT_EQ(error(R"({"linux": {"seccomp": {"defaultAction": "A", "syscalls": [
                      {"names": ["x"], "action": "B",
                       "args": [{"index": 0, "value": -1, "op": "C"}]}]}}})"),
            "config.json: linux.seccomp.syscalls[0].args[0].value must be an integer from 0 to "
            "18446744073709551615");
}

// `nsrun update --memory 1k`: the cgroups stage names the field it judged; the command names the
// flag it filled the field from, with the text the user typed in place of the stage's value.
TEST(NamingFlags, AFieldAFlagFilledIsNamedAsTheFlag) {
  const std::vector<FieldFromFlag> memory = {
      {"linux.resources.memory.limit", "--memory 1k", "1024"}};
  EXPECT_EQ(naming_flags("update: cgroups: config.json: linux.resources.memory.limit 1024 is "
                         "below the minimum of 6 MiB (6291456; use -1 for no limit)",
                         memory),
            "update: cgroups: --memory 1k is below the minimum of 6 MiB (6291456; use -1 for no "
            "limit)");
  EXPECT_EQ(naming_flags("update: cgroups: config.json: linux.resources.cpu.cpus \"0-x\" is not "
                         "a CPU list",
                         {{"linux.resources.cpu.cpus", "--cpuset-cpus 0-x", "\"0-x\""}}),
            "update: cgroups: --cpuset-cpus 0-x is not a CPU list");
  EXPECT_EQ(naming_flags("exec: security: process.capabilities.bounding: unknown capability "
                         "\"CAP_X\" (see capabilities(7))",
                         {{"process.capabilities.bounding", "--cap", ""}}),
            "exec: security: --cap: unknown capability \"CAP_X\" (see capabilities(7))");
}

// Only the whole field, and its value only where the message writes it: what the flags did not
// fill keeps its name.
TEST(NamingFlags, OtherFieldsAndValuesAreLeftAsTheyAre) {
  const std::vector<FieldFromFlag> swap = {
      {"linux.resources.memory.swap", "--memory-swap 100m", "104857600"}};
  EXPECT_EQ(naming_flags("cgroups: config.json: linux.resources.memory.swap 104857600 is below "
                         "memory.limit 209715200",
                         swap),
            "cgroups: --memory-swap 100m is below memory.limit 209715200");
  EXPECT_EQ(naming_flags("config.json: linux.resources.memory.limit 1024 is too low", swap),
            "config.json: linux.resources.memory.limit 1024 is too low");
  EXPECT_EQ(naming_flags("linux.resources.memory.swapX 1 is odd", swap),
            "linux.resources.memory.swapX 1 is odd")
      << "a longer name is another field";
  EXPECT_EQ(naming_flags("linux.resources.memory.swap 1048576000 is odd", swap),
            "--memory-swap 100m 1048576000 is odd")
      << "another value stays, after the flag";
  EXPECT_EQ(naming_flags("no field here", swap), "no field here");
}

}  // namespace
}  // namespace nsrun::core
