// OCI mount options to mount(2) flags (see mount_options.hpp).
#include "nsrun/storage/mount_options.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace nsrun::storage {
namespace {

struct FlagOption {
  std::string_view name;
  bool clears;  // "rw", "suid"... turn the flag off
  unsigned long flag;
};

constexpr std::array<FlagOption, 25> flag_options{{
    {"defaults", false, 0},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},
    {"diratime", true, MS_NODIRATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"bind", false, MS_BIND},
    {"rbind", false, MS_BIND | MS_REC},
}};

struct PropagationOption {
  std::string_view name;
  unsigned long flags;
};

constexpr std::array<PropagationOption, 8> propagation_options{{
    {"private", MS_PRIVATE},
    {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},
    {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},
    {"runbindable", MS_UNBINDABLE | MS_REC},
}};

// runc's (1.1) recursive options, which mount_setattr(AT_RECURSIVE) applies to the mount and
// every mount beneath it; "rrw"... clear what "rro"... set.
struct RecursiveOption {
  std::string_view name;
  bool clears;
  std::uint64_t attribute;
};

constexpr std::array<RecursiveOption, 8> recursive_options{{
    {"rro", false, MOUNT_ATTR_RDONLY},
    {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},
    {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},
    {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},
    {"rexec", true, MOUNT_ATTR_NOEXEC},
}};

// The flags of flag_options a bind mount cannot honour: they belong to the filesystem (its
// superblock), which a bind shares with its source, not to the mount.
constexpr std::array<std::string_view, 6> superblock_options{"sync", "async",  "dirsync",
                                                             "mand", "nomand", "remount"};

// Options of other runtimes (crun, youki, podman's) that need a feature nsrun lacks.
constexpr std::array<std::string_view, 5> unimplemented_options{"ridmap", "copy-symlink",
                                                                "src-nofollow", "z", "Z"};

constexpr std::string_view tmpcopyup_option = "tmpcopyup";
constexpr std::string_view notmpcopyup_option = "notmpcopyup";

constexpr unsigned long per_mount_flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                          MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

template <typename Table>
auto find_option(const Table& table, std::string_view name) {
  return std::find_if(table.begin(), table.end(),
                      [&](const auto& entry) { return entry.name == name; });
}

bool has_option(const std::vector<std::string>& options, std::string_view name) {
  return std::find(options.begin(), options.end(), name) != options.end();
}

template <typename Table>
bool in_table(const Table& table, std::string_view name) {
  return std::find(table.begin(), table.end(), name) != table.end();
}

}  // namespace

MountOptions translate_mount_options(const std::vector<std::string>& options) {
  MountOptions out;
  for (const std::string& option : options) {
    if (auto flag = find_option(flag_options, option); flag != flag_options.end()) {
      if (flag->clears)
        out.flags &= ~flag->flag;
      else
        out.flags |= flag->flag;
    } else if (auto prop = find_option(propagation_options, option);
               prop != propagation_options.end()) {
      out.propagation = prop->flags;
    } else if (auto recursive = find_option(recursive_options, option);
               recursive != recursive_options.end()) {
      std::uint64_t& to =
          recursive->clears ? out.recursive_attributes_cleared : out.recursive_attributes;
      std::uint64_t& from =
          recursive->clears ? out.recursive_attributes : out.recursive_attributes_cleared;
      to |= recursive->attribute;
      from &= ~recursive->attribute;
    } else if (option == idmap_option) {
      out.idmap = true;
    } else if (option == tmpcopyup_option || option == notmpcopyup_option) {
      out.tmpcopyup = option == tmpcopyup_option;
    } else {
      if (!out.data.empty()) out.data += ',';
      out.data += option;
    }
  }
  return out;
}

unsigned long bind_remount_flags(unsigned long flags) {
  return flags & per_mount_flags;
}

bool is_bind_mount(const MountSpec& mount) {
  return mount.type == "bind" || has_option(mount.options, "bind") ||
         has_option(mount.options, "rbind");
}

bool is_cgroup_mount(const MountSpec& mount) {
  return !is_bind_mount(mount) && (mount.type == "cgroup" || mount.type == "cgroup2");
}

std::optional<std::string> first_unsupported_bind_option(const std::vector<std::string>& options) {
  for (const std::string& option : options) {
    bool known = (find_option(flag_options, option) != flag_options.end() &&
                  !in_table(superblock_options, option)) ||
                 find_option(propagation_options, option) != propagation_options.end() ||
                 find_option(recursive_options, option) != recursive_options.end() ||
                 option == idmap_option;
    if (!known) return option;
  }
  return std::nullopt;
}

std::optional<std::string> first_unimplemented_option(const std::vector<std::string>& options) {
  for (const std::string& option : options)
    if (in_table(unimplemented_options, option) || option.starts_with("idmap=")) return option;
  return std::nullopt;
}

bool is_tmpfs_mount(const MountSpec& mount) {
  return mount.type == "tmpfs" && !is_bind_mount(mount);
}

std::optional<std::string> first_tmpfs_only_option(const MountSpec& mount) {
  if (is_tmpfs_mount(mount)) return std::nullopt;
  for (const std::string& option : mount.options)
    if (option == tmpcopyup_option || option == notmpcopyup_option) return option;
  return std::nullopt;
}

}  // namespace nsrun::storage
