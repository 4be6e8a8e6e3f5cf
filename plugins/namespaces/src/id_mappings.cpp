// Id maps: parsing, checks, text (see id_mappings.hpp).
#include "nsrun/namespaces/id_mappings.hpp"

#include <algorithm>
#include <charconv>

#include "nsrun/stage.hpp"
#include "nsrun/support/id_map.hpp"

namespace nsrun::namespaces {
namespace {

constexpr std::uint64_t id_space = std::uint64_t{1} << 32;  // ids are 0 to 4294967295

bool parse_id(std::string_view text, std::uint32_t& out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

std::uint64_t end_of(std::uint32_t start, std::uint32_t size) {
  return std::uint64_t{start} + size;
}

bool overlap(std::uint32_t a, std::uint32_t a_size, std::uint32_t b, std::uint32_t b_size) {
  return a < end_of(b, b_size) && b < end_of(a, a_size);
}

}  // namespace

IdMapping parse_id_mapping_flag(std::string_view flag, const std::string& text) {
  const std::string what = std::string(flag) + " " + text;
  std::vector<std::string_view> parts;
  std::string_view rest(text);
  for (auto colon = rest.find(':'); colon != std::string_view::npos; colon = rest.find(':')) {
    parts.push_back(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  parts.push_back(rest);
  IdMapping mapping;
  if (parts.size() != 3 || !parse_id(parts[0], mapping.container_id) ||
      !parse_id(parts[1], mapping.host_id) || !parse_id(parts[2], mapping.size))
    throw StageError(what + " must be CONTAINER:HOST:SIZE, three whole numbers from 0 to " +
                     "4294967295 (e.g. " + std::string(flag) + " 0:100000:65536)");
  return mapping;
}

std::vector<IdMapping> parse_id_map_text(std::string_view text, const std::string& source) {
  std::vector<IdMapping> out;
  while (!text.empty()) {
    auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    std::vector<std::string_view> fields;
    for (std::size_t at = 0; at < line.size();) {
      at = line.find_first_not_of(" \t", at);
      if (at == std::string_view::npos) break;
      auto end = std::min(line.find_first_of(" \t", at), line.size());
      fields.push_back(line.substr(at, end - at));
      at = end;
    }
    if (fields.empty()) continue;
    IdMapping mapping;
    if (fields.size() != 3 || !parse_id(fields[0], mapping.container_id) ||
        !parse_id(fields[1], mapping.host_id) || !parse_id(fields[2], mapping.size))
      throw StageError(source + ": \"" + std::string(line) +
                       "\" is not a map line (CONTAINER HOST SIZE)");
    out.push_back(mapping);
  }
  return out;
}

std::string MappingNames::entry(std::size_t i) const {
  if (i < flags.size()) return list + " " + flags[i];
  return list + "[" + std::to_string(i) + "]";
}

void validate_id_mappings(const std::vector<IdMapping>& mappings, const MappingNames& names) {
  const bool flag = !names.flags.empty();
  if (mappings.size() > max_id_map_lines)
    throw StageError(names.list + " has " + std::to_string(mappings.size()) +
                     " entries; the kernel takes at most " + std::to_string(max_id_map_lines) +
                     " (merge adjacent ranges)");
  for (std::size_t i = 0; i < mappings.size(); ++i) {
    const IdMapping& m = mappings[i];
    if (m.size == 0) throw StageError(names.entry(i) + ": the size must be at least 1");
    if (end_of(m.container_id, m.size) > id_space || end_of(m.host_id, m.size) > id_space)
      throw StageError(names.entry(i) + " reaches past id 4294967295 (make the size smaller)");
    for (std::size_t j = 0; j < i; ++j) {
      const IdMapping& other = mappings[j];
      if (overlap(other.container_id, other.size, m.container_id, m.size))
        throw StageError(names.entry(j) + " and " + names.entry(i) +
                         " overlap in container ids (map each container id once)");
      if (overlap(other.host_id, other.size, m.host_id, m.size))
        throw StageError(names.entry(j) + " and " + names.entry(i) +
                         " overlap in host ids (map each host id once)");
    }
  }
  if (!maps_container_id(mappings, 0))
    throw StageError(names.list + " does not map container id 0, the container's root (add " +
                     (flag
                          ? names.list + " 0:100000:65536"
                          : std::string(R"({"containerID": 0, "hostID": 100000, "size": 65536})")) +
                     " or similar)");
}

bool maps_container_id(const std::vector<IdMapping>& mappings, std::int64_t id) {
  return std::any_of(mappings.begin(), mappings.end(), [&](const IdMapping& m) {
    return id >= m.container_id && static_cast<std::uint64_t>(id) < end_of(m.container_id, m.size);
  });
}

std::string id_map_text(const std::vector<IdMapping>& mappings) {
  return support::id_map_text(mappings);
}

std::string describe(const std::vector<IdMapping>& mappings) {
  std::string text;
  for (const auto& m : mappings)
    text += (text.empty() ? "" : ",") + std::to_string(m.container_id) + ":" +
            std::to_string(m.host_id) + ":" + std::to_string(m.size);
  return text;
}

}  // namespace nsrun::namespaces
