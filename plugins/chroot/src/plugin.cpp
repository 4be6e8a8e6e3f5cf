// nsrun.storage.chroot: the storage stage with the root switched by chroot(2), as the program
// nsrun grew from did, instead of pivot_root. INSECURE: the host's root stays mounted beneath the
// container's, and a process with CAP_SYS_CHROOT (in podman's default set) escapes to it with
// `mkdir x; chroot x; cd ../..; chroot .`. It exists so that researchers can measure what
// pivot_root costs and buys (issue 12); it is in no pipeline nsrun ships, runs only when a
// pipeline or --stage names it, and says so on every run.
#include "nsrun/plugin.hpp"

#include "nsrun/storage/storage_stage.hpp"

namespace nsrun::chroot_storage {

class ChrootStage final : public storage::StorageStage {
 public:
  ChrootStage() { switch_with_chroot_ = true; }
  void validate(Context& ctx) override {
    StorageStage::validate(ctx);
    ctx.log.warn(
        "nsrun.storage.chroot switches root with chroot(2), which a process with CAP_SYS_CHROOT "
        "escapes to the host's root: for comparing isolation strategies only, never for "
        "untrusted workloads");
  }
};

}  // namespace nsrun::chroot_storage

NSRUN_PLUGIN(nsrun::chroot_storage::ChrootStage, "nsrun.storage.chroot", "1.0.0", "storage",
             "INSECURE, for comparisons only: the storage stage with chroot(2) instead of "
             "pivot_root (the original program's model; a chroot can be escaped)")
