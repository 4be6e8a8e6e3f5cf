#!/usr/bin/env python3
"""Paired start-up benchmark: nsrun against crun, runc and bare unshare+chroot.

Every round runs each command once, in a shuffled order, so that a noisy moment of the machine
hits all of them alike; the report gives the median wall time of each, its median peak RSS, and
the medians of the per-round ratios to the baseline and differences from it. Run it through bench/startup.sh, which prepares the
rootfs and bundles and the mount namespace crun needs on hybrid-cgroup hosts.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time


def run_once(argv):
    start = time.perf_counter_ns()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed_ms = (time.perf_counter_ns() - start) / 1e6
    if proc.returncode != 0:
        sys.exit(f"benchmark command failed ({proc.returncode}): {' '.join(argv)}\n"
                 f"{proc.stderr.decode(errors='replace')}")
    return elapsed_ms


def peak_rss_mib(argv):
    """Peak RSS through /usr/bin/time, in runs of their own: a high-water mark read by the
    timing loop's own wait4 would include the Python process the child was forked from."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return int(proc.stderr.decode().strip().splitlines()[-1]) / 1024.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--baseline", default="crun")
    parser.add_argument("--json", help="write raw results here")
    parser.add_argument("commands", nargs="+", help="NAME=COMMAND LINE (split on spaces)")
    args = parser.parse_args()
    commands = {}
    for spec in args.commands:
        name, _, line = spec.partition("=")
        commands[name] = line.split()
    times = {name: [] for name in commands}
    rss = {name: [] for name in commands}
    for round_index in range(args.warmup + args.rounds):
        order = list(commands)
        random.shuffle(order)
        for name in order:
            ms = run_once(commands[name])
            if round_index >= args.warmup:
                times[name].append(ms)
    for name in commands:
        rss[name] = [peak_rss_mib(commands[name]) for _ in range(9)]
    base = times.get(args.baseline)
    print(f"{'command':<28}{'median ms':>10}{'p95 ms':>9}{'peak RSS MiB':>14}{'x ' + args.baseline:>16}"
          f"{'+ms (paired)':>14}")
    for name in commands:
        t = sorted(times[name])
        p95 = t[int(0.95 * (len(t) - 1))]
        ratio = difference = ""
        if base is not None:
            ratio = f"{statistics.median(a / b for a, b in zip(times[name], base)):.2f}"
            # The median of the per-round differences: what the command adds to the baseline in
            # the same round, which the machine's slow and fast moments affect alike.
            difference = f"{statistics.median(a - b for a, b in zip(times[name], base)):+.2f}"
        print(f"{name:<28}{statistics.median(t):>10.2f}{p95:>9.2f}"
              f"{statistics.median(rss[name]):>14.1f}{ratio:>16}{difference:>14}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"times_ms": times, "peak_rss_mib": rss}, out)


if __name__ == "__main__":
    main()
