// nsrun.namespaces: which namespaces the container gets, its user namespace's id maps, and its
// hostname.
//
// The core clones the container process with a CLONE_NEW* flag for every entry of
// spec.namespaces without a path, and joins those with one; this stage checks that list, completes
// it (a cgroup namespace on cgroup v2 hosts, as docker does; a user namespace for --userns auto or
// --uidmap) and sets the hostname inside the new UTS namespace.
//
// A namespace with a path is joined, not made: see joined_namespaces.hpp.
//
// User namespaces (linux.uidMappings / gidMappings, or `nsrun run --userns auto | --uidmap`):
//   validate          the maps are checked as the kernel takes them (id_mappings.hpp); for
//                     --userns auto, the subordinate id pool is read (subid_store.hpp).
//   prepare           --uidmap/--gidmap, or a block allocated from the pool for --userns auto
//                     (journalled before it is taken), are written into the spec with a "user"
//                     namespace, so that later stages (storage: the idmapped rootfs) see them.
//   create_runtime    host: /proc/<pid>/uid_map and gid_map, while the container process waits;
//                     the state directory becomes passable (0710) to the container root's group,
//                     whose generated files the storage stage binds.
//   create_container  inside, first of all: the process becomes root of its user namespace (no
//                     supplementary groups, gid 0, uid 0), as runc does before its mounts: a file
//                     created in a filesystem mounted inside (/dev's tmpfs) must belong to a
//                     mapped id. The security stage sets process.user later.
//   exec_container    the same for a process `nsrun exec` joins into the container.
//   teardown          an automatic block goes back to the pool, from the journal alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/namespaces/joined_namespaces.hpp"
#include "nsrun/namespaces/subid_store.hpp"
#include "nsrun/plugin.hpp"

namespace nsrun::namespaces {

class NamespacesStage final : public IStage {
 public:
  static constexpr const char* claims[] = {"linux.namespaces", "linux.uidMappings",
                                           "linux.gidMappings", "hostname"};
  static constexpr nsrun_flag flags[] = {
      {"userns", nullptr, NSRUN_FLAG_STRING, "MODE",
       "User namespace: host (default: none) or auto[:size=N] (a free block of N ids, 65536 "
       "by default, from the subordinate ids of \"containers\")"},
      {"uidmap", nullptr, NSRUN_FLAG_STRINGS, "CONTAINER:HOST:SIZE",
       "Map container uids to host uids in a user namespace, repeatable (alone: --gidmap too)"},
      {"gidmap", nullptr, NSRUN_FLAG_STRINGS, "CONTAINER:HOST:SIZE",
       "Map container gids to host gids in a user namespace, repeatable"},
  };

  void validate(Context& ctx) override;
  void prepare(Context& ctx) override;
  void create_runtime(Context& ctx) override;
  void create_container(Context& ctx) override;
  void start_container(Context& ctx) override;
  void exec_container(Context& ctx) override;
  void teardown(Context& ctx) override;

 private:
  enum class UsernsMode { none, explicit_maps, automatic };
  void read_flags(Context& ctx);
  void allocate_automatic_maps(Context& ctx);

  bool cgroup_namespace_ = true;
  bool unshare_cgroup_namespace_ = false;  // decided in prepare, acted on in the container
  std::string subuid_file_ = "/etc/subuid";
  std::string subgid_file_ = "/etc/subgid";
  UsernsMode userns_mode_ = UsernsMode::none;    ///< what `nsrun run`'s flags asked for
  std::uint32_t userns_size_ = auto_block_size;  ///< ids in the block --userns auto takes
  std::vector<IdMapping> flag_uid_mappings_, flag_gid_mappings_;
  std::optional<UserNamespaceMaps> joined_user_maps_;  ///< of a joined user namespace (validate)
};

/// Makes the calling process root of the user namespace it is in: no supplementary groups
/// (the host's would still grant their access), gid 0, uid 0. Throws StageError.
void become_namespace_root();

}  // namespace nsrun::namespaces
