#!/usr/bin/env bash
# What `nsrun run --trace` costs, and how much of a run its trace accounts for (issue 12).
# Usage: sudo bench/trace.sh [ROUNDS]     (needs a build in ./build)
# Paired, shuffled rounds of `nsrun run --network none /bin/true` with and without --trace (the
# trace written to a tmpfs-backed temp dir), then the share of each traced run's wall time that
# its spans cover (bench/trace_coverage.py). Runs inside a throwaway network namespace and a
# private mount namespace, as bench/startup.sh does.
default_rounds=200
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"
state="$work/state"
traces="$work/traces"
mkdir -p "$traces"

tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
mount -t tmpfs tmpfs $traces
python3 bench/startup.py --rounds $rounds --baseline nsrun \
  "nsrun=$nsrun --root $state run --rootfs $work/rootfs --network none -w / /bin/true" \
  "nsrun-trace=$nsrun --root $state run --rootfs $work/rootfs --network none -w / --trace $traces/run.json /bin/true"
echo
for i in \$(seq 50); do
  $nsrun --root $state run --rootfs $work/rootfs --network none -w / --trace $traces/run-\$i.json /bin/true
done
python3 bench/trace_coverage.py $traces/run-*.json
EOF
