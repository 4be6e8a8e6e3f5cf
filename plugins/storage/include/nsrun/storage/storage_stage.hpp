// nsrun.storage: the storage stage. It gives the container its root filesystem: pivot_root into
// spec.root.path with /proc, /dev, /sys and /tmp mounted, spec.mounts applied with every
// destination resolved inside the rootfs, and generated /etc/hostname, /etc/hosts and
// /etc/resolv.conf bind-mounted from the state dir. It creates the device nodes of
// linux.devices and those --device passes in (devices.hpp); the cgroups stage applies the
// allowlist (linux.resources.devices) that --device adds to.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "nsrun/plugin.h"
#include "nsrun/stage.hpp"
#include "nsrun/storage/host_fs.hpp"
#include "nsrun/storage/idmapped_root.hpp"
#include "nsrun/storage/mount_plan.hpp"

namespace nsrun::storage {

/// The stage. validate checks the rootfs and each mount; prepare writes /etc/hostname and plans
/// the mounts; create_runtime writes /etc/hosts and /etc/resolv.conf; create_container creates
/// missing mountpoints, carries the plan out and switches root (see enter_rootfs.hpp); teardown
/// has nothing to do.
class StorageStage : public IStage {
 public:
  /// It mounts the files other stages add ("files"), and switches root ("storage.root") for the
  /// stages after it. It writes /etc/hosts and /etc/resolv.conf from the network stage's
  /// outputs when there is one (read in create_runtime, so the network stage may come later).
  static constexpr nsrun_contract provides[] = {{"files", 0}, {"storage.root", 0}};
  static constexpr nsrun_contract needs[] = {
      {"network.address", NSRUN_NEED_OPTIONAL | NSRUN_NEED_AFTER_PREPARE},
      {"network.resolv_conf", NSRUN_NEED_OPTIONAL | NSRUN_NEED_AFTER_PREPARE},
      // The cgroupfs at /sys/fs/cgroup shows the cgroup the process is in when it is mounted.
      {"cgroups.membership", NSRUN_NEED_OPTIONAL}};
  static constexpr const char* claims[] = {"root", "mounts", "linux.devices"};
  static constexpr nsrun_flag flags[] = {
      {"device", nullptr, NSRUN_FLAG_STRINGS, "HOST[:CONTAINER][:PERMS]",
       "Give the container a host device, e.g. /dev/fuse or /dev/sdb:/dev/xvdb:r (PERMS: rwm)"},
  };

  /// The stage as the plugin loader creates it: real host calls, the host's /etc/resolv.conf.
  StorageStage();
  /// For tests: `fs` records or fakes host calls; `host_resolv_conf` replaces /etc/resolv.conf.
  StorageStage(std::unique_ptr<HostFs> fs, std::string host_resolv_conf);

  void validate(Context& ctx) override;
  void prepare(Context& ctx) override;
  void create_runtime(Context& ctx) override;
  void create_container(Context& ctx) override;
  void teardown(Context& ctx) override;

  /// The plan prepare computed; nullopt before prepare.
  const std::optional<MountPlan>& plan() const { return plan_; }

 protected:
  /// The host calls, for a stage built on this one (nsrun.storage.overlay).
  HostFs& host_fs() { return *fs_; }
  /// nsrun.storage.chroot: chroot(2) instead of pivot_root (see MountPlan).
  bool switch_with_chroot_ = false;

 private:
  std::vector<GeneratedFile> plan_etc_files(Context& ctx, const std::string& rootfs);
  void write_network_files(Context& ctx);

  std::unique_ptr<HostFs> fs_;
  std::string host_resolv_conf_;
  std::optional<MountPlan> plan_;
  std::string caller_mount_namespace_;  ///< refused in create_container (enter_rootfs)
  IdmappedRoot idmapped_root_;          ///< with a user namespace (idmapped_root.hpp)
  IdmappedBinds idmapped_binds_;        ///< mounts[].uidMappings, "idmap" (idmapped_root.hpp)
  /// --device, checked in validate and added to the spec in prepare (devices.hpp).
  struct FlagDevice {
    std::string host_path;
    DeviceSpec device;
    DeviceRuleSpec rule;
  };
  std::vector<FlagDevice> flag_devices_;
  std::vector<PlannedDevice> planned_devices(const ContainerSpec& spec) const;
};

}  // namespace nsrun::storage
