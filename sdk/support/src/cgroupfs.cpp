// The kernel's cgroup texts (see cgroupfs.hpp).
#include "nsrun/support/cgroupfs.hpp"

#include <algorithm>

namespace nsrun::support {
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
  out.reserve(field.size());
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

}  // namespace

std::vector<CgroupMountInfo> parse_cgroup_mounts(std::string_view mountinfo) {
  std::vector<CgroupMountInfo> mounts;
  for (std::string_view line : lines_of(mountinfo)) {
    std::vector<std::string_view> fields = split(line, ' ');
    // "ID PARENT MAJ:MIN ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER-OPTIONS"
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 6 || dash - fields.begin() < 6 || fields.end() - dash < 4) continue;
    std::string_view type = *(dash + 1);
    if (type != "cgroup" && type != "cgroup2") continue;
    CgroupMountInfo mount;
    mount.root = unescape(fields[3]);
    mount.mount_point = unescape(fields[4]);
    mount.v2 = type == "cgroup2";
    for (std::string_view option : split(*(dash + 3), ','))
      mount.super_options.emplace_back(option);
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

std::vector<ProcessCgroup> parse_process_cgroups(std::string_view text) {
  std::vector<ProcessCgroup> cgroups;
  for (std::string_view line : lines_of(text)) {
    // "ID:CONTROLLERS:PATH"
    std::size_t first = line.find(':');
    std::size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    ProcessCgroup cgroup;
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    if (!controllers.empty())
      for (std::string_view controller : split(controllers, ','))
        if (!controller.empty()) cgroup.controllers.emplace_back(controller);
    cgroup.path = std::string(line.substr(second + 1));
    cgroups.push_back(std::move(cgroup));
  }
  return cgroups;
}

}  // namespace nsrun::support
