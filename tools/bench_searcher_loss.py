#!/usr/bin/env python
"""Searcher loss without labels: does ``edgenas search`` find the arch its own rule would pick?

For every budget case and seed, the default search (NSGA-II, 300 evaluations, the space's default
training-free ensemble, proxy values from a whole-space score table) is run with each value of
NSGA-II's ``local_share`` (the share of evaluations spent hill-climbing from the best candidates).
Its pick is compared with the **exhaustive pick of the same rule**: every feasible isomorphism
class (its cheapest member) scored and ranked within the feasible set, best score. Reported per
variant: how often the search's pick is that class (``match``), how often the search scored that
class at all (``seen``; seen but not picked = the ensemble ranks within the candidates the run
scored, a different population), and the pick's rank under the exhaustive rule (0 = the best).

No trained accuracy is read: the searcher's job is to find the best-scoring feasible arch, so its
settings may be chosen on any space, held-out spaces included, without choosing on their labels.

Budgets: latency percentiles of the named targets' tables and MACs percentiles over the space.

Example:
    python tools/bench_searcher_loss.py --space macro --scores benchmarks/scores/macro_cifar10_b16_s0.csv.gz \
        --macs-percentiles 10,20,30,40,50,60,70,80,90 --out benchmarks/results/searcher_loss_macro.json
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from _result import write_result  # noqa: E402
from bench_cross_space import MacsCost, column  # noqa: E402
from bench_picks import reachable  # noqa: E402

from edgenas.search import searchers  # noqa: E402
from edgenas.search.config import SearchConfig  # noqa: E402
from edgenas.search.problem import AdditiveSizeTable  # noqa: E402
from edgenas.search.run import run_search  # noqa: E402
from edgenas.search.scoring import TableScorer  # noqa: E402
from edgenas.spaces import get_space  # noqa: E402


def budgets(space, dataset: str, archs: list, alive: np.ndarray, macs: np.ndarray, size, targets: list[str],
            percentiles: list[float], macs_percentiles: list[float]) -> list[tuple[str, np.ndarray, dict]]:
    """(label, cost per arch with inf where infeasible, run_search keyword arguments) per case."""
    from edgenas.hardware.cost import get_cost_model
    from edgenas.hardware.targets import load_target

    out = []
    for t in targets:
        model = get_cost_model(t, space, dataset, source=SearchConfig().latency_source)
        lat = np.asarray(model.predict_many(archs, missing="nan"), dtype=float)
        ok = alive & np.isfinite(lat)
        for p in percentiles:
            b = float(np.percentile(lat[ok], p))
            out.append((f"{t}-p{p:g}", np.where(ok & (lat <= b), lat, np.inf),
                        {"targets": (t,), "max_latency_ms": b, "cost_models": {load_target(t).name: model}}))
    for p in macs_percentiles:
        b = float(np.percentile(macs[alive], p))
        out.append((f"macs-p{p:g}", np.where(alive & (macs <= b * (1 + 1e-9)), macs, np.inf),
                    {"targets": (), "cost_models": {"macs": MacsCost(size)}, "max_macs_m": b}))
    return out


def main(argv: list[str] | None = None) -> int:
    from edgenas.proxies.ensemble import aggregate, ensemble_components
    from edgenas.search.config import default_proxy

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", required=True)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--scores", required=True, type=Path, help="whole-space score table of the space/dataset")
    ap.add_argument("--proxy", default=None, help="ensemble (default: the space's default proxy)")
    ap.add_argument("--targets", default="", help="latency targets, comma-separated")
    ap.add_argument("--percentiles", default="10,50,90")
    ap.add_argument("--macs-percentiles", default="10,50,90")
    ap.add_argument("--local-shares", default="0.2,0.4,0.6,0.8")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    space = get_space(args.space)
    proxy = args.proxy or default_proxy(space.name)
    shares = [float(s) for s in args.local_shares.split(",")]
    names = {s: f"nsga2_local{s:g}" for s in shares}
    for s, name in names.items():
        if name not in searchers.list_searchers():
            searchers.register_searcher(name)(functools.partial(searchers.nsga2, local_share=s))
    archs = list(space.enumerate())
    iso = [space.iso_key(a) for a in archs]
    text = [space.format(a) for a in archs]
    alive = np.array([not space.is_degenerate(a) for a in archs])
    scorer = TableScorer(space=space, path=args.scores, ensemble=proxy)
    size = AdditiveSizeTable(space, args.dataset)
    sizes = [size(a) for a in archs]
    macs = np.array([s[0] for s in sizes], dtype=float)
    params = np.array([s[1] for s in sizes], dtype=float)
    cols = {c: column(scorer, archs, c, alive) for c in ensemble_components(proxy)}
    pct = [float(p) for p in args.percentiles.split(",")] if args.percentiles else []
    mpct = [float(p) for p in args.macs_percentiles.split(",")] if args.macs_percentiles else []
    cases = budgets(space, args.dataset, archs, alive, macs, size,
                    [t for t in args.targets.split(",") if t], pct, mpct)
    t0 = time.perf_counter()
    rows = []
    for label, cost, extra in cases:
        reach = reachable(np.flatnonzero(np.isfinite(cost)), cost, macs, params, iso, text)
        s = aggregate(proxy, {c: v[reach] for c, v in cols.items()})
        order = np.lexsort((reach, -s))  # best score first, ties by arch order
        rank_of = {iso[reach[j]]: r for r, j in enumerate(order)}
        best = iso[reach[order[0]]]
        line = []
        for share, name in names.items():
            for seed in range(args.seeds):
                w0 = time.perf_counter()
                res = run_search(seed=seed, space=space.name, dataset=args.dataset, write_outputs=False,
                                 scorer=scorer, proxy=proxy, size=size, searcher=name, **extra)
                key = space.iso_key(space.parse(res.pick.arch))
                rows.append({"budget": label, "local_share": share, "seed": seed, "match": key == best,
                             "seen": any(c.iso_key == best for c in res.candidates),
                             "exhaustive_rank": rank_of.get(key, -1), "feasible_classes": int(reach.size),
                             "wall_s": round(time.perf_counter() - w0, 3)})
            mine = [r for r in rows if r["budget"] == label and r["local_share"] == share]
            line.append(f"{share:g}: {sum(r['match'] for r in mine)}/{sum(r['seen'] for r in mine)}")
        print(f"{label:>18}  {reach.size:>5} classes  match/seen per local_share  " + "  ".join(line), flush=True)
    summary = {}
    print(f"\n{space.name}/{args.dataset}, {proxy}: {len(cases)} budgets x {args.seeds} seeds")
    print("| local_share | pick = exhaustive pick | exhaustive pick scored | median / p90 / worst rank of the pick |")
    print("|---|---|---|---|")
    for share in shares:
        mine = [r for r in rows if r["local_share"] == share]
        ranks = np.array([r["exhaustive_rank"] for r in mine])
        summary[f"{share:g}"] = {"runs": len(mine), "match": int(sum(r["match"] for r in mine)),
                                 "seen": int(sum(r["seen"] for r in mine)), "rank_median": float(np.median(ranks)),
                                 "rank_p90": float(np.percentile(ranks, 90)), "rank_worst": int(ranks.max())}
        s = summary[f"{share:g}"]
        print(f"| {share:g} | {s['match']} / {s['runs']} | {s['seen']} / {s['runs']} | "
              f"{s['rank_median']:g} / {s['rank_p90']:g} / {s['rank_worst']} |")
    doc = {"schema_version": 1, "benchmark": "searcher_loss", "space": space.name, "dataset": args.dataset,
           "proxy": proxy, "what": "search pick vs the exhaustive pick of the same rule (no accuracy read)",
           "evaluations": SearchConfig().evaluations, "summary": summary, "runs": rows}
    return write_result(args.out, doc, tool="bench_searcher_loss.py", argv=argv, t0=t0)


if __name__ == "__main__":
    sys.exit(main())
