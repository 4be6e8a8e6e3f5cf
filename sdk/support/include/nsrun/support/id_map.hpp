// Id maps as the kernel takes them: the text of /proc/<pid>/uid_map and gid_map. Shared by the
// namespaces stage, which writes a container's maps, and the storage stage, which writes them
// for the throwaway user namespaces of idmapped mounts. Header-only; not installed.
#pragma once

#include <string>
#include <vector>

#include "nsrun/spec.hpp"

namespace nsrun::support {

/// "CONTAINER HOST SIZE\n" per entry, in one string: what one write(2) of a map file takes.
inline std::string id_map_text(const std::vector<IdMapping>& mappings) {
  std::string text;
  for (const auto& m : mappings)
    text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
            std::to_string(m.size) + "\n";
  return text;
}

}  // namespace nsrun::support
