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

make_bundle "$work/bundle-net" pid mount uts ipc network
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
