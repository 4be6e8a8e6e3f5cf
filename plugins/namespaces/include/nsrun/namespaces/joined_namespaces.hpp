// nsrun.namespaces: namespaces a container joins (`linux.namespaces[].path`), as Kubernetes pods
// and `podman run --pod` ask for: the pod's network, ipc and uts namespaces (and its pid and user
// ones) are another container's, and each container of the pod joins them.
//
// This stage checks the paths (validate) and, for a joined user namespace, takes its id maps into
// the spec (prepare) so that later stages (storage: the idmapped rootfs) see the ids the
// container's root has. The core joins them: it opens every path before anything is cloned, and a
// short-lived process joins them (the user namespace last) and clones the container process
// beside itself, so that the namespaces the container still gets new belong to the joined user
// namespace (docs/security.md, "Joining namespaces").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/spec.hpp"

namespace nsrun::namespaces {

/// The CLONE_NEW* flag of a namespace type ("network": CLONE_NEWNET), 0 for an unknown type.
int clone_flag_of(std::string_view type);

/// Checks entry `index` of linux.namespaces, which has a path: absolute, a namespace file
/// (/proc/PID/ns/TYPE or a bind mount of one), of the entry's type, and for a user namespace
/// not nsrun's own. Throws StageError with one line naming the entry and the fix.
void check_joinable(const NamespaceSpec& ns, std::size_t index);

/// The id maps of the user namespace at `path`, as nsrun's own user namespace sees them. A
/// short-lived child joins it and reads /proc/self/uid_map and gid_map (a file read from inside
/// shows the parent's ids). Throws StageError.
struct UserNamespaceMaps {
  std::vector<IdMapping> uid, gid;
};
UserNamespaceMaps read_user_namespace_maps(const std::string& path);

}  // namespace nsrun::namespaces
