// The validate phase's checks (see validation.hpp).
#include "nsrun/storage/validation.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "nsrun/stage.hpp"
#include "nsrun/storage/mount_options.hpp"
#include "nsrun/storage/secure_join.hpp"

namespace nsrun::storage {
namespace {

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

void validate_destination(const MountSpec& mount) {
  const std::string& dest = mount.destination;
  if (dest.empty() || dest.front() != '/')
    throw StageError("mount destination " + quoted(dest) +
                     " must be an absolute path inside the container");
  if (escapes_root_lexically(dest))
    throw StageError("mount destination " + quoted(dest) + " escapes the container root");
  if (clean_container_path(dest) == "/")
    throw StageError("mount destination " + quoted(dest) +
                     " would hide the whole container root (set root.path instead)");
}

void validate_bind(const MountSpec& mount) {
  if (mount.source.empty() || mount.source.front() != '/')
    throw StageError("mount source " + quoted(mount.source) +
                     " of a bind mount must be an absolute host path");
  struct stat st {};
  if (::stat(mount.source.c_str(), &st) != 0)
    throw StageError("mount source " + mount.source + " does not exist" +
                     (errno == ENOENT ? std::string() : std::string(": ") + std::strerror(errno)));
  if (auto option = first_unsupported_bind_option(mount.options))
    throw StageError("mount on " + quoted(mount.destination) + ": option " + quoted(*option) +
                     " is not supported for a bind mount (a bind takes flags such as ro, "
                     "nosuid, rro, rprivate; no filesystem options)");
}

// The cgroupfs is made of binds (see cgroupfs.hpp), which take flags only.
void validate_cgroupfs(const MountSpec& mount) {
  if (auto option = first_unsupported_bind_option(mount.options))
    throw StageError("mount on " + quoted(mount.destination) + ": option " + quoted(*option) +
                     " is not supported for a " + mount.type +
                     " mount (it shows the container's own cgroups; give flags such as ro, "
                     "nosuid, nodev, noexec)");
}

}  // namespace

std::string validate_rootfs(const RootSpec& root) {
  const std::string& path = root.path;
  if (path.empty())
    throw StageError("no rootfs given (set root.path to a container root filesystem)");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      throw StageError("rootfs " + path + " does not exist (create one with: nsrun rootfs create " +
                       path + ")");
    throw StageError("rootfs " + path + " cannot be used: " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode))
    throw StageError("rootfs " + path +
                     " is not a directory (give the directory of a container root filesystem)");
  char canonical[PATH_MAX];
  if (!::realpath(path.c_str(), canonical))
    throw StageError("rootfs " + path + " cannot be resolved: " + std::strerror(errno));
  if (std::string_view(canonical) == "/")
    throw StageError("rootfs " + path + " is the host's root; give a container root filesystem");
  return canonical;
}

void validate_mount(const MountSpec& mount) {
  validate_destination(mount);
  if (auto option = first_unimplemented_option(mount.options))
    throw StageError("mount on " + quoted(mount.destination) + ": option " + quoted(*option) +
                     " is not supported by nsrun (remove it)");
  if (auto option = first_tmpfs_only_option(mount))
    throw StageError("mount on " + quoted(mount.destination) + ": option " + quoted(*option) +
                     " is only for tmpfs mounts (remove it)");
  const bool mapped = !mount.uid_mappings.empty() || !mount.gid_mappings.empty();
  if (mapped && !is_bind_mount(mount))
    throw StageError("mount on " + quoted(mount.destination) +
                     ": uidMappings and gidMappings idmap a bind mount only (make it a bind, or "
                     "remove them)");
  if (mapped && (mount.uid_mappings.empty() || mount.gid_mappings.empty()))
    throw StageError("mount on " + quoted(mount.destination) + ": an idmapped mount needs both " +
                     "uidMappings and gidMappings (add " +
                     (mount.uid_mappings.empty() ? "uidMappings" : "gidMappings") + ")");
  for (const auto* mappings : {&mount.uid_mappings, &mount.gid_mappings})
    for (std::size_t i = 0; i < mappings->size(); ++i) {
      const IdMapping& m = (*mappings)[i];
      constexpr std::uint64_t id_space = std::uint64_t{1} << 32;
      if (m.size == 0 || std::uint64_t{m.host_id} + m.size > id_space ||
          std::uint64_t{m.container_id} + m.size > id_space)
        throw StageError("mount on " + quoted(mount.destination) + ": " +
                         (mappings == &mount.uid_mappings ? "uidMappings" : "gidMappings") + "[" +
                         std::to_string(i) +
                         "] must have a size of at least 1 and end at id 4294967295 at most");
    }
  if (is_bind_mount(mount)) {
    validate_bind(mount);
  } else if (is_cgroup_mount(mount)) {
    validate_cgroupfs(mount);
  } else if (mount.type.empty()) {
    throw StageError("mount destination " + quoted(mount.destination) +
                     " has no type (give one such as tmpfs, or \"bind\")");
  }
}

std::string validate_storage(const ContainerSpec& spec) {
  // Mounts and the root switch act on the mount namespace the container process is in: without
  // a new one of its own, that is the caller's (an engine's, the host's), whose / would become
  // the container's rootfs. A joined one (a path) is someone else's to change.
  if (std::string joined = spec.joined_namespace("mount"); !joined.empty())
    throw StageError("linux.namespaces: joining the mount namespace " + quoted(joined) +
                     " is refused: the storage stage mounts the rootfs and switches root only "
                     "in a mount namespace of its own (remove the path)");
  if (!spec.has_own_namespace("mount"))
    throw StageError(
        "linux.namespaces has no mount namespace: the storage stage mounts the rootfs and "
        "switches root only in a mount namespace of its own (add {\"type\": \"mount\"})");
  std::string rootfs = validate_rootfs(spec.root);
  for (const MountSpec& mount : spec.mounts) validate_mount(mount);
  return rootfs;
}

}  // namespace nsrun::storage
