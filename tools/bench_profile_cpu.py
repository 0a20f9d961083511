#!/usr/bin/env python
"""`edgenas profile` on this machine's CPU: k designed vs k random timed archs, priced on held-out archs.

Times ``--design`` archs chosen by :func:`edgenas.timing.device.design_archs`, ``--random``
other random live archs and ``--holdout`` more random live archs with the device runner (onnxruntime,
1 thread, the same subprocess path `edgenas profile` uses), in one shuffled order so a drift of the
host's speed hits all three sets alike. Every timing is appended to ``--cache`` (JSON lines) as it
arrives, so an interrupted run resumes. Then, for k in ``--ks``, the latency model `edgenas fit`
chooses by cross-validation is fitted on the first k designed archs and on the first k random ones,
and priced on the held-out archs: % within +-10 %, MAPE, Kendall tau, for the paired statistic
``ref`` (what `edgenas profile` fits on onnxruntime with 1 thread: each arch's thread CPU time as a
ratio to a reference arch timed right after it) and for the wall-clock median; per candidate model
too (``kernels``: the device runner's kernel counts of onnxruntime's optimized graph).

    python tools/bench_profile_cpu.py --out benchmarks/results/profile_cpu_nb201.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--design", type=int, default=200)
    ap.add_argument("--random", type=int, default=200)
    ap.add_argument("--holdout", type=int, default=300)
    ap.add_argument("--ks", default="10,20,50,200")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=Path("runs/bench_profile_cpu.jsonl"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import numpy as np

    from edgenas._host import cpu_model
    from edgenas.hardware import fewshot
    from edgenas.hardware.fit import score
    from edgenas.hardware.kernels import arch_kernels
    from edgenas.spaces import get_space
    from edgenas.timing.device import RETAKE_PASSES, _model_bytes, design_archs, disturbed
    from edgenas.timing.remote import LocalSession

    space, ds = get_space("nb201"), "cifar10"
    t0 = time.perf_counter()
    design = design_archs(space, ds, args.design, seed=args.seed)
    taken = {space.iso_key(a) for a in design}
    rng = np.random.default_rng(args.seed + 1)
    others = []
    while len(others) < args.random + args.holdout:
        a = space.sample(rng)
        if space.is_degenerate(a) or space.iso_key(a) in taken:
            continue
        taken.add(space.iso_key(a))
        others.append(a)
    rand, hold = others[:args.random], others[args.random:]
    every = design + rand + hold
    cache: dict[str, dict] = {}
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    if args.cache.exists():
        for line in args.cache.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line
            cache[rec["arch"]] = rec
    order = np.random.default_rng(args.seed + 2).permutation(len(every))
    todo = [every[i] for i in order if space.format(every[i]) not in cache]
    with LocalSession() as session, tempfile.TemporaryDirectory() as tmp, open(args.cache, "a") as log:
        model, reference = Path(tmp) / "model.onnx", Path(tmp) / "reference.onnx"
        reference.write_bytes(_model_bytes(space, design[0], ds, 17))
        # as `edgenas profile` times on onnxruntime with 1 thread: paired with the first designed arch
        runner_args = ["--runtime", "onnxruntime", "--runs", str(args.runs), "--warmup", str(args.warmup),
                       "--threads", "1", "--reference", "reference.onnx", "--kernels"]
        retaken = 0

        def time_one(a) -> None:
            model.write_bytes(_model_bytes(space, a, ds, 17))
            res = session.time_model(model, runner_args, files={"reference.onnx": reference})
            rec = {"arch": space.format(a), "wall_ms": res["summary_ms"]["p50"], "cpu_ms": res["summary_cpu_ms"]["p50"],
                   "cv": res["summary_ms"]["cv"], "ratio": float(np.median(res["reference_ratio"])),
                   "reference_cpu_ms": float(np.median(res["reference_cpu_ms"])), "kernels": res["kernels"]}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            cache[rec["arch"]] = rec

        by_name = {space.format(a): a for a in every}
        for n, a in enumerate(todo, 1):
            time_one(a)
            if n % 50 == 0:
                print(f"timed {n}/{len(todo)} ({time.perf_counter() - t0:.0f} s)", flush=True)
        for _ in range(RETAKE_PASSES):  # as `edgenas profile` does: retake timings taken under load
            again = disturbed({k: {"reference_cpu_ms_p50": cache[k]["reference_cpu_ms"]} for k in by_name})
            print(f"retaking {len(again)} timings disturbed by load", flush=True)
            for k in again:
                time_one(by_name[k])
            retaken += len(again)
            if not again:
                break
    timing_s = time.perf_counter() - t0
    # statistic ref, as `edgenas profile` fits it: each arch's paired ratio times the reference's median
    ref_ms = float(np.median([cache[space.format(a)]["reference_cpu_ms"] for a in every]))
    for a in every:
        cache[space.format(a)]["ref_ms"] = cache[space.format(a)]["ratio"] * ref_ms
    kernels = {space.format(a): cache[space.format(a)]["kernels"] for a in every}
    # the product offers the kernels model only when this host reproduces the device's counts: check here too
    sample = [every[i] for i in np.random.default_rng(args.seed + 3).choice(len(every), 30, replace=False)]
    same = sum(dict(arch_kernels(space, a, ds)) == kernels[space.format(a)] for a in sample)

    def scored(pred: np.ndarray, truth: np.ndarray) -> dict:
        rep = score(np.where(np.isnan(pred), 0.0, pred), truth)  # no price: a miss, never a good guess
        return {"within_10": rep.within_10, "mape": rep.mape, "kendall_tau": rep.kendall_tau}

    def fit_and_score(train: list, stat: str) -> dict:
        y = np.array([cache[space.format(a)][stat] for a in train])
        truth = np.array([cache[space.format(a)][stat] for a in hold])
        predict, method = fewshot.choose_and_fit(space, ds, train, y, runtime="onnxruntime", seed=args.seed,
                                                 kernels=kernels)
        out = {"method": method, **scored(np.asarray(predict(hold), dtype=float), truth), "by_method": {}}
        for m in fewshot.available_methods(space, ds, "onnxruntime", kernels=True):
            pred = fewshot._fitter(m, space, ds, "onnxruntime", kernels=kernels)(train, y)(hold)
            out["by_method"][m] = scored(np.asarray(pred, dtype=float), truth)
        return out

    rows = []
    for k in [int(x) for x in args.ks.split(",")]:
        for stat in ("ref_ms", "wall_ms"):
            for name, pool in (("designed", design), ("random", rand)):
                if k > len(pool):
                    continue
                r = fit_and_score(pool[:k], stat)
                rows.append({"k": k, "statistic": stat, "archs": name, **r})
                others = "  ".join(f"{m} {100 * v['within_10']:.1f}" for m, v in r["by_method"].items())
                print(f"k={k:>3} {stat:>7} {name:>8}: {r['method']:>15} within ±10 % {100 * r['within_10']:5.1f} %  "
                      f"MAPE {r['mape']:5.1f} %  tau {r['kendall_tau']:.3f}   [{others}]", flush=True)
    cvs = np.array([cache[space.format(a)]["cv"] for a in every])
    doc = {"command": "python tools/bench_profile_cpu.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "cpu_model": cpu_model(), "space": space.name, "dataset": ds, "runs": args.runs, "warmup": args.warmup,
           "n_design": len(design), "n_random": len(rand), "n_holdout": len(hold),
           "timing_seconds": round(timing_s, 1), "retaken": retaken, "median_run_cv": float(np.median(cvs)),
           "reference_arch": space.format(design[0]), "reference_ms": ref_ms,
           "host_kernel_counts_match": f"{same}/{len(sample)}",
           "statistics": {"ref_ms": "paired thread CPU time ratio to the reference x its median (edgenas profile's "
                                    "default on onnxruntime, 1 thread)", "wall_ms": "wall-clock median"},
           "rows": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
