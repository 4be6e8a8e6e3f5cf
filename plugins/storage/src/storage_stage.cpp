// The storage stage's phases (see storage_stage.hpp).
#include "nsrun/storage/storage_stage.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "nsrun/config.hpp"
#include "nsrun/storage/devices.hpp"
#include "nsrun/storage/enter_rootfs.hpp"
#include "nsrun/storage/etc_files.hpp"
#include "nsrun/storage/mount_options.hpp"
#include "nsrun/storage/validation.hpp"

namespace nsrun::storage {
namespace {

constexpr const char* config_name = "nsrun.storage";

void write_generated(HostFs& fs, const std::string& path, std::string_view content) {
  if (Errno err = fs.write_file(path, content, 0644))
    throw StageError("cannot write " + path + ": " + std::strerror(err) +
                     " (is the state directory writable?)");
}

// The host id container id 0 maps to, when it is mapped.
std::optional<std::uint32_t> host_id_of_root(const std::vector<IdMapping>& mappings) {
  for (const auto& m : mappings)
    if (m.container_id == 0) return m.host_id;
  return std::nullopt;
}

// In a user namespace the container's root is an unprivileged host uid, and the container
// process, root of its namespace before any mount (nsrun.namespaces), reaches the rootfs and
// every bind mount's source by their paths: every directory above them must let that uid pass.
// Said here, in one line, rather than as a failed mount in the container.
struct Unpassable {
  std::string dir;
  std::string mode;  ///< e.g. "0700"
};

std::optional<Unpassable> first_unpassable_parent(const std::string& path, std::uint32_t uid,
                                                  std::uint32_t gid) {
  for (std::string dir = path; !dir.empty() && dir != "/";) {
    dir = dir.substr(0, std::max<std::size_t>(dir.rfind('/'), 1));
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) continue;
    mode_t needed = st.st_uid == uid ? S_IXUSR : st.st_gid == gid ? S_IXGRP : S_IXOTH;
    if (st.st_mode & needed) continue;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Unpassable{dir, mode};
  }
  return std::nullopt;
}

// `state_dir`: where the generated /etc files are bound from (none: empty). nsrun.namespaces
// opens that directory to the container root's group; the directories above it, from the state
// root up, must let that root pass. A state root nsrun makes is 0711; one that existed keeps its
// mode (`--root` may name a directory that is not nsrun's).
void check_reachable_from_user_namespace(const ContainerSpec& spec, const std::string& rootfs,
                                         const std::string& state_dir, SpecSource source) {
  if (!spec.has_namespace("user")) return;
  auto uid = host_id_of_root(spec.uid_mappings);
  auto gid = host_id_of_root(spec.gid_mappings);
  if (!uid || !gid) return;  // the namespaces stage refuses such maps
  const std::string who = " is out of reach of the container's root (host uid " +
                          std::to_string(*uid) + ", a user namespace): ";
  if (auto blocked =
          state_dir.empty() ? std::nullopt : first_unpassable_parent(state_dir, *uid, *gid))
    throw StageError(
        "the directory of the files nsrun makes for the container (/etc/hostname, "
        "/etc/hosts, /etc/resolv.conf), " +
        state_dir + "," + who + blocked->dir + " is mode " + blocked->mode +
        " (let others pass, e.g. chmod o+x " + blocked->dir +
        ", or give nsrun --root a directory it can reach)");
  if (auto blocked = first_unpassable_parent(rootfs, *uid, *gid))
    throw StageError("the rootfs " + rootfs + who + blocked->dir + " is mode " + blocked->mode +
                     " (let others pass, e.g. chmod o+x " + blocked->dir +
                     ", or use a rootfs elsewhere)");
  for (const auto& mount : spec.mounts) {
    if (!is_bind_mount(mount) || mount.source.empty() || mount.source.front() != '/') continue;
    // An idmapped bind is opened by nsrun on the host, not walked to by the container's root.
    if (!mount.uid_mappings.empty() || translate_mount_options(mount.options).idmap) continue;
    auto blocked = first_unpassable_parent(mount.source, *uid, *gid);
    if (!blocked) continue;
    // `nsrun run` mounts the directory it was started from at /app when no --mount is given.
    const bool current_directory = source == SpecSource::flags && mount.destination == "/app";
    throw StageError(
        "the mount " + mount.destination + ": its source " + mount.source + who + blocked->dir +
        " is mode " + blocked->mode + " (let others pass, e.g. chmod o+x " + blocked->dir +
        (current_directory ? ", or start nsrun run from a directory it can reach: it mounts the "
                             "current directory at /app unless --mount is given)"
                           : ", or mount a directory elsewhere)"));
  }
}

}  // namespace

StorageStage::StorageStage() : StorageStage(std::make_unique<RealHostFs>(), "/etc/resolv.conf") {}

StorageStage::StorageStage(std::unique_ptr<HostFs> fs, std::string host_resolv_conf)
    : fs_(std::move(fs)), host_resolv_conf_(std::move(host_resolv_conf)) {}

void StorageStage::validate(Context& ctx) {
  ConfigReader(ctx.config, config_name).finish();  // no keys yet
  flag_devices_.clear();
  if (const auto* given = ctx.flag("device"); given && given->is_array())
    for (const auto& value : given->as_array())
      if (value.is_string()) {
        DeviceFlag flag = parse_device_flag(std::string(value.as_string()));
        auto [device, rule] = device_from_flag(flag);
        flag_devices_.push_back({flag.host_path, std::move(device), std::move(rule)});
      }
  validate_storage(ctx.spec);
  validate_devices(ctx.spec.devices);
}

std::vector<PlannedDevice> StorageStage::planned_devices(const ContainerSpec& spec) const {
  std::vector<PlannedDevice> out;
  for (const auto& device : spec.devices) {
    std::string source = device.path;  // a bundle's node: the host's at the same path, as runc
    for (const auto& given : flag_devices_)
      if (given.device.path == device.path) source = given.host_path;
    out.push_back({device, source});
  }
  return out;
}

// Where the generated /etc/NAME is kept: <state dir>/NAME, as docker keeps them in a container's
// directory. Not in a directory of their own: on ext4 a directory costs a run about 0.3 ms to
// create and remove, where a file costs 10 µs (docs/benchmarks.md).
namespace {
std::string generated_etc_file(std::string_view state_dir, std::string_view name) {
  return std::string(state_dir) + "/" + std::string(name);
}
}  // namespace

// Plans <state dir>/{hostname,hosts,resolv.conf} and returns what to bind-mount where; writes the
// hostname, which no other stage decides. A file the spec mounts itself (docker's config.json
// brings its own) is not generated; none is when the rootfs has no /etc at all (a minimal image
// that would not read them anyway).
std::vector<GeneratedFile> StorageStage::plan_etc_files(Context& ctx, const std::string& rootfs) {
  std::vector<GeneratedFile> files;
  if (!resolve_in_root(rootfs, "/etc").exists()) {
    if (ctx.log.debug_enabled())
      ctx.log.debug("the rootfs has no /etc; not generating hostname, hosts, resolv.conf");
    return files;
  }
  auto plan = [&](const std::string& name) {
    std::string destination = "/etc/" + name;
    if (spec_mounts_destination(ctx.spec, destination)) return false;
    files.push_back({std::move(destination), generated_etc_file(ctx.state_dir, name)});
    return true;
  };
  const std::string& hostname = ctx.spec.hostname;
  if (!hostname.empty() && plan("hostname"))
    write_generated(*fs_, files.back().source, hostname_file(hostname));
  plan("hosts");
  plan("resolv.conf");
  return files;
}

// Writes the generated hosts and resolv.conf, once: from the network stage's outputs when a
// network stage gave them (they exist only once every stage has prepared), otherwise what a
// container sharing the host's network gets. Runs on the host in create_runtime, before the
// container process mounts them: in a user namespace that process may no longer write into the
// state directory.
void StorageStage::write_network_files(Context& ctx) {
  const std::string hosts = generated_etc_file(ctx.state_dir, "hosts");
  const std::string resolv_conf = generated_etc_file(ctx.state_dir, "resolv.conf");
  auto generated = [&](std::string_view destination, const std::string& source) {
    if (!plan_) return false;
    for (const auto& mount : plan_->mounts)
      if (mount.destination == destination && mount.source == source) return true;
    return false;
  };
  if (generated("/etc/hosts", hosts)) {
    auto address = ctx.output("network.address");
    write_generated(*fs_, hosts,
                    hosts_file(ctx.spec.hostname, address && address->is_string()
                                                      ? std::string(address->as_string())
                                                      : std::string()));
  }
  if (generated("/etc/resolv.conf", resolv_conf)) {
    auto resolv = ctx.output("network.resolv_conf");
    write_generated(*fs_, resolv_conf,
                    resolv && resolv->is_string() ? std::string(resolv->as_string())
                                                  : read_host_resolv_conf(host_resolv_conf_));
  }
}

void StorageStage::prepare(Context& ctx) {
  plan_.reset();
  // --device: the node, and its allow rule after the rules already there (the cgroups stage's
  // defaults for `nsrun run`); the cgroups stage applies the final list in create_runtime.
  for (const auto& given : flag_devices_) {
    ctx.spec.devices.push_back(given.device);
    ctx.spec.resources.devices.push_back(given.rule);
  }
  const std::string rootfs = validate_rootfs(ctx.spec.root);  // the canonical path
  std::vector<GeneratedFile> generated = plan_etc_files(ctx, rootfs);
  check_reachable_from_user_namespace(
      ctx.spec, rootfs, generated.empty() ? "" : std::string(ctx.state_dir), ctx.spec_source);
  plan_ = plan_mounts(ctx.spec, rootfs, generated, ctx.log,
                      ctx.spec_source == nsrun::SpecSource::flags);
  // The exec stage, which chdirs there, owns process.cwd and refused a relative one in validate.
  if (const std::string& cwd = ctx.spec.process.cwd; cwd.starts_with('/')) {
    plan_->working_directory = clean_container_path(cwd);
    plan_->working_directory_from =
        ctx.spec_source == nsrun::SpecSource::flags ? "--workdir" : "process.cwd";
  }
  caller_mount_namespace_ = fs_->mount_namespace();    // on the host, before the clone
  idmapped_root_.prepare(ctx.spec, rootfs, ctx.log);   // before the clone, which inherits it
  idmapped_binds_.prepare(*plan_, ctx.spec, ctx.log);  // likewise
}

// The container process holds its own copy of the idmapped rootfs's descriptor now.
void StorageStage::create_runtime(Context& ctx) {
  idmapped_root_.release();
  idmapped_binds_.release();
  write_network_files(ctx);
}

void StorageStage::create_container(Context& ctx) {
  if (!plan_)
    throw StageError("create_container ran without prepare (the core must run prepare first)");
  // The network stage, which comes after this one, adds the network namespace in its prepare.
  plan_->bind_host_sys = !ctx.spec.has_namespace("network");
  // Files other stages added in their prepare (after this stage's): mounted last, so that a
  // stage can put a file even beneath a spec mount.
  if (auto files = ctx.output("files"); files && files->is_array())
    for (const auto& entry : files->as_array()) {
      const auto& file = entry.as_object();
      append_file_mount(*plan_, {std::string(file.at("destination").as_string()),
                                 std::string(file.at("source").as_string())});
    }
  plan_->devices = planned_devices(ctx.spec);
  plan_->chroot_instead_of_pivot_root = switch_with_chroot_;
  enter_rootfs(*plan_, *fs_, ctx.log, caller_mount_namespace_, &idmapped_root_, &idmapped_binds_);
}

// Nothing to undo: every mount lives in the container's mount namespace and vanishes with it,
// the generated files go with the state dir, and the mountpoints created in the rootfs are left
// in place on purpose, as runc and crun leave them: removing one that another container on the
// same rootfs still uses would detach that container's mount.
void StorageStage::teardown(Context&) {
  idmapped_root_.release();  // a setup that failed before the clone
  idmapped_binds_.release();
}

}  // namespace nsrun::storage
