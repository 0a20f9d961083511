#!/usr/bin/env python
"""Wall time of a default ``edgenas search`` (live proxies, no score table), the command a user runs,
in a fresh process, with the machine's load average before and after.

Every option is the search's default (300 evaluations, the space's default proxy, one worker per
core) except the space, its dataset, the target and the budgets given here. ``--home`` sets
``EDGENAS_HOME`` (e.g. one where ``edgenas profile --target cpu --space macro`` wrote its table).
The search's own ``wall_s`` (from its start to its front) is kept beside the process's.

Examples (docs/benchmarks.md, "Fast enough to use"):
    python tools/time_default_search.py --space macro --max-macs-m 60 \\
        --out benchmarks/results/search_time_macro_default.json
    python tools/time_default_search.py --space fbnet --target cpu --max-latency-ms 20 --out fbnet_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from edgenas._json import write_json_atomic

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", default="macro")
    ap.add_argument("--dataset", default=None, help="default: the space's first")
    ap.add_argument("--target", default="macs", help="as edgenas search --target (default: macs)")
    ap.add_argument("--max-macs-m", type=float, default=None)
    ap.add_argument("--max-latency-ms", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--home", type=Path, default=None, help="EDGENAS_HOME for the search (default: the caller's)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.max_macs_m is None and args.max_latency_ms is None:
        ap.error("give a budget: --max-macs-m and/or --max-latency-ms")
    work = Path(tempfile.mkdtemp(prefix="edgenas-time-"))
    cmd = ["edgenas", "search", "--space", args.space, "--target", args.target, "--seed", str(args.seed)]
    if args.dataset:
        cmd += ["--dataset", args.dataset]
    if args.max_macs_m is not None:
        cmd += ["--max-macs-m", f"{args.max_macs_m:g}"]
    if args.max_latency_ms is not None:
        cmd += ["--max-latency-ms", f"{args.max_latency_ms:g}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if args.home is not None:
        env["EDGENAS_HOME"] = str(args.home)
    try:
        load0, t0 = os.getloadavg()[0], time.perf_counter()
        done = subprocess.run([sys.executable, "-m", *cmd, "--out", str(work / "run"), "--json"], env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        load1 = os.getloadavg()[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if done.returncode != 0:
        print(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-600:]}", file=sys.stderr)
        return 1
    r = json.loads(done.stdout)
    cfg = r["config"]
    doc = {"what": "default edgenas search (live proxies, no score table) in a fresh process",
           "command": " ".join(cmd), "space": args.space, "dataset": cfg.get("dataset"), "target": args.target,
           "max_macs_m": args.max_macs_m, "max_latency_ms": args.max_latency_ms, "proxy": cfg.get("proxy"),
           "evaluations": cfg.get("evaluations"), "workers": cfg.get("workers"), "batch_size": cfg.get("batch_size"),
           "n_scored": r["n_scored"], "n_candidates": r["n_candidates"], "wall_s": round(wall, 1),
           "search_wall_s": r["wall_s"], "load_avg_1min_before": load0, "load_avg_1min_after": load1,
           "cpus": os.cpu_count(), "pick": (r.get("pick") or {}).get("arch"),
           "made_by": "tools/time_default_search.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    write_json_atomic(args.out, doc)
    print(f"{args.space} --target {args.target}: {r['n_scored']} archs scored with {cfg.get('proxy')} in {wall:.1f} s "
          f"(search {r['wall_s']:.1f} s; load {load0:.1f} -> {load1:.1f}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
