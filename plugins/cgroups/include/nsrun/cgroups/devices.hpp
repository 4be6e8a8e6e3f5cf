// nsrun.cgroups: linux.resources.devices, the container's device allowlist.
//
// Semantics (the same on v1 and v2, and runc's and crun's): rules apply in order, and for each
// access a process asks for (r, w, m), the last rule that matches the device (type, major, minor)
// and names that access decides it; the request is allowed when every access it asks for is.
// An access no rule names is left to what the container's cgroup inherits (on a fresh cgroup:
// allowed, as in its parent); the usual list therefore starts with a deny-all rule.
//
//   v1  the rules are written in order into the devices cgroup: a deny-all (or allow-all) rule
//       as "a" to devices.deny (devices.allow), which resets the cgroup's list; any other rule as
//       "c 1:3 rwm" ("*" for a wildcard) to devices.allow or devices.deny. A type "a" rule that
//       is not all-of-rwm on every device is written as its "c" and its "b" halves (the kernel
//       reads any "a" as a reset). One difference is the kernel's: a v1 deny of a wildcard
//       ("c *:* w") takes nothing away from a more specific allow written before it.
//   v2  an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program generated from the rules (device_program),
//       loaded with bpf(2) and attached to the container's cgroup with BPF_F_ALLOW_MULTI, so the
//       programs of its ancestors keep applying too.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nsrun/cgroups/driver.hpp"
#include "nsrun/spec.hpp"

namespace nsrun::cgroups {

/// runc's defaults for a container built from flags: deny everything, then mknod of any char or
/// block device, and read/write/mknod of null, zero, full, random, urandom, tty, console, ptmx,
/// the pts devices (136:*) and tun.
std::vector<DeviceRuleSpec> default_device_rules();

/// The rules the cgroup gets for linux.resources.devices: the spec's, then, when there are any,
/// the allows of default_device_rules(), as runc and crun append them. The nodes every container
/// has stay usable whatever a bundle denies, and engines count on it: podman writes only a
/// deny-all (and the --device ones) and leaves /dev/null, the ptys and the rest to the runtime.
/// A list that already ends with those allows (`nsrun run`'s own) is returned as it is.
std::vector<DeviceRuleSpec> rules_with_defaults(const std::vector<DeviceRuleSpec>& rules);

/// Throws StageError naming the config.json field of the first invalid rule, e.g.
/// `config.json: linux.resources.devices[2].access: "rwx" is not a subset of "rwm"`.
void validate_device_rules(const std::vector<DeviceRuleSpec>& rules);

/// True when the rule matches every device (type "a", or no major and minor) with every access:
/// a deny-all or allow-all rule.
bool is_all_devices_rule(const DeviceRuleSpec& rule);

/// The v1 writes (devices.allow / devices.deny, in order) that put `rules` into a fresh devices
/// cgroup.
std::vector<CgroupWrite> v1_device_writes(const std::vector<DeviceRuleSpec>& rules);

/// The v2 device program for `rules` (pure). Its context is struct bpf_cgroup_dev_ctx; it returns
/// 1 to allow the access and 0 to deny it.
std::vector<bpf_insn> device_program(const std::vector<DeviceRuleSpec>& rules);

/// Applies `rules` to the container's devices cgroup of `plan` (create_runtime, before the
/// container process runs anything of its own): v1 writes, or the v2 program attached through
/// Host::attach_device_program. Nothing when `rules` is empty; StageError when the plan has no
/// cgroup for them (a stage added rules after the cgroups stage planned its cgroups).
void apply_device_rules(Host& host, const Plan& plan, const std::vector<DeviceRuleSpec>& rules,
                        Logger& log);

}  // namespace nsrun::cgroups
