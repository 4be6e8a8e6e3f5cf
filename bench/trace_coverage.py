#!/usr/bin/env python3
"""How much of each traced run's wall time its spans account for (issue 12's goal: >= 95%).

The wall time is from the trace's first span (the launcher's start) to its last; the umbrella
span "core: the container's lifecycle" is left out, so that what counts is the steps inside it.
Prints the median coverage, the worst, and the largest gaps of the median and worst runs."""
import json
import statistics
import sys

UMBRELLA = "core: the container's lifecycle"


def coverage(path):
    events = [e for e in json.load(open(path))["traceEvents"] if e["ph"] == "X"]
    start = min(e["ts"] for e in events)
    end = max(e["ts"] + e["dur"] for e in events)
    spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e["name"] != UMBRELLA)
    covered, gaps, current = 0.0, [], None
    for a, b in spans:
        if current is None:
            current = [a, b]
        elif a <= current[1]:
            current[1] = max(current[1], b)
        else:
            covered += current[1] - current[0]
            gaps.append((a - current[1], current[1] - start))
            current = [a, b]
    covered += current[1] - current[0]
    return covered / (end - start), (end - start) / 1000, sorted(gaps, reverse=True)[:3]


results = sorted((coverage(p) for p in sys.argv[1:]), key=lambda r: r[0])
if not results:
    sys.exit("usage: trace_coverage.py TRACE.json...")
median = results[len(results) // 2]
print(f"{len(results)} traces: median coverage {statistics.median(r[0] for r in results):.1%}, "
      f"worst {results[0][0]:.1%}; median wall {statistics.median(r[1] for r in results):.2f} ms")
for label, run in (("median", median), ("worst", results[0])):
    print(f"largest gaps of the {label} run: " +
          ", ".join(f"{gap / 1000:.3f} ms at {at / 1000:.2f} ms" for gap, at in run[2]))
