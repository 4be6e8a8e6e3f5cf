// The idmapped rootfs (see idmapped_root.hpp).
#include "nsrun/storage/idmapped_root.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>

#include "nsrun/support/fd.hpp"
#include "nsrun/support/id_map.hpp"

#ifndef SYS_open_tree
#define SYS_open_tree 428  // the same number on every architecture (unified table)
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

namespace nsrun::storage {
namespace {

// From <linux/mount.h> and <linux/fcntl.h>, which clash with <sys/mount.h> on some glibc
// versions (see host_fs.cpp).
constexpr unsigned open_tree_clone = 1;
constexpr unsigned at_recursive = 0x8000;
constexpr unsigned move_mount_f_empty_path = 0x4;
constexpr unsigned move_mount_t_symlinks = 0x10;
constexpr std::uint64_t mount_attr_idmap = 0x00100000;
constexpr std::uint64_t ms_private = 1 << 18;

struct MountAttr {  // struct mount_attr, MOUNT_ATTR_SIZE_VER0
  std::uint64_t attr_set;
  std::uint64_t attr_clr;
  std::uint64_t propagation;
  std::uint64_t userns_fd;
};

Errno set_tree_attributes(int tree, const MountAttr& attr) {
  long rc =
      ::syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | at_recursive, &attr, sizeof attr);
  return rc == 0 ? 0 : errno;
}

Errno write_whole(const std::string& path, const std::string& text) {
  support::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n < 0) return errno;
  return n == static_cast<ssize_t>(text.size()) ? 0 : EIO;
}

// The errors a kernel or filesystem without idmapped mounts gives: fall back, do not fail.
bool means_unsupported(Errno err) {
  return err == EINVAL || err == EPERM || err == ENOSYS || err == EOPNOTSUPP;
}

using support::id_map_text;

}  // namespace

// A helper process is cloned straight into a new user namespace and blocks on a pipe; its maps
// are written from here (root of the parent namespace), its namespace opened, and closing the
// pipe ends it. The namespace lives on as long as the descriptor does.
Errno RealIdmapCalls::user_namespace(const std::string& uid_map, const std::string& gid_map,
                                     int& fd) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return errno;
  support::UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  struct CloneArgs {  // struct clone_args, CLONE_ARGS_SIZE_VER0
    std::uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
  } args{};
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return errno;
  if (pid == 0) {
    // Async-signal-safe calls only: this is a copy of a (single-threaded) nsrun.
    ::close(pipe_fds[1]);
    char byte;
    while (::read(pipe_fds[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  read_end.reset();
  const std::string proc = "/proc/" + std::to_string(pid);
  Errno err = write_whole(proc + "/uid_map", uid_map);
  if (err == 0) err = write_whole(proc + "/gid_map", gid_map);
  if (err == 0) {
    fd = ::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) err = errno;
  }
  write_end.reset();  // the helper reads end-of-file and exits
  int status = 0;
  while (::waitpid(static_cast<pid_t>(pid), &status, 0) < 0 && errno == EINTR) {
  }
  return err;
}

Errno RealIdmapCalls::clone_tree(const std::string& path, bool recursive, int& fd) {
  long rc = ::syscall(SYS_open_tree, AT_FDCWD, path.c_str(),
                      open_tree_clone | O_CLOEXEC | (recursive ? at_recursive : 0U));
  if (rc < 0) return errno;
  fd = static_cast<int>(rc);
  return 0;
}

Errno RealIdmapCalls::make_private(int tree) {
  return set_tree_attributes(tree, MountAttr{0, 0, ms_private, 0});
}

Errno RealIdmapCalls::idmap(int tree, int userns) {
  return set_tree_attributes(tree,
                             MountAttr{mount_attr_idmap, 0, 0, static_cast<std::uint64_t>(userns)});
}

Errno RealIdmapCalls::attach(int tree, const std::string& target) {
  // Following a final symlink reaches a pinned mountpoint, /proc/self/fd/N (mount_plan.hpp).
  long rc = ::syscall(SYS_move_mount, tree, "", AT_FDCWD, target.c_str(),
                      move_mount_f_empty_path | move_mount_t_symlinks);
  return rc == 0 ? 0 : errno;
}

void RealIdmapCalls::close(int fd) {
  ::close(fd);
}

IdmappedRoot::IdmappedRoot(std::unique_ptr<IdmapCalls> calls) : calls_(std::move(calls)) {}

IdmappedRoot::~IdmappedRoot() {
  release();
}

void IdmappedRoot::prepare(const ContainerSpec& spec, const std::string& rootfs, Logger& log) {
  release();
  if (!spec.has_namespace("user")) return;
  auto fall_back = [&](const std::string& step, Errno err) {
    if (!means_unsupported(err))
      throw StageError("cannot " + step + " for the idmapped rootfs " + rootfs + ": " +
                       std::strerror(err));
    log.warn("the rootfs " + rootfs + " is not idmapped (" + step + ": " + std::strerror(err) +
             "): files owned by host root appear as nobody in the container (idmapped mounts "
             "need Linux 5.12 or later and a filesystem that supports them)");
  };
  int userns = -1, tree = -1;
  if (Errno err = calls_->user_namespace(id_map_text(spec.uid_mappings),
                                         id_map_text(spec.gid_mappings), userns))
    return fall_back("create a user namespace with the container's maps", err);
  struct Closer {
    IdmapCalls& calls;
    int& fd;
    ~Closer() {
      if (fd >= 0) calls.close(fd);
    }
  } close_userns{*calls_, userns}, close_tree{*calls_, tree};
  if (Errno err = calls_->clone_tree(rootfs, true, tree)) return fall_back("open_tree", err);
  if (Errno err = calls_->make_private(tree)) return fall_back("make the copy private", err);
  if (Errno err = calls_->idmap(tree, userns)) return fall_back("mount_setattr IDMAP", err);
  tree_ = std::exchange(tree, -1);
  if (log.debug_enabled()) log.debug("the rootfs " + rootfs + " is idmapped to the user namespace");
}

bool IdmappedRoot::attach(const std::string& rootfs, Logger& log) {
  if (tree_ < 0) return false;
  if (log.debug_enabled()) log.debug("attach the idmapped copy of the rootfs at " + rootfs);
  if (Errno err = calls_->attach(tree_, rootfs))
    throw StageError("cannot attach the idmapped rootfs at " + rootfs + ": " + std::strerror(err));
  release();  // attached: the mount holds itself now
  return true;
}

void IdmappedRoot::release() {
  if (tree_ >= 0) calls_->close(std::exchange(tree_, -1));
}

IdmappedBinds::IdmappedBinds(std::unique_ptr<IdmapCalls> calls) : calls_(std::move(calls)) {}

IdmappedBinds::~IdmappedBinds() {
  release();
}

void IdmappedBinds::prepare(MountPlan& plan, const ContainerSpec& spec, Logger& log) {
  release();
  // One throwaway user namespace per distinct pair of maps, closed once every copy is made.
  std::map<std::string, int> namespaces;
  struct Closer {
    IdmapCalls& calls;
    std::map<std::string, int>& fds;
    ~Closer() {
      for (const auto& [maps, fd] : fds) calls.close(fd);
    }
  } close_namespaces{*calls_, namespaces};
  for (PlannedMount& mount : plan.mounts) {
    if (!mount.is_idmapped()) continue;
    const std::string what = "the idmapped bind of " + mount.source + " on " + mount.destination;
    if (mount.idmap_with_container_maps) {
      if (!spec.has_namespace("user"))
        throw StageError("mount on \"" + mount.destination +
                         "\": the idmap option maps the bind with the container's user namespace, "
                         "and it has none (add a user namespace, or give the mount uidMappings "
                         "and gidMappings)");
      mount.uid_mappings = spec.uid_mappings;
      mount.gid_mappings = spec.gid_mappings;
    }
    const std::string maps =
        id_map_text(mount.uid_mappings) + "/" + id_map_text(mount.gid_mappings);
    auto fail = [&](const std::string& step, Errno err) {
      throw StageError("cannot make " + what + ": " + step + ": " + std::strerror(err) +
                       (means_unsupported(err)
                            ? " (idmapped mounts need Linux 5.12 or later and a filesystem "
                              "that supports them)"
                            : ""));
    };
    auto userns = namespaces.find(maps);
    if (userns == namespaces.end()) {
      int fd = -1;
      if (Errno err = calls_->user_namespace(id_map_text(mount.uid_mappings),
                                             id_map_text(mount.gid_mappings), fd))
        fail("a user namespace with its maps", err);
      userns = namespaces.emplace(maps, fd).first;
    }
    int tree = -1;
    if (Errno err = calls_->clone_tree(mount.source, (mount.flags & MS_REC) != 0, tree))
      fail("open_tree", err);
    trees_.push_back(tree);  // owned from here: release() closes it whatever happens next
    if (Errno err = calls_->make_private(tree)) fail("make the copy private", err);
    if (Errno err = calls_->idmap(tree, userns->second)) fail("mount_setattr IDMAP", err);
    mount.idmapped_tree = tree;
    if (log.debug_enabled()) log.debug(what + " is idmapped (" + maps + ")");
  }
}

void IdmappedBinds::attach(const PlannedMount& mount, const std::string& target, Logger& log) {
  if (log.debug_enabled())
    log.debug("attach the idmapped copy of " + mount.source + " on " + mount.destination);
  if (Errno err = calls_->attach(mount.idmapped_tree, target))
    throw StageError("cannot attach the idmapped bind of " + mount.source + " on " +
                     mount.destination + ": " + std::strerror(err));
  calls_->close(mount.idmapped_tree);
  std::erase(trees_, mount.idmapped_tree);
}

void IdmappedBinds::release() {
  for (int tree : trees_) calls_->close(tree);
  trees_.clear();
}

}  // namespace nsrun::storage
