// nsrun.storage: what create_container does inside the container's new mount namespace.
#pragma once

#include "nsrun/stage.hpp"
#include "nsrun/storage/host_fs.hpp"
#include "nsrun/storage/idmapped_root.hpp"
#include "nsrun/storage/mount_plan.hpp"

namespace nsrun::storage {

/// Carries out `plan` and switches root, in this order:
///  1. "/" becomes rprivate, so that nothing below propagates to the host;
///  2. the rootfs is rbind-mounted onto itself (pivot_root needs a mount point), or, with a user
///     namespace, `idmapped_root`'s copy is attached there (idmapped_root.hpp);
///  3. the stage's own set: /proc; /dev as a tmpfs with its device nodes, /dev/pts, /dev/ptmx,
///     /dev/shm and the fd links; /sys read-only; /tmp;
///  4. plan.mounts in order (spec.mounts, then the generated /etc files), a tmpfs with
///     tmpcopyup filled with what its directory held before any remount;
///  5. the rootfs's own mount read-only when plan.readonly_root (the mounts on it stay rw);
///  6. pivot_root(".", ".") in the rootfs and a lazy unmount of the old root stacked on it.
/// Afterwards the process sees only the container's filesystem. Throws StageError; refuses to
/// run in the host's mount namespace, whose propagation step 1 would change.
/// `caller_mount_namespace` is the mount namespace of the nsrun that planned it (HostFs's
/// mount_namespace() on the host side): mounting there is refused.
void enter_rootfs(const MountPlan& plan, HostFs& fs, Logger& log,
                  const std::string& caller_mount_namespace, IdmappedRoot* idmapped_root = nullptr,
                  IdmappedBinds* idmapped_binds = nullptr);

}  // namespace nsrun::storage
