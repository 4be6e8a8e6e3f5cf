// Device nodes and --device (see devices.hpp).
#include "nsrun/storage/devices.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "nsrun/storage/mount_plan.hpp"
#include "nsrun/storage/secure_join.hpp"

namespace nsrun::storage {
namespace {

constexpr std::int64_t max_major = 4095;     // the kernel's dev_t: 12 bits of major
constexpr std::int64_t max_minor = 1048575;  // and 20 of minor

bool is_permission_set(const std::string& text) {
  if (text.empty() || text.size() > 3) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (!std::strchr("rwm", text[i]) || text.find(text[i], i + 1) != std::string::npos)
      return false;
  return true;
}

bool has_dot_dot(const std::string& path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0 && end - start == 2) return true;
    start = end + 1;
  }
  return false;
}

mode_t node_type(const std::string& type) {
  if (type == "b") return S_IFBLK;
  if (type == "p") return S_IFIFO;
  return S_IFCHR;  // c and u (unbuffered: a character device to the kernel)
}

std::string octal(std::int64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "%#llo", static_cast<unsigned long long>(value));
  return text;
}

// "the type bits of a character device"; "the type bits 030000, of no file type".
std::string type_bits_name(mode_t type_bits) {
  for (auto [bits, name] : {std::pair{S_IFCHR, "a character device"},
                            std::pair{S_IFBLK, "a block device"}, std::pair{S_IFIFO, "a FIFO"},
                            std::pair{S_IFDIR, "a directory"}, std::pair{S_IFREG, "a regular file"},
                            std::pair{S_IFLNK, "a symlink"}, std::pair{S_IFSOCK, "a socket"}})
    if (type_bits == static_cast<mode_t>(bits)) return std::string("the type bits of ") + name;
  return "the type bits " + octal(type_bits) + ", of no file type";
}

// Podman writes the host node's whole st_mode (020666 for a character device), where the
// runtime spec means the permission bits; runc and crun use those bits. Type bits are taken when
// they are the node's own type: anything else is a mistake in the config, not a mode to guess at.
void validate_file_mode(std::int64_t file_mode, const std::string& type, const std::string& field) {
  if (file_mode < 0 || file_mode > (S_IFMT | 07777))
    throw StageError(field + "fileMode: " + std::to_string(file_mode) +
                     " is not a file mode (give the permission bits, 0 to 07777 octal, "
                     "e.g. 0666)");
  const auto type_bits = static_cast<mode_t>(file_mode) & S_IFMT;
  if (type_bits != 0 && type_bits != node_type(type))
    throw StageError(field + "fileMode: " + std::to_string(file_mode) + " (" + octal(file_mode) +
                     ") has " + type_bits_name(type_bits) + ", but type is \"" + type +
                     "\" (give the permission bits only, e.g. " + octal(file_mode & 07777) + ")");
}

}  // namespace

DeviceFlag parse_device_flag(const std::string& value) {
  auto bad = [&](const std::string& why) {
    return StageError("--device \"" + value + "\": " + why +
                      " (use HOST[:CONTAINER][:PERMS], e.g. /dev/fuse:/dev/fuse:rwm)");
  };
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t colon = value.find(':', start);
    parts.push_back(value.substr(start, colon == std::string::npos ? colon : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3) throw bad("too many parts");
  DeviceFlag flag;
  flag.host_path = parts[0];
  flag.permissions = "rwm";
  if (parts.size() == 2) {
    // docker's rule: a second part that is not a path is the permissions.
    if (!parts[1].empty() && parts[1][0] != '/')
      flag.permissions = parts[1];
    else
      flag.container_path = parts[1];
  } else if (parts.size() == 3) {
    flag.container_path = parts[1];
    flag.permissions = parts[2];
  }
  if (flag.container_path.empty()) flag.container_path = flag.host_path;
  if (flag.host_path.empty() || flag.host_path[0] != '/')
    throw bad("the host path must be absolute");
  if (flag.container_path[0] != '/' || has_dot_dot(flag.container_path))
    throw bad("the container path must be absolute, without \"..\"");
  if (!is_permission_set(flag.permissions))
    throw bad("the permissions \"" + flag.permissions + "\" are not a subset of \"rwm\"");
  return flag;
}

std::pair<DeviceSpec, DeviceRuleSpec> device_from_flag(const DeviceFlag& flag) {
  struct stat st {};
  if (::stat(flag.host_path.c_str(), &st) != 0)
    throw StageError("--device " + flag.host_path + ": " + std::strerror(errno) +
                     " (give a device node of the host, e.g. /dev/fuse)");
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
    throw StageError("--device " + flag.host_path +
                     " is not a character or block device (give a device node of the host)");
  DeviceSpec device;
  device.path = flag.container_path;
  device.type = S_ISBLK(st.st_mode) ? "b" : "c";
  device.major = major(st.st_rdev);
  device.minor = minor(st.st_rdev);
  device.file_mode = st.st_mode & 07777;
  device.uid = st.st_uid;
  device.gid = st.st_gid;
  DeviceRuleSpec rule{true, device.type, device.major, device.minor, flag.permissions};
  return {device, rule};
}

void validate_devices(const std::vector<DeviceSpec>& devices) {
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const DeviceSpec& d = devices[i];
    std::string field = "config.json: linux.devices[" + std::to_string(i) + "].";
    if (d.path.empty() || d.path[0] != '/' || has_dot_dot(d.path) || d.path == "/")
      throw StageError(field + "path: \"" + d.path +
                       "\" must be an absolute path inside the container, without \"..\"");
    if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
      throw StageError(field + "type: \"" + d.type + "\" is not a device type (use c, b, u or p)");
    bool numbered = d.type != "p";
    for (auto [name, number, most] :
         {std::tuple{"major", &d.major, max_major}, std::tuple{"minor", &d.minor, max_minor}}) {
      if (numbered && !*number)
        throw StageError(field + name + " is required for a device of type \"" + d.type + "\"");
      if (*number && (**number < 0 || **number > most))
        throw StageError(field + name + ": " + std::to_string(**number) + " is out of range (0-" +
                         std::to_string(most) + ")");
    }
    if (d.file_mode) validate_file_mode(*d.file_mode, d.type, field);
    for (auto [name, id] : {std::pair{"uid", &d.uid}, std::pair{"gid", &d.gid}})
      if (*id && (**id < 0 || **id > 4294967294LL))
        throw StageError(field + name + ": " + std::to_string(**id) + " is not a valid id");
  }
}

void create_device_nodes(const std::vector<PlannedDevice>& devices, const std::string& rootfs,
                         HostFs& fs, Logger& log) {
  for (const auto& planned : devices) {
    const DeviceSpec& d = planned.spec;
    const std::string cleaned = clean_container_path(d.path);
    if (cleaned == "/")
      throw StageError("device " + d.path + " leads to the container root (fix linux.devices)");
    if (int existing = -1; fs.open_in_root(rootfs, cleaned, false, false, existing) == 0) {
      fs.close(existing);
      // runc leaves an existing node alone; /dev/null and the like are the stage's own.
      if (log.debug_enabled()) log.debug("device " + d.path + " exists already; left as it is");
      continue;
    }
    // Made through the descriptor of its directory, resolved inside the rootfs (mount_plan.hpp).
    const std::size_t slash = cleaned.rfind('/');
    const PinnedPath directory =
        pin_in_root(fs, rootfs, cleaned.substr(0, std::max<std::size_t>(slash, 1)),
                    MountpointType::directory, true);
    const std::string path = directory.path() + cleaned.substr(slash);
    mode_t mode = node_type(d.type) | static_cast<mode_t>(d.file_mode.value_or(0666) & 07777);
    dev_t number = makedev(static_cast<unsigned>(d.major.value_or(0)),
                           static_cast<unsigned>(d.minor.value_or(0)));
    if (log.debug_enabled()) log.debug("mknod " + d.path + " (" + d.type + ")");
    Errno err = fs.mknod(path, mode, number);
    if (err == EPERM && d.type != "p") {
      // A user namespace may not make device nodes: bind the host's instead.
      if (log.debug_enabled())
        log.debug("mknod " + d.path + " refused, binding the host's " + planned.host_source);
      const PinnedPath file = pin_in_root(fs, rootfs, cleaned, MountpointType::file, true);
      if (Errno e = fs.mount(planned.host_source, file.path(), "", MS_BIND, ""))
        throw StageError("cannot bind the host's " + planned.host_source + " on " + d.path + ": " +
                         std::strerror(e));
      continue;
    }
    if (err)
      throw StageError("cannot create the device node " + d.path + ": " + std::strerror(err));
    if (d.uid || d.gid)
      if (Errno e = fs.lchown(path, static_cast<uid_t>(d.uid.value_or(0)),
                              static_cast<gid_t>(d.gid.value_or(0))))
        throw StageError("cannot give the device node " + d.path + " to " +
                         std::to_string(d.uid.value_or(0)) + ":" +
                         std::to_string(d.gid.value_or(0)) + ": " + std::strerror(e));
  }
}

}  // namespace nsrun::storage
