// nsrun.storage: the validate phase's checks. They only look (stat, realpath), never change
// anything, and throw StageError with a one-line message naming the fix.
#pragma once

#include <string>

#include "nsrun/spec.hpp"

namespace nsrun::storage {

/// Checks `root.path`: it must exist, be a directory and not be the host's "/". Returns its
/// canonical path (symlinks resolved), which is what gets bind-mounted and pivoted into.
std::string validate_rootfs(const RootSpec& root);

/// Checks one mount: an absolute destination that does not climb above "/" and is not "/"
/// itself; for binds, an existing absolute source and supported options only; for other
/// mounts, a type; "tmpcopyup" and "notmpcopyup" on a tmpfs only.
void validate_mount(const MountSpec& mount);

/// validate_rootfs() and validate_mount() for every mount; returns the canonical rootfs.
std::string validate_storage(const ContainerSpec& spec);

}  // namespace nsrun::storage
