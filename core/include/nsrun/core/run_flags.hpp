// `nsrun run FLAGS CMD...` -> an OCI ContainerSpec, the same model `--bundle DIR` reads.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nsrun/spec.hpp"

namespace nsrun::core {

/// The flags of the program nsrun grew from that describe the OCI spec itself, with its
/// defaults, plus docker's -e and -w. The network and resource flags belong to the plugins that
/// implement them (declared in their descriptors; see cmd_run.cpp).
struct RunFlags {
  std::string hostname = "container";
  std::string rootfs;  ///< empty: ./namespace_fs when present, else the installed default
  std::vector<std::string> mounts;  ///< HOST:CONTAINER[:ro|:rw]
  std::vector<std::string> env;     ///< KEY=VALUE, or KEY to pass the host's value
  std::string workdir;              ///< empty: /app with the default mount, else /
  bool read_only = false;
  bool tty = false;  ///< -t: the workload gets a pseudo-terminal (process.terminal)
  std::vector<std::string> command;
};

/// True when `cwd` is "/": the current directory, which `run` mounts at /app when no --mount is
/// given, would be the host's whole root; it is then not mounted (and the workload starts in /).
bool shares_the_host_root(const std::string& cwd);

/// Builds the spec. Relative host paths are taken from `cwd`. Throws Error with a one-line
/// message naming the flag for every malformed value; nothing has been created at that point.
ContainerSpec spec_from_flags(const RunFlags& flags, const std::string& cwd,
                              const std::string& installed_rootfs);

/// Parses one --mount value into a bind mount (source made absolute against `cwd`).
MountSpec parse_mount_flag(const std::string& value, const std::string& cwd);

/// The rootfs used without --rootfs: ./namespace_fs when it exists (as the original program
/// did), otherwise the rootfs the set-up created.
std::string default_rootfs(const std::string& cwd, const std::string& installed_rootfs);

/// The environment every workload starts with: never the host's. HOME is added in the container
/// (the exec stage: the user's home in its /etc/passwd, as runc and docker give it).
std::vector<std::string> base_environment(const std::string& hostname);

/// Where `--init` puts nsrun-init in the container (a read-only bind mount of the host's file).
inline constexpr const char* init_destination = "/sbin/nsrun-init";

/// `nsrun run --init`: makes nsrun-init (`host_init`, the installed binary) the container's
/// PID 1 with the workload as its child: a read-only bind mount of it at init_destination, and
/// process.args prefixed with it and "--". It runs as root in the container, so it must be a
/// regular executable file owned by root and writable by no one else (as plugins must); Error
/// naming --init otherwise, or when the spec has no command.
void add_init_process(boost::json::object& spec, const std::string& host_init);

}  // namespace nsrun::core
