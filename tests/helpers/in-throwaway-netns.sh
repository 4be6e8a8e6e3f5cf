#!/usr/bin/env bash
# Runs a command inside a network namespace of its own, which plays "the host", then deletes it.
# The end-to-end test binaries run through this (CMake's CROSSCOMPILING_EMULATOR), so a container
# started with nsrun's default pipeline, whose bridge plugin adds a bridge, NAT rules and turns on
# forwarding in the host's namespace, never touches the machine's own network namespace.
set -u
name="nsrun-test-$$-$RANDOM"
ip netns add "$name" || { echo "in-throwaway-netns: cannot create a network namespace (root?)" >&2; exit 1; }
cleanup() { ip netns delete "$name" 2>/dev/null; }
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
ip netns exec "$name" ip link set lo up
# nsenter, not `ip netns exec`: the latter remounts /sys in a private mount namespace, which
# hides the cgroup hierarchies mounted beneath it.
nsenter --net="/run/netns/$name" "$@"
