# Sourced by the start-up benchmarks (startup.sh, lifecycle.sh, security.sh) after setting
# default_rounds: the repository as working directory, crun/runc/hyperfine installed, a scratch
# $work removed on exit, the build's nsrun installed in it ($nsrun), $rounds from the first
# argument, and a busybox rootfs in $work/rootfs; make_bundle DIR NAMESPACES... writes an OCI
# bundle running /bin/true in it, for crun and runc.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds=${1:-$default_rounds}
NSRUN_BENCH_DEPS=1 scripts/install-deps.sh >/dev/null
work=$(mktemp -d /tmp/nsrun-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
# nsrun as installed (`cmake --install`, as scripts/setup.sh does), the way crun and runc are
# measured: the program and plugins the linker has just written map slower than the same files
# once copied (the kernel's fault-around walks them in smaller pieces of page cache), and a run
# straight from ./build cost about 1.5 ms more CPU time (docs/benchmarks.md).
[ -x build/bin/nsrun ] || { echo "bench: no build/bin/nsrun (build first: cmake --build build)" >&2; exit 1; }
cmake --install build --prefix "$work/install" >/dev/null
nsrun=$work/install/bin/nsrun
"$nsrun" rootfs create "$work/rootfs" >/dev/null
make_bundle() {  # DIR NAMESPACES...
  local dir=$1; shift
  mkdir -p "$dir"
  python3 - "$dir" "$work/rootfs" "$@" <<'PY'
import json, sys
d, rootfs, *ns = sys.argv[1:]
config = {
  "ociVersion": "1.0.2",
  "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": ["/bin/true"],
              "env": ["PATH=/bin"], "cwd": "/"},
  "root": {"path": rootfs, "readonly": False},
  "hostname": "bench",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}],
  "linux": {"namespaces": [{"type": t} for t in ns]}}
json.dump(config, open(d + "/config.json", "w"), indent=1)
PY
}
