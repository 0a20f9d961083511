#!/usr/bin/env python
"""Run a command and report its wall time and the peak memory of its whole process tree.

``/usr/bin/time -v`` gives the largest single process's max RSS; a search with proxy workers is
several processes, so this samples every process of the tree (``/proc``) every ``--interval``
seconds and reports the peak of their summed RSS and of their summed PSS (shared pages split
between the processes that map them, so PSS sums to the tree's real footprint). Linux only.

Example (docs/benchmarks.md, "Resources"):
    python tools/peak_rss.py -- edgenas search --target jetson --out /tmp/x
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def _tree(root: int) -> set[int]:
    parent = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    parent[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, frontier = {root}, {root}
    while frontier:
        frontier = {c for c, par in parent.items() if par in frontier} - out
        out |= frontier
    return out


def _kib(pid: int, path: str, field: str) -> int:
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between samples")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = ap.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command given")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    peak = {"rss_mib": 0.0, "pss_mib": 0.0, "processes": 0, "largest_rss_mib": 0.0}
    while proc.poll() is None:
        pids = _tree(proc.pid)
        rss = {p: _kib(p, "status", "VmRSS") for p in pids}
        pss = sum(_kib(p, "smaps_rollup", "Pss") for p in pids)
        peak["rss_mib"] = max(peak["rss_mib"], sum(rss.values()) / 1024)
        peak["pss_mib"] = max(peak["pss_mib"], pss / 1024)
        peak["largest_rss_mib"] = max(peak["largest_rss_mib"], max(rss.values(), default=0) / 1024)
        peak["processes"] = max(peak["processes"], sum(1 for v in rss.values() if v))
        time.sleep(args.interval)
    wall = time.perf_counter() - t0
    print(json.dumps({"command": cmd, "exit_code": proc.returncode, "wall_s": round(wall, 1),
                      **{k: round(v, 1) if isinstance(v, float) else v for k, v in peak.items()}}), file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
