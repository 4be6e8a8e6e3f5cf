#!/usr/bin/env python3
"""Concurrent start benchmark: the wall time for N containers started at once, nsrun against crun.

Each round starts every variant's N containers at once (the variants one after another, in a
shuffled order) and times from the first launch to the last exit. The report gives per variant
the median wall time over the rounds, the containers per second that makes, the failures, and
the median of the per-round ratios to the baseline. "{i}" in a command becomes the container's
number (crun needs a distinct id per container). Run it through bench/concurrent.sh.
"""
import argparse
import random
import statistics
import subprocess
import sys
import time


def start_all(command, count):
    """Starts `count` copies at once; returns (wall ms, failures, first error)."""
    start = time.perf_counter_ns()
    procs = [subprocess.Popen(command.replace("{i}", str(i)), shell=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for i in range(count)]
    failures, first_error = 0, ""
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            failures += 1
            first_error = first_error or err.decode(errors="replace").strip()
    return (time.perf_counter_ns() - start) / 1e6, failures, first_error


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("variants", nargs="+", help="NAME=COMMAND")
    args = parser.parse_args()
    variants = dict(v.split("=", 1) for v in args.variants)
    if args.baseline not in variants:
        sys.exit(f"no variant named {args.baseline}")
    for name, command in variants.items():  # warm-up: page cache, the kept network, plugins
        _, failures, error = start_all(command, 2)
        if failures:
            sys.exit(f"{name} fails: {error}")
    walls = {name: [] for name in variants}
    failed = {name: 0 for name in variants}
    errors = {}
    for _ in range(args.rounds):
        order = list(variants)
        random.shuffle(order)
        for name in order:
            wall, failures, error = start_all(variants[name], args.count)
            walls[name].append(wall)
            failed[name] += failures
            if error:
                errors.setdefault(name, error)
    base = walls[args.baseline]
    print(f"| {args.count} started at once ({args.rounds} rounds) | median wall ms | "
          f"containers/s | failed | x {args.baseline} (median of per-round ratios) |")
    print("|---|---|---|---|---|")
    for name in variants:
        median = statistics.median(walls[name])
        ratio = statistics.median(w / b for w, b in zip(walls[name], base))
        print(f"| {name} | {median:.1f} | {args.count / median * 1000:.0f} | "
              f"{failed[name]}/{args.count * args.rounds} | {ratio:.2f} |")
    for name, error in errors.items():
        print(f"{name}: first failure: {error}")


if __name__ == "__main__":
    main()
