#!/usr/bin/env bash
# Cost of the cgroups stage (issue 4's goal: at most 3 ms median with a memory and a pids limit).
#
# Usage: sudo bench/cgroups.sh [RUNS] [BUILD_DIR]      (defaults: 200 runs, ./build)
#
# Runs `DEBUG=1 nsrun run --memory 64m --pids-limit 32 true` RUNS times and adds up what nsrun's
# phase trace reports for the nsrun.cgroups stage (validate, prepare, create_runtime,
# create_container (inside the container process) and teardown), then prints the median and the
# 90th percentile of that sum and of each phase. The same is measured for a run with no limits,
# where the stage decides it needs no cgroup, and the median wall time of the whole `nsrun run`
# for both, interleaved so that machine noise hits both alike. Containers go beneath the cgroup
# this script runs in; nothing else on the host is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
build=${2:-build}
nsrun=$(realpath "$build/bin/nsrun")
work=$(mktemp -d /tmp/nsrun-bench-cgroups-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$nsrun" rootfs create "$work/rootfs" >/dev/null
mkdir -p "$work/state"

limited=(--memory 64m --pids-limit 32)
for ((i = 0; i < runs + 5; i++)); do
  for kind in limited none; do
    args=()
    [[ $kind == limited ]] && args=("${limited[@]}")
    start=$(date +%s%N)
    DEBUG=1 "$nsrun" --root "$work/state" run --rootfs "$work/rootfs" --network none \
      "${args[@]}" true 2>"$work/trace" || { cat "$work/trace"; exit 1; }
    end=$(date +%s%N)
    ((i < 5)) && continue  # warm-up
    echo "wall $(((end - start) / 1000))" >>"$work/$kind.txt"
    grep -o 'nsrun\.cgroups: [a-z_]* [0-9.]* ms' "$work/trace" |
      awk '{print $2, $3}' >>"$work/$kind.txt"
    echo "end 0" >>"$work/$kind.txt"
  done
done

python3 - "$work" "$runs" <<'PY'
import statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
def load(kind):
    rows, current = [], {}
    for line in open(f"{work}/{kind}.txt"):
        key, value = line.split()
        if key == "end":
            rows.append(current)
            current = {}
        elif key == "wall":
            current["wall"] = float(value) / 1000.0
        else:
            current[key] = current.get(key, 0.0) + float(value)
    return rows
def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]
phases = ["validate", "prepare", "create_runtime", "create_container", "teardown"]
print(f"nsrun.cgroups stage cost over {runs} runs (ms; median / p90)")
for kind, label in (("limited", "--memory 64m --pids-limit 32"), ("none", "no limits")):
    rows = load(kind)
    total = [sum(r.get(ph, 0.0) for ph in phases) for r in rows]
    parts = "  ".join(f"{ph} {statistics.median([r.get(ph, 0.0) for r in rows]):.3f}"
                      for ph in phases)
    print(f"  {label:30} stage {statistics.median(total):.3f} / {p(total, 0.9):.3f}   ({parts})")
    print(f"  {'':30} whole nsrun run wall {statistics.median([r['wall'] for r in rows]):.2f}")
PY
