#!/usr/bin/env bash
# What a copy-on-write root costs (issue 12): `nsrun run --network none /bin/true` with the
# storage stage (the rootfs bound directly) and with nsrun.storage.overlay (overlayfs mounted over
# it on the host, its upper directory removed with the container), paired and shuffled.
# Usage: sudo bench/storage.sh [ROUNDS]     (needs a build in ./build)
default_rounds=200
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"
state="$work/state"

tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
python3 bench/startup.py --rounds $rounds --baseline direct \
  "direct=$nsrun --root $state run --rootfs $work/rootfs --network none -w / /bin/true" \
  "overlay=$nsrun --root $state run --rootfs $work/rootfs --network none -w / --stage storage=nsrun.storage.overlay /bin/true" \
  "overlay-write=$nsrun --root $state run --rootfs $work/rootfs --network none -w / --stage storage=nsrun.storage.overlay /bin/touch /written"
EOF
