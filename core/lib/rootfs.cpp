#include "nsrun/core/rootfs.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "nsrun/core/json_util.hpp"

extern char** environ;

namespace nsrun::core {
namespace {

namespace fs = std::filesystem;

// Asks busybox for its applet names (one per line).
std::string list_applets(const std::string& busybox) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    throw Error("rootfs: pipe: " + std::string(std::strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  const char* argv[] = {busybox.c_str(), "--list", nullptr};
  pid_t pid = 0;
  int rc =
      ::posix_spawn(&pid, busybox.c_str(), &actions, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    throw Error("rootfs: cannot run " + busybox + ": " + std::strerror(rc) +
                " (install it with: apt-get install busybox-static)");
  }
  std::string output;
  char buffer[8192];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0)
    output.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || output.empty())
    throw Error("rootfs: " + busybox + " --list failed (is it busybox?)");
  return output;
}

void write_text(const fs::path& path, const std::string& text, fs::perms perms) {
  write_file_atomically(path.string(), text, 0644);
  fs::permissions(path, perms);
}

void fill_busybox_rootfs(const fs::path& root, const std::string& busybox,
                         const std::string& applets);

}  // namespace

void create_busybox_rootfs(const std::string& dir, const std::string& busybox) {
  struct stat st {};
  if (::stat(busybox.c_str(), &st) != 0)
    throw Error("rootfs: " + busybox +
                " not found (install it with: apt-get install busybox-static)");
  std::error_code ec;
  fs::path root = fs::absolute(dir);
  if (fs::exists(root) && !fs::is_empty(root, ec))
    throw Error("rootfs: " + root.string() +
                " exists and is not empty (choose an empty or new directory)");
  std::string applets = list_applets(busybox);
  const bool made = !fs::exists(root);
  if (fs::create_directories(root, ec); ec)
    throw Error("rootfs: cannot create " + root.string() + ": " + ec.message() +
                " (name a directory nsrun can create)");
  // Nothing half-made is left: a directory nsrun made goes, an empty one given is emptied.
  auto undo = [&] {
    if (made) {
      fs::remove_all(root, ec);
    } else {
      for (const auto& entry : fs::directory_iterator(root, ec)) fs::remove_all(entry.path(), ec);
    }
  };
  try {
    fill_busybox_rootfs(root, busybox, applets);
  } catch (const fs::filesystem_error& e) {
    undo();
    throw Error("rootfs: cannot write " + e.path1().string() + ": " + e.code().message());
  } catch (const Error& e) {
    undo();
    throw Error(std::string("rootfs: ") + e.what());
  } catch (...) {
    undo();
    throw;
  }
}

namespace {

void fill_busybox_rootfs(const fs::path& root, const std::string& busybox,
                         const std::string& applets) {
  std::error_code ec;
  for (const char* sub : {"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp",
                          "root", "app", "home", "var/tmp", "run", "mnt"})
    fs::create_directories(root / sub);
  fs::permissions(root / "tmp", fs::perms::all | fs::perms::sticky_bit);
  fs::permissions(root / "var/tmp", fs::perms::all | fs::perms::sticky_bit);
  fs::permissions(root / "root", fs::perms::owner_all);
  fs::copy_file(busybox, root / "bin/busybox", fs::copy_options::overwrite_existing);
  fs::permissions(root / "bin/busybox", fs::perms::owner_all | fs::perms::group_read |
                                            fs::perms::group_exec | fs::perms::others_read |
                                            fs::perms::others_exec);
  std::istringstream names(applets);
  std::string name;
  while (std::getline(names, name)) {
    if (name.empty() || name == "busybox" || name.find('/') != std::string::npos) continue;
    fs::create_symlink("busybox", root / "bin" / name, ec);  // all applets live in /bin
  }
  auto file = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
              fs::perms::others_read;
  write_text(root / "etc/passwd",
             "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
             file);
  write_text(root / "etc/group", "root:x:0:\nnogroup:x:65534:\n", file);
  // Mountpoints only: nsrun generates their content per container in its state directory.
  for (const char* mountpoint : {"etc/hostname", "etc/hosts", "etc/resolv.conf"})
    write_text(root / mountpoint, "", file);
}

}  // namespace

}  // namespace nsrun::core
