#!/usr/bin/env bash
# Engine benchmark (issue 9): `podman run --rm --network none IMAGE /bin/true` with nsrun as the
# OCI runtime against crun 1.8.1, and `ctr run --rm --rootfs DIR ID /bin/true` with
# `--runc-binary nsrun` against runc (crun cannot run under containerd on this host), paired and
# shuffled in each round; the whole command's wall time is what is compared.
# Usage: bench/engines.sh [ROUNDS]   (as root; needs a build in ./build; installs the engines,
# crun and runc)   Optional: ENGINES=podman or ENGINES=containerd to run one of them;
# RAW=FILE.json to keep every round's times.
#
# Confined as tests/engines/*_test.cpp are: podman's and containerd's storage, state, sockets and
# configuration live in one temp dir; everything runs in a throwaway network namespace
# (tests/helpers/in-throwaway-netns.sh) and a private mount namespace without
# /sys/fs/cgroup/unified (crun 1.8.1 refuses this machine's hybrid cgroup layout otherwise; runc
# and nsrun run there as they are); containers get no network (podman `--network none`, ctr
# without --net-host) and cgroups beneath this script's own. On the way out, even on failure, the
# trap kills by pid whatever still names the temp dir (containerd, shims, conmon), unmounts what is
# left under it, removes the cgroups made beneath ours and the temp dir, and reports each leftover.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
engines=${ENGINES:-podman,containerd}
[ "$(id -u)" = 0 ] || { echo "engines.sh: run as root" >&2; exit 1; }
NSRUN_BENCH_DEPS=1 scripts/install-deps.sh >/dev/null
nsrun=$PWD/build/bin/nsrun
[ -x "$nsrun" ] || { echo "engines.sh: no $nsrun (build first: cmake --build build)" >&2; exit 1; }

work=$(mktemp -d /tmp/nsrun-bench-engines-XXXXXX)
# Our cgroup in the memory hierarchy (the only one this machine nests us in); the containers'
# cgroups go beneath <it>/<temp dir name> in every hierarchy.
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' /proc/self/cgroup)
cgroup_parent=${own%/}/$(basename "$work")
hierarchies=()
made=() # cgroup dirs on the way to cgroup_parent that do not exist yet, deepest first
while read -r root mount_point; do
  [ "$root" = / ] || continue # a hierarchy mounted from a sub-cgroup: not where our paths go
  hierarchies+=("$mount_point")
  dir=$mount_point$cgroup_parent
  while [ ${#dir} -gt ${#mount_point} ] && [ ! -e "$dir" ]; do
    made+=("$dir")
    dir=$(dirname "$dir")
  done
done < <(awk '$0 ~ / - cgroup2? / {print $4, $5}' /proc/self/mountinfo)
run_containerd_existed=0
[ -e /run/containerd ] && run_containerd_existed=1
run_containerd_s_existed=0
[ -e /run/containerd/s ] && run_containerd_s_existed=1
var_lib_containers_existed=0
[ -e /var/lib/containers ] && var_lib_containers_existed=1

leftover() {
  echo "leftover: $*" >&2
  leftovers=1
}
cleanup() {
  local status=$? f pid cmdline mount_point dir h
  leftovers=0
  # Processes that name the temp dir (containerd, its shims, conmon): by pid, never by name.
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [ "$pid" = $$ ] && continue
    cmdline=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
    if [[ $cmdline == *"$work"* ]]; then
      leftover "process $pid: $cmdline (killed)"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  # Mounts under the temp dir in this mount namespace, deepest first.
  while read -r mount_point; do
    leftover "mount $mount_point (unmounted)"
    umount -l "$mount_point" || true
  done < <(awk -v w="$work" '$5 == w || index($5, w "/") == 1 {print $5}' /proc/self/mountinfo |
    sort -r)
  # Cgroups: <parent>/<engine>/<container> is a container's, a leftover; the parent, the engine
  # level and the dirs on the way are made by the runtimes' `mkdir -p` (crun and runc never
  # remove them).
  for h in "${hierarchies[@]}"; do
    dir=$h$cgroup_parent
    [ -d "$dir" ] || continue
    while read -r f; do
      [ "$(dirname "$(dirname "$f")")" = "$dir" ] && leftover "cgroup $f (removed)"
      rmdir "$f" 2>/dev/null || leftover "cgroup $f cannot be removed"
    done < <(find "$dir" -mindepth 2 -depth -type d)
    find "$dir" -mindepth 1 -maxdepth 1 -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$dir" 2>/dev/null || leftover "cgroup $dir cannot be removed"
  done
  for dir in "${made[@]}"; do rmdir "$dir" 2>/dev/null || true; done # only when empty: shared
  if [ -z "$(awk -v w="$work" 'index($5, w) == 1' /proc/self/mountinfo)" ]; then
    rm -rf "$work"
  else
    leftover "$work kept: still mounted beneath it"
  fi
  # containerd 1.6's shims put their sockets in /run/containerd/s whatever the config says.
  [ $run_containerd_s_existed = 1 ] || rmdir /run/containerd/s 2>/dev/null || true
  [ $run_containerd_existed = 1 ] || rmdir /run/containerd 2>/dev/null || true
  # podman records blob digests in /var/lib/containers/cache whatever --root says.
  [ $var_lib_containers_existed = 1 ] || rm -rf /var/lib/containers
  [ $leftovers = 0 ] && echo "cleanup: nothing left behind" >&2
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$nsrun" rootfs create "$work/rootfs" >/dev/null
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs" >&2
tests/helpers/in-throwaway-netns.sh unshare -m --propagation private sh -c \
  'umount /sys/fs/cgroup/unified 2>/dev/null || true; exec python3 "$@"' engines \
  bench/engines.py --rounds "$rounds" --work "$work" --nsrun "$nsrun" \
  --rootfs "$work/rootfs" --cgroup-parent "$cgroup_parent" \
  --engines "$engines" ${RAW:+--raw "$RAW"}
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
