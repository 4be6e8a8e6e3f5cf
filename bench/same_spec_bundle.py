"""Writes an OCI bundle for crun holding the container an `nsrun run` made (bench/same-spec.sh).

Usage: same_spec_bundle.py STATE_DIR BUNDLE_DIR APP_DIR

STATE_DIR is the state directory of a running `nsrun run -d` container. Its config.json is the
spec nsrun ran; for a spec built from flags the storage stage adds docker's default mounts and
the /etc files it writes, which this script adds in the same order and with the same options
(plugins/storage: the mounts `DEBUG=1 nsrun run` lists). The /etc files are copied into the
bundle, so that the bundle outlives the container. The command becomes /bin/true.
"""
import json
import os
import shutil
import sys


def main():
    state_dir, bundle, app = sys.argv[1:]
    spec = json.load(open(os.path.join(state_dir, "config.json")))
    os.makedirs(os.path.join(bundle, "etc"), exist_ok=True)
    etc_mounts = []
    for name in ("hostname", "hosts", "resolv.conf"):
        copy = os.path.join(bundle, "etc", name)
        # In the state directory itself since fd26f95; in its etc/ before.
        source = os.path.join(state_dir, name)
        if not os.path.exists(source):
            source = os.path.join(state_dir, "etc", name)
        shutil.copyfile(source, copy)
        etc_mounts.append({"destination": "/etc/" + name, "type": "bind", "source": copy,
                           "options": ["rbind", "rprivate"]})
    defaults = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=1777"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ]
    app_mounts = [m for m in spec.get("mounts", []) if m.get("destination") == "/app"]
    if not app_mounts:
        sys.exit("same_spec_bundle.py: the spec has no /app mount (was nsrun run from " + app + "?)")
    spec["mounts"] = defaults + app_mounts + etc_mounts
    spec["process"]["args"] = ["/bin/true"]
    # nsrun's own annotations mean nothing to crun; its cgroup is off (--cgroup-manager=disabled).
    spec.pop("annotations", None)
    spec["linux"].pop("cgroupsPath", None)
    spec["linux"].pop("resources", None)
    json.dump(spec, open(os.path.join(bundle, "config.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
