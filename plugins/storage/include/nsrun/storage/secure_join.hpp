// nsrun.storage: resolving a container path inside the rootfs, like filepath-securejoin.
//
// A mount destination such as "/etc/resolv.conf" names a path *inside* the container, but the
// rootfs is an untrusted image: "/etc" may be a symlink to "/" or "../../..", meant to make a
// naive join land on the host. resolve_in_root() walks the path one component at a time, reads
// each existing component's symlink with readlink(2) and follows it relative to the rootfs, and
// clamps ".." at the rootfs, so the result always lies inside it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nsrun::storage {

/// The kernel's own limit on symlink hops in one look-up (MAXSYMLINKS).
inline constexpr int max_symlink_hops = 40;

/// A path resolved inside a rootfs: no symlink, "." or ".." left in `components`.
struct ResolvedPath {
  std::string root;                     ///< host path of the rootfs, without a trailing '/'
  std::vector<std::string> components;  ///< the path's components inside the rootfs
  /// How many leading components exist; the rest are to be created (they cannot be symlinks).
  std::size_t existing = 0;

  /// True when the whole path exists.
  bool exists() const { return existing == components.size(); }
  /// The path as the container sees it, e.g. "/etc/hosts"; "/" for the root itself.
  std::string in_root() const;
  /// The host path of the first `count` components (all of them by default).
  std::string host_path(std::size_t count) const;
  std::string host_path() const { return host_path(components.size()); }
};

/// Resolves `path` (a container path; relative paths are taken from the root) inside `root`.
/// Throws StageError on a symlink loop (more than max_symlink_hops hops) or when a component
/// cannot be read.
ResolvedPath resolve_in_root(std::string_view root, std::string_view path);

/// Lexically cleans a container path: collapses "//" and ".", applies "..", clamps at "/".
/// "/a/./b/../c/" becomes "/a/c"; "/../etc" becomes "/etc".
std::string clean_container_path(std::string_view path);

/// True when a ".." of `path` climbs above "/" (looking at the text only), e.g. "/../etc".
bool escapes_root_lexically(std::string_view path);

/// True when `path` lies strictly beneath `dir` (both cleaned absolute paths): "/dev/pts" is
/// beneath "/dev", "/devices" and "/dev" are not.
bool is_strictly_beneath(std::string_view path, std::string_view dir);

}  // namespace nsrun::storage
