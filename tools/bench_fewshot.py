#!/usr/bin/env python
"""Few-shot latency fitting, leave-one-device-out: `edgenas fit`'s rule vs each model alone.

For every NB201 CIFAR-10 device table shipped (HW-NAS-Bench: jetson-tx2, raspi4, pixel3, edgetpu;
HELP: the rest), k = 10 / 20 / 50 / 200 archs are drawn (3 seeds) as "measured"; each method is fitted
on them and priced on 2,000 other archs of the same device: % within +-10 %, Kendall tau, Spearman rho.

Methods: ``fit`` is what `edgenas fit` stores (the candidate with the best 5-fold cross-validation on
the k archs); ``fit-no-prior`` the same rule without ``op-prior``; then each candidate alone (macs,
per-op-shape, per-op-position, op-prior) and ``ref-devices``, measured here only (not a candidate): a
non-negative combination of the other devices' measured per-arch latencies (HELP-like reference
devices). Leave-one-device-out: the evaluated device and its other batch sizes (same ``device`` in
the target YAML, e.g. titan-rtx-b1/b32/b256) contribute nothing to ``op-prior`` or ``ref-devices``.
``ceiling`` (hard devices only) is per-op-shape fitted on all live archs of the device and scored on
them (in-sample): how additive the device's latency is over these op keys.

HELP reports a Spearman of 0.932 from 10 samples (mean over its 6 NB201 meta-test devices, of which
titan_rtx_256, gold_6226, pixel2 and raspi4 ship here; fpga and eyeriss do not).

    python tools/bench_fewshot.py --out benchmarks/results/fewshot_nb201.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HARD = ("pixel2", "samsung-s7", "essential-ph1", "jetson-tx2", "raspi4", "pixel3", "edgetpu")
#: HELP's NB201 meta-test devices that ship here (its other two, fpga and eyeriss, do not)
HELP_TEST = ("titan-rtx-b256", "xeon-gold-6226", "pixel2", "raspi4")
HELP_SPEARMAN_10 = 0.932


def device_columns(space: object) -> list[tuple[object, object]]:
    """(target, ms of every NB201 arch by index, NaN where unmeasured) of every shipped target with a
    per-arch NB201 CIFAR-10 table."""
    import numpy as np

    from edgenas.hardware.tables import load_arch_table
    from edgenas.hardware.targets import list_targets

    out = []
    files: dict[Path, object] = {}
    for target in list_targets():
        try:
            ref = target.table("nb201", "cifar10")
        except Exception:  # noqa: BLE001 - targets without an NB201 table
            continue
        if ref.kind != "arch":
            continue
        if ref.file not in files:
            files[ref.file] = load_arch_table(ref.file)
        col = np.full(space.size, np.nan)
        col[files[ref.file].index] = files[ref.file].column(ref.column)
        out.append((target, col))
    return out


def metrics(pred: Any, y: Any) -> dict[str, float | None]:
    """% within +-10 %, Kendall tau and Spearman rho of ``pred`` against ``y`` (None: no ranking)."""
    import numpy as np
    from scipy.stats import kendalltau, spearmanr

    rel = np.abs(pred - y) / y
    tau, rho = float(kendalltau(pred, y).statistic), float(spearmanr(pred, y).statistic)
    return {"within_10": round(float(np.mean(rel <= 0.10)), 4),  # None: constant predictions (no ranking)
            "kendall_tau": round(tau, 4) if np.isfinite(tau) else None,
            "spearman": round(rho, 4) if np.isfinite(rho) else None}


def held_out(space: Any, runtime: str, methods: Sequence[str], archs: list, y: Any, test_archs: list, y_test: Any,
             exclude: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """:func:`metrics` of each method fitted on (archs, y) and priced on ``test_archs``, as `edgenas fit`
    stores it: archs with ops the fitted ones never showed are priced by the macs model ("macs" first)."""
    import numpy as np

    from edgenas.hardware.fewshot import _fitter

    out, macs_pred = {}, None
    for m in methods:
        pred = _fitter(m, space, "cifar10", runtime, exclude=exclude)(archs, y)(test_archs)
        if m == "macs":
            macs_pred = pred
        else:
            pred = np.where(np.isnan(pred), macs_pred, pred)
        out[m] = metrics(pred, y_test)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ks", default="10,20,50,200")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--holdout", type=int, default=2000)
    ap.add_argument("--targets", default=None, help="comma-separated subset of targets (default: all)")
    ap.add_argument("--draw", choices=("random", "design"), default="random",
                    help="how the k measured archs are drawn: at random, or the design `edgenas profile` times "
                         "(design_archs for the device's runtime, seeded; its first k)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import numpy as np

    from edgenas.hardware._graph import keys_node_reads, prunes_dead_layers
    from edgenas.hardware.fewshot import _key_counts, available_methods, cross_validate
    from edgenas.hardware.fit import nnls_fit
    from edgenas.spaces import get_space
    from edgenas.timing.device import design_archs

    space = get_space("nb201")
    ks = [int(k) for k in args.ks.split(",")]
    only = set(args.targets.split(",")) if args.targets else None
    t0 = time.perf_counter()
    devices = device_columns(space)  # (target, ms of every arch by index)
    live = np.array([not space.is_degenerate(space.from_index(i)) for i in range(space.size)])
    every = np.stack([c for _, c in devices], 1)  # (archs, devices): ref-devices' features

    def mean(values: list) -> float:
        return round(float(np.nanmean([np.nan if v is None else v for v in values])), 4)

    old = ("macs", "per-op-shape", "per-op-position")
    rows, ceilings, excluded = [], {}, {}
    for d, (target, col) in enumerate(devices):
        if only is not None and target.name not in only:
            continue
        exclude = (target.device,)  # the device and its other batch sizes
        methods = available_methods(space, "cifar10", target.runtime, exclude=exclude)
        others = [j for j, (t, _) in enumerate(devices) if t.device != target.device]
        excluded[target.name] = sorted(t.name for t, _ in devices if t.device == target.device)
        ok = np.flatnonzero(np.isfinite(col) & live)
        if target.name in HARD:
            archs_all = [space.from_index(int(i)) for i in ok]
            counts = _key_counts(space, "cifar10", archs_all, prunes_dead_layers(target.runtime),
                                   keys_node_reads(target.runtime))
            keys = sorted({k for c in counts for k in c})
            x = np.array([[c.get(k, 0) for k in keys] for c in counts], dtype=np.float64)
            coef = nnls_fit(x, col[ok])
            ceilings[target.name] = metrics(x @ coef[:-1] + coef[-1], col[ok])
        for seed in range(args.seeds):
            perm = np.random.default_rng(seed).permutation(ok)
            test = perm[-args.holdout:]
            test_archs = [space.from_index(int(i)) for i in test]
            y_test = col[test]
            if args.draw == "design":
                measured = set(ok.tolist())
                designed = [space.index(a) for a in design_archs(space, "cifar10", max(ks) + 50, seed=seed,
                                                                 runtime=target.runtime)]
                designed = np.array([i for i in designed if i in measured][:max(ks)])
                test = np.array([i for i in perm if i not in set(designed.tolist())][-args.holdout:])
                test_archs = [space.from_index(int(i)) for i in test]
                y_test = col[test]
            for k in ks:
                train = perm[:k] if args.draw == "random" else designed[:k]
                archs = [space.from_index(int(i)) for i in train]
                y = col[train]
                cv = cross_validate(space, "cifar10", archs, y, runtime=target.runtime, seed=seed, exclude=exclude)
                chosen = max(cv, key=lambda m: (cv[m]["within_10"], -cv[m]["mape"]))
                chosen_old = max(old, key=lambda m: (cv[m]["within_10"], -cv[m]["mape"]))
                res = {"target": target.name, "runtime": target.runtime, "k": k, "seed": seed, "chosen": chosen,
                       "chosen_no_prior": chosen_old}
                res.update(held_out(space, target.runtime, methods, archs, y, test_archs, y_test, exclude))
                use = [j for j in others if np.all(np.isfinite(every[train, j])) and np.all(np.isfinite(every[test, j]))]
                coef = nnls_fit(every[np.ix_(train, use)], y)
                res["ref-devices"] = metrics(every[np.ix_(test, use)] @ coef[:-1] + coef[-1], y_test)
                res["fit"] = res[chosen]
                res["fit-no-prior"] = res[chosen_old]
                rows.append(res)
                print(f"{target.name:>16} k={k:>3} s{seed}: fit({chosen:>15}) {100 * res['fit']['within_10']:5.1f} % "
                      f"tau {res['fit']['kendall_tau']:.3f} | " + "  ".join(
                          f"{m} {100 * res[m]['within_10']:.0f}%" for m in (*methods, "ref-devices")), flush=True)
    names = ("fit", "fit-no-prior", *old, "op-prior", "ref-devices")
    names = tuple(m for m in names if all(m in r for r in rows))
    summary = {}
    for k in ks:
        sel = [r for r in rows if r["k"] == k]
        summary[str(k)] = {m: {"median_within_10": round(float(np.median([r[m]["within_10"] for r in sel])), 4),
                               "mean_within_10": round(float(np.mean([r[m]["within_10"] for r in sel])), 4),
                               "p10_within_10": round(float(np.percentile([r[m]["within_10"] for r in sel], 10)), 4),
                               "mean_tau": mean([r[m]["kendall_tau"] for r in sel]),
                               "mean_spearman": mean([r[m]["spearman"] for r in sel])}
                           for m in names}
        summary[str(k)]["chosen"] = {m: sum(r["chosen"] == m for r in sel) for m in names[2:-1]}
    hard = {}
    for h in HARD:
        sel = [r for r in rows if r["k"] == 20 and r["target"] == h]
        if sel:
            hard[h] = {m: round(float(np.mean([r[m]["within_10"] for r in sel])), 4) for m in names}
            hard[h]["ceiling"] = ceilings[h]["within_10"]
    help_cmp = {}
    sel = [r for r in rows if r["k"] == 10 and r["target"] in HELP_TEST]
    if sel:
        help_cmp = {"devices": sorted({r["target"] for r in sel}), "k": 10, "help_spearman": HELP_SPEARMAN_10,
                    **{m: mean([r[m]["spearman"] for r in sel]) for m in names}}

    print(f"\n{'k':>4} {'method':>16} {'median':>8} {'p10':>7} {'mean':>7} {'tau':>6} {'rho':>6}")
    for k in ks:
        for m in names:
            s = summary[str(k)][m]
            print(f"{k:>4} {m:>16} {100 * s['median_within_10']:7.1f}% {100 * s['p10_within_10']:6.1f}% "
                  f"{100 * s['mean_within_10']:6.1f}% "
                  f"{s['mean_tau']:.3f} {s['mean_spearman']:.3f}")
        print(f"{'':>4} chosen: {summary[str(k)]['chosen']}")
    print("\nk = 20, mean over seeds, % within +-10 %:")
    for h, v in hard.items():
        print(f"{h:>16} " + "  ".join(f"{m} {100 * x:.0f}" for m, x in v.items()))
    if help_cmp:
        print(f"\nSpearman at k = 10 on {', '.join(help_cmp['devices'])} (HELP: {HELP_SPEARMAN_10}): "
              + "  ".join(f"{m} {help_cmp[m]:.3f}" for m in names))
    doc = {"benchmark": "fewshot_nb201_cifar10", "ks": ks, "seeds": args.seeds, "holdout": args.holdout,
           "draw": args.draw,
           "leave_one_device_out": "the evaluated device and its other batch sizes (same target `device`) are "
                                   "excluded from op-prior and ref-devices",
           "excluded": excluded,
           "summary": summary, "hard_devices_k20": hard, "ceiling_in_sample": ceilings, "help_comparison": help_cmp,
           "rows": rows, "wall_s": round(time.perf_counter() - t0, 1),
           "made_by": "python tools/bench_fewshot.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
