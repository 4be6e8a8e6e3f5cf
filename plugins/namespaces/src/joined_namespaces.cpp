// Namespaces joined by path (see joined_namespaces.hpp).
#include "nsrun/namespaces/joined_namespaces.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "nsrun/namespaces/id_mappings.hpp"
#include "nsrun/stage.hpp"
#include "nsrun/support/fd.hpp"

namespace nsrun::namespaces {
namespace {

const std::map<std::string_view, int>& clone_flags() {
  static const std::map<std::string_view, int> flags{
      {"pid", CLONE_NEWPID},   {"mount", CLONE_NEWNS},    {"uts", CLONE_NEWUTS},
      {"ipc", CLONE_NEWIPC},   {"network", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP},
      {"user", CLONE_NEWUSER}, {"time", CLONE_NEWTIME}};
  return flags;
}

std::string_view type_of_flag(int flag) {
  for (const auto& [type, value] : clone_flags())
    if (value == flag) return type;
  return "";
}

// The file under /proc/PID/ns/ of a namespace type.
std::string proc_file_of(const std::string& type) {
  if (type == "network") return "/proc/PID/ns/net";
  if (type == "mount") return "/proc/PID/ns/mnt";
  return "/proc/PID/ns/" + type;
}

std::string quoted(const std::string& text) {
  return "\"" + text + "\"";
}

// Reads what `fd` has left, whole.
std::string read_all(int fd) {
  std::string out;
  char buffer[4096];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

// In the child: /proc/self/<name> into `out`, or exit 1.
void copy_map(const char* name, int out) {
  support::UniqueFd in(::open(name, O_RDONLY | O_CLOEXEC));
  if (!in) ::_exit(1);
  std::string text = read_all(in.get());
  const char* at = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(out, at, left);
    if (n <= 0) ::_exit(1);
    at += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

int clone_flag_of(std::string_view type) {
  auto it = clone_flags().find(type);
  return it == clone_flags().end() ? 0 : it->second;
}

void check_joinable(const NamespaceSpec& ns, std::size_t index) {
  const std::string entry = "linux.namespaces[" + std::to_string(index) + "]";
  const std::string what = entry + ": the " + ns.type + " namespace path " + quoted(ns.path);
  if (ns.path.front() != '/')
    throw StageError(what + " is not absolute (give " + proc_file_of(ns.type) +
                     " or a bind mount of one)");
  support::UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    throw StageError(what + " cannot be opened: " + std::strerror(errno) +
                     " (is the process that held it gone?)");
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0 || fs.f_type != NSFS_MAGIC)
    throw StageError(what + " is not a namespace file (give " + proc_file_of(ns.type) +
                     " or a bind mount of one)");
  const int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type != clone_flag_of(ns.type)) {
    std::string_view actual = type_of_flag(type);
    throw StageError(what + " is " +
                     (actual.empty() ? std::string("not a namespace nsrun knows")
                                     : "a " + std::string(actual) + " namespace") +
                     " (give the " + ns.type + " namespace's file, " + proc_file_of(ns.type) + ")");
  }
  if (ns.type == "user") {
    struct stat theirs {
    }, ours{};
    if (::fstat(fd.get(), &theirs) == 0 && ::stat("/proc/self/ns/user", &ours) == 0 &&
        theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino)
      throw StageError(what +
                       " is nsrun's own user namespace (remove the user entry: without "
                       "one the container runs in it)");
  }
}

UserNamespaceMaps read_user_namespace_maps(const std::string& path) {
  const std::string what = "the user namespace " + quoted(path);
  support::UniqueFd ns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) throw StageError("cannot open " + what + ": " + std::strerror(errno));
  int pipes[2][2];
  if (::pipe2(pipes[0], O_CLOEXEC) != 0)
    throw StageError(std::string("cannot make a pipe: ") + std::strerror(errno));
  support::UniqueFd uid_read(pipes[0][0]), uid_write(pipes[0][1]);
  if (::pipe2(pipes[1], O_CLOEXEC) != 0)
    throw StageError(std::string("cannot make a pipe: ") + std::strerror(errno));
  support::UniqueFd gid_read(pipes[1][0]), gid_write(pipes[1][1]);
  // A maps file is at most 340 short lines, well within a pipe's buffer: the child writes both
  // and exits before nsrun reads.
  pid_t child = ::fork();
  if (child < 0) throw StageError(std::string("cannot fork: ") + std::strerror(errno));
  if (child == 0) {
    if (::setns(ns.get(), CLONE_NEWUSER) != 0) ::_exit(2);
    copy_map("/proc/self/uid_map", uid_write.get());
    copy_map("/proc/self/gid_map", gid_write.get());
    ::_exit(0);
  }
  uid_write.reset();
  gid_write.reset();
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw StageError("cannot read the id maps of " + what +
                     (WIFEXITED(status) && WEXITSTATUS(status) == 2 ? ": cannot join it" : ""));
  UserNamespaceMaps maps;
  maps.uid = parse_id_map_text(read_all(uid_read.get()), "the uid map of " + what);
  maps.gid = parse_id_map_text(read_all(gid_read.get()), "the gid map of " + what);
  if (maps.uid.empty() || maps.gid.empty())
    throw StageError(what + " has no " + (maps.uid.empty() ? "uid" : "gid") +
                     " map yet (join it once its maps are written)");
  return maps;
}

}  // namespace nsrun::namespaces
