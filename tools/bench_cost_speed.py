#!/usr/bin/env python
"""Speed of ``edgenas cost``: start-up and milliseconds per further arch, per kind of table.

Each case runs the real command (``python -m edgenas cost --archs-file F --json`` in a fresh process)
on the first 1, 10 and 600 of a seeded sample of archs, ``--repeats`` times; the table reports the
median wall time of each, the start-up (1 arch) and ``ms/arch = (t600 - t10) / 590``. Cases:

* ``jetson``: NB201 CIFAR-10 on the shipped HW-NAS-Bench per-arch table (Jetson TX2, lookup);
* ``fitted-nb201``: a user target made by ``edgenas fit`` in a scratch ``EDGENAS_HOME`` from 30
  archs' measured Raspberry Pi 4 latencies (the shipped HW-NAS-Bench column; ``fit`` then stores a
  value for every NB201 arch);
* ``jetson-lut``: ``--source lut`` on the Jetson TX2 table: a per-op table fitted (NNLS) on 1,000
  measured archs when the command starts;
* ``cpu-nb201``: the shipped ``cpu`` kernel-model table with its stored whole-space predictions;
* ``pixel3-fbnet``: FBNet CIFAR-100 on the shipped Pixel 3 per-op table;
* ``cpu-macro`` (with ``--profiled-home``): the macro space on a ``cpu`` table that
  ``edgenas profile --target cpu --space macro`` wrote into that ``EDGENAS_HOME``.

``--baseline-ref REF`` also runs REF's code (``git archive`` into a scratch folder) on the 1- and
10-arch inputs (600 with ``--baseline-600``: minutes per case on the old code) and checks that both
print the same latency, MACs and parameters for every arch, bit for bit.

Usage:
    python tools/bench_cost_speed.py --baseline-ref main --profiled-home /tmp/home \\
        --out benchmarks/results/cost_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (1, 10, 600)


@dataclass(frozen=True)
class Case:
    """One priced setting: a label, ``edgenas cost`` options, and the home the target lives in."""

    label: str
    target: str
    space: str
    dataset: str
    source: str = "auto"
    home: str | None = None  # None: the run's scratch home


def _sample(space_name: str, n: int, seed: int) -> list[str]:
    import numpy as np

    from edgenas.spaces import get_space

    space = get_space(space_name)
    rng = np.random.default_rng(seed)
    return [space.format(space.sample(rng)) for _ in range(n)]


def _fit_targets(home: Path, seed: int) -> None:
    """``edgenas fit`` a user target into ``home`` (see the module docstring)."""
    import numpy as np

    from edgenas.hardware.tables import load_arch_table
    from edgenas.hardware.targets import load_target

    ref = load_target("raspi4").table("nb201", "cifar10")
    table = load_arch_table(ref.file, space="nb201", dataset="cifar10")
    col = table.column(ref.column)
    rng = np.random.default_rng(seed)
    rows = [i for i in rng.choice(len(table.index), 60, replace=False) if np.isfinite(col[i])][:30]
    measured = home / "raspi4_30.csv"
    measured.write_text("arch,latency_ms\n" + "".join(f"{int(table.index[i])},{col[i]:.6f}\n" for i in rows))
    env = {**os.environ, "EDGENAS_HOME": str(home), "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "edgenas", "fit", "--measurements", str(measured), "--target", "fitted-nb201",
                    "--json"], env=env, check=True, stdout=subprocess.DEVNULL)


class CostFailed(RuntimeError):
    """``edgenas cost`` exited non-zero (its one-line error is the message)."""


def _run(code: Path, home: str, case: Case, archs_file: Path) -> tuple[float, list[dict]]:
    env = {**os.environ, "EDGENAS_HOME": home, "PYTHONPATH": str(code)}
    cmd = [sys.executable, "-m", "edgenas", "cost", "--archs-file", str(archs_file), "--space", case.space,
           "--dataset", case.dataset, "--target", case.target, "--source", case.source, "--json"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(code))
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise CostFailed(f"{case.label}: {' '.join(cmd[2:])} failed: {done.stderr.strip()[-400:]}")
    return wall, json.loads(done.stdout)


def _time_case(code: Path, home: str, case: Case, files: dict[int, Path], sizes: tuple[int, ...],
               repeats: int) -> tuple[dict[str, float], dict[int, list[dict]]]:
    walls: dict[str, float] = {}
    rows: dict[int, list[dict]] = {}
    for n in sizes:
        times = []
        for _ in range(repeats):
            t, out = _run(code, home, case, files[n])
            times.append(t)
        walls[str(n)] = round(statistics.median(times), 3)
        rows[n] = out
    return walls, rows


def _lookup_vs_detection(case: Case, archs: list[str]) -> dict:
    """The stored whole-space predictions of a profiled kernel-model table against detecting each
    arch's kernels here (what pricing did without them), in this process."""
    from dataclasses import replace

    from edgenas.hardware.cost import get_cost_model
    from edgenas.spaces import get_space

    before = os.environ.get("EDGENAS_HOME")
    os.environ["EDGENAS_HOME"] = str(case.home)
    try:
        space = get_space(case.space)
        parsed = [space.parse(a) for a in archs]
        op = get_cost_model(case.target, space, case.dataset).op_table
    finally:
        if before is None:
            os.environ.pop("EDGENAS_HOME")
        else:
            os.environ["EDGENAS_HOME"] = before
    bare = replace(op, kernels={k: v for k, v in op.kernels.items() if k != "space_ms"}, _sums={}, _kernel_ms={},
                   _stored_ms={})
    t0 = time.perf_counter()
    stored = op.predict_many(space, parsed)
    t1 = time.perf_counter()
    detected = bare.predict_many(space, parsed)
    t2 = time.perf_counter()
    return {"archs": len(parsed), "lookup_s": round(t1 - t0, 4), "detection_s": round(t2 - t1, 2),
            "max_abs_diff_ms": float(abs(stored - detected).max()),
            "note": "stored values are rounded to 6 decimals; detection = torch export + onnxruntime per arch"}


def _same(a: list[dict], b: list[dict]) -> dict:
    """Bit-for-bit comparison of what two versions printed."""
    keys = ("arch", "latency_ms", "macs_m", "params_m")
    diff = [k for k in keys for x, y in zip(a, b) if x[k] != y[k]]
    return {"archs": len(a), "identical": len(a) == len(b) and not diff, "fields_differing": sorted(set(diff))}


def main(argv: list[str] | None = None) -> int:
    from edgenas._json import write_json_atomic

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline-ref", default=None, help="git ref whose code to time and compare against (e.g. main)")
    ap.add_argument("--baseline-600", action="store_true", help="also time the baseline on 600 archs (slow)")
    ap.add_argument("--profiled-home", default=None,
                    help="EDGENAS_HOME holding a `edgenas profile --target cpu --space macro` table (adds cpu-macro)")
    ap.add_argument("--cases", default=None, help="comma-separated labels to run (default: all)")
    args = ap.parse_args(argv)

    cases = [Case("jetson", "jetson", "nb201", "cifar10"),
             Case("fitted-nb201", "fitted-nb201", "nb201", "cifar10"),
             Case("jetson-lut", "jetson", "nb201", "cifar10", source="lut"),
             Case("cpu-nb201", "cpu", "nb201", "cifar10"),
             Case("pixel3-fbnet", "pixel3", "fbnet", "cifar100")]
    if args.profiled_home:
        cases.append(Case("cpu-macro", "cpu", "macro", "cifar10", home=args.profiled_home))
    if args.cases:
        keep = set(args.cases.split(","))
        cases = [c for c in cases if c.label in keep]
    scratch = Path(tempfile.mkdtemp(prefix="edgenas-costspeed-"))
    try:
        home = scratch / "home"
        home.mkdir()
        _fit_targets(home, args.seed)
        files: dict[tuple[str, int], Path] = {}
        for space in sorted({c.space for c in cases}):
            archs = _sample(space, max(SIZES), args.seed)
            for n in SIZES:
                files[(space, n)] = scratch / f"{space}_{n}.txt"
                files[(space, n)].write_text("\n".join(archs[:n]) + "\n")
        base_code = None
        if args.baseline_ref:
            base_code = scratch / "baseline"
            base_code.mkdir()
            tar = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline_ref, "edgenas"], check=True,
                                 capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base_code)], input=tar, check=True)
        results = []
        for case in cases:
            case_home = case.home or str(home)
            per_n = {n: files[(case.space, n)] for n in SIZES}
            load0 = os.getloadavg()[0]
            walls, rows = _time_case(ROOT, case_home, case, per_n, SIZES, args.repeats)
            row = {"case": case.label, "target": case.target, "space": case.space, "dataset": case.dataset,
                   "source": rows[1][0]["source"], "source_detail": rows[1][0]["source_detail"],
                   "wall_s": walls, "startup_s": walls["1"],
                   "ms_per_arch": round(1000 * (walls["600"] - walls["10"]) / 590, 3), "load_avg_1min_before": load0}
            if base_code is not None:
                sizes = SIZES if args.baseline_600 else (1, 10)
                try:
                    b_walls, b_rows = _time_case(base_code, case_home, case, per_n, sizes, args.repeats)
                    row["baseline"] = {"ref": args.baseline_ref, "wall_s": b_walls, "startup_s": b_walls["1"],
                                       "ms_per_arch": round(1000 * (b_walls["10"] - b_walls["1"]) / 9, 1),
                                       "same_output": {str(n): _same(rows[n], b_rows[n]) for n in sizes}}
                except CostFailed as exc:  # e.g. a table the old code cannot find
                    row["baseline"] = {"ref": args.baseline_ref, "error": str(exc)}
            if case.label == "cpu-macro":
                row["lookup_vs_detection"] = _lookup_vs_detection(case, [r["arch"] for r in rows[10]])
            row["load_avg_1min_after"] = os.getloadavg()[0]
            results.append(row)
            b = row.get("baseline")
            if b and "error" in b:
                print(f"{case.label:>13}: {b['ref']} failed: {b['error']}", flush=True)
                b = None
            print(f"{case.label:>13}: start-up {row['startup_s']:.2f} s, 10 archs {walls['10']:.2f} s, 600 archs "
                  f"{walls['600']:.2f} s, {row['ms_per_arch']:.2f} ms/arch"
                  + (f" | {b['ref']}: start-up {b['startup_s']:.2f} s, 10 archs {b['wall_s']['10']:.2f} s, "
                     f"{b['ms_per_arch']:.0f} ms/arch, same output: "
                     f"{all(v['identical'] for v in b['same_output'].values())}" if b else "")
                  + f" (load {load0:.1f})", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    doc = {"what": "wall time of `edgenas cost --json` in a fresh process (median of repeats) on 1, 10 and 600 "
                   "seeded random archs; ms_per_arch = (t600 - t10) / 590 (baseline: (t10 - t1) / 9)",
           "repeats": args.repeats, "seed": args.seed, "cpus": os.cpu_count(), "cases": results,
           "made_by": "tools/bench_cost_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    write_json_atomic(args.out, doc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
