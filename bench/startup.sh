#!/usr/bin/env bash
# Start-up benchmark (issue: nsrun run /bin/true vs crun, runc and unshare+chroot).
# Usage: sudo bench/startup.sh [ROUNDS]     (needs a build in ./build; installs crun, runc)
# Everything runs inside one private mount namespace in which /sys/fs/cgroup/unified is unmounted:
# crun 1.8.1 refuses this machine's hybrid cgroup layout otherwise. The mount namespace is
# private, so the host keeps its mounts.
default_rounds=200
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"

# The pipeline the goal names: namespaces + storage + exec (no network stage), and crun/runc
# bundles with the same namespaces (pid, mount, uts, ipc) and a network namespace variant.
cat > "$work/minimal-pipeline.json" <<'JSON'
{"stages": [
  {"kind": "namespaces", "plugin": "nsrun.namespaces"},
  {"kind": "storage", "plugin": "nsrun.storage"},
  {"kind": "exec", "plugin": "nsrun.exec"}]}
JSON
make_bundle "$work/bundle" pid mount uts ipc
make_bundle "$work/bundle-net" pid mount uts ipc network
state="$work/state"

# The whole benchmark runs in a throwaway network namespace (the default pipeline's bridge and
# NAT rules go there, never into the machine's own namespace).
tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
python3 bench/startup.py --rounds $rounds --baseline crun \
  "nsrun=$nsrun --root $state run --rootfs $work/rootfs --pipeline $work/minimal-pipeline.json -w / /bin/true" \
  "crun=crun --root $state/crun --cgroup-manager=disabled run --bundle $work/bundle bench-crun" \
  "runc=runc --root $state/runc run --bundle $work/bundle bench-runc" \
  "unshare+chroot=unshare --pid --fork --mount --uts --ipc chroot $work/rootfs /bin/true"
echo
echo "with a network namespace (nsrun: --network none; default: bridge + NAT + cgroups stage):"
python3 bench/startup.py --rounds $rounds --baseline crun+netns \
  "nsrun-none=$nsrun --root $state run --rootfs $work/rootfs --network none -w / /bin/true" \
  "nsrun-default=$nsrun --root $state run --rootfs $work/rootfs -w / /bin/true" \
  "crun+netns=crun --root $state/crun --cgroup-manager=disabled run --bundle $work/bundle-net bench-crun" \
  "unshare+chroot+netns=unshare --pid --fork --mount --uts --ipc --net chroot $work/rootfs /bin/true"
echo
# Every default run above found the network up (kept between runs since issue 11). The first run on
# a fresh host makes it: the bridge, its address and the network's NAT rules. Timed alone, with
# the network removed (untimed) before each run.
echo "first run on a fresh host (the default pipeline makes the network; median of 30):"
for i in \$(seq 30); do
  $nsrun --root $state network rm nsrun0 >/dev/null
  start=\$(date +%s%N)
  $nsrun --root $state run --rootfs $work/rootfs -w / /bin/true
  echo \$(( (\$(date +%s%N) - start) / 1000 ))
done | sort -n | awk '{a[NR]=\$1} END {printf "  median %.2f ms over %d runs\n", a[int((NR+1)/2)]/1000, NR}'
echo
echo "reading the pipeline and loading its plugins (DEBUG=1 trace of the default pipeline, median of 50):"
for i in \$(seq 50); do
  DEBUG=1 $nsrun --root $state run --rootfs $work/rootfs -w / /bin/true 2>&1 | sed -n 's/.*plugins loaded in \([0-9.]*\) ms.*/\1/p'
done | sort -n | awk '{a[NR]=\$1} END {print "  median " a[int((NR+1)/2)] " ms over " NR " runs"}'
$nsrun --root $state gc --networks >/dev/null
EOF
