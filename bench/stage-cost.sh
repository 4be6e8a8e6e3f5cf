#!/usr/bin/env bash
# What one more stage costs a run (issue 11): namespaces + storage + exec, against the same
# pipeline with STAGES stages that do nothing (bench/noop_stage.cpp, built like a third-party
# plugin with the installed SDK's pkg-config file) before the exec stage. The difference divided
# by STAGES is a stage's share of nsrun's core and SDK: its file loaded, its phases called through
# the C boundary, its copies of the spec parsed. Then traced runs of both say where it goes.
# Usage: sudo bench/stage-cost.sh [ROUNDS] [STAGES]     (needs a build in ./build)
# Paired, shuffled rounds (bench/startup.py), in a throwaway network namespace and a private mount
# namespace in which /sys/fs/cgroup/unified is unmounted, as bench/startup.sh does.
default_rounds=300
if [[ -n ${2:-} && ! ${2} =~ ^[1-9][0-9]*$ ]]; then
  echo "bench/stage-cost.sh: STAGES must be a whole number above 0, not \"$2\"" >&2
  exit 2
fi
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"
stages=${2:-10}
plugins="$work/noop-plugins"
mkdir -p "$plugins"
sdk_pc="$work/install/lib/pkgconfig/nsrun-sdk.pc"
for ((i = 0; i < stages; ++i)); do
  # shellcheck disable=SC2046  # pkg-config's flags are words
  g++ -O2 -Wall -Wextra bench/noop_stage.cpp -o "$plugins/bench.noop$i.so" \
    -DNOOP_NAME="\"bench.noop$i\"" -DNOOP_KIND="\"noop$i\"" $(pkg-config --cflags --libs "$sdk_pc")
done
chmod 755 "$plugins" && chmod 644 "$plugins"/*.so
python3 - "$PWD/core/pipeline.json" "$work" "$stages" <<'PY'
import json, sys
base, work, stages = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
kept = [s for s in base["stages"] if s["kind"] in ("namespaces", "storage", "exec")]
noop = [{"kind": f"noop{i}", "plugin": f"bench.noop{i}", "config": {}} for i in range(stages)]
json.dump({"stages": kept}, open(work + "/without.json", "w"))
json.dump({"stages": kept[:-1] + noop + kept[-1:]}, open(work + "/with.json", "w"))
PY
state="$work/state"
run="$nsrun --root $state --plugin-dir $plugins run --rootfs $work/rootfs -w /"

tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
cd "$work"
python3 "$PWD/bench/startup.py" --rounds $rounds --baseline without \
  "without=$run --pipeline $work/without.json /bin/true" \
  "with-$stages=$run --pipeline $work/with.json /bin/true"
mkdir -p $work/traces
for i in \$(seq 30); do
  $run --pipeline $work/without.json --trace $work/traces/without-\$i.json /bin/true
  $run --pipeline $work/with.json --trace $work/traces/with-\$i.json /bin/true
done
echo
echo "where the difference goes (medians of 30 traced runs each, µs; the no-op stages' spans summed):"
python3 - $work/traces <<'PY'
import collections, glob, json, statistics, sys
medians = {}
for variant in ("without", "with"):
    runs = collections.defaultdict(list)
    for path in glob.glob(f"{sys.argv[1]}/{variant}-*.json"):
        spans = [e for e in json.load(open(path))["traceEvents"] if e.get("ph") == "X"]
        total = collections.defaultdict(float)
        for span in spans:
            name = span["name"]
            if name.startswith("bench.noop"):
                name = "no-op stages: " + name.split(": ", 1)[1]
            total[("host", "container")[span["pid"] != 1] + " | " + name] += span["dur"]
        total["run (first span to last)"] = (max(s["ts"] + s["dur"] for s in spans) -
                                             min(s["ts"] for s in spans))
        for name, value in total.items():
            runs[name].append(value)
    medians[variant] = {name: statistics.median(v) for name, v in runs.items()}
names = set(medians["without"]) | set(medians["with"])
rows = sorted(names, key=lambda n: medians["without"].get(n, 0) - medians["with"].get(n, 0))
print(f"{'+':>8} {'without':>8} {'with':>8}  span")
for name in rows:
    a, b = medians["without"].get(name, 0.0), medians["with"].get(name, 0.0)
    if abs(b - a) >= 20:
        print(f"{b - a:8.0f} {a:8.0f} {b:8.0f}  {name}")
PY
EOF
