#!/usr/bin/env bash
# The README's second command (and CI's): install the dependencies, build, and run every test:
# the unit tests, the unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer,
# then the end-to-end tests (root: real containers on a busybox rootfs).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test: run as root (sudo $0): the end-to-end tests create namespaces" >&2; exit 1; }
jobs=$(nproc)

scripts/install-deps.sh
scripts/check-format.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$jobs"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DNSRUN_SANITIZE=ON
cmake --build build-asan -j "$jobs"

status=0
echo "== unit tests"
ctest --test-dir build -L unit --output-on-failure -j "$jobs" || status=1
echo "== unit tests under ASan/UBSan"
ctest --test-dir build-asan -L unit --output-on-failure -j "$jobs" || status=1
echo "== end-to-end tests"
ctest --test-dir build -L e2e --output-on-failure || status=1
echo "== leftovers"
scripts/check-leftovers.sh || status=1
exit $status
