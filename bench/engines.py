#!/usr/bin/env python3
"""Paired engine benchmark (issue 9): `podman run --rm` with nsrun against crun, and `ctr run --rm`
with nsrun against runc, each command timed as a whole (wall time, as a user waits for it).

Run it through bench/engines.sh, which installs the engines, makes the busybox rootfs and puts
this process into a throwaway network namespace and a private mount namespace without
/sys/fs/cgroup/unified (crun 1.8.1 refuses this machine's hybrid cgroup layout otherwise).

Everything the engines keep lives under --work: podman's storage, run dir, tmp dir, events log
and configuration (CONTAINERS_CONF and friends), the runtimes' state roots, containerd's root,
state, sockets and configuration. Containers get `--network none` (podman) or no network option
(ctr: the default spec's network namespace of their own) and cgroups beneath --cgroup-parent. This process is a child
subreaper, as the engine tests are: conmon and the containerd shims are re-parented here and
reaped between runs. On the way out it removes every container, stops containerd by its pid,
kills any shim of it by pid and reports what was left (state, mounts) before removing it.

The variants are nsrun, optionally nsrun-nonet (--nsrun-nonet: an nsrun whose default pipeline
has nsrun.network.none, to show what the bridge stage costs) and the engine's usual runtime (crun
under podman, runc under containerd). Each round runs every variant once, in a shuffled order;
after a few warm-up rounds the report gives per variant the median, p95, min and max, the ratio
of the medians and the median (and interquartile range) of the per-round ratios to the baseline.
"""
import argparse
import ctypes
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
IMAGE = "localhost/nsrun-busybox:bench"

libc = ctypes.CDLL(None, use_errno=True)
daemon_pid = None  # containerd, started by us


def reap_adopted():
    """Reaps the orphans re-parented to us (conmon, shims), never the containerd daemon."""
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == daemon_pid:
            return
        os.waitpid(info.si_pid, 0)


def run(argv, env=None, check=True, timeout=120):
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=timeout)
    reap_adopted()
    if check and proc.returncode != 0:
        raise RuntimeError(f"failed ({proc.returncode}): {' '.join(argv)}\n"
                           f"{proc.stdout.decode(errors='replace')}"
                           f"{proc.stderr.decode(errors='replace')}")
    return proc


def timed(argv, env=None):
    start = time.perf_counter_ns()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, timeout=120)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    reap_adopted()
    if proc.returncode != 0:
        raise RuntimeError(f"failed ({proc.returncode}): {' '.join(argv)}\n"
                           f"{proc.stderr.decode(errors='replace')}")
    return elapsed


def write_executable(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def toml_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Podman:
    """One confined podman; the runtimes are wrappers that give each its own state root (podman
    4.3 leaves --runtime-flag out of conmon's exit command, see tests/engines/podman_test.cpp)."""

    def __init__(self, work, runtimes, rootfs, cgroup_parent):
        d = os.path.join(work, "podman")
        self.dir = d
        self.root, self.runroot, self.tmpdir = d + "/root", d + "/runroot", d + "/tmp"
        for sub in (self.root, self.runroot, self.tmpdir, d + "/conf", d + "/net"):
            os.makedirs(sub, exist_ok=True)
        # One wrapper per variant, in a directory of its own: podman names a runtime given by
        # path after the file, and runtime_supports_json lists names (nsrun, crun).
        self.runtimes, self.state_roots = {}, []
        for name, binary in runtimes.items():
            state = f"{d}/state-{name}"
            wrapper = f"{d}/bin-{name}/" + os.path.basename(binary)
            os.makedirs(state)
            os.makedirs(os.path.dirname(wrapper))
            write_executable(wrapper, f"#!/bin/sh\nexec '{binary}' --root '{state}' \"$@\"\n")
            self.runtimes[name] = wrapper
            self.state_roots.append(state)
        limits = []
        for name, which, wanted in (("nofile", resource.RLIMIT_NOFILE, 20000),
                                    ("nproc", resource.RLIMIT_NPROC, 32768)):
            hard = resource.getrlimit(which)[1]
            value = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
            limits.append(f'"{name}={value}:{value}"')
        with open(d + "/conf/containers.conf", "w") as f:
            f.write("[containers]\n"
                    f"default_ulimits = [{', '.join(limits)}]\n"
                    'cgroups = "no-conmon"\n'  # conmon stays in our cgroup: only runtimes make any
                    "[engine]\n"
                    'cgroup_manager = "cgroupfs"\n'
                    'events_logger = "file"\n'
                    f"events_logfile_path = {toml_string(d + '/events.log')}\n"
                    'runtime = "nsrun"\n'
                    'runtime_supports_json = ["nsrun", "crun", "runc"]\n'
                    f"tmp_dir = {toml_string(self.tmpdir)}\n"
                    f"volume_path = {toml_string(d + '/volumes')}\n"
                    f"static_dir = {toml_string(self.root + '/libpod')}\n"
                    'lock_type = "file"\n'
                    "[network]\n"
                    f"network_config_dir = {toml_string(d + '/net')}\n"
                    "[engine.runtimes]\n"
                    f"nsrun = [{toml_string(self.runtimes['nsrun'])}]\n")
        with open(d + "/conf/storage.conf", "w") as f:
            f.write(f'[storage]\ndriver = "vfs"\ngraphroot = {toml_string(self.root)}\n'
                    f"runroot = {toml_string(self.runroot)}\n")
        open(d + "/conf/registries.conf", "w").close()
        self.env = dict(os.environ, TMPDIR=self.tmpdir,
                        CONTAINERS_CONF=d + "/conf/containers.conf",
                        CONTAINERS_STORAGE_CONF=d + "/conf/storage.conf",
                        CONTAINERS_REGISTRIES_CONF=d + "/conf/registries.conf")
        self.cgroup_parent = cgroup_parent + "/podman"
        tarball = d + "/busybox.tar"
        run(["tar", "-C", rootfs, "-cf", tarball, "."])
        run(self.argv("nsrun", ["import", "--change", 'CMD ["/bin/sh"]', tarball, IMAGE]),
            env=self.env)
        os.remove(tarball)

    def argv(self, runtime, args):
        return ["podman", "--root", self.root, "--runroot", self.runroot, "--tmpdir",
                self.tmpdir, "--runtime", self.runtimes[runtime], "--cgroup-manager", "cgroupfs",
                "--events-backend", "file"] + args

    def run_true(self, runtime, _round):
        # seccomp=unconfined for both: nsrun has no seccomp stage yet (as in the engine tests).
        return timed(self.argv(runtime, ["run", "--rm", "--network", "none", "--security-opt",
                                         "seccomp=unconfined", "--cgroup-parent",
                                         self.cgroup_parent, "--pull", "never", IMAGE,
                                         "/bin/true"]), env=self.env)

    def close(self):
        run(self.argv("nsrun", ["rm", "--all", "--force", "--time", "0"]), env=self.env,
            check=False)
        run(self.argv("nsrun", ["rmi", "--all", "--force"]), env=self.env, check=False)


class Containerd:
    """A confined containerd (config, root, state, sockets, FIFOs under one dir), started as our
    child with PDEATHSIG, stopped by its pid."""

    def __init__(self, work, runtimes, rootfs, cgroup_parent):
        global daemon_pid
        d = os.path.join(work, "containerd")
        self.dir = d
        self.binaries = runtimes
        for sub in ["root", "state", "tmp", "opt", "fifo"] + [f"runc-root-{r}" for r in runtimes]:
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        self.socket = d + "/containerd.sock"
        self.rootfs = rootfs
        self.cgroup_parent = cgroup_parent + "/containerd"
        disabled = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing",
                    "io.containerd.tracing.processor.v1.otlp"]
        with open(d + "/config.toml", "w") as f:
            f.write("version = 2\n"
                    f"root = {toml_string(d + '/root')}\n"
                    f"state = {toml_string(d + '/state')}\n"
                    f"temp = {toml_string(d + '/tmp')}\n"
                    f"disabled_plugins = [{', '.join(toml_string(p) for p in disabled)}]\n"
                    f"[grpc]\n  address = {toml_string(self.socket)}\n"
                    f"[ttrpc]\n  address = {toml_string(d + '/containerd.sock.ttrpc')}\n"
                    f"[debug]\n  address = {toml_string(d + '/debug.sock')}\n"
                    "[metrics]\n  address = \"\"\n"
                    '[plugins."io.containerd.internal.v1.opt"]\n'
                    f"  path = {toml_string(d + '/opt')}\n")
        self.log = open(d + "/containerd.log", "wb")
        self.proc = subprocess.Popen(
            ["containerd", "--config", d + "/config.toml"], stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log,
            preexec_fn=lambda: libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0))
        daemon_pid = self.proc.pid
        deadline = time.monotonic() + 30
        while run(["ctr", "-a", self.socket, "version"], check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("containerd did not start; see " + d + "/containerd.log")
            time.sleep(0.1)

    def run_true(self, runtime, round_index):
        cid = f"bench-{runtime}-{round_index}"
        return timed(["ctr", "--address", self.socket, "run", "--rm", "--runc-binary",
                      self.binaries[runtime], "--runc-root", f"{self.dir}/runc-root-{runtime}",
                      "--fifo-dir", self.dir + "/fifo", "--cgroup",
                      f"{self.cgroup_parent}/{cid}", "--rootfs", self.rootfs, cid, "/bin/true"])

    def shims(self):
        pids = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                cmdline = open(f"/proc/{name}/cmdline", "rb").read().replace(b"\0", b" ")
            except OSError:
                continue
            if b"containerd-shim" in cmdline and self.socket.encode() in cmdline:
                pids.append(int(name))
        return pids

    @property
    def state_roots(self):
        return [f"{self.dir}/runc-root-{r}/default" for r in self.binaries]

    def close(self):
        global daemon_pid
        listed = run(["ctr", "-a", self.socket, "containers", "list", "--quiet"], check=False)
        for cid in listed.stdout.decode().split():
            print(f"leftover: container {cid} in containerd (removed)", file=sys.stderr)
            run(["ctr", "-a", self.socket, "tasks", "kill", "--signal", "KILL", "--all", cid],
                check=False)
            run(["ctr", "-a", self.socket, "tasks", "delete", "--force", cid], check=False)
            run(["ctr", "-a", self.socket, "containers", "delete", cid], check=False)
        deadline = time.monotonic() + 10
        while self.shims() and time.monotonic() < deadline:
            time.sleep(0.1)
            reap_adopted()
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        daemon_pid = None
        self.log.close()
        for pid in self.shims():
            print(f"leftover: shim pid {pid} (killed)", file=sys.stderr)
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
        reap_adopted()


def percentile(sorted_values, fraction):
    return sorted_values[int(round(fraction * (len(sorted_values) - 1)))]


def report(title, variants, baseline, times):
    print(f"\n{title}")
    print(f"{'variant':<13}{'median ms':>11}{'p95 ms':>10}{'min ms':>10}{'max ms':>10}"
          f"{'p95/median':>12}")
    wide = []
    for name in variants:
        t = sorted(times[name])
        median = statistics.median(t)
        p95 = percentile(t, 0.95)
        print(f"{name:<13}{median:>11.1f}{p95:>10.1f}{t[0]:>10.1f}{t[-1]:>10.1f}"
              f"{p95 / median:>12.2f}")
        if p95 > 1.5 * median:
            wide.append(f"{name}'s p95 is {p95 / median:.2f}x its median")
    for name in variants:
        if name == baseline:
            continue
        ratios = sorted(a / b for a, b in zip(times[name], times[baseline]))
        q1, q3 = percentile(ratios, 0.25), percentile(ratios, 0.75)
        of_medians = statistics.median(times[name]) / statistics.median(times[baseline])
        print(f"{name} / {baseline}: ratio of medians {of_medians:.3f}; per-round ratios: median "
              f"{statistics.median(ratios):.3f}, interquartile {q1:.3f}..{q3:.3f}, "
              f"min {ratios[0]:.3f}, max {ratios[-1]:.3f} ({len(ratios)} rounds)")
        if q1 < 1 < q3:
            wide.append(f"the per-round ratios' interquartile range {q1:.3f}..{q3:.3f} contains "
                        f"1: {name} vs {baseline} is not told apart at this noise")
    if wide:
        print("spread too wide to trust: " + "; ".join(wide))
    else:
        print("spread: acceptable (every p95 within 1.5x its median, ratio IQR on one side of 1)")


def bench(name, engine, variants, rounds, warmup):
    times = {v: [] for v in variants}
    for round_index in range(warmup + rounds):
        order = list(variants)
        random.shuffle(order)
        for variant in order:
            ms = engine.run_true(variant, round_index)
            if round_index >= warmup:
                times[variant].append(ms)
        print(f"{name}: round {round_index + 1}/{warmup + rounds}", file=sys.stderr, flush=True)
    return times


def mounts_under(path):
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mount_point = line.split()[4]
            if mount_point == path or mount_point.startswith(path + "/"):
                found.append(mount_point)
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--work", required=True)
    parser.add_argument("--nsrun", required=True)
    parser.add_argument("--nsrun-nonet", help="nsrun whose default network stage is none "
                        "(a diagnostic third variant)")
    parser.add_argument("--rootfs", required=True)
    parser.add_argument("--cgroup-parent", required=True)
    parser.add_argument("--engines", default="podman,containerd")
    parser.add_argument("--raw", help="also write every round's times (ms) here, as JSON")
    args = parser.parse_args()
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("cannot become a child subreaper")
    crun, runc = shutil.which("crun"), shutil.which("runc")
    engines = args.engines.split(",")
    results = []
    leftovers = []
    podman = containerd = None
    try:
        nsruns = {"nsrun": args.nsrun}
        if args.nsrun_nonet:
            nsruns["nsrun-nonet"] = args.nsrun_nonet
        if "podman" in engines:
            runtimes = dict(nsruns, crun=crun)
            podman = Podman(args.work, runtimes, args.rootfs, args.cgroup_parent)
            results.append(("podman 4.3: podman run --rm --network none IMAGE /bin/true",
                            list(runtimes), "crun",
                            bench("podman", podman, list(runtimes), args.rounds, args.warmup)))
        if "containerd" in engines:
            runtimes = dict(nsruns, runc=runc)
            containerd = Containerd(args.work, runtimes, args.rootfs, args.cgroup_parent)
            results.append(("containerd 1.6: ctr run --rm --rootfs DIR ID /bin/true",
                            list(runtimes), "runc",
                            bench("containerd", containerd, list(runtimes), args.rounds,
                                  args.warmup)))
    finally:
        for engine in (podman, containerd):
            if engine is None:
                continue
            try:
                engine.close()
            except Exception as e:  # keep cleaning the other engine
                print(f"cleanup: {e}", file=sys.stderr)
            for root in engine.state_roots:
                if os.path.isdir(root):
                    left = [e for e in os.listdir(root) if e != "_ipam"]
                    leftovers += [f"runtime state {root}/{e}" for e in left]
        # Mounts made in this mount namespace (podman's /dev/shm and the like, rootfs mounts):
        # they would vanish with the namespace, but a leftover is a defect worth reporting.
        for mount_point in reversed(mounts_under(args.work)):
            leftovers.append(f"mount {mount_point}")
            subprocess.run(["umount", "-l", mount_point])
        for item in leftovers:
            print(f"leftover: {item}", file=sys.stderr)
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump({title: times for title, _, _, times in results}, f, indent=1)
    print(f"\n{args.rounds} rounds after {args.warmup} warm-up rounds, order shuffled per round; "
          f"wall time of the whole command")
    for title, variants, baseline, times in results:
        report(title, variants, baseline, times)
    sys.exit(1 if leftovers else 0)


if __name__ == "__main__":
    main()
