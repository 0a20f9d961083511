#!/usr/bin/env python
"""Store a kernel-model table's prediction of every arch of its space in the table.

``edgenas profile`` does this itself for small spaces (``--space-predictions``, the default). This
upgrades a table profiled without it: every arch's kernel counts are computed on this host and
checked against the counts the profiled host recorded for the table's end-to-end archs (any
difference stops the tool: another host's graph must not be priced with this table's costs), then
``kernels.space_ms`` is written (atomically). Pricing an arch on that target becomes a lookup.

Prints a summary and writes it as JSON with ``--report``.

Usage:
    python tools/add_space_predictions.py --table edgenas/latency_tables/nb201_cifar10_cpu_ops.json --workers 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas._json import write_json_atomic
from edgenas.errors import EdgeNASError
from edgenas.hardware.tables import load_op_table, save_op_table
from edgenas.spaces import get_space
from edgenas.timing.cpu_ops import add_space_predictions


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", type=Path, required=True, help="op-table JSON with a kernel model")
    ap.add_argument("--workers", type=int, default=0, help="processes (0 = one per core)")
    ap.add_argument("--report", type=Path, default=None, help="summary JSON")
    args = ap.parse_args(argv)
    try:
        table = load_op_table(args.table)
        space = get_space(table.space)
        t0 = time.perf_counter()
        done_at = [0.0]

        def progress(stage: str, done: int, total: int, label: str) -> None:
            if time.perf_counter() - done_at[0] > 30 or done == total:
                done_at[0] = time.perf_counter()
                print(f"{stage}: {done}/{total} ({time.perf_counter() - t0:.0f} s)", flush=True)

        upgraded = add_space_predictions(table, space, workers=args.workers, progress=progress)
    except EdgeNASError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - t0
    save_op_table(upgraded, args.table)
    pre = upgraded.kernels["space_ms"]
    ms = pre["ms"]
    summary = {"table": str(args.table), "space": pre["space"], "archs": pre["n"], "seconds": round(seconds, 1),
               "workers": args.workers, "check": pre["check"], "onnxruntime_version": pre["onnxruntime_version"],
               "cpu_model": pre["cpu_model"], "min_ms": min(ms), "median_ms": sorted(ms)[len(ms) // 2],
               "max_ms": max(ms)}
    print(f"{'table':<12}{summary['table']}")
    for k in ("archs", "seconds", "check", "onnxruntime_version", "cpu_model", "min_ms", "median_ms", "max_ms"):
        print(f"{k:<20}{summary[k]}")
    if args.report:
        write_json_atomic(args.report, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
