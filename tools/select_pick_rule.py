#!/usr/bin/env python
"""Compare candidate pick rules on one dataset: how the search's defaults were chosen.

For every target with a table for the dataset and budgets at the 10th..90th latency percentile, the
feasible isomorphism classes (each as its cheapest feasible member, degenerate archs left out) are
ranked by each candidate rule, in two settings: every feasible class scored (``all``; a share-based
rule takes its share of them) and random 300-class subsets, five per case (``sub300``: what a
300-evaluation search holds). Per rule: median / p90 / worst gap to the best feasible arch (pp)
and the share of cases where the rule's pick is less accurate than the largest feasible network
by MACs. Run it on the selection dataset only (CIFAR-10); the other datasets stay held out.

    python tools/select_pick_rule.py --scores benchmarks/scores/nb201_cifar10_b16_s0.csv.gz \
        --dataset cifar10 --out benchmarks/results/pick_rules_nb201_cifar10_edgenas_prior.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import bench_picks as bp  # the same table readers and reachability rule

from edgenas._json import write_json_atomic
from edgenas.errors import EdgeNASError
from edgenas.search.problem import AdditiveSizeTable
from edgenas.search.scoring import TableScorer
from edgenas.spaces import get_space

#: candidate ensembles: component -> weight of its log-rank
RECIPES = {
    "edgenas_fast (1,-,1,1,1)": {"flops": 1, "az_expressivity": 1, "az_trainability": 1, "sed": 1},
    "prior (1,1,1,1,1)": {"flops": 1, "params": 1, "az_expressivity": 1, "az_trainability": 1, "sed": 1},
    "prior (1,2,1,1,2)": {"flops": 1, "params": 2, "az_expressivity": 1, "az_trainability": 1, "sed": 2},
    "prior (1,3,1,1,3)": {"flops": 1, "params": 3, "az_expressivity": 1, "az_trainability": 1, "sed": 3},
    "prior (1,4,1,1,4)": {"flops": 1, "params": 4, "az_expressivity": 1, "az_trainability": 1, "sed": 4},
    "prior (3,3,1,1,3)": {"flops": 3, "params": 3, "az_expressivity": 1, "az_trainability": 1, "sed": 3},
    "prior + synflow (1,3,1,1,3,1)": {"flops": 1, "params": 3, "az_expressivity": 1, "az_trainability": 1,
                                      "sed": 3, "synflow": 1},
}
#: pick rules on top of a recipe: the share of best-scoring candidates the largest is taken from
SHARES = (0.0, 0.01, 0.025, 0.04)


def log_rank(v: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return np.log(rankdata(v))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scores", required=True)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--targets", default=bp.DEFAULT_TARGETS)
    ap.add_argument("--subsets", type=int, default=5)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    from edgenas.hardware.cost import get_cost_model

    space = get_space("nb201")
    archs = list(space.enumerate())
    iso = [space.iso_key(a) for a in archs]
    text = [space.format(a) for a in archs]
    alive = np.array([not space.is_degenerate(a) for a in archs])
    acc = bp.read_accuracy(ROOT / "benchmarks/nb201/nb201_accuracy.csv", args.dataset)
    table = TableScorer(space=space, path=args.scores, columns=("flops",))
    cols = {c: bp.table_column(table, space, c) for c in
            ("flops", "params", "az_expressivity", "az_trainability", "sed", "synflow")}
    cols = {c: np.where(np.isfinite(v), v, -np.inf) for c, v in cols.items()}
    size = AdditiveSizeTable(space, args.dataset)
    macs = np.array([size(a)[0] for a in archs])
    params = np.array([size(a)[1] for a in archs])
    rng = np.random.default_rng(0)
    cases = []
    for target in args.targets.split(","):
        try:
            model = get_cost_model(target, space, args.dataset)
        except EdgeNASError:
            continue
        lat = np.asarray(model.predict_many(archs, missing="nan"), dtype=float)
        ok = alive & np.isfinite(lat)
        for pct in range(10, 100, 10):
            budget = np.percentile(lat[ok], pct)
            feasible = np.flatnonzero(ok & (lat <= budget))
            reach = bp.reachable(feasible, lat, macs, params, iso, text)
            subs = [np.sort(rng.choice(reach, min(300, reach.size), replace=False)) for _ in range(args.subsets)]
            cases.append((lat, float(acc[feasible].max()), reach, subs))

    rows = []
    for name, weights in RECIPES.items():
        for share in SHARES:
            out = {"recipe": name, "pick_top_share": share}
            for mode in ("all", "sub300"):
                gaps, worse = [], []
                for lat, oracle, reach, subs in cases:
                    for sel in ([reach] if mode == "all" else subs):
                        score = sum(w * log_rank(cols[c][sel]) for c, w in weights.items())
                        k = max(1, int(np.ceil(share * sel.size - 1e-9)))
                        best = np.lexsort((sel, lat[sel], -score))[:k]
                        j = sel[best[np.lexsort((lat[sel][best], -score[best], -macs[sel][best]))[0]]]
                        largest = sel[np.lexsort((sel, lat[sel], -macs[sel]))[0]]
                        gaps.append(oracle - acc[j])
                        worse.append(bool(acc[j] < acc[largest] - 1e-9))
                g = np.asarray(gaps)
                out[mode] = {"median": float(np.median(g)), "p90": float(np.percentile(g, 90)),
                             "worst": float(g.max()), "share_worse_than_max_flops": float(np.mean(worse))}
            rows.append(out)
            a, b = out["all"], out["sub300"]
            print(f"{name:32s} share {share:5.3f} | all {a['median']:.2f} / {a['p90']:.2f} / {a['worst']:.2f} "
                  f"{a['share_worse_than_max_flops']:4.0%} | sub300 {b['median']:.2f} / {b['p90']:.2f} / "
                  f"{b['worst']:.2f} {b['share_worse_than_max_flops']:4.0%}", flush=True)
    write_json_atomic(args.out, {"schema_version": 1, "dataset": args.dataset, "scores": args.scores,
                                 "cases": len(cases), "subsets_per_case": args.subsets, "rules": rows,
                                 "made_by": "tools/select_pick_rule.py " + " ".join(argv or sys.argv[1:])})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
