#!/usr/bin/env bash
# The body of bench/leak.sh, run inside its throwaway network namespace ($nsrun, $rounds, $work).
set -euo pipefail
state=$work/state
snapshot() {  # what a run could leave behind, one line per thing
  ip -o link | awk -F': ' '{print "link " $2}' | sed 's/@.*//'
  iptables-legacy-save | grep -E '^-A' | sed 's/^/rule /'
  for d in leases links ports networks markers; do
    ls "$state/_ipam/$d" 2>/dev/null | sed "s|^|ipam $d/|"
  done
  ls "$state" | grep -v '^_ipam$' | sed 's/^/state /' || true
  find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -name 'nsrun-*' 2>/dev/null |
    sed 's/^/cgroup /'
  echo "mounts of the machine's mount namespace: $(wc -l </proc/1/mountinfo)"
  echo "mounts of this mount namespace: $(wc -l </proc/self/mountinfo)"
}
run() { "$nsrun" --root "$state" run --rootfs "$work/rootfs" -w / /bin/true; }
rss() { /usr/bin/time -f %M "$nsrun" --root "$state" run --rootfs "$work/rootfs" -w / /bin/true \
          2>&1 >/dev/null | tail -1; }
every=$(( (rounds + 9) / 10 ))
samples=$(rss)
sleep 1  # the kernel dismantles a container's network namespace on its own time
snapshot >"$work/after-first"
for i in $(seq 2 "$rounds"); do
  if (( i % every == 0 )); then samples="$samples $(rss)"; else run; fi
done
sleep 1
snapshot >"$work/after-last"
echo "| after run 1 -> after run $rounds | count |"
echo "|---|---|"
for kind in link rule ipam state cgroup; do
  echo "| $kind | $(grep -c "^$kind " "$work/after-first" || true) -> $(grep -c "^$kind " "$work/after-last" || true) |"
done
paste -d' ' <(grep '^mounts' "$work/after-first") <(grep '^mounts' "$work/after-last" | sed 's/.*: /-> /') |
  sed 's/^/| /; s/: / | /; s/$/ |/'
echo
echo "nsrun peak RSS (KiB) at run 1 and every ${every}th run: $samples"
"$nsrun" --root "$state" gc --networks >/dev/null
if ! diff "$work/after-first" "$work/after-last"; then
  echo "LEAK: the host changed between run 1 and run $rounds"
  exit 1
fi
echo "no leak: the host after run $rounds is as after run 1"
