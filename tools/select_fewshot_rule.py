#!/usr/bin/env python
"""Few-shot latency: which CV rule `edgenas fit` should choose its model by, chosen and reported on other devices.

The protocol is that of ``tools/bench_fewshot.py`` (leave-one-device-out over the shipped NB201
CIFAR-10 device tables; k = 10 / 20 / 50 / 200 measured archs, 3 seeds, drawn at random or as the
design `edgenas profile` times; each candidate priced on 2,000 other archs of the device), for both
draws. For every case (device, draw, k, seed) the 5-fold CV report of every candidate
(:func:`edgenas.hardware.fewshot.cross_validate`) and the held-out score of every candidate are
computed once; a selection rule is a function of the CV report alone, so every rule is scored on
the same cases.

Selection and report are on disjoint devices:

* the rule is chosen on the 4 HW-NAS-Bench devices only (jetson-tx2, raspi4, pixel3, edgetpu):
  criterion = mean over k in {10, 20, 50} and both draws of the median over cases of the share of
  held-out archs within +-10 %, plus the same mean of the 10th percentile (the two added, ties to the
  current rule, then the order of RULES);
* the chosen rule, the current rule and per-op-shape alone are then reported on the HELP devices
  (every other shipped table), which played no part in the choice.

    python tools/select_fewshot_rule.py --out benchmarks/results/fewshot_rule_selection.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_fewshot import device_columns, held_out  # noqa: E402 - the benchmark's tables and scoring

#: the devices the rule is chosen on (HW-NAS-Bench's tables); every other shipped table is held out
SELECT = ("jetson-tx2", "raspi4", "pixel3", "edgetpu")
DRAWS = ("design", "random")
SELECT_KS = (10, 20, 50)
SHAPE = "per-op-shape"

Cv = dict[str, dict[str, float]]


def _current(cv: Cv, allowed: tuple[str, ...] | None = None) -> str:
    """`edgenas fit`'s rule until now: the highest CV within_10, ties to the lower CV MAPE."""
    ms = [m for m in cv if allowed is None or m in allowed]
    return max(ms, key=lambda m: (cv[m]["within_10"], -cv[m]["mape"]))


def _min_mape(cv: Cv) -> str:
    return min(cv, key=lambda m: (cv[m]["mape"], -cv[m]["within_10"]))


def _max_tau(cv: Cv) -> str:
    def tau(m: str) -> float:
        t = cv[m]["kendall_tau"]
        return t if t is not None and math.isfinite(t) else -math.inf  # constant predictions: no ranking

    return max(cv, key=lambda m: (tau(m), -cv[m]["mape"]))


def _shape_margin(margin: float, scaled: bool = False) -> Callable[[Cv], str]:
    """per-op-shape unless the current rule's pick beats its CV within_10 by more than ``margin``
    (``scaled``: ``margin * sqrt(10 / k)``, k measured archs, shrinking like the CV's sampling error)."""
    def rule(cv: Cv) -> str:
        best = _current(cv)
        if SHAPE not in cv or best == SHAPE:
            return best
        m = margin * math.sqrt(10 / cv[SHAPE]["n"]) if scaled else margin
        return best if cv[best]["within_10"] - cv[SHAPE]["within_10"] > m + 1e-9 else SHAPE

    return rule


def _no_prior(cv: Cv) -> str:
    return _current(cv, tuple(m for m in cv if m != "op-prior"))


#: candidate rules, fixed before any HELP result was looked at: name -> (rule, eligible for selection)
#: ``per-op-shape`` ignores the CV (it could never pick ``kernels`` or ``macs``): a reference only
RULES: dict[str, tuple[Callable[[Cv], str], bool]] = {
    "current": (_current, True),
    "min-mape": (_min_mape, True),
    "max-tau": (_max_tau, True),
    "shape+0.02": (_shape_margin(0.02), True),
    "shape+0.05": (_shape_margin(0.05), True),
    "shape+0.10": (_shape_margin(0.10), True),
    "shape+0.10s": (_shape_margin(0.10, scaled=True), True),
    "no-prior": (_no_prior, True),
    "per-op-shape": (lambda cv: SHAPE, False),
}

_STATE: dict[str, object] = {}  # set in the parent before the workers fork: devices, liveness


def _load() -> None:
    import numpy as np

    from edgenas.hardware.fewshot import op_prior
    from edgenas.spaces import get_space

    space = get_space("nb201")
    devices = {target.name: (target, col) for target, col in device_columns(space)}
    live = np.array([not space.is_degenerate(space.from_index(i)) for i in range(space.size)])
    for target, _ in devices.values():  # build the priors once, here: the forked workers inherit them
        op_prior(space, "cifar10", target.runtime)
    _STATE.update(space=space, devices=devices, live=live)


def _cases(name: str, draw: str, ks: list[int], seeds: int, holdout: int) -> list[dict]:
    """CV report and held-out score of every candidate, for each (k, seed) of one device and draw."""
    import numpy as np

    from edgenas.hardware.fewshot import available_methods, cross_validate
    from edgenas.timing.device import design_archs

    space, live = _STATE["space"], _STATE["live"]
    target, col = _STATE["devices"][name]
    exclude = (target.device,)  # the device and its other batch sizes
    methods = available_methods(space, "cifar10", target.runtime, exclude=exclude)
    ok = np.flatnonzero(np.isfinite(col) & live)
    out = []
    for seed in range(seeds):  # the draws of tools/bench_fewshot.py, exactly
        perm = np.random.default_rng(seed).permutation(ok)
        test = perm[-holdout:]
        if draw == "design":
            measured = set(ok.tolist())
            designed = [space.index(a) for a in design_archs(space, "cifar10", max(ks) + 50, seed=seed,
                                                             runtime=target.runtime)]
            designed = np.array([i for i in designed if i in measured][:max(ks)])
            taken = set(designed.tolist())
            test = np.array([i for i in perm if i not in taken][-holdout:])
        test_archs = [space.from_index(int(i)) for i in test]
        y_test = col[test]
        for k in ks:
            train = perm[:k] if draw == "random" else designed[:k]
            archs = [space.from_index(int(i)) for i in train]
            y = col[train]
            cv = cross_validate(space, "cifar10", archs, y, runtime=target.runtime, seed=seed, exclude=exclude)
            held = held_out(space, target.runtime, methods, archs, y, test_archs, y_test, exclude)
            out.append({"target": name, "group": "select" if name in SELECT else "report", "draw": draw, "k": k,
                        "seed": seed,
                        "cv": {m: {s: (r[s] if math.isfinite(r[s]) else None)
                                   for s in ("n", "within_10", "mape", "kendall_tau")} for m, r in cv.items()},
                        "heldout": held})
    return out


def _stats(values: list[float]) -> dict[str, float]:
    import numpy as np

    return {"median": round(float(np.median(values)), 4), "p10": round(float(np.percentile(values, 10)), 4),
            "mean": round(float(np.mean(values)), 4)}


def summarize(rows: list[dict], group: str, rules: list[str], ks: list[int]) -> dict:
    """{rule: {"cells": {draw: {k: stats}}, "mean_median", "mean_p10", "score", "chosen"}} over ``group``'s cases;
    the means over k in SELECT_KS and both draws, score = mean_median + mean_p10."""
    import numpy as np

    out = {}
    for name in rules:
        rule = RULES[name][0]
        cells: dict[str, dict[str, dict]] = {}
        picks: dict[str, dict[str, dict[str, int]]] = {}
        for draw in DRAWS:
            for k in ks:
                sel = [r for r in rows if r["group"] == group and r["draw"] == draw and r["k"] == k]
                if not sel:
                    continue
                chosen = [rule(r["cv"]) for r in sel]
                w = [r["heldout"][c]["within_10"] for r, c in zip(sel, chosen)]
                taus = [r["heldout"][c]["kendall_tau"] for r, c in zip(sel, chosen)]
                cells.setdefault(draw, {})[str(k)] = {
                    **_stats(w), "n": len(w),
                    "mean_tau": round(float(np.nanmean([np.nan if t is None else t for t in taus])), 4)}
                picks.setdefault(draw, {})[str(k)] = {m: chosen.count(m) for m in sorted(set(chosen))}
        used = [cells[d][str(k)] for d in DRAWS for k in SELECT_KS if str(k) in cells.get(d, {})]
        mm = round(float(np.mean([c["median"] for c in used])), 4) if used else math.nan
        mp = round(float(np.mean([c["p10"] for c in used])), 4) if used else math.nan
        out[name] = {"cells": cells, "chosen": picks, "mean_median": mm, "mean_p10": mp,
                     "mean_mean": round(float(np.mean([c["mean"] for c in used])), 4) if used else math.nan,
                     "score": round(mm + mp, 4)}
    return out


def _print_table(title: str, summ: dict, rules: list[str], ks: list[int]) -> None:
    print(f"\n{title}")
    print("% of held-out archs within +-10 %, median / p10 / mean over cases; avg = mean over k in "
          f"{{{', '.join(map(str, SELECT_KS))}}} and both draws")
    head = "".join(f" {d[:3]} k={k:<4}" + " " * 7 for d in DRAWS for k in ks)
    print(f"{'rule':>13}{head} {'avg median':>10} {'avg p10':>8} {'score':>7}")
    for name in rules:
        s = summ[name]
        cells = "".join(
            (f" {100 * c['median']:4.1f}/{100 * c['p10']:4.1f}/{100 * c['mean']:4.1f}"
             if (c := s["cells"].get(d, {}).get(str(k))) else " " * 16)
            for d in DRAWS for k in ks)
        print(f"{name:>13}{cells} {100 * s['mean_median']:9.2f}% {100 * s['mean_p10']:7.2f}% "
              f"{100 * s['score']:7.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ks", default="10,20,50,200")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--holdout", type=int, default=2000)
    ap.add_argument("--targets", default=None,
                    help="comma-separated subset of targets (default: all; HW-NAS-Bench ones are needed to choose)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (one (device, draw) per task)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]
    if not set(SELECT_KS) <= set(ks):
        ap.error(f"--ks must include {','.join(map(str, SELECT_KS))} (the selection criterion's k)")

    t0 = time.perf_counter()
    _load()
    names = [n for n in _STATE["devices"] if args.targets is None or n in args.targets.split(",")]
    # selection devices first; the costlier designed draws first within each group
    tasks = sorted(((n, d) for n in names for d in DRAWS), key=lambda t: (t[0] not in SELECT, t[1] != "design"))
    rows: list[dict] = []
    print(f"{len(tasks)} (device, draw) tasks, {args.jobs} workers", flush=True)
    if args.jobs > 1:
        import multiprocessing as mp

        with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context("fork")) as pool:
            futures = [pool.submit(_cases, n, d, ks, args.seeds, args.holdout) for n, d in tasks]
            for (n, d), f in zip(tasks, futures):
                rows += f.result()
                print(f"  {n:>16} {d:>6}: done at {time.perf_counter() - t0:6.0f} s", flush=True)
    else:
        for n, d in tasks:
            rows += _cases(n, d, ks, args.seeds, args.holdout)
            print(f"  {n:>16} {d:>6}: done at {time.perf_counter() - t0:6.0f} s", flush=True)

    rules = list(RULES)
    eligible = [r for r in rules if RULES[r][1]]
    doc: dict = {"benchmark": "fewshot_rule_selection_nb201_cifar10", "ks": ks, "seeds": args.seeds,
                 "holdout": args.holdout, "draws": list(DRAWS), "select_devices": list(SELECT),
                 "select_ks": list(SELECT_KS),
                 "criterion": "mean over k in select_ks and both draws of the median over cases of held-out "
                              "within_10, plus the same mean of the 10th percentile (score = mean_median + mean_p10); "
                              "ties to `current`, then rule order",
                 "rules": {"current": "highest CV within_10, ties to lower CV MAPE (edgenas fit's rule)",
                           "min-mape": "lowest CV MAPE, ties to higher CV within_10",
                           "max-tau": "highest CV Kendall tau, ties to lower CV MAPE",
                           "shape+0.02": "per-op-shape unless the current rule's pick beats its CV within_10 by "
                                         "more than 0.02",
                           "shape+0.05": "the same with a margin of 0.05",
                           "shape+0.10": "the same with a margin of 0.10",
                           "shape+0.10s": "the same with a margin of 0.10 * sqrt(10 / k) (0.10 at k = 10, 0.022 at "
                                          "k = 200)",
                           "no-prior": "the current rule without op-prior",
                           "per-op-shape": "always per-op-shape (reference, not eligible: ignores the CV)"},
                 "eligible": eligible}
    select_rows = [r for r in rows if r["group"] == "select"]
    chosen = None
    if select_rows:
        sel = summarize(rows, "select", rules, ks)
        _print_table("SELECTION: HW-NAS-Bench devices (" + ", ".join(SELECT) + f"), {len(select_rows)} cases",
                     sel, rules, ks)
        best = max(sel[r]["score"] for r in eligible)
        chosen = "current" if sel["current"]["score"] >= best else next(r for r in eligible if sel[r]["score"] == best)
        print(f"\nchosen on HW-NAS-Bench devices: {chosen} (score {100 * sel[chosen]['score']:.2f} vs current "
              f"{100 * sel['current']['score']:.2f})")
        print("picks of the chosen rule (design k=20):", sel[chosen]["chosen"].get("design", {}).get("20"))
        doc.update(selection=sel, chosen_rule=chosen)
    report_rows = [r for r in rows if r["group"] == "report"]
    if report_rows:
        shown = list(dict.fromkeys([chosen or "current", "current", "per-op-shape"]))
        rep = summarize(rows, "report", shown, ks)
        targets = sorted({r["target"] for r in report_rows})
        _print_table(f"HELD OUT: HELP devices ({len(targets)} tables, {len(report_rows)} cases; not used to choose)",
                     rep, shown, ks)
        doc.update(report=rep, report_devices=targets)
        if chosen is not None:
            c, cur = rep[chosen], rep["current"]
            k20 = (c["cells"]["design"]["20"]["median"], cur["cells"]["design"]["20"]["median"])
            holds = k20[0] >= k20[1] and c["score"] >= cur["score"]
            doc["held_out_verdict"] = {"design_k20_median": {"chosen": k20[0], "current": k20[1]},
                                       "score": {"chosen": c["score"], "current": cur["score"]},
                                       "chosen_at_least_as_good": bool(holds)}
            print(f"\nheld out: {chosen} vs current, design k=20 median {100 * k20[0]:.1f} vs {100 * k20[1]:.1f} %, "
                  f"score {100 * c['score']:.2f} vs {100 * cur['score']:.2f}: "
                  + ("at least as good" if holds else "NOT at least as good"))
    wall = round(time.perf_counter() - t0, 1)
    print(f"\nwall {wall} s")
    doc.update(rows=rows, wall_s=wall,
               made_by="python tools/select_fewshot_rule.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1, allow_nan=False, default=lambda o: None) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
