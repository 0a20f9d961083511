#!/usr/bin/env python
"""How repeatable is a CPU latency measurement on this host? Absolute vs reference-paired timing.

Times N random NB201 archs (onnxruntime, 1 thread) in R independent passes with the profiler's
own :func:`edgenas.timing.cpu_ops.time_models` (each pass: every arch ``--pairs`` timed runs,
each paired with a run of a reference arch) and compares, arch by arch, two passes of the same
statistic: the plain thread CPU time (median of the pass) and the reference-normalised time
(median pair ratio). Prints a table and writes JSON.

    python tools/bench_cpu_timing.py --out benchmarks/results/cpu_timing_repeatability.json
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgenas._json import write_json_atomic
from edgenas.spaces import get_space
from edgenas.timing.cpu_ops import _export, cpu_model, time_models


def retest(values: np.ndarray) -> dict[str, float]:
    """Pairwise relative differences |a - b| / mean(a, b) between passes (rows), over archs."""
    d = np.concatenate([np.abs(a - b) / ((a + b) / 2) for a, b in itertools.combinations(values, 2)])
    return {"median_rel_diff": float(np.median(d)), "p90_rel_diff": float(np.percentile(d, 90)),
            "share_within_5pct": float(np.mean(d < 0.05)), "share_within_10pct": float(np.mean(d < 0.10))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--archs", type=int, default=40)
    ap.add_argument("--pairs", type=int, default=20, help="timed runs per arch per pass")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    space = get_space("nb201")
    rng = np.random.default_rng(a.seed)
    archs = [space.sample(rng) for _ in range(a.archs + 1)]  # archs[0] is the reference
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        models = []
        for i, arch in enumerate(archs):
            p = Path(tmp) / f"a{i}.onnx"
            _export(space.build_model(arch, "cifar10"), (1, 3, 32, 32), p)
            models.append((p, (1, 3, 32, 32)))
        passes = [time_models(models, runs=a.pairs, warmup=5, rounds=1, reference=0, seed=a.seed + r)
                  for r in range(a.passes)]
    absolute = np.array([[t.cpu_median_ms for t in p[1:]] for p in passes])
    paired = np.array([[t.ref_ms for t in p[1:]] for p in passes])
    # the paired unit (the reference's median time) moves with the machine too; ratios are what repeat
    ratio = paired / paired.mean(axis=1, keepdims=True) * paired.mean()
    rows = {"absolute thread CPU time (median of the pass)": retest(absolute),
            "paired with reference, in ms (unit = reference median of the pass)": retest(paired),
            "paired with reference, pass unit removed": retest(ratio)}
    print(f"{'statistic':<70} {'median':>7} {'p90':>7} {'<5%':>6} {'<10%':>6}")
    for name, r in rows.items():
        print(f"{name:<70} {100 * r['median_rel_diff']:6.1f}% {100 * r['p90_rel_diff']:6.1f}% "
              f"{100 * r['share_within_5pct']:5.0f}% {100 * r['share_within_10pct']:5.0f}%")
    write_json_atomic(a.out, {
        "what": "repeatability of CPU latency measurements between independent passes (same archs)",
        "command": "python tools/bench_cpu_timing.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "cpu_model": cpu_model(), "archs": a.archs, "pairs_per_pass": a.pairs, "passes": a.passes,
        "seed": a.seed, "load_average_start": list(load0), "load_average_end": list(os.getloadavg()),
        "seconds": time.perf_counter() - t0, "units": "relative difference |a - b| / mean(a, b) between two passes",
        "results": rows,
    })
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
