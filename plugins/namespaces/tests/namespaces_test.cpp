// nsrun.namespaces through its ABI: what it accepts, what it refuses and how it says so.
#include <gtest/gtest.h>

#include "plugin_harness.hpp"

namespace nsrun::test {
namespace {

ContainerSpec spec_with(std::vector<NamespaceSpec> namespaces, std::string hostname = "") {
  ContainerSpec spec;
  spec.namespaces = std::move(namespaces);
  spec.hostname = std::move(hostname);
  return spec;
}

TEST(NamespacesStage, AcceptsTheUsualSet) {
  PluginHarness stage("nsrun.namespaces", "namespaces");
  auto spec = spec_with({{"pid", ""}, {"mount", ""}, {"uts", ""}, {"ipc", ""}}, "box");
  EXPECT_EQ(stage.run(Phase::validate, spec), std::nullopt);
}

TEST(NamespacesStage, RefusesWhatItCannotDo) {
  PluginHarness stage("nsrun.namespaces", "namespaces");
  auto refused = [&](ContainerSpec spec, const boost::json::object& config = {}) {
    return stage.run(Phase::validate, spec, config).value_or("accepted");
  };
  EXPECT_EQ(refused(spec_with({{"time", ""}})),
            "namespaces: a time namespace is not supported yet (remove it from linux.namespaces)");
  EXPECT_EQ(refused(spec_with({{"user", ""}})),
            "namespaces: a user namespace needs both linux.uidMappings and linux.gidMappings (add "
            "the missing one: without a map the container's root would be an unmapped host root)");
  EXPECT_EQ(refused(spec_with({{"net", ""}})),
            "namespaces: unknown namespace type \"net\" (known: pid, mount, uts, ipc, network, "
            "cgroup, user)");
  EXPECT_EQ(refused(spec_with({{"network", "/proc/self/ns/uts"}})),
            "namespaces: linux.namespaces[0]: the network namespace path \"/proc/self/ns/uts\" is "
            "a uts namespace (give the network namespace's file, /proc/PID/ns/net)");
  EXPECT_EQ(refused(spec_with({{"pid", ""}, {"pid", ""}})),
            "namespaces: the pid namespace is listed twice in linux.namespaces");
  EXPECT_EQ(refused(spec_with({{"pid", ""}}, "box")),
            "namespaces: hostname \"box\" needs a uts namespace (add one, or drop the hostname)");
  EXPECT_EQ(refused(spec_with({{"uts", ""}}), {{"cgroupNamespce", false}}),
            "namespaces: unknown config key \"cgroupNamespce\" for nsrun.namespaces (remove it or "
            "check its spelling)");
}

TEST(NamespacesStage, TakesTheCgroupNamespaceOutOfTheCloneFlags) {
  // It is made inside the container once the process is in its cgroup, not at clone time.
  PluginHarness stage("nsrun.namespaces", "namespaces");
  auto spec = spec_with({{"pid", ""}, {"cgroup", ""}});
  EXPECT_EQ(stage.run(Phase::prepare, spec), std::nullopt);
  EXPECT_FALSE(spec.has_namespace("cgroup"));
  EXPECT_TRUE(spec.has_namespace("pid"));
}

}  // namespace
}  // namespace nsrun::test
