#!/usr/bin/env bash
# nsrun's own cost (issue 11): nsrun and crun running the same container, so that the
# difference is the runtimes' and not the isolation's.
# Usage: sudo bench/same-spec.sh [ROUNDS] [AT_ONCE_ROUNDS]
#        (needs a build in ./build; installs crun)
#
# The container is `nsrun run --network none --security-opt seccomp=unconfined /bin/true` on a
# pipeline without the cgroups stage (crun runs with --cgroup-manager=disabled): the namespaces
# with a loopback-only network, the storage stage's mounts (proc, /dev and its nodes, devpts,
# shm, sysfs, /tmp, the container's cgroups under /sys/fs/cgroup, the current directory at /app,
# /etc/hostname, hosts and resolv.conf), podman's capabilities, no_new_privs, masked and
# read-only paths. crun's bundle is the spec that very nsrun run saved in its state directory,
# plus the mounts the storage stage adds to a spec built from flags (bench/same_spec_bundle.py).
# The seccomp filter is left out of both: nsrun loads a cached program, crun compiles the
# profile on every run (bench/security.sh measures that).
# Paired, shuffled rounds (bench/startup.py), in a throwaway network namespace and a private
# mount namespace in which /sys/fs/cgroup/unified is unmounted, as bench/startup.sh does.
# AT_ONCE_ROUNDS (default 0: not measured) rounds then start 50 of each at once, as
# bench/concurrent.sh does (bench/concurrent.py): issue 11's throughput goal, for the same container.
default_rounds=200
at_once_rounds=${2:-0}
[[ "$at_once_rounds" =~ ^[0-9]+$ ]] || {
  echo "same-spec: AT_ONCE_ROUNDS must be a whole number (0 to skip it), not \"$at_once_rounds\"" >&2
  exit 2
}
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"
state="$work/state"
python3 - "$PWD/core/pipeline.json" "$work/no-cgroups-pipeline.json" <<'PY'
import json, sys
pipeline = json.load(open(sys.argv[1]))
pipeline["stages"] = [s for s in pipeline["stages"] if s["kind"] != "cgroups"]
json.dump(pipeline, open(sys.argv[2], "w"))
PY
run="$nsrun --root $state run --pipeline $work/no-cgroups-pipeline.json --rootfs $work/rootfs"
run="$run --network none --security-opt seccomp=unconfined -w /"

tests/helpers/in-throwaway-netns.sh unshare -m --propagation private bash -s <<EOF
set -e
umount /sys/fs/cgroup/unified 2>/dev/null || true
cd "$work"
$run -d --name spec-source /bin/sleep 100 >/dev/null
python3 "$PWD/bench/same_spec_bundle.py" "$state/spec-source" "$work/bundle" "$work"
$nsrun --root $state delete --force spec-source
python3 "$PWD/bench/startup.py" --rounds $rounds --baseline crun \
  "nsrun=$run /bin/true" \
  "crun=crun --root $state/crun --cgroup-manager=disabled run --bundle $work/bundle bench-same"
if [ "$at_once_rounds" -gt 0 ]; then
  python3 "$PWD/bench/concurrent.py" --rounds $at_once_rounds --count 50 --baseline crun \
    "nsrun=$run /bin/true" \
    "crun=crun --root $state/crun --cgroup-manager=disabled run --bundle $work/bundle bench-same-{i}"
fi
EOF
