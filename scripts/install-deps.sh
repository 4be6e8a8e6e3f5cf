#!/usr/bin/env bash
# Installs what nsrun needs to build, run and be tested, from Debian's packages only.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  libboost1.81-dev libboost-json1.81-dev libcli11-dev
  libnl-3-dev libnl-route-3-dev libiptc-dev libseccomp-dev libcap-dev
  libgtest-dev libgmock-dev
  busybox-static iproute2 iptables
  # tests/engines/podman_test.cpp drives nsrun through podman and conmon (`--network none`
  # only: no netavark, slirp4netns or other recommends are needed).
  podman conmon
  # tests/engines/containerd_test.cpp drives nsrun through containerd 1.6 and ctr (the package
  # brings ctr and containerd-shim-runc-v2; the tests start their own confined containerd).
  containerd
)
# For `bench/`: the runtimes nsrun is compared against, hyperfine, and perf (bench/counts.sh).
if [ "${NSRUN_BENCH_DEPS:-0}" = 1 ]; then packages+=(crun runc hyperfine linux-perf); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
