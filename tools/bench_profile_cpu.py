#!/usr/bin/env python
"""`edgenas profile` on this machine's CPU: k designed vs k random timed archs, priced on held-out archs.

Times ``--design`` archs chosen by :func:`edgenas.hardware.device_profile.design_archs`, ``--random``
other random live archs and ``--holdout`` more random live archs with the device runner (onnxruntime,
1 thread, the same subprocess path `edgenas profile` uses), in one shuffled order so a drift of the
host's speed hits all three sets alike. Every timing is appended to ``--cache`` (JSON lines) as it
arrives, so an interrupted run resumes. Then, for k in ``--ks``, the latency model `edgenas fit`
chooses by cross-validation is fitted on the first k designed archs and on the first k random ones,
and priced on the held-out archs: % within +-10 %, MAPE, Kendall tau, for the wall-clock median
(what `edgenas profile` stores) and for the timing thread's CPU time (robust to a shared host).

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

    from edgenas.hardware import fewshot
    from edgenas.hardware._host import cpu_model
    from edgenas.hardware.device_profile import _model_bytes, design_archs
    from edgenas.hardware.fit import score
    from edgenas.hardware.remote import LocalSession
    from edgenas.spaces import get_space

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
    runner_args = ["--runtime", "onnxruntime", "--runs", str(args.runs), "--warmup", str(args.warmup),
                   "--threads", "1"]
    with LocalSession() as session, tempfile.TemporaryDirectory() as tmp, open(args.cache, "a") as log:
        model = Path(tmp) / "model.onnx"
        for n, a in enumerate(todo, 1):
            model.write_bytes(_model_bytes(space, a, ds, 17))
            res = session.time_model(model, runner_args)
            rec = {"arch": space.format(a), "wall_ms": res["summary_ms"]["p50"], "cpu_ms": res["summary_cpu_ms"]["p50"],
                   "cv": res["summary_ms"]["cv"]}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            cache[rec["arch"]] = rec
            if n % 50 == 0:
                print(f"timed {n}/{len(todo)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    timing_s = time.perf_counter() - t0

    def fit_and_score(train: list, stat: str) -> dict:
        y = np.array([cache[space.format(a)][stat] for a in train])
        predict, method = fewshot.choose_and_fit(space, ds, train, y, runtime="onnxruntime", seed=args.seed)
        truth = np.array([cache[space.format(a)][stat] for a in hold])
        pred = np.asarray(predict(hold), dtype=float)
        rep = score(np.where(np.isnan(pred), 0.0, pred), truth)
        return {"method": method, "within_10": rep.within_10, "mape": rep.mape, "kendall_tau": rep.kendall_tau}

    rows = []
    for k in [int(x) for x in args.ks.split(",")]:
        for stat in ("wall_ms", "cpu_ms"):
            for name, pool in (("designed", design), ("random", rand)):
                if k > len(pool):
                    continue
                r = fit_and_score(pool[:k], stat)
                rows.append({"k": k, "statistic": stat, "archs": name, **r})
                print(f"k={k:>3} {stat:>7} {name:>8}: {r['method']:>15} within ±10 % {100 * r['within_10']:5.1f} %  "
                      f"MAPE {r['mape']:5.1f} %  tau {r['kendall_tau']:.3f}", flush=True)
    cvs = np.array([cache[space.format(a)]["cv"] for a in every])
    doc = {"command": "python tools/bench_profile_cpu.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "cpu_model": cpu_model(), "space": space.name, "dataset": ds, "runs": args.runs, "warmup": args.warmup,
           "n_design": len(design), "n_random": len(rand), "n_holdout": len(hold),
           "timing_seconds": round(timing_s, 1), "median_run_cv": float(np.median(cvs)), "rows": rows}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
