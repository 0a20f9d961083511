#!/usr/bin/env python
"""Which training-free ranking should a space without its own prior get? Candidate rules, per space.

The procedure behind ``edgenas_paths`` (docs/benchmarks.md, "Cross-space picks"): a fixed list of
candidate rules (:data:`RULES`: size counts, the earlier defaults, and log-rank sums of proxies and
the path-depth proxies of ``edgenas/proxies/depth.py``) is scored on every budget case of each space
with the **exhaustive** pick (every feasible class ranked within the feasible set, the rule's pick
share applied; the search's NSGA-II is measured separately by ``tools/bench_cross_space.py``):
median / p90 gap to the best feasible true accuracy, the share of cases in which the pick is worse
than the max-params and than the max-MACs pick, and Kendall tau over the space's distinct networks.
A rule is chosen on one space and read on the other (leave one space out).

Budgets: latency percentiles of each target's table and MACs percentiles (as bench_cross_space).
Data-free columns the score table lacks (``depth``, ``skipped_depth``, ``sed``) are computed from the space;
``plain_depth_penalty`` (the "shortcut" of the rule names) is the derived term of ``edgenas_paths``:
``-max(0, shortest - 18)``, ``shortest = depth - skipped_depth``.

Example:
    python tools/select_cross_space_rule.py \
        --table nb201:cifar10=benchmarks/scores/nb201_cifar10_b16_s0.csv.gz \
        --table nb201:cifar100=benchmarks/scores/nb201_cifar100_b16_s0.csv.gz \
        --table nb201:ImageNet16-120=benchmarks/scores/nb201_ImageNet16-120_b16_s0.csv.gz \
        --table macro:cifar10=benchmarks/scores/macro_cifar10_b16_s0.csv.gz \
        --out benchmarks/results/cross_space_rule_selection.json
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from _result import write_result  # noqa: E402
from bench_cross_space import DEFAULT_TARGETS, accuracy_by_iso  # noqa: E402

from edgenas.errors import EdgeNASError  # noqa: E402
from edgenas.proxies.ensemble import TERMS  # noqa: E402
from edgenas.search.problem import AdditiveSizeTable  # noqa: E402
from edgenas.search.scoring import TableScorer  # noqa: E402
from edgenas.spaces import get_space  # noqa: E402

#: the terms edgenas_paths ranks
_PATHS = ("flops", "depth", "az_expressivity", "sed", "plain_depth_penalty")

#: candidate rules: name -> (components, weights, pick share); fixed before any was scored
RULES: dict[str, tuple[tuple[str, ...], tuple[float, ...], float]] = {
    "max_macs": (("flops",), (1,), 0.0),
    "max_params": (("params",), (1,), 0.0),
    "edgenas_prior": (("flops", "params", "az_expressivity", "az_trainability", "sed"), (1, 2, 1, 1, 2), 0.025),
    "edgenas_prior_best": (("flops", "params", "az_expressivity", "az_trainability", "sed"), (1, 2, 1, 1, 2), 0.0),
    "flops+depth": (("flops", "depth"), (1, 1), 0.0),
    "flops+depth+shortcut": (("flops", "depth", "plain_depth_penalty"), (1, 1, 1), 0.0),
    "flops+azx+sed+shortcut": (("flops", "az_expressivity", "sed", "plain_depth_penalty"), (1, 1, 1, 1), 0.0),
    "edgenas_paths": (_PATHS, (1,) * 5, 0.0),
    "edgenas_paths_share.01": (_PATHS, (1,) * 5, 0.01),
    "edgenas_paths+params": (("flops", "params", *_PATHS[1:]), (1,) * 6, 0.0),
    "edgenas_paths+aztrain": ((*_PATHS, "az_trainability"), (1,) * 6, 0.0),
    "edgenas_paths-azx": (("flops", "depth", "sed", "plain_depth_penalty"), (1,) * 4, 0.0),
    # added later, before any was scored: the VKDNW terms (tables that carry them: NB201 CIFAR-10)
    "vkdnw_single": (("vkdnw_single",), (1,), 0.0),
    "vkdnw_agg": (("flops", "az_expressivity", "az_trainability", "jacov", "vkdnw_single"), (1,) * 5, 0.0),
    "edgenas_paths+vkdnw": ((*_PATHS, "vkdnw_single"), (1,) * 6, 0.0),
    # added later, proposed knowing that macro's cpu-budget picks lose to max-MACs; chosen on NB201 only
    "edgenas_paths_flops2": (_PATHS, (2, 1, 1, 1, 1), 0.0),
    "edgenas_paths_flops3": (_PATHS, (3, 1, 1, 1, 1), 0.0),
}


def log_rank_score(cols: list[np.ndarray], weights: tuple[float, ...]) -> np.ndarray:
    """Sum of weighted log average ranks (ascending; non-finite values tied at the column minimum)."""
    from scipy.stats import rankdata

    total = np.zeros(cols[0].size)
    for v, w in zip(cols, weights):
        fin = np.isfinite(v)
        v = np.where(fin, v, v[fin].min() if fin.any() else 0.0)
        total += w * np.log(rankdata(v, method="average"))
    return total


def exhaustive_pick(score: np.ndarray, idx: np.ndarray, macs: np.ndarray, share: float) -> int:
    """The search's pick rule over ``idx``: the most MACs among the best ``ceil(share n)`` scores."""
    k = max(1, math.ceil(share * idx.size - 1e-9))
    order = np.lexsort((idx, -score))[:k]
    best = idx[order]
    return int(best[np.lexsort((-score[order], -macs[best]))[0]])


def load_space(space_name: str, dataset: str, table: str, targets: list[str], needed: set[str]) -> dict:
    from edgenas.hardware.cost import get_cost_model

    space = get_space(space_name)
    archs = list(space.enumerate())
    iso = [space.iso_key(a) for a in archs]
    alive = np.array([not space.is_degenerate(a) for a in archs])
    acc = accuracy_by_iso(space, dataset, archs)
    size = AdditiveSizeTable(space, dataset)
    macs = np.array([size(a)[0] for a in archs], dtype=float)
    params = np.array([size(a)[1] for a in archs], dtype=float)
    probe = TableScorer(space=space, path=table, columns=("flops",))
    cols = {}
    for c in sorted(needed):
        try:
            one = TableScorer(space=space, path=table, columns=(c,))
        except EdgeNASError:
            continue  # a column neither in the table nor data-free: rules needing it are skipped
        cols[c] = np.array([np.nan if not alive[i] or (v := one.score([a])[0].values[c]) is None else v
                            for i, a in enumerate(archs)], dtype=float)
    del probe
    for term in [t for t in TERMS.names() if t in needed]:  # derived from their input columns
        inputs = TERMS.get(term).inputs
        if all(c in cols for c in inputs):
            cols[term] = TERMS.get(term).values(cols)  # a dead arch's NaN stays NaN
    lat = {}
    for t in targets:
        try:
            model = get_cost_model(t, space, dataset, source="auto")
        except EdgeNASError as exc:
            print(f"skip {space_name}/{dataset}/{t}: {exc}")
            continue
        lat[t] = np.asarray(model.predict_many(archs, missing="nan"), dtype=float)
    return {"space": space, "iso": iso, "alive": alive, "acc": acc, "macs": macs, "params": params,
            "cols": cols, "lat": lat}


def cases(d: dict, percentiles: list[float], macs_percentiles: list[float]):
    ok0 = d["alive"] & np.isfinite(d["acc"])
    budgets = []
    for t, lat in d["lat"].items():
        ok = ok0 & np.isfinite(lat)
        for p in percentiles:
            budgets.append((f"{t}-p{p:g}", lat, ok & (lat <= np.percentile(lat[ok], p))))
    for p in macs_percentiles:
        b = np.percentile(d["macs"][ok0], p)
        budgets.append((f"macs-p{p:g}", d["macs"], ok0 & (d["macs"] <= b * (1 + 1e-9))))
    for label, cost, mask in budgets:
        feas = np.flatnonzero(mask)
        best: dict[str, tuple] = {}
        for i in feas.tolist():  # each class as its cheapest feasible member (what the search reports)
            r = (float(cost[i]), float(d["macs"][i]), i)
            if d["iso"][i] not in best or r < best[d["iso"][i]]:
                best[d["iso"][i]] = r
        yield label, feas, np.array(sorted(r[-1] for r in best.values()))


def evaluate(d: dict, percentiles, macs_percentiles) -> dict:
    from scipy.stats import kendalltau

    acc = d["acc"]
    out: dict = {}
    rules = {k: r for k, r in RULES.items() if all(c in d["cols"] or c == "params" for c in r[0])}
    cols = {**d["cols"], "params": d["params"], "flops": d["cols"].get("flops", d["macs"])}
    gaps = {k: [] for k in rules}
    worse_p = {k: [] for k in rules}
    worse_m = {k: [] for k in rules}
    for _label, feas, reach in cases(d, percentiles, macs_percentiles):
        oracle = acc[feas].max()
        pm = int(reach[np.lexsort((reach, -d["macs"][reach]))[0]])
        pp = int(reach[np.lexsort((reach, -d["params"][reach]))[0]])
        for k, (comps, w, share) in rules.items():
            s = log_rank_score([cols[c][reach] for c in comps], w)
            pick = exhaustive_pick(s, reach, d["macs"], share)
            gaps[k].append(oracle - acc[pick])
            worse_p[k].append(acc[pick] < acc[pp] - 1e-9)
            worse_m[k].append(acc[pick] < acc[pm] - 1e-9)
    first: dict[str, int] = {}
    for i in np.flatnonzero(d["alive"] & np.isfinite(acc)).tolist():
        first.setdefault(d["iso"][i], i)
    cls = np.array(sorted(first.values()))
    for k, (comps, w, _share) in rules.items():
        tau = kendalltau(log_rank_score([cols[c][cls] for c in comps], w), acc[cls]).statistic
        g = np.array(gaps[k])
        out[k] = {"cases": int(g.size), "median_gap_pp": float(np.median(g)), "p90_gap_pp": float(np.percentile(g, 90)),
                  "worst_gap_pp": float(g.max()), "share_worse_than_max_params": float(np.mean(worse_p[k])),
                  "share_worse_than_max_macs": float(np.mean(worse_m[k])), "kendall_tau": float(tau),
                  "classes": int(cls.size)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", action="append", required=True, metavar="SPACE:DATASET=TABLE")
    ap.add_argument("--percentiles", default="10,30,50,70,90")
    ap.add_argument("--macs-percentiles", default="10,30,50,70,90")
    ap.add_argument("--targets", action="append", default=[], metavar="SPACE=T1,T2",
                    help="latency targets of a space (default: nb201's 4 HW-NAS-Bench tables; macro: cpu)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    targets = {"nb201": "jetson-tx2,raspi4,pixel3,edgetpu", "macro": DEFAULT_TARGETS["macro"]}  # macro: MACs only
    targets.update(dict(t.split("=", 1) for t in args.targets))
    pct = [float(p) for p in args.percentiles.split(",")]
    mpct = [float(p) for p in args.macs_percentiles.split(",")] if args.macs_percentiles else []
    needed = {c for comps, _, _ in RULES.values() for c in comps} - {"params"}
    needed |= {c for t in TERMS.names() if t in needed for c in TERMS.get(t).inputs}
    t0 = time.perf_counter()
    results = {}
    for spec in args.table:
        where, _, table = spec.partition("=")
        space_name, _, dataset = where.partition(":")
        d = load_space(space_name, dataset, table, [t for t in targets.get(space_name, "").split(",") if t], needed)
        results[where] = evaluate(d, pct, mpct)
        print(f"\n{where}: exhaustive picks; gap median / p90, worse than max_params / max_macs, Kendall tau")
        for k, r in results[where].items():
            print(f"  {k:24s} {r['median_gap_pp']:5.2f} / {r['p90_gap_pp']:5.2f}  {r['share_worse_than_max_params']:4.0%}"
                  f" / {r['share_worse_than_max_macs']:4.0%}  tau {r['kendall_tau']:.3f}  ({r['cases']} cases)", flush=True)
    doc = {"schema_version": 1, "benchmark": "cross_space_rule_selection",
           "what": "exhaustive picks of candidate training-free rules per space (ranks within the feasible set)",
           "rules": {k: {"components": list(c), "weights": list(w), "pick_top_share": s} for k, (c, w, s) in RULES.items()},
           "percentiles": pct, "macs_percentiles": mpct, "targets": targets, "results": results}
    return write_result(args.out, doc, tool="select_cross_space_rule.py", argv=argv, t0=t0)


if __name__ == "__main__":
    sys.exit(main())
