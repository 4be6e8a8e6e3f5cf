#!/usr/bin/env bash
# What a run costs in counts rather than time (issue 11): page faults and calls to malloc per run
# of nsrun (--network none, the default pipeline) and of crun with a network namespace.
# Usage: sudo bench/counts.sh [RUNS]     (needs a build in ./build; installs crun and linux-perf)
#
# This machine's wall times move by a tenth from one minute to the next, which hides a change
# worth 2 or 3%; these counts repeat to within 0.2% (perf stat's spread), so they show what a
# change did to the work a run does. A page fault costs 3 to 20 µs here, most of a run's kernel
# time (docs/benchmarks.md). The malloc count comes from a uprobe on libc's malloc, added for the
# count and removed on exit. As bench/startup.sh: inside a throwaway network namespace and a
# private mount namespace without /sys/fs/cgroup/unified.
default_rounds=20
[[ "${1:-$default_rounds}" =~ ^[1-9][0-9]*$ ]] || {
  echo "counts: RUNS must be a whole number above 0, not \"$1\"" >&2
  exit 2
}
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"

make_bundle "$work/bundle-net" pid mount uts ipc network
state="$work/state"
libc=$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ {print $NF; exit}')
probe=nsrun_bench_malloc
perf probe -q --del "probe_libc:$probe" 2>/dev/null || true  # one a killed run left
perf probe -q -x "$libc" --add "$probe=malloc"
trap 'perf probe -q --del "probe_libc:$probe" || true; rm -rf "$work"' EXIT

tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
count() {  # NAME COMMAND...: the mean page faults and malloc calls of a run
  local name=\$1; shift
  "\$@" >/dev/null  # warm: the page cache, the kept network, the seccomp cache
  perf stat -x, -r $rounds -e page-faults,probe_libc:$probe "\$@" 2>&1 >/dev/null |
    awk -F, -v name="\$name" '/page-faults/ {f=\$1} /$probe/ {m=\$1} END {printf "| %s | %d | %d |\n", name, f, m}'
}
echo "| command ($rounds runs each) | page faults a run | malloc calls a run |"
echo "|---|---|---|"
count nsrun-none $nsrun --root $state run --rootfs $work/rootfs --network none -w / /bin/true
count nsrun-default $nsrun --root $state run --rootfs $work/rootfs -w / /bin/true
count crun+netns crun --root $state/crun --cgroup-manager=disabled run --bundle $work/bundle-net bench-counts
$nsrun --root $state gc --networks >/dev/null
EOF
