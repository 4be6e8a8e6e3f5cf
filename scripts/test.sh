#!/usr/bin/env bash
# The README's second command (and CI's): install the dependencies, build, and run every test:
# the unit tests, the unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer,
# then the end-to-end tests (root: real containers on a busybox rootfs). It also builds what
# scripts/setup.sh builds (Release, -O3), with warnings as errors, so that a break only that
# build shows is caught here.
#
# Each build tree gets every option it relies on on the command line, so a tree configured
# otherwise before (by hand, or an older script) is brought back to what the tests need. Every
# ctest run fails when it finds no test, and the counts are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test: run as root (as root directly, or with sudo $0): the end-to-end tests create namespaces" >&2; exit 1; }
jobs=$(nproc)

scripts/install-deps.sh
scripts/check-format.sh

common=(-G Ninja -DNSRUN_WERROR=ON)
cmake -S . -B build "${common[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNSRUN_BUILD_TESTS=ON -DNSRUN_SANITIZE=OFF
cmake --build build -j "$jobs"
cmake -S . -B build-asan "${common[@]}" -DCMAKE_BUILD_TYPE=Debug \
  -DNSRUN_BUILD_TESTS=ON -DNSRUN_SANITIZE=ON
cmake --build build-asan -j "$jobs"
cmake -S . -B build-release-check "${common[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DNSRUN_BUILD_TESTS=OFF -DNSRUN_SANITIZE=OFF
cmake --build build-release-check -j "$jobs"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
# run_group NAME CTEST-ARGS...: one ctest run; a run that finds no test fails.
run_group() {
  local name=$1
  shift
  echo "== $name"
  ctest --no-tests=error --output-on-failure "$@" 2>&1 | tee "$logs/$name" || status=1
}
run_group unit --test-dir build -L unit -j "$jobs"
run_group unit-asan --test-dir build-asan -L unit -j "$jobs"
run_group e2e --test-dir build -L e2e
# tests/security: a container attacks its host with nsrun-probe; every attack must fail.
run_group security --test-dir build -L security
# podman and containerd driving nsrun through its OCI commands, each confined in a temp dir and a
# throwaway network namespace.
run_group engine --test-dir build -L engine
echo "== leftovers"
scripts/check-leftovers.sh || status=1

# ctest's summary line: "100% tests passed, 0 tests failed out of 212".
passed_total=0
skipped_total=0
failed_total=0
echo "== summary"
for name in unit unit-asan e2e security engine; do
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$logs/$name" | tail -1 || true)
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
  failed=$(sed -E 's/.*tests passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  if [ -z "$line" ]; then
    echo "$name: no test ran"
    status=1
    continue
  fi
  # ctest counts a skipped test (GTEST_SKIP: a feature nsrun lacks) among the passed ones; say so.
  skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)$' "$logs/$name" || true)
  echo "$name: $((total - failed - skipped)) passed, $skipped skipped, $failed failed"
  passed_total=$((passed_total + total - failed - skipped))
  skipped_total=$((skipped_total + skipped))
  failed_total=$((failed_total + failed))
done
echo "all: $passed_total passed, $skipped_total skipped, $failed_total failed"
exit $status
