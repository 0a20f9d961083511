#!/usr/bin/env python
"""Your task end to end on real images: scikit-learn's digits through search, train, export and validate.

scikit-learn's bundled digits (1,797 real 8 x 8 grayscale scans, 10 classes; a test/benchmark dependency
only) are written as 32-px PNG class folders; a seeded stratified 20 % is held back as a test folder the
search and the training never see. Then, each as the CLI a user would type, timed:

    edgenas search --target raspi4 --data WORK/digits/train --max-macs-m M --evaluations N --out WORK/run
    edgenas train WORK/run --epochs E --no-flip          (a mirrored digit is another digit)
    edgenas export WORK/run --out WORK/export
    edgenas validate WORK/export --data WORK/digits/test --target cpu

and the held-back top-1 accuracy of the torch model and the ONNX model, their difference, the wall times
and the machine's load (the machine may be shared: wall times are what this run took on it) go to
``--out`` (JSON) and a markdown line for docs/benchmarks.md.

Example (the table in docs/benchmarks.md):
    python tools/bench_digits.py --work runs/digits --out benchmarks/results/digits_e2e.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_digits(root: Path, *, size: int = 32, test_share: float = 0.2, seed: int = 0) -> dict[str, int]:
    """PNG class folders ``root/train/<d>/`` and ``root/test/<d>/`` (stratified, seeded split)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    counts = {"train": 0, "test": 0}
    for k in range(10):
        idx = rng.permutation(np.flatnonzero(digits.target == k))
        n_test = int(round(test_share * len(idx)))
        for part, chosen in (("test", idx[:n_test]), ("train", idx[n_test:])):
            d = root / part / str(k)
            d.mkdir(parents=True, exist_ok=True)
            for i in chosen:
                pixels = (digits.images[i] * (255.0 / 16.0)).round().astype(np.uint8)  # 0..16 -> 0..255
                Image.fromarray(pixels, mode="L").resize((size, size), Image.BICUBIC).save(d / f"{i}.png")
                counts[part] += 1
    return counts


def run(cmd: list[str], log: Path) -> float:
    t0 = time.perf_counter()
    with open(log, "ab") as f:
        f.write(("\n$ " + " ".join(cmd) + "\n").encode())
        f.flush()
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="scratch folder (data, run, export)")
    ap.add_argument("--target", default="raspi4")
    ap.add_argument("--max-macs-m", type=float, default=30.0)
    ap.add_argument("--evaluations", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of edgenas train (1 on a shared CPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    log = work / "commands.log"
    # each finished step's wall time is kept, so an interrupted benchmark continues where it stopped
    times_path = work / "times.json"
    times = json.loads(times_path.read_text()) if times_path.is_file() else {}
    load_before = times.setdefault("load_before", list(os.getloadavg()))
    if "counts" not in times:
        times["counts"] = write_digits(work / "digits", seed=args.seed)
    counts = times["counts"]
    exe = [sys.executable, "-m", "edgenas"]
    steps = {
        "search": [*exe, "search", "--target", args.target, "--data", str(work / "digits" / "train"),
                   "--max-macs-m", str(args.max_macs_m), "--evaluations", str(args.evaluations), "--seed",
                   str(args.seed), "--out", str(work / "run")],
        "train": [*exe, "train", str(work / "run"), "--epochs", str(args.epochs), "--no-flip", "--seed",
                  str(args.seed), "--threads", str(args.threads)],
        "export": [*exe, "export", str(work / "run"), "--out", str(work / "export")],
        "validate": [*exe, "validate", str(work / "export"), "--data", str(work / "digits" / "test"), "--target",
                     "cpu", "--runs", "20"],
    }
    for name, cmd in steps.items():
        if name not in times:
            if name == "search" and (work / "run").exists():
                import shutil

                shutil.rmtree(work / "run")  # an unfinished search: timed again from the start
            times[name] = run(cmd, log)
            times_path.write_text(json.dumps(times))
    t_search, t_train, t_export, t_validate = (times[k] for k in ("search", "train", "export", "validate"))
    load_after = os.getloadavg()
    validation = json.loads((work / "export" / "validation.json").read_text())
    train_doc = json.loads(next((work / "run" / "train").glob("*/train.json")).read_text())
    pareto = json.loads((work / "run" / "pareto.json").read_text())
    acc = {r["format"]: r for r in validation["accuracy"]}  # torch and onnx rows of the one exported model
    doc = {
        "schema_version": 1, "benchmark": "digits_e2e",
        "data": {"source": "sklearn.datasets.load_digits (1,797 8x8 scans, 10 classes)", "resolution_px": 32,
                 "train_images": counts["train"], "test_images": counts["test"], "split_seed": args.seed},
        "task": pareto["task"], "pick": pareto["pick"]["arch"], "pick_macs_m": pareto["pick"]["macs_m"],
        "pick_latency_ms": pareto["pick"]["latency_ms"], "latency_estimates": pareto.get("latency_estimates"),
        "train": {k: train_doc[k] for k in ("val_accuracy", "best_val_accuracy", "seconds", "split", "recipe")},
        "test_accuracy": acc,
        "wall_s": {"search": round(t_search, 1), "train": round(t_train, 1), "search_plus_train":
                   round(t_search + t_train, 1), "export": round(t_export, 1), "validate": round(t_validate, 1)},
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(),
                 "load_average_1_5_15_before": [round(x, 2) for x in load_before],
                 "load_average_1_5_15_after": [round(x, 2) for x in load_after]},
        "made_by": "tools/bench_digits.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    from edgenas._json import write_json_atomic

    write_json_atomic(args.out, doc)
    torch_acc, onnx_acc = acc["torch"]["top1_pct"], acc["onnx"]["top1_pct"]
    print(json.dumps(doc["wall_s"]), f"torch {torch_acc:.2f} %, onnx {onnx_acc:.2f} %")
    print(f"| digits, 32 px, {counts['test']} held-back images | {torch_acc:.2f} % | {onnx_acc:.2f} % | "
          f"{t_search:.0f} + {t_train:.0f} s | load {load_before[0]:.1f} -> {load_after[0]:.1f} |")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
