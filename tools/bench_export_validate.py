"""Export N random NB201 archs to ONNX (checker + parity) and, optionally, validate them on this CPU.

The archs are ``space.sample(rng)`` draws from ``numpy.random.default_rng(seed)``, exported with
``export_bundle`` (what ``edgenas export`` runs) and measured with ``validate_model`` (what
``edgenas validate`` runs). Prints a table and writes JSON: per-model parity, and with ``--validate``
p50/p90/p99, CV, predicted vs measured; plus the summary numbers quoted in README.

Timing must run alone: ``flock /tmp/coord/timing.lock python tools/bench_export_validate.py --validate ...``;
with ``--export-dir`` the (slow, untimed) export can be done beforehand and is reused when its archs match.

Usage: python tools/bench_export_validate.py --out benchmarks/results/export_validate_nb201_cifar10_cpu.json \
           [--n 20] [--seed 0] [--validate --target cpu --runs 100 --warmup 20 --threads 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgenas import __version__
from edgenas.export.bundle import export_bundle
from edgenas.export.sources import Candidate
from edgenas.export.validate import validate_model
from edgenas.spaces import get_space


def _table_provenance(target: str, dataset: str) -> dict[str, str]:
    """sha256 of the latency table files the target uses for this dataset (so a changed table is visible)."""
    try:
        from edgenas.hardware.targets import load_target

        refs = [r for r in load_target(target).tables if r.space == "nb201" and r.dataset == dataset and r.exists]
    except Exception as exc:  # noqa: BLE001 - provenance is best effort, never a reason to fail the run
        return {"error": str(exc)}
    return {str(Path(r.file).name): hashlib.sha256(Path(r.file).read_bytes()).hexdigest() for r in refs}


def _paired_summary(rows: list[dict]) -> dict[str, float | int | None]:
    """Errors against paired timing (the table's reference arch timed after every run; table units)."""
    from scipy.stats import kendalltau

    ok = [r for r in rows if r.get("error_paired_pct") is not None]
    if not ok:
        return {"paired_n": 0}
    errs = [abs(r["error_paired_pct"]) for r in ok]
    return {"paired_n": len(ok), "paired_median_abs_error_pct": statistics.median(errs),
            "paired_max_abs_error_pct": max(errs), "paired_within_10pct": sum(e <= 10.0 for e in errs),
            "paired_kendall_tau": float(kendalltau([r["predicted_ms"] for r in ok],
                                                   [r["measured_paired_ms"] for r in ok]).statistic)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--validate", action="store_true", help="also time every model (run under the timing lock)")
    ap.add_argument("--target", default="cpu")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--export-dir", type=Path, default=None,
                    help="keep the export here; an existing export of the same archs is reused")
    a = ap.parse_args()

    load_at_start = list(os.getloadavg())
    space = get_space("nb201")
    rng = np.random.default_rng(a.seed)
    cands = [Candidate(space.sample(rng), k + 1) for k in range(a.n)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgenas-bench-export-") as tmp:
        out_dir = a.export_dir or Path(tmp) / "export"
        manifest_path = out_dir / "export.json"
        old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
        t0 = time.perf_counter()
        if old is not None and [m["arch"] for m in old["models"]] == [space.format(c.arch) for c in cands] \
                and old["dataset"] == a.dataset:
            manifest = old
            print(f"reusing the export in {out_dir}")
        else:
            manifest = export_bundle(cands, space=space, dataset=a.dataset, out_dir=out_dir, seed=0).manifest
        export_s = time.perf_counter() - t0
        for m in manifest["models"]:
            rows.append({"rank": m["rank"], "arch": m["arch"], "index": m["index"],
                         "export_parity_max_abs": m["parity"]["max_abs"],
                         "export_parity_max_rel": m["parity"]["max_rel"]})
        if a.validate:
            for row, m in zip(rows, manifest["models"]):
                r = validate_model(out_dir / m["files"]["onnx"], target=a.target, runs=a.runs, warmup=a.warmup,
                                   threads=a.threads)
                row.update({"measured_ms": r.measured_ms, "cv": r.cv, "predicted_ms": r.predicted_ms,
                            "error_pct": r.error_pct, "measured_cpu_ms": r.measured_cpu_ms,
                            "error_cpu_pct": r.error_cpu_pct, "validate_parity_max_abs": r.parity_max_abs,
                            "parity_ok": r.parity_ok, "measured_paired_ms": r.measured_paired_ms,
                            "error_paired_pct": r.error_paired_pct})
                print(f"  {row['rank']:2d} p50 {r.measured_ms['p50']:.3f} ms  predicted "
                      f"{r.predicted_ms if r.predicted_ms is None else round(r.predicted_ms, 3)}  cv {r.cv:.3f}",
                      flush=True)

    summary: dict[str, float | int | None] = {
        "n": len(rows),
        "export_parity_max_abs": max(r["export_parity_max_abs"] for r in rows),
        "export_parity_max_rel": max(r["export_parity_max_rel"] for r in rows),
        "export_s": round(export_s, 1),
    }
    if a.validate:
        errs = [abs(r["error_pct"]) for r in rows if r["error_pct"] is not None]
        errs_cpu = [abs(r["error_cpu_pct"]) for r in rows if r["error_cpu_pct"] is not None]
        summary.update({
            "n_predicted": len(errs),
            "median_abs_error_pct": statistics.median(errs) if errs else None,
            "max_abs_error_pct": max(errs) if errs else None,
            "within_10pct": sum(e <= 10.0 for e in errs),
            "cpu_time_median_abs_error_pct": statistics.median(errs_cpu) if errs_cpu else None,
            "cpu_time_max_abs_error_pct": max(errs_cpu) if errs_cpu else None,
            "cpu_time_within_10pct": sum(e <= 10.0 for e in errs_cpu),
            "median_cv": statistics.median(r["cv"] for r in rows),
            **_paired_summary(rows),
            "validate_parity_max_abs": max(r["validate_parity_max_abs"] for r in rows),
            "all_parity_ok": all(r["parity_ok"] for r in rows),
        })

    print(f"{'rank':>4} {'index':>6} {'parity abs':>10} {'parity rel':>10}"
          + (f" {'p50 ms':>8} {'pred ms':>8} {'err %':>7} {'cv':>6} {'cpu p50':>8} {'cpu err':>7}"
             if a.validate else ""))
    for r in rows:
        line = f"{r['rank']:4d} {r['index']:6d} {r['export_parity_max_abs']:10.2e} {r['export_parity_max_rel']:10.2e}"
        if a.validate:
            pred = "-" if r["predicted_ms"] is None else f"{r['predicted_ms']:.3f}"
            err = "-" if r["error_pct"] is None else f"{r['error_pct']:+.1f}"
            line += f" {r['measured_ms']['p50']:8.3f} {pred:>8} {err:>7} {r['cv']:6.3f}"
            if r["measured_cpu_ms"] is not None:
                cerr = "-" if r["error_cpu_pct"] is None else f"{r['error_cpu_pct']:+.1f}"
                line += f" {r['measured_cpu_ms']['p50']:8.3f} {cerr:>7}"
        print(line)
    print(json.dumps(summary, indent=1))

    out = {
        "what": "edgenas export (ONNX, parity vs torch) and validate (onnxruntime CPU EP) of random NB201 archs",
        "command": "python " + " ".join(sys.argv),
        "space": "nb201", "dataset": a.dataset,
        "sampling": f"space.sample(numpy.random.default_rng({a.seed})) x {a.n}",
        "weights_seed": 0, "units": {"latency": "ms", "error_pct": "100 (predicted - measured p50) / measured p50"},
        "validate": ({"target": a.target, "runs": a.runs, "warmup": a.warmup, "threads": a.threads}
                     if a.validate else None),
        "latency_tables_sha256": _table_provenance(a.target, a.dataset) if a.validate else None,
        "versions": {"edgenas": __version__, "python": platform.python_version(),
                     "onnxruntime": __import__("onnxruntime").__version__, "torch": __import__("torch").__version__},
        "machine": {"processor": platform.processor() or platform.machine(), "node": platform.node(),
                    "load_average_at_start": load_at_start, "load_average_at_end": list(os.getloadavg())},
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "summary": summary,
        "models": rows,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
