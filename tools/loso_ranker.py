#!/usr/bin/env python
"""Leave-one-space-out: a linear ranker over space-agnostic features, fitted on one space's trained
accuracies and read on the other's.

The procedure was fixed before any of its numbers were computed (docs/benchmarks.md, "Cross-space
picks"): per arch the features log FLOPs, log params, AZ expressivity, sed, the weighted layers on
the longest and on the shortest input-output path and the plain-depth penalty, each turned into
the log of its average rank within the scored population and standardised there; a ridge
regression (alpha 1) of the accuracy percentile on them over every distinct network of the
training space (its datasets pooled, equal weight each); pick = the best predicted score in the
feasible set. Fit on NB201 (CIFAR-10, CIFAR-100, ImageNet16-120), read on NAS-Bench-Macro; fit on
macro, read on NB201. Cases and metrics are those of tools/select_cross_space_rule.py (exhaustive
picks): median / p90 gap to the best feasible arch, the share of cases worse than the max-params
and the max-MACs pick, Kendall tau over the distinct networks.

Example:
    python tools/loso_ranker.py --table nb201:cifar10=benchmarks/scores/nb201_cifar10_b16_s0.csv.gz \
        --table nb201:cifar100=benchmarks/scores/nb201_cifar100_b16_s0.csv.gz \
        --table nb201:ImageNet16-120=benchmarks/scores/nb201_ImageNet16-120_b16_s0.csv.gz \
        --table macro:cifar10=benchmarks/scores/macro_cifar10_b16_s0.csv.gz --out benchmarks/results/loso_ranker.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from _result import write_result  # noqa: E402
from select_cross_space_rule import cases, exhaustive_pick, load_space, log_rank_score  # noqa: E402

from edgenas.proxies.depth import PLAIN_DEPTH_LIMIT, path_depths  # noqa: E402

FEATURES = ("flops", "params", "az_expressivity", "sed", "longest", "shortest", "plain_penalty")
PATHS_RULE = ("flops", "longest", "az_expressivity", "sed", "plain_penalty")  # edgenas_paths' terms
TARGETS = {"nb201": ["jetson-tx2", "raspi4", "pixel3", "edgetpu"], "macro": []}


def features(space_name: str, dataset: str, table: str) -> dict:
    d = load_space(space_name, dataset, table, TARGETS[space_name], {"flops", "sed", "az_expressivity"})
    space = d["space"]
    longest = np.full(d["alive"].size, np.nan)
    shortest = np.full(d["alive"].size, np.nan)
    for i, a in enumerate(space.enumerate()):
        if d["alive"][i]:
            longest[i], shortest[i] = path_depths(space.layers(a, dataset))
    d["f"] = {"flops": d["cols"]["flops"], "params": d["params"], "az_expressivity": d["cols"]["az_expressivity"],
              "sed": d["cols"]["sed"], "longest": longest, "shortest": shortest,
              "plain_penalty": -np.maximum(0.0, shortest - PLAIN_DEPTH_LIMIT)}
    return d


def zlog(cols: list[np.ndarray]) -> np.ndarray:
    """(N, k): per column the log average rank (non-finite tied at the minimum), standardised."""
    from scipy.stats import rankdata

    out = []
    for v in cols:
        fin = np.isfinite(v)
        r = np.log(rankdata(np.where(fin, v, v[fin].min()), method="average"))
        out.append((r - r.mean()) / r.std() if r.std() > 0 else np.zeros_like(r))
    return np.stack(out, 1)


def classes(d: dict) -> np.ndarray:
    first: dict = {}
    for i in np.flatnonzero(d["alive"] & np.isfinite(d["acc"])).tolist():
        first.setdefault(d["iso"][i], i)
    return np.array(sorted(first.values()))


def fit(spaces: list[dict], alpha: float = 1.0) -> np.ndarray:
    from scipy.stats import rankdata

    xs, ys = [], []
    for d in spaces:
        c = classes(d)
        w = 1 / np.sqrt(c.size)  # each dataset weighs the same
        y = rankdata(d["acc"][c]) / c.size
        xs.append(zlog([d["f"][k][c] for k in FEATURES]) * w)
        ys.append((y - y.mean()) * w)
    x, y = np.vstack(xs), np.concatenate(ys)
    return np.linalg.solve(x.T @ x + alpha / len(spaces) * np.eye(x.shape[1]), x.T @ y)


def evaluate(d: dict, rules: dict, macs_percentiles: list[float]) -> dict:
    from scipy.stats import kendalltau

    acc = d["acc"]
    res = {k: {"gap": [], "worse_params": [], "worse_macs": []} for k in rules}
    for _label, feas, reach in cases(d, [10, 30, 50, 70, 90], macs_percentiles):
        oracle = acc[feas].max()
        pm = int(reach[np.lexsort((reach, -d["macs"][reach]))[0]])
        pp = int(reach[np.lexsort((reach, -d["params"][reach]))[0]])
        for k, rule in rules.items():
            pick = exhaustive_pick(rule(d, reach), reach, d["macs"], 0.0)
            res[k]["gap"].append(oracle - acc[pick])
            res[k]["worse_params"].append(acc[pick] < acc[pp] - 1e-9)
            res[k]["worse_macs"].append(acc[pick] < acc[pm] - 1e-9)
    c = classes(d)
    return {k: {"cases": len(r["gap"]), "median_gap_pp": float(np.median(r["gap"])),
                "p90_gap_pp": float(np.percentile(r["gap"], 90)),
                "share_worse_than_max_params": float(np.mean(r["worse_params"])),
                "share_worse_than_max_macs": float(np.mean(r["worse_macs"])),
                "kendall_tau": float(kendalltau(rules[k](d, c), acc[c]).statistic)} for k, r in res.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", action="append", required=True, metavar="SPACE:DATASET=TABLE")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    data: dict[str, dict] = {}
    for spec in args.table:
        where, _, table = spec.partition("=")
        space_name, _, dataset = where.partition(":")
        data[where] = features(space_name, dataset, table)
    by_space: dict[str, list[str]] = {}
    for where in data:
        by_space.setdefault(where.split(":")[0], []).append(where)
    weights = {s: fit([data[w] for w in ws]) for s, ws in by_space.items()}

    def linear(w: np.ndarray):
        return lambda d, idx: zlog([d["f"][k][idx] for k in FEATURES]) @ w

    def log_ranks(comps):
        return lambda d, idx: log_rank_score([d["f"][k][idx] for k in comps], (1,) * len(comps))

    results = {}
    for where, d in data.items():
        own = where.split(":")[0]
        rules = {"max_macs": log_ranks(["flops"]), "max_params": log_ranks(["params"]),
                 "edgenas_paths": log_ranks(PATHS_RULE),
                 **{f"ridge_fitted_on_{s}": linear(w) for s, w in weights.items() if s != own}}
        mpct = [10, 20, 30, 40, 50, 60, 70, 80, 90] if not TARGETS[own] else [10, 30, 50, 70, 90]
        results[where] = evaluate(d, rules, mpct)
        print(f"\n{where}: exhaustive picks; gap median / p90, worse than max_params / max_macs, Kendall tau")
        for k, r in results[where].items():
            print(f"  {k:24s} {r['median_gap_pp']:5.2f} / {r['p90_gap_pp']:5.2f}  {r['share_worse_than_max_params']:4.0%}"
                  f" / {r['share_worse_than_max_macs']:4.0%}  tau {r['kendall_tau']:.3f}  ({r['cases']} cases)", flush=True)
    for s, w in weights.items():
        print(f"weights fitted on {s}: " + ", ".join(f"{k} {v:+.3f}" for k, v in zip(FEATURES, w)))
    doc = {"schema_version": 1, "benchmark": "loso_ranker", "features": list(FEATURES),
           "weights": {s: dict(zip(FEATURES, map(float, w))) for s, w in weights.items()}, "results": results}
    return write_result(args.out, doc, tool="loso_ranker.py", argv=argv, t0=t0)


if __name__ == "__main__":
    sys.exit(main())
