#!/usr/bin/env bash
# What confinement costs (issue 10's goal: the security stage <= 1 ms median on
# `nsrun run --network none /bin/true`), with crun's equivalent as the anchor.
# Usage: sudo bench/security.sh [ROUNDS]     (needs a build in ./build; installs crun)
#
# Four commands, paired and shuffled per round (bench/startup.py):
#   nsrun          the default pipeline with --network none: podman's eleven capabilities,
#                  no_new_privs, masked and read-only paths, the default seccomp profile
#   nsrun-nosec    the same pipeline without the security stage (nothing confined)
#   crun           a bundle with the same confinement: podman's eleven capabilities,
#                  noNewPrivileges, the same masked and read-only paths, and the seccomp profile
#                  podman gives crun (/usr/share/containers/seccomp.json, converted to OCI)
#   crun-nosec     that bundle without capabilities, noNewPrivileges, paths or seccomp
#   nsrun-ro       as nsrun, but started from a read-only bind mount of the build (bin, lib,
#                  share): the launcher sees the program on a read-only mount and starts it
#                  without the bind mount that protects the binary (CVE-2019-5736,
#                  docs/security.md)
#   nsrun-noop     as nsrun-nosec, with a stage that does nothing (the SDK test fixture test.good)
#                  in the security stage's place: what any stage costs in nsrun's core and SDK
#   nsrun-noseccomp  as nsrun, with --security-opt seccomp=unconfined
# The security stage's cost is nsrun - nsrun-nosec; crun's is crun - crun-nosec. The binary's
# protection costs nsrun - nsrun-ro. The stage's cost splits into: a stage's share of the core
# (nsrun-noop - nsrun-nosec), capabilities, no_new_privs, keyring, masked and read-only paths and
# the checks (nsrun-noseccomp - nsrun-noop), and the seccomp filter (nsrun - nsrun-noseccomp).
# Last, bench/seccomp_load.c times the kernel's load of the default profile's compiled program
# alone (from nsrun's cache), in fresh processes.
default_rounds=100
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"

# The default pipeline, less its security stage.
python3 - "$PWD/core/pipeline.json" "$work/nosec-pipeline.json" <<'PY'
import json, sys
pipeline = json.load(open(sys.argv[1]))
pipeline["stages"] = [s for s in pipeline["stages"] if s["kind"] != "security"]
json.dump(pipeline, open(sys.argv[2], "w"))
PY

make_bundle() {  # DIR confined|open
  mkdir -p "$1"
  python3 - "$1" "$work/rootfs" "$2" <<'PY'
import json, sys
d, rootfs, mode = sys.argv[1:]
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
        "CAP_SYS_CHROOT"]
process = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
           "env": ["PATH=/bin"], "cwd": "/"}
linux = {"namespaces": [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network")]}
if mode == "confined":
    process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    process["noNewPrivileges"] = True
    linux["maskedPaths"] = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                            "/proc/scsi", "/sys/firmware"]
    linux["readonlyPaths"] = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"]
    # podman's profile (Docker's format) as the OCI linux.seccomp crun takes.
    profile = json.load(open("/usr/share/containers/seccomp.json"))
    arches = []
    for entry in profile.get("archMap", []):
        if entry["architecture"] == "SCMP_ARCH_X86_64":
            arches = [entry["architecture"]] + entry.get("subArchitectures", [])
    syscalls = []
    for rule in profile["syscalls"]:
        includes, excludes = rule.get("includes", {}), rule.get("excludes", {})
        if includes.get("arches") and "amd64" not in includes["arches"]:
            continue
        if "amd64" in excludes.get("arches", []):
            continue
        if any(c not in caps for c in includes.get("caps", [])):
            continue
        if any(c in caps for c in excludes.get("caps", [])):
            continue
        out = {"names": rule["names"], "action": rule["action"]}
        for key in ("args", "errnoRet"):
            if key in rule:
                out[key] = rule[key]
        syscalls.append(out)
    linux["seccomp"] = {"defaultAction": profile["defaultAction"], "architectures": arches,
                        "syscalls": syscalls}
    if "defaultErrnoRet" in profile:
        linux["seccomp"]["defaultErrnoRet"] = profile["defaultErrnoRet"]
config = {
  "ociVersion": "1.0.2", "process": process, "root": {"path": rootfs, "readonly": False},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}],
  "linux": linux}
json.dump(config, open(d + "/config.json", "w"), indent=1)
PY
}
make_bundle "$work/bundle" confined
make_bundle "$work/bundle-open" open
state="$work/state"

# The do-nothing stage, from the build's test fixtures.
fixture_dir=$PWD/build/tests/fixture-plugins/second
if [[ ! -f $fixture_dir/test.good.so ]]; then
  echo "bench/security.sh: $fixture_dir/test.good.so is missing (build with tests)" >&2
  exit 1
fi
python3 - "$PWD/core/pipeline.json" "$work/noop-pipeline.json" <<'PY'
import json, sys
pipeline = json.load(open(sys.argv[1]))
pipeline["stages"] = [s if s["kind"] != "security" else
                      {"kind": "test", "plugin": "test.good", "config": {}}
                      for s in pipeline["stages"]]
json.dump(pipeline, open(sys.argv[2], "w"))
PY

# In a throwaway network namespace and a private mount namespace without /sys/fs/cgroup/unified
# (crun 1.8.1 refuses this machine's hybrid layout otherwise), as bench/startup.sh.
tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
for dir in bin lib share; do
  mkdir -p $work/ro/\$dir
  mount --bind -o ro $PWD/build/\$dir $work/ro/\$dir
done
python3 bench/startup.py --rounds $rounds --baseline crun \
  "nsrun=$nsrun --root $state run --rootfs $work/rootfs --network none -w / /bin/true" \
  "nsrun-ro=$work/ro/bin/nsrun --root $state run --rootfs $work/rootfs --network none -w / /bin/true" \
  "nsrun-nosec=$nsrun --root $state run --rootfs $work/rootfs --network none -w / --pipeline $work/nosec-pipeline.json /bin/true" \
  "nsrun-noop=$nsrun --root $state --plugin-dir $fixture_dir run --rootfs $work/rootfs --network none -w / --pipeline $work/noop-pipeline.json /bin/true" \
  "nsrun-noseccomp=$nsrun --root $state run --rootfs $work/rootfs --network none -w / --security-opt seccomp=unconfined /bin/true" \
  "crun=crun --root $state/crun --cgroup-manager=disabled run --bundle $work/bundle bench-crun" \
  "crun-nosec=crun --root $state/crun --cgroup-manager=disabled run --bundle $work/bundle-open bench-crun"
EOF

# The default profile's program as nsrun cached it: a header line, the key, then the BPF.
cc -O2 -o "$work/seccomp_load" bench/seccomp_load.c
python3 - "$state/_seccomp" "$work/default.bpf" <<'PY'
import os, sys
for name in os.listdir(sys.argv[1]):
    data = open(os.path.join(sys.argv[1], name), "rb").read()
    header_end = data.index(b"\n") + 1
    key_length = int(data[:header_end].split()[4])
    if data[header_end:header_end + key_length].startswith(b"nsrun default profile"):
        open(sys.argv[2], "wb").write(data[header_end + key_length:])
PY
echo "seccomp(2) load of the default profile: $("$work/seccomp_load" "$work/default.bpf" 200)"
