// Resolving container paths inside the rootfs (see secure_join.hpp).
#include "nsrun/storage/secure_join.hpp"

#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "nsrun/stage.hpp"

namespace nsrun::storage {
namespace {

// Appends the non-empty components of `path` to `out`.
template <typename Container>
void split_components(std::string_view path, Container& out) {
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty()) out.emplace_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
}

std::string join_components(const std::vector<std::string>& components, std::size_t count) {
  if (count == 0) return "/";
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += "/" + components[i];
  return out;
}

enum class LinkState { symlink, not_symlink, missing };

// One readlink(2) tells us whether a component exists and, if it is a symlink, where it points.
LinkState read_link(const std::string& host_path, std::string& target,
                    std::string_view container_path) {
  char buffer[PATH_MAX];
  ssize_t n = ::readlink(host_path.c_str(), buffer, sizeof buffer);
  if (n >= 0) {
    if (static_cast<std::size_t>(n) == sizeof buffer)
      throw StageError("cannot resolve \"" + std::string(container_path) +
                       "\" inside the rootfs: the symlink " + host_path + " is too long");
    target.assign(buffer, static_cast<std::size_t>(n));
    return LinkState::symlink;
  }
  if (errno == EINVAL) return LinkState::not_symlink;
  // ENOTDIR: a parent is a file. The path does not exist; creating it will report the error.
  if (errno == ENOENT || errno == ENOTDIR) return LinkState::missing;
  throw StageError("cannot resolve \"" + std::string(container_path) +
                   "\" inside the rootfs: " + host_path + ": " + std::strerror(errno));
}

}  // namespace

std::string ResolvedPath::in_root() const {
  return join_components(components, components.size());
}

std::string ResolvedPath::host_path(std::size_t count) const {
  return count == 0 ? root : root + join_components(components, count);
}

ResolvedPath resolve_in_root(std::string_view root, std::string_view path) {
  ResolvedPath resolved;
  resolved.root = std::string(root);
  while (resolved.root.size() > 1 && resolved.root.back() == '/') resolved.root.pop_back();

  std::deque<std::string> pending;
  split_components(path, pending);
  int hops = 0;
  std::string link_target;

  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      // `components` holds only real directories, so ".." is their parent; at the root it stays.
      if (!resolved.components.empty()) resolved.components.pop_back();
      if (resolved.components.size() < resolved.existing)
        resolved.existing = resolved.components.size();
      continue;
    }
    resolved.components.push_back(std::move(part));
    // Below a missing directory nothing exists, so nothing can be a symlink: skip the syscall.
    if (resolved.existing + 1 != resolved.components.size()) continue;

    LinkState state = read_link(resolved.host_path(), link_target, path);
    if (state == LinkState::not_symlink) {
      resolved.existing = resolved.components.size();
      continue;
    }
    if (state == LinkState::missing) continue;
    if (++hops > max_symlink_hops)
      throw StageError("cannot resolve \"" + std::string(path) +
                       "\" inside the rootfs: too many levels of symbolic links (fix the "
                       "symlink loop in the rootfs)");
    // Replace the symlink by its target: an absolute target restarts from the rootfs (never from
    // the host's "/"), a relative one continues from the symlink's directory.
    resolved.components.pop_back();
    if (!link_target.empty() && link_target.front() == '/') {
      resolved.components.clear();
      resolved.existing = 0;
    }
    std::deque<std::string> target_parts;
    split_components(link_target, target_parts);
    pending.insert(pending.begin(), target_parts.begin(), target_parts.end());
  }
  if (resolved.existing > resolved.components.size())
    resolved.existing = resolved.components.size();
  return resolved;
}

std::string clean_container_path(std::string_view path) {
  std::vector<std::string> parts;
  std::vector<std::string> cleaned;
  split_components(path, parts);
  for (auto& part : parts) {
    if (part == ".") continue;
    if (part == "..") {
      if (!cleaned.empty()) cleaned.pop_back();
      continue;
    }
    cleaned.push_back(std::move(part));
  }
  return join_components(cleaned, cleaned.size());
}

bool escapes_root_lexically(std::string_view path) {
  std::vector<std::string_view> parts;
  split_components(path, parts);
  int depth = 0;
  for (std::string_view part : parts) {
    if (part == ".") continue;
    depth += part == ".." ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

bool is_strictly_beneath(std::string_view path, std::string_view dir) {
  if (dir == "/") return path.size() > 1;
  return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

}  // namespace nsrun::storage
