#!/usr/bin/env python
"""Wall time of a default ``edgenas search`` (live proxies, no score table) of a space under a MACs
budget, priced by MACs (a space without a measured latency table), with the machine's load average.

Example (docs/benchmarks.md, "Cross-space picks"):
    python tools/time_default_search.py --space macro --max-macs-m 60 \
        --out benchmarks/results/search_time_macro_default.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def main(argv: list[str] | None = None) -> int:
    from bench_cross_space import MacsCost

    from edgenas._json import write_json_atomic
    from edgenas.search import run_search
    from edgenas.search.problem import AdditiveSizeTable
    from edgenas.spaces import get_space

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", default="macro")
    ap.add_argument("--max-macs-m", type=float, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    space = get_space(args.space)
    dataset = next(iter(space.datasets))
    size = AdditiveSizeTable(space, dataset)
    work = tempfile.mkdtemp(prefix="edgenas-time-")
    try:
        load0, t0 = os.getloadavg()[0], time.perf_counter()
        r = run_search(space=args.space, max_macs_m=args.max_macs_m, cost_models={"macs": MacsCost(size)}, size=size,
                       out=str(Path(work) / "run"), seed=args.seed)
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    doc = {"what": "default edgenas search, live proxies (no score table), priced by MACs",
           "space": args.space, "dataset": dataset, "max_macs_m": args.max_macs_m, "proxy": r.config.proxy,
           "evaluations": r.config.evaluations, "workers": r.config.workers, "batch_size": r.config.batch_size,
           "n_scored": r.n_scored, "wall_s": round(wall, 1), "load_avg_1min_before": load0,
           "load_avg_1min_after": os.getloadavg()[0], "cpus": os.cpu_count(), "pick": r.pick.arch if r.pick else None,
           "made_by": "tools/time_default_search.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    write_json_atomic(args.out, doc)
    print(f"{args.space}: {r.n_scored} archs scored with {r.config.proxy} in {wall:.1f} s "
          f"(load {load0:.1f}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
