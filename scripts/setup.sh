#!/usr/bin/env bash
# The README's first command: install the dependencies, build and install nsrun, create the
# default busybox rootfs, and run a demo container.
#
# It builds in build-release/, a tree of its own with every option it relies on given here, so
# that it and scripts/test.sh (build/, build-asan/, build-release-check/) never inherit each
# other's cached options, in whichever order and however often they run. Warnings are not
# errors in this build: a compiler newer or older than ours must not stop an installation.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup: run as root (as root directly, or with sudo $0)" >&2; exit 1; }

scripts/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DNSRUN_BUILD_TESTS=OFF -DNSRUN_WERROR=OFF -DNSRUN_SANITIZE=OFF
cmake --build build-release
cmake --install build-release --prefix /usr/local
rootfs=/var/lib/nsrun/rootfs
[ -x "$rootfs/bin/busybox" ] || nsrun rootfs create "$rootfs"
# The demo keeps to a network namespace of its own with loopback only: the default bridge network
# adds a bridge and NAT rules to this machine, which a set-up should not do behind your back.
# Its state (and the seccomp cache a run keeps there) goes to a state root of its own, removed
# after: the set-up leaves nothing in /run/nsrun.
demo_root=$(mktemp -d /tmp/nsrun-demo-XXXXXX)
trap 'rm -rf "$demo_root"' EXIT
echo "demo: nsrun run --network none --hostname demo sh -c 'hostname; echo pid \$\$; ls /'"
nsrun --root "$demo_root" run --network none --hostname demo sh -c 'hostname; echo pid $$; ls /'
