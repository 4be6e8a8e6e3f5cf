// The container's view of its cgroups (see cgroupfs.hpp).
#include "nsrun/storage/cgroupfs.hpp"

#include <algorithm>
#include <cstring>

#include "nsrun/stage.hpp"

namespace nsrun::storage {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  for (;;) {
    std::size_t at = text.find(separator);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines = split(text, '\n');
  std::erase_if(lines, [](std::string_view line) { return line.empty(); });
  return lines;
}

bool is_octal_digit(char c) {
  return c >= '0' && c <= '7';
}

// mountinfo writes space, tab, newline and backslash in paths as \040, \011, \012, \134.
std::string unescape(std::string_view field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && is_octal_digit(field[i + 1]) &&
        is_octal_digit(field[i + 2]) && is_octal_digit(field[i + 3])) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::string read_or_throw(HostFs& fs, const std::string& path) {
  std::string content;
  if (Errno err = fs.read_file(path, content))
    throw StageError("cannot read " + path +
                     " to find the container's cgroups: " + std::strerror(err));
  return content;
}

// The container's line for a hierarchy mounted as `mount`: the v2 line for a cgroup2 mount,
// otherwise the line whose controllers the mount's super options all name.
const ProcessCgroup* line_for(const CgroupMountEntry& mount,
                              const std::vector<ProcessCgroup>& cgroups) {
  for (const ProcessCgroup& cgroup : cgroups) {
    if (mount.v2 != cgroup.controllers.empty()) continue;
    bool all_named = std::all_of(
        cgroup.controllers.begin(), cgroup.controllers.end(), [&](const std::string& controller) {
          return std::find(mount.super_options.begin(), mount.super_options.end(), controller) !=
                 mount.super_options.end();
        });
    if (all_named) return &cgroup;
  }
  return nullptr;
}

std::string basename_of(const std::string& path) {
  return path.substr(path.rfind('/') + 1);
}

std::string parent_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::vector<CgroupMountEntry> parse_cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMountEntry> mounts;
  for (std::string_view line : lines_of(mountinfo)) {
    std::vector<std::string_view> fields = split(line, ' ');
    // "ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER-OPTIONS"
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 6 || dash == fields.end() || fields.end() - dash < 4) continue;
    std::string_view type = *(dash + 1);
    if (type != "cgroup" && type != "cgroup2") continue;
    CgroupMountEntry entry;
    entry.root = unescape(fields[3]);
    entry.mount_point = unescape(fields[4]);
    entry.v2 = type == "cgroup2";
    for (std::string_view option : split(*(dash + 3), ','))
      entry.super_options.emplace_back(option);
    mounts.push_back(std::move(entry));
  }
  return mounts;
}

std::vector<ProcessCgroup> parse_process_cgroups(std::string_view text) {
  std::vector<ProcessCgroup> cgroups;
  for (std::string_view line : lines_of(text)) {
    // "ID:CONTROLLERS:PATH"; the path may itself hold ':'.
    std::size_t first = line.find(':');
    std::size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    ProcessCgroup cgroup;
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    if (!controllers.empty())
      for (std::string_view controller : split(controllers, ','))
        cgroup.controllers.emplace_back(controller);
    cgroup.path = std::string(line.substr(second + 1));
    cgroups.push_back(std::move(cgroup));
  }
  return cgroups;
}

CgroupVersion cgroup_version_of(std::int64_t filesystem_type) {
  if (filesystem_type == cgroup2_super_magic) return CgroupVersion::v2;
  if (filesystem_type == tmpfs_magic) return CgroupVersion::v1;
  return CgroupVersion::none;
}

std::optional<std::string> cgroup_directory(const CgroupMountEntry& mount,
                                            const std::string& path) {
  std::string relative;
  if (mount.root == "/")
    relative = path;
  else if (path == mount.root)
    relative = "/";
  else if (path.starts_with(mount.root + "/"))
    relative = path.substr(mount.root.size());
  else
    return std::nullopt;
  return relative == "/" ? mount.mount_point : mount.mount_point + relative;
}

CgroupfsView container_cgroupfs_view(HostFs& fs) {
  CgroupfsView view;
  std::int64_t type = 0;
  if (fs.filesystem_type(host_cgroup_root, type) != 0) return view;
  view.version = cgroup_version_of(type);
  if (view.version == CgroupVersion::none) return view;

  std::vector<CgroupMountEntry> mounts =
      parse_cgroup_mounts(read_or_throw(fs, "/proc/self/mountinfo"));
  std::vector<ProcessCgroup> cgroups =
      parse_process_cgroups(read_or_throw(fs, "/proc/self/cgroup"));

  if (view.version == CgroupVersion::v2) {
    for (const CgroupMountEntry& mount : mounts) {
      if (!mount.v2 || mount.mount_point != host_cgroup_root) continue;
      const ProcessCgroup* line = line_for(mount, cgroups);
      std::optional<std::string> source = line ? cgroup_directory(mount, line->path) : std::nullopt;
      if (!source) break;
      view.binds.push_back({"", *source});
      return view;
    }
    throw StageError(
        "cannot find the container's cgroup in the host's cgroup2 filesystem at /sys/fs/cgroup "
        "(is /proc/self/cgroup's \"0::\" line beneath the mount's root?)");
  }

  // v1: each hierarchy mounted directly beneath /sys/fs/cgroup, named as on the host ("pids",
  // "cpu,cpuacct", "systemd", "unified"). One the container is not in, or cannot see, is left
  // out, as is a second mount of the same hierarchy.
  for (const CgroupMountEntry& mount : mounts) {
    if (parent_of(mount.mount_point) != host_cgroup_root) continue;
    std::string name = basename_of(mount.mount_point);
    bool seen = std::any_of(view.binds.begin(), view.binds.end(),
                            [&](const CgroupfsBind& bind) { return bind.name == name; });
    const ProcessCgroup* line = line_for(mount, cgroups);
    if (seen || !line) continue;
    if (std::optional<std::string> source = cgroup_directory(mount, line->path))
      view.binds.push_back({name, *source});
  }
  std::vector<SymlinkEntry> links;
  if (fs.read_symlinks(host_cgroup_root, links) == 0)
    for (SymlinkEntry& link : links) {
      bool to_a_hierarchy =
          std::any_of(view.binds.begin(), view.binds.end(),
                      [&](const CgroupfsBind& bind) { return bind.name == link.target; });
      if (to_a_hierarchy) view.links.push_back(std::move(link));
    }
  return view;
}

}  // namespace nsrun::storage
