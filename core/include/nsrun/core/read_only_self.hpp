// CVE-2019-5736: every process nsrun puts into a container is nsrun until it execs the workload,
// and a workload may make the kernel run nsrun again inside the container (`#!/proc/self/exe`).
// A process of the container that opens /proc/PID/exe of such a process holds the host's nsrun
// binary, and once no nsrun runs it any more, could reopen it for writing and replace it.
//
// So `run`, `create` and `exec` first re-execute nsrun from a detached, read-only bind mount of
// its own binary (open_tree(OPEN_TREE_CLONE) + mount_setattr(MOUNT_ATTR_RDONLY) + execveat):
// every process they fork then has an exe on a read-only mount, through which no write is
// possible. runc and crun copy their binary into a sealed memfd for the same end, which costs a
// copy of the binary at every start; the bind mount costs none.
#pragma once

#include <string>

namespace nsrun::core {

/// Returns at once when nsrun already runs from a read-only mount (re-executed, or installed on
/// a read-only filesystem). Otherwise re-executes the calling program with `argv` and the current
/// environment from a read-only bind mount of it, and does not return; throws Error when that is
/// not possible (for example without CAP_SYS_ADMIN).
void reexec_from_read_only_binary(char** argv);

/// The path of nsrun's binary as installed. A re-executed nsrun's /proc/self/exe names its
/// detached mount ("/"), so the path it was started from is passed on in the environment
/// (NSRUN_BINARY) and read back here; otherwise /proc/self/exe.
std::string installed_binary_path();

/// Removes what reexec_from_read_only_binary added to the environment, after reading it (so
/// that hooks and helpers nsrun starts do not inherit it). Call once, first thing in main.
void take_reexec_environment();

}  // namespace nsrun::core
