// Id maps: --uidmap parsing and the checks every map goes through, with their exact messages.
#include <gtest/gtest.h>
#include <sched.h>

#include <functional>

#include "nsrun/namespaces/id_mappings.hpp"
#include "nsrun/namespaces/joined_namespaces.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::namespaces {
namespace {

std::string refusal(const std::function<void()>& call) {
  try {
    call();
  } catch (const StageError& e) {
    return e.what();
  }
  return "accepted";
}

std::string parse_refusal(const std::string& text) {
  return refusal([&] { parse_id_mapping_flag("--uidmap", text); });
}

std::string spec_refusal(const std::vector<IdMapping>& mappings) {
  return refusal([&] { validate_id_mappings(mappings, {"linux.uidMappings", {}}); });
}

TEST(IdMapText, ParsesWhatProcShows) {
  // /proc/PID/uid_map pads its columns; a namespace without a map shows nothing.
  EXPECT_EQ(parse_id_map_text("         0     300000      65536\n     65536          1 10\n", "m"),
            (std::vector<IdMapping>{{0, 300000, 65536}, {65536, 1, 10}}));
  EXPECT_TRUE(parse_id_map_text("", "m").empty());
  EXPECT_EQ(refusal([] { parse_id_map_text("0 1\n", "the uid map of x"); }),
            "the uid map of x: \"0 1\" is not a map line (CONTAINER HOST SIZE)");
}

// Joinable paths are checked on this process's own namespace files: no root needed.
TEST(JoinedNamespace, PathsAreCheckedForTheirTypeBeforeAnything) {
  auto check = [](const std::string& type, const std::string& path) {
    return refusal([&] { check_joinable({type, path}, 3); });
  };
  EXPECT_EQ(check("uts", "/proc/self/ns/uts"), "accepted");
  EXPECT_EQ(check("network", "/proc/self/ns/net"), "accepted");
  EXPECT_EQ(check("pid", "/proc/self/ns/pid_for_children"), "accepted");
  EXPECT_EQ(check("ipc", "/proc/self/ns/uts"),
            "linux.namespaces[3]: the ipc namespace path \"/proc/self/ns/uts\" is a uts namespace "
            "(give the ipc namespace's file, /proc/PID/ns/ipc)");
  EXPECT_EQ(check("ipc", "ns/ipc"),
            "linux.namespaces[3]: the ipc namespace path \"ns/ipc\" is not absolute (give "
            "/proc/PID/ns/ipc or a bind mount of one)");
  EXPECT_EQ(check("mount", "/proc/self/status"),
            "linux.namespaces[3]: the mount namespace path \"/proc/self/status\" is not a "
            "namespace file (give /proc/PID/ns/mnt or a bind mount of one)");
  EXPECT_EQ(check("user", "/proc/self/ns/user"),
            "linux.namespaces[3]: the user namespace path \"/proc/self/ns/user\" is nsrun's own "
            "user namespace (remove the user entry: without one the container runs in it)");
  EXPECT_EQ(clone_flag_of("network"), CLONE_NEWNET);
  EXPECT_EQ(clone_flag_of("time"), CLONE_NEWTIME);
  EXPECT_EQ(clone_flag_of("bogus"), 0);
}

TEST(IdMappingFlag, ParsesPodmansSyntax) {
  EXPECT_EQ(parse_id_mapping_flag("--uidmap", "0:100000:65536"), (IdMapping{0, 100000, 65536}));
  EXPECT_EQ(parse_id_mapping_flag("--gidmap", "1000:4294967295:1"),
            (IdMapping{1000, 4294967295U, 1}));
}

TEST(IdMappingFlag, RefusesWhatIsNotThreeIds) {
  const std::string usage =
      " must be CONTAINER:HOST:SIZE, three whole numbers from 0 to 4294967295 (e.g. --uidmap "
      "0:100000:65536)";
  for (const char* bad : {"0:100000", "a:b:c", "0:100000:65536:1", "", "0::1", "-1:0:1",
                          "0:0:4294967296", " 0:1:2", "0:1:2 "})
    EXPECT_EQ(parse_refusal(bad), std::string("--uidmap ") + bad + usage) << bad;
}

TEST(IdMappings, AcceptsASoundMap) {
  EXPECT_EQ(spec_refusal({{0, 100000, 1}, {1, 200000, 65535}}), "accepted");
  EXPECT_EQ(spec_refusal({{0, 4294901760U, 65536}}), "accepted");  // up to the last id
}

TEST(IdMappings, SaysWhatIsWrongWithEachEntry) {
  EXPECT_EQ(spec_refusal({{0, 100000, 65536}, {70000, 300000, 0}}),
            "linux.uidMappings[1]: the size must be at least 1");
  EXPECT_EQ(spec_refusal({{0, 4294967295U, 2}}),
            "linux.uidMappings[0] reaches past id 4294967295 (make the size smaller)");
  EXPECT_EQ(spec_refusal({{4294967295U, 0, 2}}),
            "linux.uidMappings[0] reaches past id 4294967295 (make the size smaller)");
  EXPECT_EQ(spec_refusal({{0, 100000, 10}, {5, 200000, 10}}),
            "linux.uidMappings[0] and linux.uidMappings[1] overlap in container ids (map each "
            "container id once)");
  EXPECT_EQ(spec_refusal({{0, 100000, 10}, {10, 100009, 10}}),
            "linux.uidMappings[0] and linux.uidMappings[1] overlap in host ids (map each host id "
            "once)");
  EXPECT_EQ(
      spec_refusal({{1, 100000, 10}}),
      R"(linux.uidMappings does not map container id 0, the container's root (add {"containerID": 0, "hostID": 100000, "size": 65536} or similar))");
  EXPECT_EQ(
      spec_refusal({}),
      R"(linux.uidMappings does not map container id 0, the container's root (add {"containerID": 0, "hostID": 100000, "size": 65536} or similar))");
}

TEST(IdMappings, TakesAtMostTheKernelsLines) {
  std::vector<IdMapping> mappings;
  for (std::uint32_t i = 0; i < max_id_map_lines; ++i) mappings.push_back({i, 100000 + i, 1});
  EXPECT_EQ(spec_refusal(mappings), "accepted");
  mappings.push_back({max_id_map_lines, 100000 + max_id_map_lines, 1});
  EXPECT_EQ(spec_refusal(mappings),
            "linux.uidMappings has 341 entries; the kernel takes at most 340 (merge adjacent "
            "ranges)");
}

TEST(IdMappings, NamesFlagEntriesByWhatWasTyped) {
  auto flag_refusal = [](const std::vector<IdMapping>& mappings,
                         const std::vector<std::string>& typed) {
    return refusal([&] { validate_id_mappings(mappings, {"--uidmap", typed}); });
  };
  EXPECT_EQ(flag_refusal({{0, 100000, 10}, {5, 200000, 10}}, {"0:100000:10", "5:200000:10"}),
            "--uidmap 0:100000:10 and --uidmap 5:200000:10 overlap in container ids (map each "
            "container id once)");
  EXPECT_EQ(flag_refusal({{0, 100000, 0}}, {"0:100000:0"}),
            "--uidmap 0:100000:0: the size must be at least 1");
  EXPECT_EQ(flag_refusal({{1, 100000, 10}}, {"1:100000:10"}),
            "--uidmap does not map container id 0, the container's root (add --uidmap "
            "0:100000:65536 or similar)");
}

TEST(IdMappings, MapTextAndMembership) {
  std::vector<IdMapping> mappings{{0, 100000, 1000}, {1000, 300000, 10}};
  EXPECT_EQ(id_map_text(mappings), "0 100000 1000\n1000 300000 10\n");
  EXPECT_EQ(describe(mappings), "0:100000:1000,1000:300000:10");
  EXPECT_TRUE(maps_container_id(mappings, 0));
  EXPECT_TRUE(maps_container_id(mappings, 1009));
  EXPECT_FALSE(maps_container_id(mappings, 1010));
  EXPECT_FALSE(maps_container_id(mappings, -1));
}

}  // namespace
}  // namespace nsrun::namespaces
