// The plugin's entry point; the stage itself is in namespaces_stage.cpp (shared with the tests).
#include "nsrun/namespaces/namespaces_stage.hpp"

NSRUN_PLUGIN(nsrun::namespaces::NamespacesStage, "nsrun.namespaces", "1.1.0", "namespaces",
             "pid, mount, uts, ipc (+network, +cgroup on v2, +user) namespaces and the hostname")
