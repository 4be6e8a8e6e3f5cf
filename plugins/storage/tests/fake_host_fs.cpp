#include "fake_host_fs.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include "nsrun/storage/mount_options.hpp"

namespace nsrun::storage::testing {
namespace {

std::string or_dash(const std::string& s) {
  return s.empty() ? "-" : s;
}

std::string octal(unsigned int mode) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%#o", mode);
  return buffer;
}

std::string attr_names(std::uint64_t attrs) {
  std::string out;
  for (auto [bit, name] : {std::pair{MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY"},
                           std::pair{MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"},
                           std::pair{MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"},
                           std::pair{MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC"}})
    if (attrs & bit) out += (out.empty() ? "" : "|") + std::string(name);
  return out.empty() ? "0" : out;
}

}  // namespace

std::string mount_flag_names(unsigned long flags) {
  static constexpr std::array<std::pair<unsigned long, const char*>, 20> names{{
      {MS_RDONLY, "MS_RDONLY"},
      {MS_NOSUID, "MS_NOSUID"},
      {MS_NODEV, "MS_NODEV"},
      {MS_NOEXEC, "MS_NOEXEC"},
      {MS_SYNCHRONOUS, "MS_SYNCHRONOUS"},
      {MS_REMOUNT, "MS_REMOUNT"},
      {MS_MANDLOCK, "MS_MANDLOCK"},
      {MS_DIRSYNC, "MS_DIRSYNC"},
      {MS_NOATIME, "MS_NOATIME"},
      {MS_NODIRATIME, "MS_NODIRATIME"},
      {MS_BIND, "MS_BIND"},
      {MS_MOVE, "MS_MOVE"},
      {MS_REC, "MS_REC"},
      {MS_SILENT, "MS_SILENT"},
      {MS_UNBINDABLE, "MS_UNBINDABLE"},
      {MS_PRIVATE, "MS_PRIVATE"},
      {MS_SLAVE, "MS_SLAVE"},
      {MS_SHARED, "MS_SHARED"},
      {MS_RELATIME, "MS_RELATIME"},
      {MS_STRICTATIME, "MS_STRICTATIME"},
  }};
  std::string out;
  for (auto [bit, name] : names)
    if (flags & bit) out += (out.empty() ? "" : "|") + std::string(name);
  return out.empty() ? "0" : out;
}

void FakeHostFs::alias(std::string real, std::string shown) {
  aliases_.emplace_back(std::move(real), std::move(shown));
  // Longest first, so that a path inside another aliased path gets its own alias.
  std::sort(aliases_.begin(), aliases_.end(),
            [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

void FakeHostFs::fail(std::string line_prefix, Errno err, int times) {
  failures_.push_back({std::move(line_prefix), err, times});
}

std::string FakeHostFs::shown(std::string text) const {
  // A pinned descriptor shows as "fd:" and the path it was opened on.
  const std::string fd_prefix = "/proc/self/fd/";
  for (std::size_t at = text.find(fd_prefix); at != std::string::npos;
       at = text.find(fd_prefix, at + 1)) {
    std::size_t end = at + fd_prefix.size();
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    auto pinned = pinned_.find(text.substr(at + fd_prefix.size(), end - at - fd_prefix.size()));
    if (pinned != pinned_.end()) text.replace(at, end - at, "fd:" + pinned->second);
  }
  for (const auto& [real, alias] : aliases_)
    for (std::size_t at = text.find(real); at != std::string::npos; at = text.find(real, at))
      text.replace(at, real.size(), alias);
  return text;
}

Errno FakeHostFs::record(std::string line) {
  line = shown(std::move(line));
  calls.push_back(line);
  for (Failure& failure : failures_) {
    if (failure.times == 0 || line.rfind(failure.prefix, 0) != 0) continue;
    if (failure.times > 0) --failure.times;
    return failure.err;
  }
  return 0;
}

Errno FakeHostFs::open_in_root(const std::string& root, const std::string& container_path,
                               bool create, bool last_is_file, int& fd) {
  // Resolved (without following anything out of `root`) against the real temporary rootfs the
  // tests build; the missing part is recorded as created, as create_mountpoint recorded it.
  ResolvedPath target = resolve_in_root(root, container_path);
  std::size_t count = target.components.size();
  for (std::size_t i = target.existing + 1; i <= count; ++i) {
    std::string path = target.host_path(i);
    if (created_.count(path)) continue;
    if (!create) return ENOENT;
    Errno err = i == count && last_is_file ? record("create_file " + path + " 0644")
                                           : record("mkdir " + path + " 0755");
    if (err != 0 && err != EEXIST) return err;
    created_.insert(path);
  }
  fd = next_fd_++;
  pinned_[std::to_string(fd)] = target.host_path();
  return 0;
}

Errno FakeHostFs::open_directory(const std::string& path, int& fd) {
  if (Errno err = record("open_directory " + path)) return err;
  const std::string fd_prefix = "/proc/self/fd/";
  auto pinned =
      path.rfind(fd_prefix, 0) == 0 ? pinned_.find(path.substr(fd_prefix.size())) : pinned_.end();
  fd = next_fd_++;
  pinned_[std::to_string(fd)] = pinned != pinned_.end() ? pinned->second : path;
  return 0;
}

Errno FakeHostFs::copy_tree(int from_fd, const std::string& to) {
  return record("copy_tree /proc/self/fd/" + std::to_string(from_fd) + " " + to);
}

Errno FakeHostFs::mount(const std::string& source, const std::string& target,
                        const std::string& fstype, unsigned long flags, const std::string& data) {
  return record("mount " + or_dash(source) + " " + target + " " + or_dash(fstype) + " " +
                mount_flag_names(flags) + " " + or_dash(data));
}

Errno FakeHostFs::umount2(const std::string& target, int flags) {
  return record("umount2 " + target +
                (flags == MNT_DETACH ? " MNT_DETACH" : " " + std::to_string(flags)));
}

Errno FakeHostFs::mount_setattr(const std::string& path, unsigned int at_flags,
                                std::uint64_t attr_set, std::uint64_t attr_clr) {
  return record("mount_setattr " + path + (at_flags == AT_RECURSIVE ? " AT_RECURSIVE " : " 0 ") +
                attr_names(attr_set) + (attr_clr ? " clear " + attr_names(attr_clr) : ""));
}

Errno FakeHostFs::chroot(const std::string& path) {
  return record("chroot " + path);
}

Errno FakeHostFs::pivot_root(const std::string& new_root, const std::string& put_old) {
  return record("pivot_root " + new_root + " " + put_old);
}

Errno FakeHostFs::chdir(const std::string& path) {
  return record("chdir " + path);
}

Errno FakeHostFs::mkdir(const std::string& path, mode_t mode) {
  return record("mkdir " + path + " " + octal(mode));
}

Errno FakeHostFs::mknod(const std::string& path, mode_t mode, dev_t device) {
  std::string kind = S_ISCHR(mode) ? "c" : S_ISBLK(mode) ? "b" : S_ISFIFO(mode) ? "p" : "?";
  return record("mknod " + path + " " + kind + " " + octal(mode & 07777) + " " +
                std::to_string(major(device)) + ":" + std::to_string(minor(device)));
}

Errno FakeHostFs::symlink(const std::string& target, const std::string& link_path) {
  return record("symlink " + target + " " + link_path);
}

Errno FakeHostFs::lchown(const std::string& path, uid_t uid, gid_t gid) {
  return record("lchown " + path + " " + std::to_string(uid) + ":" + std::to_string(gid));
}

Errno FakeHostFs::create_file(const std::string& path, mode_t mode) {
  return record("create_file " + path + " " + octal(mode));
}

Errno FakeHostFs::write_file(const std::string& path, std::string_view content, mode_t mode) {
  files[shown(path)] = std::string(content);
  return record("write_file " + path + " " + octal(mode));
}

mode_t FakeHostFs::umask(mode_t mask) {
  record("umask " + octal(mask));
  return std::exchange(umask_, mask);
}

Errno FakeHostFs::filesystem_type(const std::string& path, std::int64_t& type) {
  // A pinned path ("/proc/self/fd/N") is the host path it was resolved to.
  const std::string fd_prefix = "/proc/self/fd/";
  auto pinned =
      path.rfind(fd_prefix, 0) == 0 ? pinned_.find(path.substr(fd_prefix.size())) : pinned_.end();
  auto found = filesystem_types.find(pinned != pinned_.end() ? pinned->second : path);
  if (found == filesystem_types.end()) return ENOENT;
  type = found->second;
  return 0;
}

Errno FakeHostFs::read_file(const std::string& path, std::string& content) {
  auto found = readable_files.find(path);
  if (found == readable_files.end()) return ENOENT;
  content = found->second;
  return 0;
}

Errno FakeHostFs::read_symlinks(const std::string& dir, std::vector<SymlinkEntry>& links) {
  auto found = symlink_entries.find(dir);
  if (found == symlink_entries.end()) return ENOENT;
  links = found->second;
  return 0;
}

void play_cgroup_v1_host(FakeHostFs& fs, const std::string& cgroup) {
  fs.filesystem_types["/sys/fs/cgroup"] = 0x01021994;  // TMPFS_MAGIC
  fs.readable_files["/proc/self/mountinfo"] =
      "22 1 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
      "30 22 0:27 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
      "31 30 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:10 - cgroup "
      "cgroup rw,pids\n"
      "32 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - "
      "cgroup cgroup rw,cpu,cpuacct\n"
      "33 30 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup "
      "cgroup rw,memory\n"
      "34 30 0:31 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:13 - cgroup "
      "cgroup rw,xattr,name=systemd\n"
      "35 30 0:32 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:14 - cgroup2 "
      "cgroup2 rw,nsdelegate\n";
  fs.readable_files["/proc/self/cgroup"] = "5:pids:" + cgroup + "\n4:cpu,cpuacct:" + cgroup +
                                           "\n3:memory:" + cgroup + "\n2:name=systemd:" + cgroup +
                                           "\n0::" + cgroup + "\n";
  fs.symlink_entries["/sys/fs/cgroup"] = {{"cpu", "cpu,cpuacct"}, {"cpuacct", "cpu,cpuacct"}};
}

void play_cgroup_v2_host(FakeHostFs& fs, const std::string& cgroup) {
  fs.filesystem_types["/sys/fs/cgroup"] = 0x63677270;  // CGROUP2_SUPER_MAGIC
  fs.readable_files["/proc/self/mountinfo"] =
      "22 1 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
      "30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
      "rw,nsdelegate,memory_recursiveprot\n";
  fs.readable_files["/proc/self/cgroup"] = "0::" + cgroup + "\n";
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/nsrun-storage-test.XXXXXX";
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  // Canonical, so that it matches the canonical rootfs path the stage computes.
  path_ = std::filesystem::canonical(templ).string();
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::make_dir(const std::string& relative) const {
  std::string path = path_ + "/" + relative;
  std::filesystem::create_directories(path);
  return path;
}

std::string TempDir::make_file(const std::string& relative, const std::string& content) const {
  std::string path = path_ + "/" + relative;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << content;
  return path;
}

void TempDir::make_symlink(const std::string& relative, const std::string& target) const {
  std::string path = path_ + "/" + relative;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::filesystem::create_symlink(target, path);
}

}  // namespace nsrun::storage::testing
