#!/usr/bin/env python
"""Fit a space's linear accuracy prior (``edgenas/spaces/data/<space>_prior.json``).

Ridge regression of ``-log(100 - test accuracy %)`` on the space's topology features
(:meth:`SearchSpace.arch_features`) and the proxies of the ``edgenas_transfer`` recipe (values from
a score table made by ``tools/score_nb201_table.py``), each standardised on the training archs:

* training archs: ``--archs`` live archs drawn uniformly with ``--seed`` from the benchmark, of
  which the ``--top-share`` most accurate are kept (the pick needs the top of the ranking right;
  the weak half pulls a linear fit towards separating bad from mediocre);
* one dataset only (``--dataset``, CIFAR-10 for the shipped prior): the others stay held out for
  ``tools/bench_picks.py``.

Choices of the shipped prior, made on CIFAR-10 pick gaps only (docs/benchmarks.md): target
``-log(100 - acc)`` over ``acc``, top half over all archs or the top quarter / tenth, ridge 10 over
1 or 30, topology features plus proxies over either alone, and without synflow and AZ trainability
(as good on CIFAR-10 within 0.05 pp, and half the proxy cost per arch: the default search must
finish in 60 s on 2 cores) over with them.

Example (the shipped file):
    python tools/fit_space_prior.py --dataset cifar10 \
        --scores benchmarks/scores/nb201_cifar10_b16_s0.csv.gz --out edgenas/spaces/data/nb201_prior.json
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas._json import write_json_atomic
from edgenas.proxies.ensemble import get_ensemble
from edgenas.search.scoring import TableScorer
from edgenas.spaces import get_space

ACC_COLUMN = {"cifar10": "cifar10_test", "cifar100": "cifar100_test", "ImageNet16-120": "imagenet16_120_test"}
LOG_PROXIES = {"flops", "params", "synflow"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", default="nb201")
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--scores", required=True, help="score table with the recipe's proxy columns")
    ap.add_argument("--accuracy-csv", type=Path, default=ROOT / "benchmarks/nb201/nb201_accuracy.csv")
    ap.add_argument("--ensemble", default="edgenas_transfer")
    ap.add_argument("--archs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top-share", type=float, default=0.5)
    ap.add_argument("--ridge", type=float, default=10.0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    from edgenas.proxies.prior import LOG_FLOOR

    space = get_space(args.space)
    recipe = get_ensemble(args.ensemble)
    proxies = [c for c in recipe.components if c != "structure_prior"]
    rows = csv.DictReader(ln for ln in args.accuracy_csv.read_text().splitlines() if not ln.startswith("#"))
    acc = {int(r["index"]): float(r[ACC_COLUMN[args.dataset]]) for r in rows}
    live = [i for i in range(space.size) if not space.is_degenerate(space.from_index(i))]
    rng = np.random.default_rng(args.seed)
    sample = sorted(rng.choice(live, size=args.archs, replace=False).tolist())
    y_all = np.array([acc[i] for i in sample])
    keep = y_all >= np.quantile(y_all, 1.0 - args.top_share)
    train = [i for i, k in zip(sample, keep) if k]
    table = TableScorer(space=space, path=args.scores, columns=proxies)
    archs = [space.from_index(i) for i in train]
    raw = table.score(archs)
    names: list[tuple[str, str, str]] = []  # (feature, source, transform)
    cols: list[np.ndarray] = []
    for p in proxies:
        v = np.array([np.nan if r.values[p] is None else r.values[p] for r in raw], dtype=float)
        if not np.isfinite(v).all():
            raise SystemExit(f"{args.scores}: proxy {p!r} has missing values among the training archs")
        tr = "log" if p in LOG_PROXIES else "identity"
        cols.append(np.log(np.maximum(v, LOG_FLOOR)) if tr == "log" else v)
        names.append((p, "proxy", tr))
    feats = [space.arch_features(a) for a in archs]
    for f in feats[0]:
        cols.append(np.array([d[f] for d in feats], dtype=float))
        names.append((f, "space", "identity"))
    X = np.stack(cols, axis=1)
    center, scale = X.mean(axis=0), X.std(axis=0)
    used = scale > 1e-12  # a feature constant over the training archs carries no information
    Z = (X[:, used] - center[used]) / scale[used]
    y = -np.log(100.0 - np.array([acc[i] for i in train]))
    A = np.c_[np.ones(len(train)), Z]
    reg = args.ridge * np.eye(A.shape[1])
    reg[0, 0] = 0.0  # the intercept is not shrunk
    w = np.linalg.solve(A.T @ A + reg, A.T @ y)
    fit = A @ w
    terms = [{"feature": n, "source": s, "transform": t, "center": float(c), "scale": float(sc), "weight": float(wi)}
             for (n, s, t), c, sc, wi in zip([x for x, u in zip(names, used) if u], center[used], scale[used], w[1:])]
    doc = {
        "schema_version": 1, "space": space.name, "ensemble": args.ensemble,
        "what": "linear accuracy prior: intercept + sum weight * (transform(x) - center) / scale",
        "target": "-log(100 - top-1 test accuracy %), 200-epoch NAS-Bench-201 training",
        "fitted_on": {"dataset": args.dataset, "archs_drawn": args.archs, "archs_used": len(train),
                      "top_share": args.top_share, "draw_seed": args.seed, "ridge": args.ridge,
                      "accuracy": "NAS-Bench-201 (Dong & Yang, ICLR 2020), mean test accuracy over seeds",
                      "proxy_table": Path(args.scores).name,
                      "train_r2": float(1 - np.sum((y - fit) ** 2) / np.sum((y - y.mean()) ** 2)),
                      "dropped_constant_features": [n for (n, _, _), u in zip(names, used) if not u]},
        "made_by": "tools/fit_space_prior.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "intercept": float(w[0]), "terms": terms,
    }
    write_json_atomic(args.out, doc)
    print(f"{len(train)} archs, {len(terms)} terms, train R^2 {doc['fitted_on']['train_r2']:.3f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
