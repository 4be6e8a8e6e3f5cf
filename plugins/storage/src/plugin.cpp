// The nsrun.storage plugin's entry point.
#include "nsrun/plugin.hpp"

#include "nsrun/storage/storage_stage.hpp"

NSRUN_PLUGIN(nsrun::storage::StorageStage, "nsrun.storage", "1.0.0", "storage",
             "pivot_root into the rootfs with /proc, /dev, /sys, /tmp, bind mounts and /etc files")
