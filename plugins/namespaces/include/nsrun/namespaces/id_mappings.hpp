// nsrun.namespaces: the id maps of a user namespace (linux.uidMappings / gidMappings, --uidmap,
// --gidmap), checked as the kernel will take them, and written as /proc/<pid>/uid_map text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nsrun/spec.hpp"

namespace nsrun::namespaces {

/// The kernel's limit on the lines of one uid_map or gid_map (since Linux 4.15).
inline constexpr std::size_t max_id_map_lines = 340;

/// One --uidmap or --gidmap value, podman's CONTAINER:HOST:SIZE (e.g. 0:100000:65536). Throws
/// StageError naming `flag` ("--uidmap") and the value.
IdMapping parse_id_mapping_flag(std::string_view flag, const std::string& text);

/// How the entries of a map are named in messages: a config.json list ("linux.uidMappings",
/// entries "linux.uidMappings[1]") or a repeated flag ("--uidmap", entries "--uidmap 0:1:2").
struct MappingNames {
  std::string list;                ///< "linux.uidMappings" or "--uidmap"
  std::vector<std::string> flags;  ///< for a flag: each entry's text as given; empty otherwise
  std::string entry(std::size_t i) const;
};

/// Checks a whole map as the kernel would take it, and more: at least one entry and at most
/// max_id_map_lines, every size at least 1, no range past id 4294967295, no two entries sharing
/// a container id or a host id, and container id 0 (root) mapped. Throws StageError with one
/// line naming the entry and the fix.
void validate_id_mappings(const std::vector<IdMapping>& mappings, const MappingNames& names);

/// True when container id `id` falls in one of the entries.
bool maps_container_id(const std::vector<IdMapping>& mappings, std::int64_t id);

/// The map as /proc/<pid>/uid_map takes it: "CONTAINER HOST SIZE\n" per entry, in one write.
std::string id_map_text(const std::vector<IdMapping>& mappings);

/// The entries of a map as /proc/<pid>/uid_map shows it (three whitespace-separated numbers per
/// line). Throws StageError naming `source` when a line is not that.
std::vector<IdMapping> parse_id_map_text(std::string_view text, const std::string& source);

/// "0:100000:65536,..." for messages and debug lines.
std::string describe(const std::vector<IdMapping>& mappings);

}  // namespace nsrun::namespaces
