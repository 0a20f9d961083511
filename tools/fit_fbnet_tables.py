"""Fit per-block FBNet latency tables from HELP's 5,000 measured FBNet archs, with a held-out check.

Reads ``../shared/data/help-latency/fbnet_cifar100_latency_ms.csv`` (HELP, MIT; see its SOURCE.md):
5,000 FBNet-space archs (cifar100 setting) x 27 device columns, ms.

For every device column: non-negative least squares (``edgenas.hardware.fit.fit_op_table``:
``ms ~= sum of per-op entries + intercept``, entries and intercept >= 0, rows weighted by 1/ms) on
``--n-fit`` archs drawn with ``--seed``, scored on all the others (share within +-10 %, MAPE,
RMSE, Kendall tau). The table written is the one fitted on those archs, so its ``holdout`` block
describes exactly the shipped numbers. Keys are ``LayerSpec.key()`` of ``FBNetSpace.layers``
(``--key shape``: a block at one shape, shared by same-shaped layers of a stage, as in the
HW-NAS-Bench LUTs) or position-qualified (``--key position``: one entry per layer and block).

Output: ``<out-dir>/fbnet_cifar100_<column>_ops.json`` in the op-table format of
``edgenas.hardware.tables`` (``kind: "op_latency"``), plus ``--report`` JSON with the metrics of
every device, and a table on stdout.

Usage:
    python tools/fit_fbnet_tables.py --out-dir edgenas/latency_tables/fbnet --report benchmarks/results/fbnet_tables.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_CSV = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "help-latency" / "fbnet_cifar100_latency_ms.csv"
SOURCE = ("HELP (Lee et al., NeurIPS 2021), HayeonLee/HELP@45f70eb92d0d735970a33b608d1544ad3c52f285 "
          "data/fbnet/latency/*.pt via ../shared/data/help-latency/fbnet_cifar100_latency_ms.csv")
LICENSE = "MIT (Copyright (c) 2024 HayeonLee)"

# column prefix -> (device, runtime, provenance note)
_HWNB = "HW-NAS-Bench per-block LUT sum as shipped by HELP"
DEVICES: dict[str, tuple[str, str, str]] = {
    "1080ti": ("NVIDIA GTX 1080 Ti", "pytorch", "measured by the HELP authors"),
    "2080ti": ("NVIDIA RTX 2080 Ti", "pytorch", "measured by the HELP authors"),
    "titan_rtx": ("NVIDIA Titan RTX", "pytorch", "measured by the HELP authors"),
    "titanxp": ("NVIDIA Titan Xp", "pytorch", "measured by the HELP authors"),
    "titanx": ("NVIDIA Titan X", "pytorch", "measured by the HELP authors"),
    "gold_6226": ("Intel Xeon Gold 6226", "pytorch", "measured by the HELP authors"),
    "gold_6240": ("Intel Xeon Gold 6240", "pytorch", "measured by the HELP authors"),
    "silver_4114": ("Intel Xeon Silver 4114", "pytorch", "measured by the HELP authors"),
    "silver_4210r": ("Intel Xeon Silver 4210R", "pytorch", "measured by the HELP authors"),
    "pixel2": ("Google Pixel 2", "unknown", "origin unverified; integer ms"),
    "essential_ph_1": ("Essential PH-1", "unknown", "origin unverified; integer ms"),
    "samsung_a50": ("Samsung Galaxy A50", "unknown", "origin unverified; integer ms"),
    "samsung_s7": ("Samsung Galaxy S7", "unknown", "origin unverified; integer ms"),
    "pixel3": ("Google Pixel 3 (mobile CPU)", "tflite", f"{_HWNB} (measured blocks)"),
    "raspi4": ("Raspberry Pi 4 (Cortex-A72 CPU)", "tflite", f"{_HWNB} (measured blocks)"),
    "eyeriss": ("Eyeriss ASIC", "simulator", f"{_HWNB} (estimated, not measured)"),
    "fpga": ("FPGA (ZC706-class, unverified)", "hls-model", f"{_HWNB} (estimated, not measured)"),
}
HWNB_COLUMNS = ("pixel3", "raspi4", "eyeriss", "fpga")


def describe_column(column: str) -> dict[str, Any]:
    """Device metadata of a HELP column; the ``_N`` suffix is the batch size (none: batch 1).

    Raises:
        ValueError: for a column whose device is unknown.
    """
    for prefix in sorted(DEVICES, key=len, reverse=True):  # titanxp before titanx
        rest = column[len(prefix):]
        if column.startswith(prefix) and (rest == "" or (rest[:1] == "_" and rest[1:].isdigit())):
            batch = int(rest[1:]) if rest else 1
            device, runtime, note = DEVICES[prefix]
            return {"column": column, "device": device, "runtime": runtime, "precision": "fp32",
                    "batch_size": batch, "provenance": note}
    raise ValueError(f"unknown HELP device column {column!r}")


def read_help_csv(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(op_indices strings, device columns, (n_archs, n_columns) ms) from the HELP FBNet CSV."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{path}: no rows")
    columns = [c for c in rows[0] if c not in ("sample_id", "op_indices", "op_names")]
    values = np.array([[float(r[c]) for c in columns] for r in rows])
    return [r["op_indices"] for r in rows], columns, values


def split(n: int, n_fit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, held-out rows): a seeded permutation, first ``n_fit`` for fitting."""
    from edgenas._rng import as_rng

    if not 2 <= n_fit <= n - 2:
        raise ValueError(f"--n-fit {n_fit} must leave >= 2 archs on each side of {n}")
    perm = as_rng(seed).permutation(n)
    return np.sort(perm[:n_fit]), np.sort(perm[n_fit:])


def fit_column(space: Any, archs: Sequence[Any], y: np.ndarray, fit_rows: np.ndarray, test_rows: np.ndarray, *,
               key: str, meta: dict[str, Any]) -> tuple[Any, dict[str, float]]:
    """Fit one device column on ``fit_rows``; score on ``test_rows``.

    Returns:
        (table, holdout metrics); the metrics include ``baseline_within_10`` and ``baseline_mape``
        of predicting the fit archs' median for every arch, so a narrow latency range that makes
        +-10 % easy is visible.
    """
    from edgenas.hardware.fit import fit_op_table, score

    table = fit_op_table(space, "cifar100", [archs[i] for i in fit_rows], y[fit_rows], key=key, meta=meta)
    pred = table.predict_many(space, [archs[i] for i in test_rows])
    metrics = score(pred, y[test_rows]).as_dict()
    rel = np.abs(np.median(y[fit_rows]) - y[test_rows]) / y[test_rows]
    metrics["baseline_within_10"] = float(np.mean(rel <= 0.10))
    metrics["baseline_mape"] = float(100 * rel.mean())
    return table, metrics


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="HELP FBNet latency CSV")
    ap.add_argument("--out-dir", type=Path, default=None, help="write one op table per device here")
    ap.add_argument("--report", type=Path, default=None, help="write all metrics as JSON here")
    ap.add_argument("--n-fit", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--key", choices=("shape", "position"), default="shape")
    ap.add_argument("--columns", nargs="*", default=None, help="device columns (default: all)")
    args = ap.parse_args(argv)

    from edgenas.hardware.tables import save_op_table
    from edgenas.spaces import get_space

    space = get_space("fbnet")
    codes, columns, values = read_help_csv(args.csv)
    archs = [space.parse(c) for c in codes]
    if args.columns:
        unknown = [c for c in args.columns if c not in columns]
        if unknown:
            ap.error(f"unknown column(s) {', '.join(unknown)}; expected some of {', '.join(columns)}")
        columns_sel = list(args.columns)
    else:
        columns_sel = columns
    fit_rows, test_rows = split(len(archs), args.n_fit, args.seed)

    if args.out_dir is not None:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"csv": str(args.csv), "n_archs": len(archs), "n_fit": len(fit_rows),
                              "n_holdout": len(test_rows), "seed": args.seed, "key": args.key, "devices": {}}
    print(f"{'column':<16}{'batch':>6}{'entries':>8}{'within10':>10}{'MAPE%':>8}{'tau':>7}{'const_ms':>10}"
          f"{'median_ms':>10}{'base_w10':>9}{'base_MAPE%':>11}")
    for col in columns_sel:
        y = values[:, columns.index(col)]
        dev = describe_column(col)
        meta = {
            **dev,
            "source": SOURCE,
            "license": LICENSE,
            "units_note": "ms per batch of batch_size",
            "fitted_on": {"n_archs": len(fit_rows), "seed": args.seed,
                          "split": "edgenas._rng.as_rng(seed).permutation(5000)[:n_archs]"},
            "method": "nnls, 1/y weighted, entries and intercept >= 0 (edgenas.hardware.fit.fit_op_table)",
            "notes": ("entries of same-stage keys are identifiable only up to a shared constant moved into "
                      "intercept_ms (every arch has exactly one block per layer); sums are what is fitted"),
        }
        table, hold = fit_column(space, archs, y, fit_rows, test_rows, key=args.key, meta=meta)
        table.meta["holdout"] = hold
        report["devices"][col] = {"batch_size": dev["batch_size"], "device": dev["device"],
                                  "n_entries": len(table.entries), "intercept_ms": table.intercept_ms,
                                  "lut_sum_column": col in HWNB_COLUMNS, **hold}
        print(f"{col:<16}{dev['batch_size']:>6}{len(table.entries):>8}{hold['within_10']:>10.4f}"
              f"{hold['mape']:>8.3f}{hold['kendall_tau']:>7.3f}{table.intercept_ms:>10.4f}"
              f"{float(np.median(y)):>10.3f}{hold['baseline_within_10']:>9.4f}{hold['baseline_mape']:>11.3f}")
        if args.out_dir is not None:
            save_op_table(table, args.out_dir / f"fbnet_cifar100_{col}_ops.json")
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.report.with_name(args.report.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        tmp.replace(args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
