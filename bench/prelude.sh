# Sourced by the start-up benchmarks (startup.sh, lifecycle.sh, security.sh) after setting
# default_rounds: the repository as working directory, crun/runc/hyperfine installed, the build's
# nsrun in $nsrun, $rounds from the first argument, a scratch $work removed on exit, and a busybox
# rootfs in $work/rootfs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-$default_rounds}
NSRUN_BENCH_DEPS=1 scripts/install-deps.sh >/dev/null
nsrun=$PWD/build/bin/nsrun
work=$(mktemp -d /tmp/nsrun-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
"$nsrun" rootfs create "$work/rootfs" >/dev/null
