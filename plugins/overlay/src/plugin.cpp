// The nsrun.storage.overlay plugin's entry point.
#include "nsrun/plugin.hpp"

#include "nsrun/overlay/overlay_stage.hpp"

NSRUN_PLUGIN(nsrun::overlay::OverlayStage, "nsrun.storage.overlay", "1.0.0", "storage",
             "the storage stage over a copy-on-write root (overlayfs): the base rootfs is never "
             "changed")
