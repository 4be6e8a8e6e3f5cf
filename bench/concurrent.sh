#!/usr/bin/env bash
# Concurrent start benchmark (issue 11): 50 containers started at once, all must succeed, and the
# wall time for all 50 against crun's for the same 50, on the same two cores.
# Usage: sudo bench/concurrent.sh [ROUNDS]     (needs a build in ./build; installs crun)
# As bench/startup.sh: inside a throwaway network namespace (the default pipeline's bridge and NAT
# rules go there) and a private mount namespace without /sys/fs/cgroup/unified, which crun 1.8.1
# refuses on this machine's hybrid cgroup layout.
default_rounds=10
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"

python3 - "$work/bundle-net" "$work/rootfs" <<'PY'
import json, os, sys
d, rootfs = sys.argv[1:]
os.makedirs(d)
config = {
  "ociVersion": "1.0.2",
  "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": rootfs, "readonly": False},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}],
  "linux": {"namespaces": [{"type": t} for t in ["pid", "mount", "uts", "ipc", "network"]]}}
json.dump(config, open(d + "/config.json", "w"), indent=1)
PY
state="$work/state"

tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
python3 bench/concurrent.py --rounds $rounds --count 50 --baseline crun+netns \
  "nsrun-none=$nsrun --root $state run --rootfs $work/rootfs --network none -w / /bin/true" \
  "nsrun-default=$nsrun --root $state run --rootfs $work/rootfs -w / /bin/true" \
  "crun+netns=crun --root $state/crun --cgroup-manager=disabled run --bundle $work/bundle-net bench-crun-{i}"
$nsrun --root $state gc --networks >/dev/null
EOF
