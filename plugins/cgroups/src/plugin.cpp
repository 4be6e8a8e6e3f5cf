// The plugin's entry point; the stage itself is in cgroups_stage.cpp (shared with the tests).
#include "nsrun/cgroups/cgroups_stage.hpp"

NSRUN_PLUGIN(nsrun::cgroups::CgroupsStage, "nsrun.cgroups", "1.0.0", "cgroups",
             "memory, CPU, pids and cpuset limits on cgroup v1, v2 and hybrid hosts")
