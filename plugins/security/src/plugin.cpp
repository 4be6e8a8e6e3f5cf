// The plugin's entry point; the stage itself is in security_stage.cpp (shared with the tests).
#include "nsrun/security/security_stage.hpp"

NSRUN_PLUGIN(nsrun::security::SecurityStage, "nsrun.security", "1.0.0", "security",
             "capabilities, user, rlimits, no_new_privs, masked and read-only paths, sysctls")
