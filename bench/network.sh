#!/usr/bin/env bash
# Network benchmark (on demand, root): what the bridge network stage costs.
#
#   sudo bench/network.sh [BUILD_DIR] [RUNS]
#
# Everything runs inside a throwaway network namespace that plays the host (plus a second one as
# the "internet" on TEST-NET-2 198.51.100.0/24); the machine's own namespace is never touched.
# It measures, with a keeper container on the bridge (a busy host; the network stays up between
# runs anyway since issue 11):
#  1. start latency (launch -> workload running, signalled through a fifo) with --network none
#     and with the bridge plugin, median of RUNS each, interleaved;
#  2. the network stage's own time (its validate/prepare/create_runtime/create_container phases
#     from --log-level debug), against a shell script doing the same work with ip/iptables;
#  3. 50 containers started at once: all must succeed; p95 start latency vs a single start.
# Results go to stdout in Markdown, ready for docs/network.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(realpath "${1:-build}")
RUNS=${2:-30}
NSRUN=$BUILD/bin/nsrun
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
[ -x "$NSRUN" ] || { echo "bench: no $NSRUN (build first)" >&2; exit 1; }

if [ -z "${NSRUN_BENCH_INSIDE:-}" ]; then
HOST=nsrbench-h$$
INET=nsrbench-i$$
WORK=$(mktemp -d /tmp/nsrun-netbench-XXXXXX)
STATE=$WORK/state
ROOTFS=$BUILD/tests/busybox-rootfs
KEEPER=""
cleanup() {
  set +e
  if [ -n "$KEEPER" ]; then kill -KILL "$KEEPER" 2>/dev/null; wait "$KEEPER" 2>/dev/null; fi
  ip netns exec "$HOST" "$NSRUN" --root "$STATE" gc --networks >/dev/null 2>&1 || true
  ip netns del "$HOST" 2>/dev/null || true
  ip netns del "$INET" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$ROOTFS/bin/busybox" ] || { ROOTFS=$WORK/rootfs; "$NSRUN" rootfs create "$ROOTFS" >/dev/null; }
ip netns add "$HOST"
ip netns add "$INET"
ip -n "$HOST" link set lo up
ip -n "$INET" link set lo up
ip -n "$HOST" link add up0 type veth peer name wan0 netns "$INET"
ip -n "$HOST" addr add 198.51.100.1/24 dev up0
ip -n "$HOST" link set up0 up
ip -n "$INET" addr add 198.51.100.2/24 dev wan0
ip -n "$INET" link set wan0 up
ip -n "$HOST" route add default via 198.51.100.2
mkdir -p "$WORK/sync"
# The measurements run inside the host namespace (one `ip netns exec` for all of them, so its
# own cost, a mount namespace and a sysfs remount each time, does not pollute the numbers).
export NSRUN_BENCH_INSIDE=1 HOST WORK STATE ROOTFS
ip netns exec "$HOST" bash "$0" "$BUILD" "$RUNS"
exit 0
fi

# --- inside the throwaway host namespace -------------------------------------------------------
KEEPER=""
trap '[ -n "$KEEPER" ] && kill -KILL "$KEEPER" 2>/dev/null; wait 2>/dev/null; true' EXIT
nsrun_in_host() { "$NSRUN" --root "$STATE" "$@"; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print 0; exit} print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
p95() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.95+0.999); if (i<1) i=1; print a[i]}'; }
ms() { awk -v us="$1" 'BEGIN {printf "%.1f", us/1000}'; }

# One start: microseconds from launch until the workload runs (it opens a fifo we wait on).
# Extra nsrun arguments come first; the debug log is kept in $WORK/log-$tag.
start_once() {
  local tag=$1; shift
  local fifo=$WORK/sync/f-$tag
  mkfifo "$fifo"
  local t0; t0=$(now_us)
  nsrun_in_host --log-level debug run --rootfs "$ROOTFS" -v "$WORK/sync:/sync" "$@" \
    /bin/sh -c "echo > /sync/f-$tag" 2>"$WORK/log-$tag" &
  local pid=$!
  read -r _ <"$fifo"
  local t1; t1=$(now_us)
  wait "$pid" || { echo "bench: start $tag failed: $(cat "$WORK/log-$tag" | grep -v debug)" >&2; return 1; }
  rm -f "$fifo"
  echo $(( t1 - t0 ))
}

# The network stage's own time in one debug log (validate..create_container), microseconds.
stage_us() {
  grep -E 'nsrun\.network\.bridge: (validate|prepare|create_runtime|create_container) ' "$1" |
    awk '{s += $(NF-1)} END {printf "%d", s*1000}'
}

BRIDGE=(--stage network=nsrun.network.bridge --network 10.88.0.0/16)
# The keeper holds the bridge up, as on a host with other containers running.
# (ip netns exec execs nsrun in place, so $! is nsrun itself; killed and gc'ed on exit.)
"$NSRUN" --root "$STATE" run --rootfs "$ROOTFS" "${BRIDGE[@]}" \
  --name keeper /bin/sleep 100000 </dev/null >/dev/null 2>&1 &
KEEPER=$!
for _ in $(seq 100); do ip link show nsrun0 >/dev/null 2>&1 && break; sleep 0.05; done

# Warm-up (page cache, plugin loading).
start_once w1 --network none >/dev/null
start_once w2 "${BRIDGE[@]}" >/dev/null

: >"$WORK/none" >"$WORK/bridge" >"$WORK/stage"
for i in $(seq "$RUNS"); do
  start_once "n$i" --network none >>"$WORK/none"
  start_once "b$i" "${BRIDGE[@]}" >>"$WORK/bridge"
  stage_us "$WORK/log-b$i" >>"$WORK/stage"; echo >>"$WORK/stage"
done
none_med=$(median <"$WORK/none")
bridge_med=$(median <"$WORK/bridge")
stage_med=$(grep . "$WORK/stage" | median)

# The same work with ip and iptables commands (as a CNI-less shell setup would do it), against a
# process waiting in its own network namespace. Timed from the first command to the last.
shell_once() {
  local i=$1 ip4=10.88.200.$(( i % 250 + 2 )) veth=nsvsh$i
  unshare --net sleep 30 &
  local holder=$!
  local pid=$holder  # unshare execs in place: this is the sleep
  for _ in $(seq 200); do
    [ "$(readlink "/proc/$holder/ns/net" 2>/dev/null)" != "$HOSTNS" ] &&
      [ "$(cat "/proc/$holder/comm" 2>/dev/null)" = sleep ] && break
    sleep 0.01
  done
  local t0; t0=$(now_us)
  sh -e -c "
    sysctl -qw net.ipv4.ip_forward=1
    ip link add $veth type veth peer name eth0 netns $pid
    ip link set $veth master nsrun0 up
    nsenter -t $pid -n ip link set lo up
    nsenter -t $pid -n ip addr add $ip4/16 dev eth0
    nsenter -t $pid -n ip link set eth0 up
    nsenter -t $pid -n ip route add default via 10.88.0.1
    iptables-legacy -w -t nat -I POSTROUTING 1 -s $ip4/32 ! -o nsrun0 -m comment --comment nsrun:sh$i -j MASQUERADE
    iptables-legacy -w -t filter -I FORWARD 1 -s $ip4/32 -i nsrun0 ! -o nsrun0 -m comment --comment nsrun:sh$i -j ACCEPT
    iptables-legacy -w -t filter -I FORWARD 2 -d $ip4/32 ! -i nsrun0 -o nsrun0 -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment nsrun:sh$i -j ACCEPT
    iptables-legacy -w -t filter -I FORWARD 3 -d $ip4/32 ! -i nsrun0 -o nsrun0 -m comment --comment nsrun:sh$i -j DROP
  "
  local t1; t1=$(now_us)
  kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true
  ip link del "$veth" 2>/dev/null || true
  iptables-legacy-save | grep -v "nsrun:sh$i " | iptables-legacy-restore
  echo $(( t1 - t0 ))
}
HOSTNS=$(readlink /proc/self/ns/net)
: >"$WORK/shell"
for i in $(seq "$RUNS"); do shell_once "$i" >>"$WORK/shell"; done
shell_med=$(median <"$WORK/shell")

# 50 at once (each with its own fifo), against the single-start median above; the same with
# --network none shows how much of the slowdown is the rest of nsrun on this machine.
concurrent() {  # NAME ARGS...: 50 starts at once; leaves $WORK/NAME (one latency per line)
  local name=$1; shift
  local pids=() i p
  for i in $(seq 50); do
    ( start_once "$name$i" "$@" >"$WORK/$name-$i" ) &
    pids+=($!)
  done
  failed=0
  for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
  cat "$WORK/$name"-* | grep . >"$WORK/$name" || true
}
concurrent cnone --network none
cnone_p95=$(p95 <"$WORK/cnone")
concurrent conc "${BRIDGE[@]}"
ok=$(wc -l <"$WORK/conc")
conc_p95=$(p95 <"$WORK/conc")
conc_med=$(median <"$WORK/conc")

echo "| measure (RUNS=$RUNS, $(nproc) cores, kernel $(uname -r)) | value |"
echo "|---|---|"
echo "| start latency, --network none (median) | $(ms "$none_med") ms |"
echo "| start latency, bridge + veth + NAT (median) | $(ms "$bridge_med") ms |"
added=$(awk -v a="$bridge_med" -v b="$none_med" 'BEGIN {print a - b}')
echo "| **added by the network stage** (difference of medians) | **$(ms "$added") ms** |"
echo "| network stage's own phases (median, from --log-level debug) | $(ms "$stage_med") ms |"
echo "| same work as a shell script with ip/iptables (median) | $(ms "$shell_med") ms |"
echo "| **shell script / nsrun network stage** | **$(awk -v a="$shell_med" -v b="$stage_med" 'BEGIN {printf "%.1f", a/b}')x** |"
echo "| 50 concurrent starts: succeeded | $ok/50 (failed: $failed) |"
echo "| 50 concurrent starts: median / p95 start latency | $(ms "$conc_med") / $(ms "$conc_p95") ms |"
echo "| **p95 concurrent / single start (bridge median)** | **$(awk -v a="$conc_p95" -v b="$bridge_med" 'BEGIN {printf "%.2f", a/b}')x** |"
echo "| reference: 50 concurrent with --network none, p95 / single | $(ms "$cnone_p95") ms, $(awk -v a="$cnone_p95" -v b="$none_med" 'BEGIN {printf "%.2f", a/b}')x |"
