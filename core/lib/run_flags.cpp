#include "nsrun/core/run_flags.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "nsrun/core/json_util.hpp"

namespace nsrun::core {
namespace {

std::string absolute(const std::string& path, const std::string& cwd) {
  if (!path.empty() && path.front() == '/') return path;
  return cwd + "/" + path;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string::size_type start = 0;
  while (true) {
    auto end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return parts;
}

void check_hostname(const std::string& hostname) {
  if (hostname.empty()) throw Error("--hostname must not be empty");
  if (hostname.size() > 64)
    throw Error("--hostname \"" + hostname.substr(0, 20) + "...\" is " +
                std::to_string(hostname.size()) + " bytes; the limit is 64");
  if (hostname.find('/') != std::string::npos)
    throw Error("--hostname \"" + hostname + "\" must not contain '/'");
}

}  // namespace

// No HOME: the exec stage gives the user's home from the container's /etc/passwd, as docker and
// runc do (a fixed /root would be wrong for --user 1000).
std::vector<std::string> base_environment(const std::string& hostname) {
  return {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
          "HOSTNAME=" + hostname};
}

MountSpec parse_mount_flag(const std::string& value, const std::string& cwd) {
  auto fields = split(value, ':');
  if (fields.size() < 2 || fields.size() > 3)
    throw Error("--mount \"" + value + "\" must be HOST:CONTAINER[:ro|:rw]");
  if (fields[0].empty()) throw Error("--mount \"" + value + "\" has an empty host path");
  if (fields[1].empty()) throw Error("--mount \"" + value + "\" has an empty container path");
  std::string mode = fields.size() == 3 ? fields[2] : "rw";
  if (mode != "ro" && mode != "rw")
    throw Error("--mount \"" + value + "\": unknown option \"" + mode + "\" (use ro or rw)");
  return MountSpec{fields[1], "bind", absolute(fields[0], cwd), {"rbind", mode}};
}

std::string default_rootfs(const std::string& cwd, const std::string& installed_rootfs) {
  std::string local = cwd + "/namespace_fs";
  if (::access(local.c_str(), F_OK) == 0) return local;
  return installed_rootfs;
}

bool shares_the_host_root(const std::string& cwd) {
  return std::filesystem::path(cwd).lexically_normal() == "/";
}

ContainerSpec spec_from_flags(const RunFlags& flags, const std::string& cwd,
                              const std::string& installed_rootfs) {
  if (flags.command.empty())
    throw Error("no command given (usage: nsrun run [FLAGS] CMD [ARG...], e.g. nsrun run /bin/sh)");
  check_hostname(flags.hostname);
  ContainerSpec spec;
  spec.hostname = flags.hostname;
  spec.root.path =
      absolute(flags.rootfs.empty() ? default_rootfs(cwd, installed_rootfs) : flags.rootfs, cwd);
  spec.root.readonly = flags.read_only;
  spec.process.terminal = flags.tty;
  spec.process.args = flags.command;
  spec.process.env = base_environment(flags.hostname);
  for (const auto& entry : flags.env) {
    auto equals = entry.find('=');
    if (equals == 0 || entry.empty())
      throw Error("--env \"" + entry + "\" must be KEY=VALUE or KEY");
    if (equals == std::string::npos) {
      // docker's -e KEY: pass the host's value when it has one.
      if (const char* host_value = std::getenv(entry.c_str()))
        spec.process.env.push_back(entry + "=" + host_value);
      continue;
    }
    std::string key = entry.substr(0, equals + 1);
    std::erase_if(spec.process.env, [&](const std::string& e) { return e.starts_with(key); });
    spec.process.env.push_back(entry);
  }
  for (const auto& mount : flags.mounts) spec.mounts.push_back(parse_mount_flag(mount, cwd));
  // From / the current directory is the host's whole root: never given to a container unasked.
  bool default_mount = flags.mounts.empty() && !shares_the_host_root(cwd);
  if (default_mount) spec.mounts.push_back(MountSpec{"/app", "bind", cwd, {"rbind", "rw"}});
  if (!flags.workdir.empty()) {
    if (flags.workdir.front() != '/')
      throw Error("--workdir \"" + flags.workdir + "\" must be an absolute path");
    spec.process.cwd = flags.workdir;
  } else {
    spec.process.cwd = default_mount ? "/app" : "/";
  }
  // The network namespace is the network stage's to add (none, bridge, veth) or leave out (host):
  // a pipeline without a network stage leaves the network alone.
  spec.namespaces = {{"pid", ""}, {"mount", ""}, {"uts", ""}, {"ipc", ""}};
  return spec;
}

void add_init_process(boost::json::object& spec, const std::string& host_init) {
  struct stat info {};
  if (::stat(host_init.c_str(), &info) != 0)
    throw Error("--init: " + host_init + ": " + std::strerror(errno) +
                " (nsrun-init is installed next to the plugins; reinstall nsrun)");
  if (!S_ISREG(info.st_mode) || !(info.st_mode & S_IXUSR))
    throw Error("--init: " + host_init + " is not an executable file (reinstall nsrun)");
  if (info.st_uid != 0 || (info.st_mode & (S_IWGRP | S_IWOTH)))
    throw Error("--init: " + host_init +
                " must be owned by root and writable by no one else (it runs as the "
                "container's PID 1; fix it with chown root and chmod go-w)");
  auto* process = spec.if_contains("process");
  auto* args = process && process->is_object() ? process->as_object().if_contains("args") : nullptr;
  if (!args || !args->is_array() || args->as_array().empty())
    throw Error("--init: the container has no command (process.args is empty)");
  boost::json::array prefixed{init_destination, "--"};
  for (const auto& arg : args->as_array()) prefixed.push_back(arg);
  *args = std::move(prefixed);
  auto& mounts = spec["mounts"];
  if (!mounts.is_array()) mounts = boost::json::array{};
  mounts.as_array().push_back(boost::json::object{{"destination", init_destination},
                                                  {"type", "bind"},
                                                  {"source", host_init},
                                                  {"options", {"bind", "ro", "nosuid", "nodev"}}});
}

}  // namespace nsrun::core
