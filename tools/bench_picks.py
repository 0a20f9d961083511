#!/usr/bin/env python
"""How good is the pick of a default ``edgenas search``, on every dataset, device and budget?

For NAS-Bench-201 x datasets x targets x latency budgets (percentiles of the target's latency over
the space) x search seeds, this runs ``edgenas.search`` with its default settings (searcher,
evaluations, population, proxy, pick rule), the proxy values looked up in a precomputed score
table (``tools/score_nb201_table.py``; the proxy is the expensive part and is benchmarked by
``tools/bench_proxies.py``), and compares its pick (``SearchResult.pick``) with:

* ``oracle``: the best true test accuracy among all feasible archs (200-epoch NB201 accuracy);
* ``bound``: the pick the same rule makes when *every* feasible isomorphism class is scored
  (``searcher="exhaustive"``): pick gap minus bound gap is searcher loss, the bound's gap is
  proxy loss;
* baselines on the same feasible set (each class as the member the search reports, its cheapest
  feasible member): ``max_flops`` and ``max_params`` (the largest network that fits, ties to the
  lower latency), ``synflow`` (the feasible arch with the best synflow score, a data-free proxy
  from the table) and ``mean`` (the mean accuracy of the feasible archs: a random pick).

Gaps are oracle minus the accuracy of the pick, percentage points. The summary gives, per dataset,
the median / p90 / worst gap of the pick, the bound and each baseline, and the share of cases in
which the pick is worse than the max-FLOPs pick. Degenerate archs (no live path) are left out of
every set. Targets without a table for a dataset are skipped for it (reported).

Example (the table in docs/benchmarks.md):
    python tools/bench_picks.py --scores cifar10=benchmarks/scores/nb201_cifar10_b16_s0.csv.gz \
        --scores cifar100=benchmarks/scores/nb201_cifar100_b16_s0.csv.gz \
        --scores ImageNet16-120=benchmarks/scores/nb201_ImageNet16-120_b16_s0.csv.gz \
        --out benchmarks/results/picks_nb201.json
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas._json import write_json_atomic
from edgenas.errors import EdgeNASError
from edgenas.search import SearchConfig, run_search
from edgenas.search.config import default_proxy
from edgenas.search.problem import AdditiveSizeTable
from edgenas.search.scoring import TableScorer
from edgenas.spaces import get_space

ACC_COLUMN = {"cifar10": "cifar10_test", "cifar100": "cifar100_test", "ImageNet16-120": "imagenet16_120_test"}
DEFAULT_TARGETS = "jetson-tx2,raspi4,pixel3,edgetpu,pixel2,titan-rtx-b1,xeon-gold-6226"
BASELINES = ("max_flops", "max_params", "synflow", "mean")


def read_accuracy(path: Path, dataset: str) -> np.ndarray:
    rows = csv.DictReader(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))
    acc = np.full(15625, np.nan)
    for r in rows:
        acc[int(r["index"])] = float(r[ACC_COLUMN[dataset]])
    return acc


def table_column(scorer: TableScorer, space, column: str) -> np.ndarray:
    """(15,625,) values of one table column by benchmark index (NaN where missing or failed)."""
    one = TableScorer(space=space, path=scorer.path, columns=(column,))
    out = np.full(space.size, np.nan)
    for i in range(space.size):
        arch = space.from_index(i)
        if space.is_degenerate(arch):  # never scored by a search
            continue
        v = one.score([arch])[0].values[column]
        out[i] = np.nan if v is None else v
    return out


def reachable(feasible: np.ndarray, lat: np.ndarray, macs: np.ndarray, params: np.ndarray,
              iso: list[str], text: list[str]) -> np.ndarray:
    """The member the search reports for each feasible class: the cheapest feasible one
    (latency, MACs, params, arch string), as ``SearchContext.cheapest``."""
    best: dict[str, tuple] = {}
    for i in feasible.tolist():
        r = (float(lat[i]), float(macs[i]), float(params[i]), text[i], i)
        if iso[i] not in best or r < best[iso[i]]:
            best[iso[i]] = r
    return np.array(sorted(r[-1] for r in best.values()), dtype=int)


def top_by(values: np.ndarray, idx: np.ndarray, lat: np.ndarray) -> int:
    """Index in ``idx`` with the largest finite value, ties to the lower latency, then index."""
    v = np.where(np.isfinite(values[idx]), values[idx], -np.inf)
    return int(idx[np.lexsort((idx, lat[idx], -v))[0]])


def ranking_quality(values: np.ndarray, acc: np.ndarray, top: float = 0.1) -> dict:
    """Kendall tau and top-``top`` precision (share of the proxy's best ``top`` fraction that is in the
    true best ``top`` fraction) of ``values`` against ``acc`` (same archs)."""
    from scipy.stats import kendalltau

    v = np.where(np.isfinite(values), values, -np.inf)
    k = max(1, round(top * v.size))
    mine = set(np.argsort(-v, kind="stable")[:k].tolist())
    best = set(np.argsort(-acc, kind="stable")[:k].tolist())
    tau = kendalltau(v, acc).statistic if v.size > 2 else float("nan")
    return {"kendall_tau": float(tau), "top10_precision": len(mine & best) / k}


def summarise(cases: list[dict]) -> dict:
    def stats(key: str) -> dict:
        g = np.array([c["gap_pp"][key] for c in cases], dtype=float)
        return {"median": float(np.median(g)), "p90": float(np.percentile(g, 90)), "worst": float(g.max()),
                "mean": float(g.mean())}

    out = {"cases": len(cases), "pick": stats("pick"), "bound": stats("bound")}
    for b in BASELINES:
        out[b] = stats(b)
    pick = np.array([c["acc"]["pick"] for c in cases])
    for b in ("max_flops", "synflow", "mean"):
        out[f"share_worse_than_{b}"] = float(np.mean(pick < np.array([c["acc"][b] for c in cases]) - 1e-9))
    return out


def report(cases: list[dict], diagnostics: list[dict], datasets: list[str], selection: set[str], *,
           proxy: str, searcher: str, evaluations: int) -> dict:
    """Per-dataset summary (printed as a table and markdown) of the cases."""
    summary = {}
    for dataset in datasets:
        mine = [c for c in cases if c["dataset"] == dataset]
        if mine:
            summary[dataset] = {"held_out": dataset not in selection, **summarise(mine)}
    for dataset in datasets:
        mine = [d for d in diagnostics if d["dataset"] == dataset]
        if mine and dataset in summary:
            summary[dataset]["ranking_median"] = {
                p: {k: float(np.nanmedian([d["ranking"][p][k] for d in mine])) for k in ("kendall_tau", "top10_precision")}
                for p in mine[0]["ranking"]}
    held = [c for c in cases if c["held_out"]]
    if held:
        summary["held_out_all"] = {"held_out": True, **summarise(held)}

    cols = ("pick", "bound", "max_flops", "max_params", "synflow", "mean")
    print(f"\nproxy {proxy}, searcher {searcher}, {evaluations} evaluations; "
          "gap to the oracle in pp: median / p90 / worst")
    print(f"{'dataset':>15} {'role':>9} {'cases':>5} " + " ".join(f"{c:>17}" for c in cols) + "  worse_than_max_flops")
    for name, s in summary.items():
        role = "held-out" if s["held_out"] else "selection"
        cells = " ".join(f"{s[c]['median']:5.2f}/{s[c]['p90']:5.2f}/{s[c]['worst']:5.2f}" for c in cols)
        print(f"{name:>15} {role:>9} {s['cases']:>5} {cells}  {s['share_worse_than_max_flops']:.1%}")
    print("\nmarkdown (docs/benchmarks.md):")
    print("| dataset | role | cases | " + " | ".join(cols) + " | pick worse than max_flops |")
    print("|---|---|---|" + "---|" * len(cols) + "---|")
    for name, s in summary.items():
        role = "held out" if s["held_out"] else "selection"
        cells = " | ".join(f"{s[c]['median']:.2f} / {s[c]['p90']:.2f} / {s[c]['worst']:.2f}" for c in cols)
        print(f"| {name} | {role} | {s['cases']} | {cells} | {s['share_worse_than_max_flops']:.0%} |")
    print("\nranking among the feasible classes, median over targets and budgets: Kendall tau / top-10 % precision")
    for name, s in summary.items():
        if "ranking_median" in s:
            print(f"{name:>15} " + "  ".join(f"{p} {q['kendall_tau']:.3f}/{q['top10_precision']:.2f}"
                                              for p, q in s["ranking_median"].items()))
    return summary


def merge(paths: list[Path], out: Path) -> int:
    """One result from several runs of this script (e.g. one process per dataset)."""
    import json

    docs = [json.loads(p.read_text()) for p in paths]
    first = docs[0]
    if any(d["defaults"] != first["defaults"] for d in docs):
        raise SystemExit("the runs used different defaults; expected runs of the same search settings")
    cases = [c for d in docs for c in d["cases"]]
    diagnostics = [r for d in docs for r in d["ranking"]]
    tables = {k: v for d in docs for k, v in d["score_tables"].items()}
    selection = set(first["selection_datasets"])
    summary = report(cases, diagnostics, list(tables), selection, proxy=first["defaults"]["proxy"],
                     searcher=first["defaults"]["searcher"], evaluations=first["defaults"]["evaluations"])
    doc = {**first, "score_tables": tables, "skipped": [x for d in docs for x in d["skipped"]],
           "made_by": [d["made_by"] for d in docs] + ["tools/bench_picks.py --merge " + " ".join(map(str, paths))],
           "wall_s": round(sum(d["wall_s"] for d in docs), 1), "summary": summary, "cases": cases,
           "ranking": diagnostics}
    write_json_atomic(out, doc)
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--merge", nargs="+", type=Path, metavar="RESULT",
                    help="combine the JSON results of several runs into --out (nothing is searched)")
    ap.add_argument("--scores", action="append", metavar="DATASET=TABLE",
                    help="score table of a dataset (repeat per dataset); the columns must include the "
                         "default proxy's components and synflow")
    ap.add_argument("--targets", default=DEFAULT_TARGETS)
    ap.add_argument("--percentiles", default="10,20,30,40,50,60,70,80,90")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--selection", default="cifar10",
                    help="datasets the defaults were chosen on (reported as such; the others are held out)")
    ap.add_argument("--accuracy-csv", type=Path, default=ROOT / "benchmarks/nb201/nb201_accuracy.csv")
    ap.add_argument("--pick-top-share", type=float, default=None,
                    help="evaluate another pick rule share than the default's (selection runs only)")
    ap.add_argument("--proxy", default=None, help="another proxy than the space's default (a comparison run)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    if not args.scores:
        ap.error("--scores is required (or --merge)")

    from edgenas.hardware.cost import get_cost_model
    from edgenas.hardware.targets import load_target

    defaults = SearchConfig()
    if args.pick_top_share is not None:
        defaults = SearchConfig(pick_top_share=args.pick_top_share)
    defaults = replace(defaults, proxy=args.proxy or default_proxy("nb201"))
    space = get_space("nb201")
    archs = list(space.enumerate())
    iso = [space.iso_key(a) for a in archs]
    text = [space.format(a) for a in archs]
    alive = np.array([not space.is_degenerate(a) for a in archs])
    percentiles = [float(p) for p in args.percentiles.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    selection = set(args.selection.split(","))
    cases: list[dict] = []
    diagnostics: list[dict] = []
    skipped: list[str] = []
    tables: dict[str, str] = {}
    t_start = time.perf_counter()
    for spec in args.scores:
        dataset, _, path = spec.partition("=")
        tables[dataset] = path
        acc = read_accuracy(args.accuracy_csv, dataset)
        scorer = TableScorer(space=space, path=path, ensemble=defaults.proxy)
        synflow = table_column(scorer, space, "synflow")
        components = {c: table_column(scorer, space, c) for c in scorer.components}
        size = AdditiveSizeTable(space, dataset)
        macs = np.array([size(a)[0] for a in archs])
        params = np.array([size(a)[1] for a in archs])
        for target in args.targets.split(","):
            try:
                model = get_cost_model(target, space, dataset, source=defaults.latency_source)
            except EdgeNASError as exc:
                skipped.append(f"{dataset}/{target}: {exc}")
                continue
            model_name = load_target(target).name
            lat = np.asarray(model.predict_many(archs, missing="nan"), dtype=float)
            ok = alive & np.isfinite(lat)
            for pct in percentiles:
                budget = float(np.percentile(lat[ok], pct))
                feasible = np.flatnonzero(ok & (lat <= budget))
                reach = reachable(feasible, lat, macs, params, iso, text)
                # the model the default search builds for this target (built once here, not per run)
                common = {"targets": (target,), "dataset": dataset, "max_latency_ms": budget,
                          "write_outputs": False, "scorer": scorer, "size": size,
                          "cost_models": {model_name: model}, "pick_top_share": defaults.pick_top_share}
                pick_share = None
                bound = run_search(searcher="exhaustive", evaluations=space.size, **common).pick.index
                base = {"max_flops": top_by(macs, reach, lat), "max_params": top_by(params, reach, lat),
                        "synflow": top_by(synflow, reach, lat)}
                oracle = float(acc[feasible].max())
                from edgenas.proxies.ensemble import aggregate

                quality = {c: ranking_quality(v[reach], acc[reach]) for c, v in components.items()}
                quality[defaults.proxy] = ranking_quality(
                    aggregate(defaults.proxy, {c: v[reach] for c, v in components.items()}), acc[reach])
                diagnostics.append({"dataset": dataset, "target": target, "percentile": pct, "ranking": quality})
                for seed in seeds:
                    t0 = time.perf_counter()
                    res = run_search(seed=seed, **common)
                    wall = time.perf_counter() - t0
                    pick_share = res.config.pick_top_share
                    pick = res.pick.index
                    a = {"pick": float(acc[pick]), "bound": float(acc[bound]),
                         **{k: float(acc[v]) for k, v in base.items()}, "mean": float(acc[feasible].mean())}
                    cases.append({
                        "dataset": dataset, "held_out": dataset not in selection, "target": target,
                        "percentile": pct, "budget_ms": budget, "seed": seed, "n_feasible": int(feasible.size),
                        "n_feasible_classes": int(reach.size), "n_candidates": len(res.candidates),
                        "oracle_acc": oracle, "acc": a, "gap_pp": {k: oracle - v for k, v in a.items()},
                        "pick_index": pick, "bound_index": bound, "baseline_index": base,
                        "search_wall_s": round(wall, 3),
                    })
                c = cases[-1]
                print(f"{dataset:>14} {target:>14} p{pct:>2.0f} {budget:8.3f} ms  feasible {c['n_feasible']:>5}  "
                      f"oracle {oracle:6.2f}  pick gap {np.mean([x['gap_pp']['pick'] for x in cases[-len(seeds):]]):5.2f}"
                      f"  bound {c['gap_pp']['bound']:5.2f}  max_flops {c['gap_pp']['max_flops']:5.2f}"
                      f"  synflow {c['gap_pp']['synflow']:5.2f}", flush=True)

    summary = report(cases, diagnostics, list(tables), selection, proxy=defaults.proxy,
                     searcher=defaults.searcher, evaluations=defaults.evaluations)
    doc = {
        "schema_version": 1, "benchmark": "picks_nb201",
        "what": "gap (pp) of the default edgenas search's pick to the best feasible arch's true test accuracy",
        "defaults": {"proxy": defaults.proxy, "searcher": defaults.searcher, "evaluations": defaults.evaluations,
                     "pick_top_share": pick_share,
                     "population": defaults.population, "latency_source": defaults.latency_source},
        "selection_datasets": sorted(selection), "score_tables": tables, "targets": args.targets.split(","),
        "percentiles": percentiles, "seeds": seeds, "skipped": skipped,
        "made_by": "tools/bench_picks.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "wall_s": round(time.perf_counter() - t_start, 1),
        "host": {"python": platform.python_version(), "machine": platform.machine()},
        "summary": summary, "cases": cases, "ranking": diagnostics,
    }
    write_json_atomic(args.out, doc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
