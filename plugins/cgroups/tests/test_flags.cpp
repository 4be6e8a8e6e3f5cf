// `nsrun run` resource flags: parsing, defaults, and one clear line per bad value.
#include <gtest/gtest.h>

#include "nsrun/cgroups/flags.hpp"
#include "nsrun/stage.hpp"

namespace nsrun::cgroups {
namespace {

ContainerSpec apply(const ResourceFlags& flags, long online_cpus = 2) {
  ContainerSpec spec;
  apply_resource_flags(flags, spec, online_cpus);
  return spec;
}

std::string error_of(const ResourceFlags& flags, long online_cpus = 2) {
  try {
    apply(flags, online_cpus);
  } catch (const StageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ParseSizeFlag, NumbersAndBinarySuffixes) {
  EXPECT_EQ(parse_size_flag("--memory", "1048576"), 1048576);
  EXPECT_EQ(parse_size_flag("--memory", "512b"), 512);
  EXPECT_EQ(parse_size_flag("--memory", "64k"), 64LL << 10);
  EXPECT_EQ(parse_size_flag("--memory", "64m"), 64LL << 20);
  EXPECT_EQ(parse_size_flag("--memory", "64M"), 64LL << 20);
  EXPECT_EQ(parse_size_flag("--memory", "64mb"), 64LL << 20);
  EXPECT_EQ(parse_size_flag("--memory", "64MiB"), 64LL << 20);
  EXPECT_EQ(parse_size_flag("--memory", "2g"), 2LL << 30);
  EXPECT_EQ(parse_size_flag("--memory", "1.5g"), 3LL << 29);
  EXPECT_EQ(parse_size_flag("--memory", "0.5m"), 512LL << 10);
  EXPECT_EQ(parse_size_flag("--memory", "1t"), 1LL << 40);
  EXPECT_EQ(parse_size_flag("--memory", "8191p"), 8191LL << 50);
}

TEST(ParseSizeFlag, GarbageNegativeAndOverflow) {
  auto error = [](const std::string& value) {
    try {
      parse_size_flag("--memory", value);
    } catch (const StageError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(error("12x"),
            "--memory \"12x\" is not a size (use a number with an optional k, m or g suffix, e.g. "
            "64m)");
  EXPECT_EQ(error(""), error("").substr(0));  // no crash on empty
  EXPECT_NE(error("").find("is not a size"), std::string::npos);
  EXPECT_NE(error("m").find("is not a size"), std::string::npos);
  EXPECT_NE(error("1.m").find("is not a size"), std::string::npos);
  EXPECT_NE(error("64 m").find("is not a size"), std::string::npos);
  EXPECT_NE(error("64mm").find("is not a size"), std::string::npos);
  EXPECT_NE(error("0x40").find("is not a size"), std::string::npos);
  EXPECT_EQ(error("-5m"), "--memory \"-5m\" is negative (use a size such as 64m)");
  EXPECT_EQ(error("8192p"), "--memory \"8192p\" is too large");
  EXPECT_EQ(error("99999999999999999999"), "--memory \"99999999999999999999\" is too large");
  EXPECT_EQ(error("9223372036854775807k"), "--memory \"9223372036854775807k\" is too large");
}

TEST(ApplyResourceFlags, NothingGivenChangesNothing) {
  ContainerSpec spec = apply({});
  EXPECT_FALSE(spec.resources.memory_limit);
  EXPECT_FALSE(spec.resources.memory_swap);
  EXPECT_FALSE(spec.resources.cpu_quota);
  EXPECT_FALSE(spec.resources.pids_limit);
  EXPECT_TRUE(spec.annotations.empty());
  EXPECT_TRUE(spec.cgroups_path.empty());
}

TEST(ApplyResourceFlags, MemoryAndDockersDefaultSwap) {
  ResourceFlags f;
  f.memory = "64m";
  ContainerSpec spec = apply(f);
  EXPECT_EQ(spec.resources.memory_limit, 64LL << 20);
  EXPECT_EQ(spec.resources.memory_swap, 128LL << 20);  // docker: as much swap as memory
  f.memory_swap = "64m";
  EXPECT_EQ(apply(f).resources.memory_swap, 64LL << 20);  // no swap at all
  f.memory_swap = "-1";
  EXPECT_EQ(apply(f).resources.memory_swap, -1);
  f.memory_swap = "1g";
  EXPECT_EQ(apply(f).resources.memory_swap, 1LL << 30);
}

TEST(ApplyResourceFlags, MemoryErrors) {
  ResourceFlags f;
  f.memory = "4m";
  EXPECT_EQ(error_of(f), "--memory \"4m\" is below the minimum of 6 MiB (e.g. 64m)");
  f.memory = "6m";
  EXPECT_EQ(error_of(f), "(no error)");
  f.memory = "0";
  EXPECT_NE(error_of(f).find("below the minimum"), std::string::npos);
  f = {};
  f.memory_swap = "1g";
  EXPECT_EQ(error_of(f), "--memory-swap needs --memory too (it limits memory plus swap)");
  f.memory = "64m";
  f.memory_swap = "32m";
  EXPECT_EQ(error_of(f),
            "--memory-swap \"32m\" is below --memory 64m (it is memory plus swap; use -1 for "
            "unlimited swap)");
  f.memory_swap = "-2";
  EXPECT_NE(error_of(f).find("--memory-swap \"-2\" is negative"), std::string::npos);
  f.memory_swap = "lots";
  EXPECT_NE(error_of(f).find("--memory-swap \"lots\" is not a size"), std::string::npos);
}

TEST(ApplyResourceFlags, CpusBecomeQuotaOverPeriod) {
  ResourceFlags f;
  f.cpus = "0.5";
  ContainerSpec spec = apply(f);
  EXPECT_EQ(spec.resources.cpu_quota, 50000);
  EXPECT_EQ(spec.resources.cpu_period, 100000u);
  f.cpus = "1.25";
  EXPECT_EQ(apply(f).resources.cpu_quota, 125000);
  f.cpus = "2";
  EXPECT_EQ(apply(f).resources.cpu_quota, 200000);
  f.cpus = "0.01";
  EXPECT_EQ(apply(f).resources.cpu_quota, 1000);
}

TEST(ApplyResourceFlags, CpusErrors) {
  ResourceFlags f;
  f.cpus = "0";
  EXPECT_EQ(error_of(f), "--cpus 0 must be more than 0 (e.g. 0.5 for half a CPU)");
  f.cpus = "0.0";
  EXPECT_NE(error_of(f).find("must be more than 0"), std::string::npos);
  f.cpus = "3";
  EXPECT_EQ(error_of(f), "--cpus 3 is more than the 2 online CPUs");
  f.cpus = "2.5";
  EXPECT_EQ(error_of(f, 2), "--cpus 2.5 is more than the 2 online CPUs");
  EXPECT_EQ(error_of(f, 4), "(no error)");
  f.cpus = "-1";
  EXPECT_EQ(error_of(f), "--cpus \"-1\" is not a positive number of CPUs (e.g. 1.5)");
  f.cpus = "half";
  EXPECT_NE(error_of(f).find("is not a positive number of CPUs"), std::string::npos);
  f.cpus = "1e3";
  EXPECT_NE(error_of(f).find("is not a positive number of CPUs"), std::string::npos);
  f.cpus = "0.001";
  EXPECT_EQ(error_of(f), "--cpus 0.001 is below the minimum of 0.01");
  f.cpus = "0.5";
  f.cpu_quota = "50000";
  EXPECT_EQ(error_of(f),
            "--cpus cannot be combined with --cpu-quota or --cpu-period (use one or the other)");
}

TEST(ApplyResourceFlags, QuotaPeriodShares) {
  ResourceFlags f;
  f.cpu_quota = "25000";
  f.cpu_period = "50000";
  f.cpu_shares = "512";
  ContainerSpec spec = apply(f);
  EXPECT_EQ(spec.resources.cpu_quota, 25000);
  EXPECT_EQ(spec.resources.cpu_period, 50000u);
  EXPECT_EQ(spec.resources.cpu_shares, 512u);
  f = {};
  f.cpu_quota = "-1";
  EXPECT_EQ(apply(f).resources.cpu_quota, -1);
  f.cpu_quota = "999";
  EXPECT_EQ(error_of(f),
            "--cpu-quota 999 is below the minimum of 1000 microseconds (use -1 for no limit)");
  f.cpu_quota = "1.5";
  EXPECT_EQ(error_of(f), "--cpu-quota \"1.5\" is not a whole number (e.g. 50000)");
  f.cpu_quota = "99999999999999999999";
  EXPECT_EQ(error_of(f), "--cpu-quota \"99999999999999999999\" is too large");
  f = {};
  f.cpu_period = "999";
  EXPECT_EQ(error_of(f), "--cpu-period 999 is outside 1000-1000000 microseconds");
  f.cpu_period = "1000001";
  EXPECT_NE(error_of(f).find("is outside"), std::string::npos);
  f = {};
  f.cpu_shares = "1";
  EXPECT_EQ(error_of(f), "--cpu-shares 1 is outside 2-262144 (the default is 1024)");
  f.cpu_shares = "262145";
  EXPECT_NE(error_of(f).find("outside"), std::string::npos);
  f.cpu_shares = "";
  f.cpu_shares = "x";
  EXPECT_NE(error_of(f).find("--cpu-shares \"x\" is not a whole number"), std::string::npos);
}

TEST(ApplyResourceFlags, PidsLimit) {
  ResourceFlags f;
  f.pids_limit = "32";
  EXPECT_EQ(apply(f).resources.pids_limit, 32);
  f.pids_limit = "-1";
  EXPECT_EQ(apply(f).resources.pids_limit, -1);  // documented: unlimited
  f.pids_limit = "0";
  EXPECT_EQ(error_of(f), "--pids-limit 0 must be positive (use -1 for no limit)");
  f.pids_limit = "-2";
  EXPECT_EQ(error_of(f), "--pids-limit -2 must be positive (use -1 for no limit)");
  f.pids_limit = "ten";
  EXPECT_EQ(error_of(f), "--pids-limit \"ten\" is not a whole number (e.g. 100)");
}

TEST(ApplyResourceFlags, Cpusets) {
  ResourceFlags f;
  f.cpuset_cpus = "0-1";
  f.cpuset_mems = "0";
  ContainerSpec spec = apply(f);
  EXPECT_EQ(spec.resources.cpuset_cpus, "0-1");
  EXPECT_EQ(spec.resources.cpuset_mems, "0");
  f.cpuset_cpus = "0,2";
  EXPECT_EQ(error_of(f), "--cpuset-cpus 0,2 names CPU 2, but only CPUs 0-1 are online");
  f.cpuset_cpus = "1-0";
  EXPECT_EQ(error_of(f), "--cpuset-cpus \"1-0\": the range 1-0 runs backwards");
  for (const char* bad : {"", ",", "0,", "a", "0-", "-1", "0 1", "1-2-3", "999999"}) {
    f.cpuset_cpus = bad;
    if (std::string(bad).empty()) continue;  // an empty flag is "not given"
    EXPECT_NE(error_of(f).find("--cpuset-cpus"), std::string::npos) << bad;
  }
  f.cpuset_cpus = "";
  f.cpuset_mems = "x";
  EXPECT_EQ(error_of(f), "--cpuset-mems \"x\" is not a memory node list (e.g. 0-2,4)");
}

TEST(ApplyResourceFlags, CgroupParentMustBeAbsoluteAndStayInside) {
  ResourceFlags f;
  f.cgroup_parent = "/ci/jobs";
  ContainerSpec spec = apply(f);
  EXPECT_TRUE(spec.cgroups_path.empty());  // set once the id is known
  EXPECT_EQ(cgroups_path_under("/ci/jobs", "abc"), "/ci/jobs/nsrun-abc");
  EXPECT_EQ(cgroups_path_under("/ci//jobs/", "abc"), "/ci/jobs/nsrun-abc");
  EXPECT_EQ(cgroups_path_under("/", "abc"), "/nsrun-abc");
  f.cgroup_parent = "ci/jobs";
  EXPECT_EQ(error_of(f), "--cgroup-parent \"ci/jobs\" must be an absolute path (e.g. /ci/jobs)");
  f.cgroup_parent = "/ci/../..";
  EXPECT_EQ(error_of(f),
            "--cgroup-parent \"/ci/../..\" must not contain \"..\" or \".\" (it would leave the "
            "cgroup hierarchy)");
  f.cgroup_parent = "/ci/./x";
  EXPECT_NE(error_of(f).find("must not contain"), std::string::npos);
  f.cgroup_parent = "/ci/\nx";
  EXPECT_NE(error_of(f).find("control characters"), std::string::npos);
}

TEST(ApplyResourceFlags, CgroupDriverBecomesAnAnnotation) {
  ResourceFlags f;
  for (const char* d : {"auto", "v1", "v2", "hybrid"}) {
    f.cgroup_driver = d;
    EXPECT_EQ(apply(f).annotations.at(annotation::cgroup_driver), d);
  }
  f.cgroup_driver = "systemd";
  EXPECT_EQ(error_of(f),
            "--cgroup-driver \"systemd\" is not a driver (use auto, v1, v2 or hybrid)");
}

// The values nsrun hands the plugin ({"memory": "64m", ...}) become the typed flags.
TEST(ResourceFlagsFrom, ReadsGivenFlagsByName) {
  boost::json::object given{{"memory", "64m"}, {"pids-limit", "32"}, {"cgroup-parent", "/ci"}};
  ResourceFlags f = resource_flags_from(given);
  EXPECT_EQ(f.memory, "64m");
  EXPECT_EQ(f.pids_limit, "32");
  EXPECT_EQ(f.cgroup_parent, "/ci");
  EXPECT_TRUE(f.cpus.empty());
}

TEST(ApplyResourceFlags, EveryMessageIsOneLineNamingItsFlag) {
  std::vector<std::pair<std::string, ResourceFlags>> cases;
  auto add = [&](const std::string& flag, std::string ResourceFlags::*field, const char* value) {
    ResourceFlags f;
    if (flag == "--memory-swap") f.memory = "64m";
    f.*field = value;
    cases.emplace_back(flag, f);
  };
  add("--memory", &ResourceFlags::memory, "lots");
  add("--memory-swap", &ResourceFlags::memory_swap, "1k");
  add("--cpus", &ResourceFlags::cpus, "9");
  add("--cpu-quota", &ResourceFlags::cpu_quota, "1");
  add("--cpu-period", &ResourceFlags::cpu_period, "1");
  add("--cpu-shares", &ResourceFlags::cpu_shares, "0");
  add("--pids-limit", &ResourceFlags::pids_limit, "0");
  add("--cpuset-cpus", &ResourceFlags::cpuset_cpus, "7");
  add("--cpuset-mems", &ResourceFlags::cpuset_mems, "0-");
  add("--cgroup-parent", &ResourceFlags::cgroup_parent, "x");
  add("--cgroup-driver", &ResourceFlags::cgroup_driver, "x");
  for (const auto& [flag, f] : cases) {
    std::string message = error_of(f);
    EXPECT_EQ(message.rfind(flag, 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace nsrun::cgroups
