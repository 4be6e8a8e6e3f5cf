#!/usr/bin/env bash
# After the tests: nothing may be left behind (netns, links, rules, cgroups, mounts, state).
set -u
found=0
report() { echo "leftover: $*"; found=1; }
links=$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E '^(nsrun|nsv|veth)' || true)
[ -n "$links" ] && report "links: $links"
nets=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E 'nsrun' || true)
[ -n "$nets" ] && report "network namespaces: $nets"
for t in iptables-legacy-save iptables-nft-save; do
  command -v "$t" >/dev/null || continue
  rules=$($t 2>/dev/null | grep -i nsrun || true)
  [ -n "$rules" ] && report "rules ($t): $rules"
done
cg=$(find /sys/fs/cgroup -maxdepth 6 -type d -name '*nsrun*' 2>/dev/null || true)
[ -n "$cg" ] && report "cgroups: $cg"
mnt=$(grep -E 'nsrun' /proc/self/mountinfo | awk '{print $5}' || true)
[ -n "$mnt" ] && report "mounts: $mnt"
# No test uses the default state root: anything there, nsrun's own stores (_ipam, _seccomp)
# included, was left by a test or a run that should have used a root of its own.
if [ -d /run/nsrun ] && [ -n "$(ls -A /run/nsrun 2>/dev/null || true)" ]; then
  report "state in /run/nsrun: $(ls /run/nsrun)"
fi
# nsrun bench's scratch directories (its runs' traces) go with it, even when a run fails.
scratch=$(ls -d /dev/shm/nsrun-bench-* /tmp/nsrun-bench-* 2>/dev/null || true)
[ -n "$scratch" ] && report "bench scratch directories: $scratch"
[ $found = 0 ] && echo "no leftovers"
exit $found
