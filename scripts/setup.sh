#!/usr/bin/env bash
# The README's first command: install the dependencies, build and install nsrun, create the
# default busybox rootfs, and run a demo container.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "setup: run as root (sudo $0)" >&2; exit 1; }

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DNSRUN_BUILD_TESTS=OFF
cmake --build build
cmake --install build --prefix /usr/local
rootfs=/var/lib/nsrun/rootfs
[ -x "$rootfs/bin/busybox" ] || nsrun rootfs create "$rootfs"
# The demo keeps to a network namespace of its own with loopback only: the default bridge network
# adds a bridge and NAT rules to this machine, which a set-up should not do behind your back.
echo "demo: nsrun run --network none --hostname demo sh -c 'hostname; echo pid \$\$; ls /'"
nsrun run --network none --hostname demo sh -c 'hostname; echo pid $$; ls /'
