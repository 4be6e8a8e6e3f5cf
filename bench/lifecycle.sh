#!/usr/bin/env bash
# OCI lifecycle benchmark (issue 9): create + start + wait + delete of /bin/true on a bundle
# with a network namespace, nsrun against crun, paired and shuffled. (Not runc: without a
# cgroupsPath it makes cgroups at each hierarchy's root, outside the caller's own.)
# Usage: bench/lifecycle.sh [ROUNDS]   (as root; needs a build in ./build; installs crun)
# It runs in a throwaway network namespace (nsrun's default bridge and NAT rules go there) and
# a private mount namespace in which /sys/fs/cgroup/unified is unmounted: crun 1.8.1 refuses
# this machine's hybrid cgroup layout otherwise.
default_rounds=100
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
config = {
  "ociVersion": "1.0.2",
  "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": work + "/rootfs", "readonly": False},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}],
  "linux": {"namespaces": [{"type": t} for t in ["pid", "mount", "uts", "ipc", "network"]]}}
json.dump(config, open(work + "/config.json", "w"), indent=1)
PY
tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
python3 bench/lifecycle.py --rounds $rounds --bundle $work --work $work \
  "nsrun=$nsrun --root $work/state-nsrun" \
  "crun=crun --root $work/state-crun --cgroup-manager=disabled"
EOF
