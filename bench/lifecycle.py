#!/usr/bin/env python3
"""Paired OCI lifecycle benchmark: create + start + wait + delete of /bin/true, as an engine's
shim drives a runtime, for nsrun and crun (and runc) on the same bundle.

The driver is a child subreaper, as containerd's shim and conmon are: the container process,
orphaned when `create` exits, is reparented to it, and it waits for the process's exit itself.
Each round runs every runtime once in a shuffled order; the report gives the median and p95 wall
time of the whole cycle and the median of the per-round ratios to the baseline. Run it through
bench/lifecycle.sh, which prepares the bundle and the namespaces.
"""
import argparse
import ctypes
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36


def call(argv):
    # stderr goes to a file, not a pipe: the container process `create` leaves behind inherits
    # it, and a pipe would not reach end-of-file until the container exits.
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=err)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n"
                     f"{err.read().decode(errors='replace')}")


def cycle(runtime, bundle, cid, pid_file):
    start = time.perf_counter_ns()
    call(runtime + ["create", "--bundle", bundle, "--pid-file", pid_file, cid])
    pid = int(open(pid_file).read().strip())
    call(runtime + ["start", cid])
    os.waitpid(pid, 0)  # adopted: this process is the subreaper
    call(runtime + ["delete", cid])
    return (time.perf_counter_ns() - start) / 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--baseline", default="crun")
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("runtimes", nargs="+", help="NAME=RUNTIME COMMAND (split on spaces)")
    args = parser.parse_args()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("cannot become a child subreaper")
    runtimes = {}
    for spec in args.runtimes:
        name, _, line = spec.partition("=")
        runtimes[name] = line.split()
    times = {name: [] for name in runtimes}
    for round_index in range(args.warmup + args.rounds):
        order = list(runtimes)
        random.shuffle(order)
        for name in order:
            ms = cycle(runtimes[name], args.bundle, f"bench-{name}-{round_index}",
                       os.path.join(args.work, f"{name}.pid"))
            if round_index >= args.warmup:
                times[name].append(ms)
    base = times.get(args.baseline)
    print(f"{'runtime':<16}{'median ms':>10}{'p95 ms':>9}{'x ' + args.baseline:>12}")
    for name in runtimes:
        t = sorted(times[name])
        ratio = ""
        if base is not None:
            ratio = f"{statistics.median(a / b for a, b in zip(times[name], base)):.2f}"
        print(f"{name:<16}{statistics.median(t):>10.2f}{t[int(0.95 * (len(t) - 1))]:>9.2f}"
              f"{ratio:>12}")


if __name__ == "__main__":
    main()
