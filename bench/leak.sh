#!/usr/bin/env bash
# Leak check (issue 11): after N default-pipeline runs (bridge + NAT + cgroups), the host has the
# same links, rules, leases, cgroups and mounts as after the first (the kept network aside, which
# the first run makes), and nsrun's peak RSS per run stays the same.
# Usage: sudo bench/leak.sh [RUNS]     (default 1000; needs a build in ./build)
# Runs inside a throwaway network namespace (bench/leak-inside.sh); prints a table for
# docs/benchmarks.md and exits 1 when anything grew.
default_rounds=1000
# shellcheck source=bench/prelude.sh
source "$(dirname "$0")/prelude.sh"
export nsrun rounds work
tests/helpers/in-throwaway-netns.sh bash bench/leak-inside.sh
