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

constexpr std::array<FlagOption, 24> flag_options{{
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

constexpr std::array<std::string_view, 11> bind_options{"rbind",   "bind",   "ro",     "rw",
                                                        "nosuid",  "nodev",  "noexec", "rprivate",
                                                        "private", "rslave", "slave"};

template <typename Table>
auto find_option(const Table& table, std::string_view name) {
  return std::find_if(table.begin(), table.end(),
                      [&](const auto& entry) { return entry.name == name; });
}

bool has_option(const std::vector<std::string>& options, std::string_view name) {
  return std::find(options.begin(), options.end(), name) != options.end();
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
    } else {
      if (!out.data.empty()) out.data += ',';
      out.data += option;
    }
  }
  return out;
}

bool is_bind_mount(const MountSpec& mount) {
  return mount.type == "bind" || has_option(mount.options, "bind") ||
         has_option(mount.options, "rbind");
}

std::optional<std::string> first_unsupported_bind_option(const std::vector<std::string>& options) {
  for (const std::string& option : options)
    if (std::find(bind_options.begin(), bind_options.end(), option) == bind_options.end())
      return option;
  return std::nullopt;
}

std::uint64_t bind_mount_attributes(const std::vector<std::string>& options) {
  std::uint64_t attrs = 0;
  for (const std::string& option : options) {
    if (option == "ro") attrs |= MOUNT_ATTR_RDONLY;
    if (option == "rw") attrs &= ~std::uint64_t{MOUNT_ATTR_RDONLY};
    if (option == "nosuid") attrs |= MOUNT_ATTR_NOSUID;
    if (option == "nodev") attrs |= MOUNT_ATTR_NODEV;
    if (option == "noexec") attrs |= MOUNT_ATTR_NOEXEC;
  }
  return attrs;
}

}  // namespace nsrun::storage
