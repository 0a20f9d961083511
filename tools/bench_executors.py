#!/usr/bin/env python
"""Scoring throughput by executor on this machine: local (1 and 2 worker processes) vs Ray (1 and 2
CPUs of a local Ray instance), the same archs and proxies, through the public scorer.

Prints a table and writes JSON: archs/s per setting, each as a ratio to the local executor with the
same number of workers, Ray's start-up time and its overhead per arch (Ray wall time minus local
wall time with one worker, divided by the archs). Every setting must return the same scores (the
script checks it).

    python tools/bench_executors.py --archs 48 --out benchmarks/results/executors.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archs", type=int, default=48, help="NB201 archs scored per setting (spread over the index)")
    ap.add_argument("--proxy", default="edgenas_prior")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import numpy as np
    import ray
    import torch

    torch.set_num_threads(1)  # local with 1 worker scores in this process: one thread, as every worker has

    from edgenas.search.scoring import ProxyScorer
    from edgenas.spaces import get_space

    space = get_space("nb201")
    idx = np.linspace(0, space.size - 1, args.archs * 2).astype(int)
    archs = [a for a in (space.from_index(int(i)) for i in idx) if not space.is_degenerate(a)][: args.archs]
    t0 = time.perf_counter()
    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    ray_start_s = time.perf_counter() - t0

    rows = []
    reference = None
    for executor, workers in (("local", 1), ("local", 2), ("ray", 1), ("ray", 2)):
        scorer = ProxyScorer(space=space, dataset="cifar10", proxy=args.proxy, seed=0, batch_size=args.batch_size,
                             workers=workers, executor=executor)
        scorer.warm()
        scorer.score(archs[:2])  # workers started and the engine imported: time the steady state
        t = time.perf_counter()
        raws = scorer.score(archs)
        wall = time.perf_counter() - t
        scorer.close()
        values = [r.values for r in raws]
        if reference is None:
            reference = values
        rows.append({"executor": executor, "workers": workers, "archs": len(archs), "wall_s": round(wall, 3),
                     "archs_per_s": round(len(archs) / wall, 3), "same_scores_as_local_1": values == reference})
    ray.shutdown()
    by = {(r["executor"], r["workers"]): r for r in rows}
    for r in rows:
        r["ratio_to_local_same_workers"] = round(r["archs_per_s"] / by[("local", r["workers"])]["archs_per_s"], 3)
    overhead_ms = 1000 * (by[("ray", 1)]["wall_s"] - by[("local", 1)]["wall_s"]) / len(archs)

    print(f"{'executor':>8} {'workers':>7} {'archs/s':>8} {'vs local':>8} {'same scores':>11}")
    for r in rows:
        print(f"{r['executor']:>8} {r['workers']:>7} {r['archs_per_s']:>8.2f} {r['ratio_to_local_same_workers']:>8.2f} "
              f"{str(r['same_scores_as_local_1']):>11}")
    print(f"Ray start-up {ray_start_s:.1f} s; Ray overhead per arch (1 worker) {overhead_ms:.0f} ms")
    doc = {"benchmark": "executors", "proxy": args.proxy, "batch_size": args.batch_size, "rows": rows,
           "ray_start_s": round(ray_start_s, 2), "ray_overhead_ms_per_arch": round(overhead_ms, 1),
           "ray_version": ray.__version__, "host": {"cpu_count": __import__("os").cpu_count(),
                                                    "python": platform.python_version()},
           "made_by": "python tools/bench_executors.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0 if all(r["same_scores_as_local_1"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
