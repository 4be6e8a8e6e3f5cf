#!/usr/bin/env bash
# The cost of each isolation layer (issue 12, docs/research.md): `nsrun bench` over six
# pipelines, from namespaces with the original program's chroot up to the full default pipeline,
# one layer added at a time (bench/pipelines/layer-*.json), on `/bin/true`.
# Usage: sudo bench/layers.sh [RUNS]     (needs a build in ./build)
# Writes docs/research/layers.json and docs/research/layers.svg and prints the table. Runs in a
# throwaway network namespace (the bridge layer's network goes there) and a private mount
# namespace in which /sys/fs/cgroup/unified is unmounted, as bench/startup.sh does.
default_rounds=100
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"
state="$work/state"
out=$PWD/docs/research
mkdir -p "$out"
args=()
for file in bench/pipelines/layer-*.json; do
  name=$(basename "$file" .json)
  args+=(--name "${name#layer-}" --pipeline "$PWD/$file")
done
tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
cd "$work"
$nsrun --root $state bench --runs $rounds --warmup 3 --rootfs $work/rootfs \
  --json $out/layers.json --svg $out/layers.svg ${args[*]} -- /bin/true
$nsrun --root $state gc --networks >/dev/null
EOF
