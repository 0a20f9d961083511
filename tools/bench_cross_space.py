#!/usr/bin/env python
"""How good is the training-free pick of a default ``edgenas search`` in every space with ground truth?

What a space without its own accuracy prior gets is what is measured: the search runs with the
training-free default proxy (``DEFAULT_PROXY`` of ``edgenas/search/config.py``; on NB201 this is
*not* NB201's own default, the prior ``edgenas_transfer``, which is benchmarked apart by
``tools/bench_picks.py``). For each space x dataset x budget x search seed it runs
``edgenas.search`` (``run_search``, the CLI's code path: default searcher, evaluations, population
and pick rule) with the proxy values looked up in a whole-space score table (``edgenas proxies
score --all``; data-free proxies the table lacks are computed live, as the search does), and
compares its pick with:

* ``oracle``: the best true accuracy among all feasible archs;
* ``max_params`` / ``max_macs``: the feasible class with the most parameters / MACs (ties to the
  lower latency), each class as the member the search reports (its cheapest feasible member);
* ``mean``: the mean true accuracy of the feasible archs (a random pick).

Budgets: latency percentiles of each target's table over the space (``--targets``, ``--percentiles``)
and MACs percentiles (``--macs-percentiles``; no latency budget). ``--home`` reads targets and tables
from that ``EDGENAS_HOME``: ``--space macro --targets cpu --home DIR`` prices macro on the ``cpu``
table ``edgenas profile --target cpu --space macro`` wrote there (``EDGENAS_HOME=DIR``); the file, its
host and its held-out check are recorded under ``latency_tables``. Per space and dataset it also
reports the Kendall tau and top-10 % precision against the true accuracy of every proxy column,
params, MACs and the default ensemble, over the space's distinct networks (one row per
isomorphism class, degenerate archs left out).

Ground truth: ``nb201``: ``benchmarks/nb201/nb201_accuracy.csv`` (200-epoch test accuracy);
``macro``: ``benchmarks/nas-bench-macro/nas-bench-macro_cifar10.csv`` (mean of 3 CIFAR-10 trainings).

Example (docs/benchmarks.md, "Cross-space picks"):
    python tools/bench_cross_space.py --space nb201 \
        --scores cifar10=benchmarks/scores/nb201_cifar10_b16_s0.csv.gz \
        --scores cifar100=benchmarks/scores/nb201_cifar100_b16_s0.csv.gz \
        --scores ImageNet16-120=benchmarks/scores/nb201_ImageNet16-120_b16_s0.csv.gz \
        --out runs/cross_nb201.json
    EDGENAS_HOME=/tmp/prof edgenas profile --target cpu --space macro   # once: this host's macro table
    python tools/bench_cross_space.py --space macro --targets cpu --home /tmp/prof --macs-target macs \
        --percentiles 10,50,90 --macs-percentiles 10,50,90 \
        --scores cifar10=benchmarks/scores/macro_cifar10_b16_s0.csv.gz --out runs/cross_macro.json
    python tools/bench_cross_space.py --merge runs/cross_nb201.json runs/cross_macro.json \
        --out benchmarks/results/picks_cross_space.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_picks import ACC_COLUMN, ranking_quality, reachable, top_by  # noqa: E402

from edgenas._json import write_json_atomic  # noqa: E402
from edgenas.errors import EdgeNASError  # noqa: E402
from edgenas.search import SearchConfig, run_search  # noqa: E402
from edgenas.search.config import DEFAULT_PROXY  # noqa: E402
from edgenas.search.problem import AdditiveSizeTable  # noqa: E402
from edgenas.search.scoring import TableScorer  # noqa: E402
from edgenas.spaces import get_space  # noqa: E402

BASELINES = ("max_params", "max_macs", "mean")


class MacsCost:
    """A cost model pricing an arch by its MACs (the "latency" of MACs-budget cases where no device
    table is used): the budget is on MACs, the search's second objective is MACs too."""

    def __init__(self, size) -> None:
        self.size = size

    def predict(self, arch):
        from types import SimpleNamespace

        return SimpleNamespace(latency_ms=float(self.size(arch)[0]), source="macs")
DEFAULT_TARGETS = {"nb201": "jetson-tx2,raspi4,pixel3,edgetpu,pixel2,titan-rtx-b1,xeon-gold-6226", "macro": ""}


class TableWithLiveSeeds:
    """A score table for the run's own seed, the live proxy engine for any other init seed.

    The search's noise measurement (``score_spread``, and the noise-band pick) scores its best
    members again with other seeds; a table holds one seed, so those are computed live, at the
    table's batch size, exactly as ``ProxyScorer`` computes them in a search without a table.
    """

    def __init__(self, table: TableScorer, dataset: str, proxy: str, batch_size: int) -> None:
        from edgenas.search.scoring import ProxyScorer

        self._table = table
        self._live = ProxyScorer(space=table.space, dataset=dataset, proxy=proxy, seed=0, batch_size=batch_size)
        self._cache: dict[tuple[str, int], object] = {}
        self.n_live = 0
        for k in ("proxy", "components", "is_ensemble", "config", "recipe", "space", "path", "notes"):
            setattr(self, k, getattr(table, k))

    def covers(self, arch) -> bool:
        return self._table.covers(arch)

    def combine(self, raw, reference):
        return self._table.combine(raw, reference)

    def score(self, archs, *, seed: int | None = None):
        if seed is None:
            return self._table.score(archs)
        keys = [(self.space.format(a), int(seed)) for a in archs]
        todo = [a for a, k in zip(archs, keys) if k not in self._cache]
        for a, r in zip(todo, self._live.score(todo, seed=int(seed)) if todo else []):
            self._cache[(self.space.format(a), int(seed))] = r
        self.n_live += len(todo)
        return [self._cache[k] for k in keys]


def register_variant(proxy: str, weights: str | None, extra_terms: str | None) -> str:
    """Register (in this process only) the rank ensemble ``proxy`` with further terms and/or other
    weights; returns its name, ``PROXY+P1+...@W1,...``."""
    from dataclasses import replace

    from edgenas.proxies.ensemble import ENSEMBLES, get_ensemble

    base = get_ensemble(proxy)
    extra = tuple(t for t in (extra_terms or "").split(",") if t)
    ranked = (*base.ranked, *extra)
    w = tuple(float(x) for x in weights.split(",")) if weights else (*base.component_weights, *(1.0,) * len(extra))
    name = proxy + "".join(f"+{t}" for t in extra) + (f"@{weights}" if weights else "")
    ENSEMBLES.add(name, replace(base, name=name, components=(*base.components, *extra),
                                terms=ranked if base.terms or extra else (), weights=w))
    return name


def accuracy_by_iso(space, dataset: str, archs: list) -> np.ndarray:
    """True accuracy (%) of each arch of ``archs`` (NaN where the benchmark has none)."""
    if space.name == "nb201":
        rows = csv.DictReader(ln for ln in (ROOT / "benchmarks/nb201/nb201_accuracy.csv").read_text().splitlines()
                              if not ln.startswith("#"))
        by_index = {int(r["index"]): float(r[ACC_COLUMN[dataset]]) for r in rows}
        return np.array([by_index.get(space.index(a), np.nan) for a in archs])
    if space.name == "macro":
        # NAS-Bench-Macro: mean of three CIFAR-10 trainings per 8-digit arch string
        rows = csv.DictReader(ln for ln in (ROOT / "benchmarks/nas-bench-macro/nas-bench-macro_cifar10.csv")
                              .read_text().splitlines() if not ln.startswith("#"))
        truth = {r["arch"]: float(r["mean_acc"]) for r in rows}
        return np.array([truth.get(space.format(a), np.nan) for a in archs])
    raise SystemExit(f"no ground truth for space {space.name!r}; expected nb201 or macro")


def column(scorer: TableScorer, archs: list, name: str, alive: np.ndarray) -> np.ndarray:
    one = TableScorer(space=scorer.space, path=scorer.path, columns=(name,))
    out = np.full(len(archs), np.nan)
    for i, a in enumerate(archs):
        if alive[i]:
            v = one.score([a])[0].values[name]
            out[i] = np.nan if v is None else v
    return out


def summarise(cases: list[dict]) -> dict:
    def stats(key: str) -> dict:
        g = np.array([c["gap_pp"][key] for c in cases], dtype=float)
        return {"median": float(np.median(g)), "p90": float(np.percentile(g, 90)), "worst": float(g.max()),
                "mean": float(g.mean())}

    out = {"cases": len(cases), "pick": stats("pick"), **{b: stats(b) for b in BASELINES}}
    pick = np.array([c["acc"]["pick"] for c in cases])
    for b in ("max_params", "max_macs", "mean"):
        out[f"share_worse_than_{b}"] = float(np.mean(pick < np.array([c["acc"][b] for c in cases]) - 1e-9))
    return out


def table_record(model) -> dict:
    """What prices a target's budgets: the table file and, for a host profile, its host and held-out check."""
    ref = model.target.table(model.space.name, model.dataset)
    rec = {"target": model.target.name, "file": str(ref.file), "description": model.description}
    op = getattr(model, "op_table", None)
    if op is not None:
        meta = op.meta
        rec.update({k: meta[k] for k in ("cpu_model", "onnxruntime_version", "measured_utc") if k in meta})
        check = meta.get("check") or {}
        if check.get("predictor") in check:
            rec["held_out_check"] = {"predictor": check["predictor"], **check[check["predictor"]]}
        if op.kernels and "space_ms" in op.kernels:
            rec["space_predictions"] = {k: v for k, v in op.kernels["space_ms"].items() if k != "ms"}
    return rec


def run_space(args, space_name: str, proxy: str) -> tuple[list[dict], dict, list[str], dict]:
    from edgenas.hardware.cost import get_cost_model
    from edgenas.hardware.targets import load_target
    from edgenas.proxies.ensemble import aggregate, ensemble_components, get_ensemble, list_ensembles

    space = get_space(space_name)
    archs = list(space.enumerate())
    iso = [space.iso_key(a) for a in archs]
    text = [space.format(a) for a in archs]
    alive = np.array([not space.is_degenerate(a) for a in archs])
    defaults = SearchConfig()
    cases: list[dict] = []
    ranking: dict = {}
    skipped: list[str] = []
    tables: dict[str, dict] = {}
    seeds = [int(s) for s in args.seeds.split(",")]
    for spec in args.scores:
        dataset, _, path = spec.partition("=")
        acc = accuracy_by_iso(space, dataset, archs)
        scorer = TableScorer(space=space, path=path, ensemble=proxy)
        if args.pick_within_noise is not None:
            scorer = TableWithLiveSeeds(scorer, dataset, proxy, args.noise_batch_size)
        size = AdditiveSizeTable(space, dataset)
        sizes = [size(a) for a in archs]
        macs = np.array([s[0] for s in sizes], dtype=float)
        params = np.array([s[1] for s in sizes], dtype=float)
        # ranking quality over the distinct networks (first member of each class)
        first: dict[str, int] = {}
        for i in np.flatnonzero(alive & np.isfinite(acc)).tolist():
            first.setdefault(iso[i], i)
        cls = np.array(sorted(first.values()))
        cols = {c: column(scorer, archs, c, alive) for c in ensemble_components(proxy)}
        qual = {c: ranking_quality(v[cls], acc[cls]) for c, v in cols.items()}
        for t in get_ensemble(proxy).terms if proxy in list_ensembles() else ():
            if t not in cols:  # a derived term the ensemble ranks (e.g. plain_depth_penalty)
                qual[t] = ranking_quality(get_ensemble(proxy).term_values(t, cols)[cls], acc[cls])
        qual["params"] = ranking_quality(params[cls], acc[cls])
        qual["macs"] = ranking_quality(macs[cls], acc[cls])
        qual[proxy] = ranking_quality(aggregate(proxy, {c: v[cls] for c, v in cols.items()}), acc[cls])
        ranking[f"{space_name}/{dataset}"] = {"classes": int(cls.size), "proxies": qual}
        print(f"{space_name}/{dataset}: {cls.size} classes; Kendall tau " +
              ", ".join(f"{k} {v['kendall_tau']:.3f}" for k, v in qual.items()), flush=True)
        budgets: list[tuple[str, str, float, np.ndarray, dict]] = []
        for target in args.targets.split(",") if args.targets else []:
            try:
                model = get_cost_model(target, space, dataset, source=defaults.latency_source)
            except EdgeNASError as exc:
                skipped.append(f"{space_name}/{dataset}/{target}: {exc}")
                continue
            tables[f"{space_name}/{dataset}/{target}"] = table_record(model)
            lat = np.asarray(model.predict_many(archs, missing="nan"), dtype=float)
            ok = alive & np.isfinite(lat) & np.isfinite(acc)
            for pct in [float(p) for p in args.percentiles.split(",")]:
                b = float(np.percentile(lat[ok], pct))
                budgets.append((f"{target}-p{pct:g}", target, b, np.where(ok & (lat <= b), lat, np.inf),
                                {"targets": (target,), "max_latency_ms": b,
                                 "cost_models": {load_target(target).name: model}}))
        ok = alive & np.isfinite(acc)
        first_target = (args.macs_target or (args.targets.split(",")[0] if args.targets else "macs"))
        for pct in [float(p) for p in args.macs_percentiles.split(",")] if args.macs_percentiles else []:
            b = float(np.percentile(macs[ok], pct))
            # the search needs a target; the MACs budget alone constrains (no latency budget)
            where = ({"targets": (), "cost_models": {"macs": MacsCost(size)}} if first_target == "macs"
                     else {"targets": (first_target,)})
            budgets.append((f"macs-p{pct:g}", first_target, b, np.where(ok & (macs <= b * (1 + 1e-9)), macs, np.inf),
                            {**where, "max_macs_m": b}))
        for label, target, b, cost, extra in budgets:
            feasible = np.flatnonzero(np.isfinite(cost))
            if feasible.size == 0:
                skipped.append(f"{space_name}/{dataset}/{label}: nothing feasible")
                continue
            reach = reachable(feasible, cost, macs, params, iso, text)
            base = {"max_params": top_by(params, reach, cost), "max_macs": top_by(macs, reach, cost)}
            oracle = float(acc[feasible].max())
            common = {"space": space_name, "dataset": dataset, "write_outputs": False, "scorer": scorer,
                      "proxy": proxy, "size": size, "pick_within_noise": args.pick_within_noise, **extra}
            for seed in seeds:
                t0 = time.perf_counter()
                res = run_search(seed=seed, **common)
                wall = time.perf_counter() - t0
                pick = space.index(space.parse(res.pick.arch)) if space_name == "nb201" else text.index(res.pick.arch)
                a = {"pick": float(acc[pick]), **{k: float(acc[v]) for k, v in base.items()},
                     "mean": float(np.nanmean(acc[feasible]))}
                cases.append({
                    "space": space_name, "dataset": dataset, "budget": label, "target": target,
                    "budget_value": b, "seed": seed, "n_feasible": int(feasible.size),
                    "n_feasible_classes": int(reach.size), "oracle_acc": oracle, "acc": a,
                    "gap_pp": {k: oracle - v for k, v in a.items()}, "pick_arch": res.pick.arch,
                    "pick_share": res.config.pick_top_share, "pick_within_noise": args.pick_within_noise,
                    "pick_score_spread": dict(res.pick.score_spread) if res.pick.score_spread else None,
                    "search_wall_s": round(wall, 3),
                })
            last = cases[-len(seeds):]
            print(f"{space_name:>6} {dataset:>14} {label:>22} feasible {last[0]['n_feasible']:>5}  oracle {oracle:6.2f}  "
                  f"pick gap {np.mean([c['gap_pp']['pick'] for c in last]):5.2f}  max_params "
                  f"{last[0]['gap_pp']['max_params']:5.2f}  max_macs {last[0]['gap_pp']['max_macs']:5.2f}", flush=True)
    return cases, ranking, skipped, tables


def _num(v: float | None, digits: int) -> str:
    """A number for the tables; a constant proxy's undefined tau (NaN, null in JSON) as '-'."""
    return "-" if v is None or v != v else f"{v:.{digits}f}"


def report(doc: dict) -> dict:
    cases = doc["cases"]
    summary = {}
    for key in sorted({f"{c['space']}/{c['dataset']}" for c in cases}):
        mine = [c for c in cases if f"{c['space']}/{c['dataset']}" == key]
        summary[key] = summarise(mine)
    cols = ("pick", "max_params", "max_macs", "mean")
    print(f"\nproxy {doc['proxy']}; gap to the oracle, pp: median / p90 / worst")
    print("| space / dataset | cases | " + " | ".join(cols) + " | pick worse than max_params | than max_macs |")
    print("|---|---|" + "---|" * len(cols) + "---|---|")
    for k, s in summary.items():
        cells = " | ".join(f"{s[c]['median']:.2f} / {s[c]['p90']:.2f} / {s[c]['worst']:.2f}" for c in cols)
        print(f"| {k} | {s['cases']} | {cells} | {s['share_worse_than_max_params']:.0%} | "
              f"{s['share_worse_than_max_macs']:.0%} |")
    print("\nKendall tau / top-10 % precision over the distinct networks")
    for k, r in doc["ranking"].items():
        print(f"| {k} ({r['classes']}) | " + " | ".join(f"{p} {_num(q['kendall_tau'], 3)} / {_num(q['top10_precision'], 2)}"
                                                      for p, q in r["proxies"].items()) + " |")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--merge", nargs="+", type=Path, metavar="RESULT", help="combine results of several runs")
    ap.add_argument("--space", default="nb201")
    ap.add_argument("--scores", action="append", metavar="DATASET=TABLE", help="score table per dataset")
    ap.add_argument("--proxy", default=None, help=f"proxy (default: the training-free default, {DEFAULT_PROXY})")
    ap.add_argument("--targets", default=None,
                    help="latency targets (default: nb201's 7 tables; macro: none, e.g. cpu with --home)")
    ap.add_argument("--home", type=Path, default=None,
                    help="EDGENAS_HOME to read targets and tables from (e.g. where `edgenas profile --target cpu "
                         "--space macro` wrote this host's macro table)")
    ap.add_argument("--percentiles", default="10,20,30,40,50,60,70,80,90")
    ap.add_argument("--macs-percentiles", default="", help="MACs budgets as percentiles over the space")
    ap.add_argument("--macs-target", default=None,
                    help="target of MACs-budget searches (default: the first of --targets; 'macs' or no --targets: "
                         "priced by MACs, no device table)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--weights", default=None, metavar="W1,W2,...",
                    help="weigh the ranked terms of the --proxy rank ensemble (one per term); runs the variant "
                         "registered as PROXY@W1,W2,...")
    ap.add_argument("--extra-terms", default=None, metavar="PROXY,...",
                    help="rank these proxies too, as further terms of the --proxy rank ensemble (weight 1 each, "
                         "or as --weights says); runs the variant registered as PROXY+P1+...")
    ap.add_argument("--pick-within-noise", type=float, default=None, metavar="Z",
                    help="the search's noise-band pick rule (SearchConfig.pick_within_noise); the other init seeds "
                         "it needs are scored live")
    ap.add_argument("--noise-batch-size", type=int, default=16, help="proxy batch of the live seeds (the tables': 16)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.merge:
        docs = [json.loads(p.read_text()) for p in args.merge]
        if len({(d["proxy"], d.get("pick_within_noise")) for d in docs}) != 1:
            raise SystemExit("the runs used different proxies; expected one proxy")
        doc = {**docs[0], "cases": [c for d in docs for c in d["cases"]],
               "ranking": {k: v for d in docs for k, v in d["ranking"].items()},
               "skipped": [s for d in docs for s in d["skipped"]],
               "latency_tables": {k: v for d in docs for k, v in d.get("latency_tables", {}).items()},
               "made_by": [d["made_by"] for d in docs] + ["tools/bench_cross_space.py --merge " +
                                                          " ".join(map(str, args.merge))],
               "wall_s": round(sum(d["wall_s"] for d in docs), 1)}
        doc["summary"] = report(doc)
        write_json_atomic(args.out, doc)
        print(f"wrote {args.out}")
        return 0
    if not args.scores:
        ap.error("--scores is required (or --merge)")
    if args.targets is None:
        args.targets = DEFAULT_TARGETS.get(args.space, "")
    if args.home is not None:
        if not args.home.is_dir():
            ap.error(f"--home {str(args.home)!r} is not a folder; expected an EDGENAS_HOME")
        os.environ["EDGENAS_HOME"] = str(args.home)  # read by edgenas._paths at each lookup
    proxy = args.proxy or DEFAULT_PROXY
    if args.weights or args.extra_terms:
        proxy = register_variant(proxy, args.weights, args.extra_terms)
    t0 = time.perf_counter()
    cases, ranking, skipped, tables = run_space(args, args.space, proxy)
    doc = {"schema_version": 1, "benchmark": "picks_cross_space",
           "what": "gap (pp) of the default training-free search's pick to the best feasible arch's true accuracy",
           "proxy": proxy, "pick_within_noise": args.pick_within_noise, "defaults": {"searcher": SearchConfig().searcher, "evaluations": SearchConfig().evaluations,
                                        "population": SearchConfig().population},
           "made_by": "tools/bench_cross_space.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "wall_s": round(time.perf_counter() - t0, 1), "skipped": skipped,
           "host": {"python": platform.python_version(), "machine": platform.machine()},
           "latency_tables": tables, "cases": cases, "ranking": ranking}
    doc["summary"] = report(doc)
    write_json_atomic(args.out, doc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
