// nsrun.storage: device nodes (linux.devices) and `nsrun run --device HOST[:CONTAINER][:PERMS]`.
//
// linux.devices: each node is created in the container process once /dev and the spec's mounts
// are in place and before the root switch, at its path resolved inside the rootfs (no symlink
// or ".." leads out; missing parents are made 0755): mknod with its type, numbers and fileMode's
// permission bits (default 0666; podman's fileMode carries the node's type bits too, 020666),
// then chown to uid/gid when given. A node that exists already is left as it is
// (runc does the same). Where mknod is refused (EPERM: a user namespace) the host's node is
// bind-mounted onto an empty file instead, as runc does.
//
// --device: the host path must be a character or block device. It adds a linux.devices entry
// (container path: the host path unless given) and an allow rule to linux.resources.devices
// with PERMS (default "rwm") after whatever rules are there (for `nsrun run`, the cgroups
// stage's defaults, which its prepare, earlier in the pipeline, wrote). The cgroups stage applies
// the final list in create_runtime.
#pragma once

#include <string>
#include <vector>

#include "nsrun/spec.hpp"
#include "nsrun/stage.hpp"
#include "nsrun/storage/host_fs.hpp"

namespace nsrun::storage {

/// One --device flag, as typed.
struct DeviceFlag {
  std::string host_path;
  std::string container_path;  ///< the host path when not given
  std::string permissions;     ///< a non-empty subset of "rwm"; "rwm" when not given
};

/// Parses HOST[:CONTAINER][:PERMS]; StageError naming --device when malformed.
DeviceFlag parse_device_flag(const std::string& value);

/// Checks that the flag's host path is a character or block device (stat) and returns the node
/// and the allow rule it adds. StageError naming --device otherwise.
std::pair<DeviceSpec, DeviceRuleSpec> device_from_flag(const DeviceFlag& flag);

/// Checks linux.devices; StageError naming the field, e.g.
/// `config.json: linux.devices[0].type: "x" is not a device type (use c, b, u or p)`.
/// A fileMode is permission bits (07777), with or without the type bits of the node's own type
/// (S_IFCHR for c and u, S_IFBLK for b, S_IFIFO for p), as podman writes it.
void validate_devices(const std::vector<DeviceSpec>& devices);

/// A node to create, and the host node bound in its place when mknod is refused.
struct PlannedDevice {
  DeviceSpec spec;
  std::string host_source;  ///< the host's node (--device's host path, else the same path)
};

/// Creates the nodes beneath `rootfs` (in the container's mount namespace, before the root
/// switch, with the umask at 0). StageError naming the node when one cannot be made.
void create_device_nodes(const std::vector<PlannedDevice>& devices, const std::string& rootfs,
                         HostFs& fs, Logger& log);

}  // namespace nsrun::storage
