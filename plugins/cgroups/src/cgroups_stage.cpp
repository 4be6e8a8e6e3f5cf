#include "nsrun/cgroups/cgroups_stage.hpp"

#include <unistd.h>

#include "nsrun/cgroups/devices.hpp"
#include "nsrun/cgroups/flags.hpp"
#include "nsrun/cgroups/limits.hpp"
#include "nsrun/config.hpp"

namespace nsrun::cgroups {

void CgroupsStage::validate(Context& ctx) {
  effective_ = ctx.spec;
  if (ctx.flags && !ctx.flags->empty()) {
    ResourceFlags given = resource_flags_from(*ctx.flags);
    apply_resource_flags(given, effective_, ::sysconf(_SC_NPROCESSORS_ONLN));
    if (!given.cgroup_parent.empty())
      effective_.cgroups_path =
          cgroups_path_under(given.cgroup_parent, std::string(ctx.container_id));
  }
  ConfigReader config(ctx.config, "nsrun.cgroups");
  std::string configured = config.string("driver").value_or("auto");
  bool always = config.boolean("alwaysCreate").value_or(false);
  config.finish();
  auto driver = parse_driver(configured);
  if (!driver)
    throw StageError("config key \"driver\" of nsrun.cgroups is \"" + configured +
                     "\" (use auto, v1, v2 or hybrid)");
  if (auto it = effective_.annotations.find(annotation::cgroup_driver);
      it != effective_.annotations.end()) {
    driver = parse_driver(it->second);
    if (!driver)
      throw StageError("--cgroup-driver \"" + it->second +
                       "\" is not a driver (use auto, v1, v2 or hybrid)");
  }

  // `nsrun run FLAGS CMD` gets runc's device allowlist unless something gave one; a bundle's
  // spec is applied as written (an engine's list wins). prepare records it in the spec, where a
  // later stage (storage's --device) may add to it before create_runtime applies it.
  bool default_devices =
      ctx.spec_source == SpecSource::flags && effective_.resources.devices.empty();
  if (default_devices) effective_.resources.devices = default_device_rules();
  devices_unavailable_ = false;
  const ResourcesSpec& resources = effective_.resources;
  validate_resources(resources);
  std::string why;
  if (!valid_cgroups_path(effective_.cgroups_path, &why))
    throw StageError("cgroup path \"" + effective_.cgroups_path + "\" is not usable: " + why);

  // With no limit and a pid namespace of its own, a cgroup buys nothing the kernel does not
  // already do (the namespace dies with its PID 1, and the caller's cgroups apply by
  // inheritance), so none is made and the stage costs nothing. Such a container cannot be
  // paused (no freezer): see make_plan for why that is not worth a cgroup on every run.
  // See docs/cgroups.md.
  // A joined pid namespace (a path) is someone else's: it does not die with this container.
  bool track = always || !ctx.spec.has_own_namespace("pid");
  // An engine's container (a bundle), one given a place (cgroupsPath, --cgroup-parent) or one
  // configured so gets a cgroup in every hierarchy, as runc makes: engines read its use there
  // (`podman stats`) and pause and update it, limits or not.
  bool every_hierarchy =
      always || ctx.spec_source == SpecSource::bundle || !effective_.cgroups_path.empty();
  if (!needs_of(resources).any() && !track && !every_hierarchy) {
    plan_ = Plan{};
    return;
  }
  check_cpusets(*host_, resources);
  Needs without_devices = needs_of(resources);
  without_devices.devices = false;
  std::optional<Layout> layout;
  if (default_devices && !without_devices.any() && !track && !every_hierarchy) {
    // The defaults are hardening, not something asked for: a host whose cgroup filesystem is
    // out of sight (e.g. under `ip netns exec`, which remounts /sys) runs without them, as it
    // runs without any cgroup, rather than failing every plain `nsrun run`.
    try {
      layout = detect_layout(*host_, *driver);
    } catch (const StageError& e) {
      ctx.log.debug(std::string("no device allowlist: ") + e.what());
      effective_.resources.devices.clear();
      devices_unavailable_ = true;
      plan_ = Plan{};
      return;
    }
  }
  // Read once: mountinfo and /proc/self/cgroup in every `nsrun run`.
  if (!layout) layout = detect_layout(*host_, *driver);
  plan_ = make_plan(*host_, *layout, resources, effective_.cgroups_path, ctx.container_id, track,
                    every_hierarchy);
  check_plan(*host_, plan_);
}

void CgroupsStage::prepare(Context& ctx) {
  // What the flags asked for is recorded in the spec (and so in the state's config.json).
  ctx.spec.resources = effective_.resources;
  ctx.spec.cgroups_path = effective_.cgroups_path;
  if (auto it = effective_.annotations.find(annotation::cgroup_driver);
      it != effective_.annotations.end())
    ctx.spec.annotations[it->first] = it->second;
  if (plan_.placements.empty()) {
    ctx.log.debug("no limits and a pid namespace: no cgroup needed");
    return;
  }
  if (ctx.log.debug_enabled()) ctx.log.debug(std::string("driver ") + driver_name(plan_.driver));
  create_cgroups(*host_, plan_, driver_name(plan_.driver), ctx.journal, ctx.log);
  tasks_ = open_tasks_files(*host_, plan_);
}

void CgroupsStage::create_runtime(Context& ctx) {
  // The container process holds its own copies of the tasks descriptors now.
  close_tasks_files(*host_, tasks_);
  if (plan_.placements.empty()) {
    if (devices_unavailable_) {
      if (!ctx.spec.resources.devices.empty())
        ctx.log.debug("no cgroup filesystem: linux.resources.devices (--device) is not applied");
      return;
    }
    if (!ctx.spec.resources.devices.empty())
      apply_device_rules(*host_, plan_, rules_with_defaults(ctx.spec.resources.devices),
                         ctx.log);  // says why not
    return;
  }
  // The device rules are those of the final spec: stages after this one may have added to them
  // in their prepare (--device). The container process waits, so they apply before it runs.
  validate_device_rules(ctx.spec.resources.devices);
  apply_device_rules(*host_, plan_, rules_with_defaults(ctx.spec.resources.devices), ctx.log);
  attach_process(*host_, plan_, ctx.pid, ctx.log);
}

void CgroupsStage::create_container(Context& ctx) {
  join_cgroups(*host_, tasks_, ctx.log);
}

void CgroupsStage::teardown(Context& ctx) {
  auto records = ctx.journal.records();
  if (!records.empty()) {
    remove_cgroups(*host_, records, ctx.log, ctx.container_id);
    return;
  }
  // No record: the container had no cgroup, or its journal is gone or damaged (nsrun delete
  // after a crash, a disk, a hand). The cgroups it would have are those the spec names: an
  // absolute cgroupsPath (an engine's) is the same whichever process deletes, and the default,
  // nsrun-<id>, lies beneath the cgroup nsrun runs in. Those that exist and are empty go; a busy
  // one is left alone, since without the journal nothing says it is the container's to kill.
  ConfigReader config(ctx.config, "nsrun.cgroups");
  auto driver = parse_driver(config.string("driver").value_or("auto"));
  if (!driver) return;
  try {
    Layout layout = detect_layout(*host_, *driver);
    Plan plan = make_plan(*host_, layout, ctx.spec.resources, ctx.spec.cgroups_path,
                          ctx.container_id, true, /*every_hierarchy=*/true);
    std::vector<std::string> dirs;
    for (const auto& placement : plan.placements) dirs.push_back(placement.dir());
    remove_unrecorded_cgroups(*host_, dirs, ctx.log);
  } catch (const StageError& e) {
    ctx.log.debug(std::string("no journal, and no cgroup to look for: ") + e.what());
  }
}

void CgroupsStage::exec_runtime(Context& ctx) {
  // A fresh object for `nsrun exec`: where the container is comes from the journal, not a plan.
  if (join_recorded_cgroups(*host_, ctx.journal.records(), ctx.pid, ctx.log) == 0)
    ctx.log.debug("the container has no cgroup: the exec process has nothing to join");
}

void CgroupsStage::pause(Context& ctx) {
  freeze_container(*host_, ctx.journal.records(), ctx.log);
}

void CgroupsStage::resume(Context& ctx) {
  thaw_container(*host_, ctx.journal.records(), ctx.log);
}

void CgroupsStage::update(Context& ctx) {
  // A fresh object for `nsrun update`: the spec's linux.resources is the container's, merged
  // with the request, and is checked as validate checks it before anything is written. The
  // cgroups are the ones the journal lists; the path and driver are those of the run.
  const ResourcesSpec& resources = ctx.spec.resources;
  validate_resources(resources);
  check_cpusets(*host_, resources);
  update_limits(*host_, ctx.journal, resources, ctx.log);
}

}  // namespace nsrun::cgroups
