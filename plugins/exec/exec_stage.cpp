// nsrun.exec: the pipeline's last stage. Inside the container, after every other stage, it
// becomes the workload: the workload is the container's PID 1 and its exit code is nsrun's.
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/config.hpp"
#include "nsrun/plugin.hpp"
#include "passwd.hpp"

#ifndef SYS_openat2
#define SYS_openat2 437  // the same number on every architecture (unified table)
#endif

namespace {

constexpr const char* default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string path_variable(const std::vector<std::string>& env) {
  for (const auto& entry : env)
    if (entry.starts_with("PATH=")) return entry.substr(5);
  return default_path;
}

// The command's lookup in the container's filesystem with the container's PATH (never the
// host's), as execvp does it: `attempt(candidate)` is tried on each candidate until it returns 0;
// otherwise the errno that best explains the failure, and in `tried` the candidate it is of.
template <typename Attempt>
int look_up_workload(const std::string& command, const std::string& search_path, std::string& tried,
                     Attempt attempt) {
  if (command.find('/') != std::string::npos) {
    tried = command;
    return attempt(command);
  }
  int best_error = ENOENT;
  std::string_view rest(search_path);
  while (true) {
    auto colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    std::string candidate = (dir.empty() ? "." : dir) + "/" + command;
    const int error = attempt(candidate);
    if (error == 0) return 0;
    // Remember a "found but cannot execute" over "not here", as shells do.
    if (error == EACCES || error == ENOEXEC || error == EPERM || error == ETXTBSY) {
      best_error = error;
      tried = candidate;
    }
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return best_error;
}

// execve of the command; returns only on failure, with the errno that best explains it.
int exec_workload(const std::string& command, char* const argv[], char* const envp[],
                  const std::string& search_path, std::string& tried) {
  return look_up_workload(command, search_path, tried, [&](const std::string& candidate) {
    ::execve(candidate.c_str(), argv, envp);
    return errno;
  });
}

// What execve would say of `path`, without running it: 0, or the errno that explains why not.
// A format the kernel cannot run (ENOEXEC) shows only at the execve itself.
int execute_error(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return EACCES;
  if (::access(path.c_str(), X_OK) != 0) return errno;
  return 0;
}

// The failure of a workload that could not be run. "executable file not found in $PATH", "no
// such file or directory" and "permission denied" are what engines (podman) look for in a
// runtime's error to answer 127 or 126, as runc's words.
nsrun::StageError workload_error(const std::string& command, const std::string& tried, int error) {
  if (error == ENOENT || error == ENOTDIR)
    return nsrun::StageError(
        "\"" + command + "\": command not found in the container (" +
            (command.find('/') == std::string::npos ? "executable file not found in $PATH"
                                                    : "no such file or directory") +
            ")",
        nsrun::exit_code::command_not_found);
  return nsrun::StageError(
      "\"" + (tried.empty() ? command : tried) + "\": cannot execute: " + std::strerror(error),
      nsrun::exit_code::cannot_execute);
}

// Whether the process needs a HOME: runc gives one when process.env has none, or an empty one.
bool lacks_home(const nsrun::ProcessSpec& process) {
  const std::string* home = process.env_value("HOME");
  return !home || home->size() == std::string("HOME=").size();
}

// The container's /etc/passwd, or "" when it has none that can be read. Read in the container's
// root: `root` is a descriptor of it, or AT_FDCWD in a process that has switched to it. Never
// through a /proc magic link, which could lead to a host file the process still holds open; nor
// from a FIFO or a device, which would block or never end.
std::string read_container_passwd(int root = AT_FDCWD) {
  constexpr std::size_t max_size = 16 << 20;
  open_how how{};
  how.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const int fd = static_cast<int>(::syscall(SYS_openat2, root, "/etc/passwd", &how, sizeof how));
  if (fd < 0) return {};
  std::string text;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    char buffer[8192];
    while (text.size() < max_size) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return text;
}

// runc's HOME: the home directory of the process's user (process.user.uid; nsrun's own, root,
// without one) in the container's /etc/passwd, or "/" when no line names that user.
std::string home_in_container(const nsrun::ProcessSpec& process, int root = AT_FDCWD) {
  const std::int64_t uid = process.user ? process.user->uid : 0;
  return nsrun::exec::home_of(read_container_passwd(root), uid).value_or("/");
}

// The same for `nsrun exec`, from the host before its process exists: through the root of the
// container's process (as root, as runc reads it, where the process, once the security stage has
// made it the user, may not read a file only root reads); none when that root cannot be opened.
std::optional<std::string> home_through_root_of(pid_t container,
                                                const nsrun::ProcessSpec& process) {
  if (container <= 0) return std::nullopt;
  const std::string root_link = "/proc/" + std::to_string(container) + "/root";
  const int root = ::open(root_link.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return std::nullopt;
  std::string home = home_in_container(process, root);
  ::close(root);
  return home;
}

class ExecStage final : public nsrun::IStage {
 public:
  // It calls execve: nothing can run after it. With a storage stage, that stage's root switch
  // must come first, so that the command is looked up in the container's filesystem.
  static constexpr std::uint32_t placement = NSRUN_PLACE_LAST;
  static constexpr nsrun_contract needs[] = {{"storage.root", NSRUN_NEED_OPTIONAL}};
  static constexpr const char* claims[] = {"process.args", "process.env", "process.cwd"};
  // runc's --preserve-fds (create, exec; and nsrun run): descriptors the caller passes on, e.g.
  // sockets an engine hands a socket-activated workload.
  static constexpr nsrun_flag flags[] = {
      {"preserve-fds", nullptr, NSRUN_FLAG_STRING, "N",
       "Pass N more descriptors (3 to N+2) to the workload (default 0)"}};
  static constexpr int max_preserved_fds = 1024;

  void validate(nsrun::Context& ctx) override {
    nsrun::ConfigReader(ctx.config, "nsrun.exec").finish();
    if (const auto* flag = ctx.flag("preserve-fds"); flag && flag->is_string()) {
      const std::string text(flag->as_string());
      char* end = nullptr;
      long count = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || count < 0 || count > max_preserved_fds)
        throw nsrun::StageError("--preserve-fds " + text + " must be a whole number from 0 to " +
                                std::to_string(max_preserved_fds));
      for (int fd = 3; fd < 3 + count; ++fd)
        if (::fcntl(fd, F_GETFD) < 0)
          throw nsrun::StageError("--preserve-fds " + text + ": descriptor " + std::to_string(fd) +
                                  " is not open (pass it, or a smaller N)");
      preserved_fds_ = static_cast<int>(count);
    }
    const auto& process = ctx.spec.process;
    if (process.args.empty() || process.args.front().empty())
      throw nsrun::StageError("no command given (process.args is empty)");
    // execve reads C strings: a NUL byte would silently cut the value short ("tr\0ue" runs tr).
    auto refuse_nul = [](const std::string& value, const std::string& field) {
      if (value.find('\0') != std::string::npos)
        throw nsrun::StageError(field + " contains a NUL byte (\\u0000), which a command line " +
                                "cannot hold (remove it)");
    };
    for (std::size_t i = 0; i < process.args.size(); ++i)
      refuse_nul(process.args[i], "process.args[" + std::to_string(i) + "]");
    for (std::size_t i = 0; i < process.env.size(); ++i)
      refuse_nul(process.env[i], "process.env[" + std::to_string(i) + "]");
    refuse_nul(process.cwd, "process.cwd");
    if (process.cwd.empty() || process.cwd.front() != '/')
      throw nsrun::StageError("working directory \"" + process.cwd +
                              "\" (process.cwd) must be an absolute path");
    for (const auto& entry : process.env)
      if (entry.find('=') == std::string::npos || entry.front() == '=')
        throw nsrun::StageError("environment entry \"" + entry +
                                "\" (process.env) must be KEY=VALUE");
  }

  // nsrun exec: the new process, already in the container's namespaces and root, is run the
  // way the container's was.
  void exec_prepare(nsrun::Context& ctx) override {
    validate(ctx);
    if (lacks_home(ctx.spec.process)) home_ = home_through_root_of(ctx.pid, ctx.spec.process);
  }
  void exec_container(nsrun::Context& ctx) override {
    // Read here, as whatever user the process now is, only when exec_prepare could not.
    if (lacks_home(ctx.spec.process) && !home_) home_ = home_in_container(ctx.spec.process);
    start_process(ctx, "--cwd");
  }

  // The command is looked up once the container's root is in place (the storage stage's
  // create_container comes first), as runc does at create: an engine that creates a container
  // and starts it later hears of a missing command from `create`, where it maps the error to its
  // exit code (podman: 127). start_container looks again, at the execve.
  void create_container(nsrun::Context& ctx) override {
    const auto& process = ctx.spec.process;
    // Read here, in the container's root, while the process is still the container's root user
    // (as runc reads it): the security stage's start_container may make it a user that cannot.
    if (lacks_home(process)) home_ = home_in_container(process);
    std::string tried;
    const std::string& command = process.args.front();
    if (int error = look_up_workload(command, path_variable(process.env), tried, &execute_error))
      throw workload_error(command, tried, error);
  }

  void start_container(nsrun::Context& ctx) override {
    start_process(ctx, ctx.spec_source == nsrun::SpecSource::flags ? "--workdir" : "process.cwd");
  }

 private:
  // `cwd_from`: what set the working directory, for the fix of an error.
  void start_process(nsrun::Context& ctx, const char* cwd_from) {
    const auto& process = ctx.spec.process;
    if (::chdir(process.cwd.c_str()) != 0)
      throw nsrun::StageError("working directory " + process.cwd +
                              " is not usable in the container: " + std::strerror(errno) +
                              " (create it, or give another " + cwd_from + ")");
    // CVE-2024-21626: a cwd of /proc/self/fd/N, N a descriptor of the host's that is still open
    // here, is a directory outside the container. The kernel says so: getcwd(2) of a directory
    // not beneath the process's root fails with ENOENT (glibc) or starts "(unreachable)".
    char where[4096];
    if (!::getcwd(where, sizeof where) || where[0] != '/')
      throw nsrun::StageError("working directory " + process.cwd +
                              " is outside the container (pass a path inside it)");
    std::vector<char*> argv, envp;
    for (const auto& arg : process.args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    std::string home_entry;
    for (const auto& entry : process.env)
      if (!home_ || !entry.starts_with("HOME=")) envp.push_back(const_cast<char*>(entry.c_str()));
    if (home_) {
      home_entry = "HOME=" + *home_;
      envp.push_back(home_entry.data());
    }
    envp.push_back(nullptr);

    // The workload inherits stdin, stdout and stderr, and the --preserve-fds ones: everything
    // above is closed at execve (close-on-exec, so the sync socket still reports an exec failure
    // to the host).
    const unsigned first_closed = 3U + static_cast<unsigned>(preserved_fds_);
    if (::syscall(SYS_close_range, first_closed, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
      throw nsrun::StageError(std::string("cannot mark descriptors close-on-exec: ") +
                              std::strerror(errno));
    for (int fd = 3; fd < 3 + preserved_fds_; ++fd) ::fcntl(fd, F_SETFD, 0);

    std::string tried;
    const std::string& command = process.args.front();
    throw workload_error(
        command, tried,
        exec_workload(command, argv.data(), envp.data(), path_variable(process.env), tried));
  }

  int preserved_fds_ = 0;
  /// The HOME the workload gets when process.env lacks one (runc's, from /etc/passwd).
  std::optional<std::string> home_;
};

}  // namespace

NSRUN_PLUGIN(ExecStage, "nsrun.exec", "1.0.0", "exec",
             "execs the workload as PID 1 with a clean environment")
