#!/usr/bin/env python
"""Benchmark ``edgenas search`` on NAS-Bench-201 CIFAR-10 with measured Jetson TX2 latencies.

For each latency budget (25th / 50th / 75th percentile of the jetson-tx2 latencies of the searched
archs), each seed and each searcher (nsga2, random) with the same proxy-evaluation budget:

* gap_pp: true CIFAR-10 test accuracy of the oracle best arch under the budget minus that of the
  search's top pick (the front member with the best proxy score), percentage points;
* hv_share: true hypervolume of the returned front (accuracy up, latency down) divided by the
  oracle front's (all archs under the budget). Reference point: (accuracy of the worst arch under
  the budget, the budget), i.e. the nadir of the feasible set; ``hv_share_median_ref`` uses the
  median feasible accuracy instead (stricter: only the better half of the range counts);
* gap_rch: the same gap against the best arch the search can report: every isomorphism class is
  represented by its cheapest feasible member (same function, lower latency), and isomorphic archs'
  benchmark accuracies differ by training noise, which the all-arch oracle picks up;
* bounds that separate proxy loss from searcher loss: bnd_all / hvb_all: the top pick / front if
  *every* feasible isomorphism class were scored (the member the search reports) and (ensembles)
  ranked among all of them, which is the finished search's rule (it ranks every candidate against
  all the others); searcher loss = gap_pp - bnd_all; bnd_ref / hvb_ref: the same but ranked against
  the run's reference population, the rule that guides the search while it runs;
* wall_s: wall time of the search call (proxy cost excluded: scores come from the table); the JSON
  also projects the wall time with proxy scoring from the table's measured seconds per arch.

Proxy scores come from a precomputed table (``--scores``; proxy evaluation is the expensive part
and is benchmarked by tools/bench_proxies.py). Archs the table does not cover are excluded from the
search and from the oracle alike, and the coverage is reported.

Latencies: ``edgenas.hardware.cost.get_cost_model`` for jetson-tx2 when it exists and reports
measured values, otherwise the HW-NAS-Bench measured table (``--latency-csv``, column
``edgegpu_latency``; Jetson TX2 per the HW-NAS-Bench paper).

Usage (tools/score_nb201_table.py writes the edgenas proxy table; ``--proxy`` names a registered
ensemble, which is then combined exactly as the search does, or one or more table columns):
    python tools/bench_search.py --scores benchmarks/results/search_scores_nb201_cifar10_b16.csv \
        --proxy edgenas_fast --out benchmarks/results/search_nb201_cifar10_edgenas_fast.json
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas._json import write_json_atomic
from edgenas.errors import MissingLatencyError
from edgenas.search.pareto import hypervolume_2d
from edgenas.search.problem import AdditiveSizeTable
from edgenas.search.run import run_search
from edgenas.search.scoring import TableScorer
from edgenas.spaces import get_space


def _text(path: Path) -> str:
    """A score or accuracy table's text (gzip where the name ends in .gz, as the shipped tables)."""
    import gzip

    return gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()


def read_csv(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in _text(path).splitlines() if not ln.startswith("#")]
    return list(csv.DictReader(lines))


@dataclass(frozen=True)
class _Pred:
    latency_ms: float
    source: str


class CoveredLatency:
    """Latency lookup by benchmark index; archs outside ``covered`` raise MissingLatencyError, so
    the search treats them as infeasible and never scores them (no table score exists)."""

    def __init__(self, space, latency: np.ndarray, covered: set[int], source: str) -> None:
        self.space, self.latency, self.covered, self.source = space, latency, covered, source

    def predict(self, arch) -> _Pred:
        i = self.space.index(arch)
        if i not in self.covered:
            raise MissingLatencyError(f"arch {i} has no proxy score in the table")
        return _Pred(float(self.latency[i]), self.source)


def load_latency(space, csv_path: Path) -> tuple[np.ndarray, str]:
    try:
        from edgenas.hardware.cost import get_cost_model
        from edgenas.hardware.targets import load_target

        model = get_cost_model(load_target("jetson-tx2"), space, "cifar10", source="lookup")
        lat = np.asarray(model.predict_many(list(space.enumerate()), missing="nan"), dtype=float)
        return lat, f"edgenas.hardware.cost jetson-tx2 {model.source}: {model.description}"
    except ImportError:
        pass
    try:  # the shipped measured table the jetson-tx2 target points to
        from edgenas.hardware.tables import load_arch_table
        from edgenas.hardware.targets import load_target

        ref = load_target("jetson-tx2").table("nb201", "cifar10")
        table = load_arch_table(ref.file, space="nb201", dataset="cifar10")
        lat = np.full(15625, np.nan)
        lat[table.index] = table.column(ref.column)
        return lat, f"measured: latency_tables/{ref.file.name} column {ref.column} (HW-NAS-Bench, Jetson TX2)"
    except ImportError:
        pass
    rows = read_csv(csv_path)
    lat = np.full(15625, np.nan)
    for r in rows:
        lat[int(r["index"])] = float(r["edgegpu_latency"])
    return lat, f"measured: HW-NAS-Bench edgegpu_latency ({csv_path.name})"


def product_scores(recipe: str | None, comp: np.ndarray, ref: np.ndarray | None) -> np.ndarray:
    """Objective score of every column of ``comp`` (K components, N archs; NaN = failed proxy).

    Single proxy (``recipe`` None, K = 1): the raw value (failed -> -inf). Ensemble with ``ref``
    (K, R): vectorised :func:`edgenas.proxies.ensemble.ensemble_score` against that reference
    population (the search's rule; cross-checked against it in ``main``). Ensemble without ``ref``:
    :func:`edgenas.proxies.ensemble.aggregate`, ranks within the N archs themselves (what scoring
    every arch and ranking them together gives, as ``edgenas proxies score`` does).
    """
    from edgenas.proxies.ensemble import _combine, aggregate, get_ensemble

    if recipe is None:
        return np.where(np.isfinite(comp[0]), comp[0], -np.inf)
    names = get_ensemble(recipe).components
    if ref is None:
        return aggregate(recipe, {c: comp[k] for k, c in enumerate(names)})
    ranks = []
    for k in range(len(names)):
        r = ref[k]
        fin = np.isfinite(r)
        floor = float(r[fin].min()) if fin.any() else 0.0
        r = np.sort(np.where(fin, r, floor))
        v = np.where(np.isfinite(comp[k]), comp[k], floor)
        lo = np.searchsorted(r, v, side="left")
        hi = np.searchsorted(r, v, side="right")
        ranks.append(1.0 + lo + 0.5 * (hi - lo))
    return _combine(get_ensemble(recipe), np.vstack(ranks), float(ref.shape[1] + 1))


def top_by_rule(idx: np.ndarray, score: np.ndarray, lat: np.ndarray) -> int:
    """The search's top pick among ``idx``: best score, ties to the lower latency (then index)."""
    order = np.lexsort((idx, lat[idx], -score))
    return int(idx[order[0]])


def proxy_front_hv(idx: np.ndarray, score: np.ndarray, lat: np.ndarray, acc: np.ndarray,
                   ref: tuple[float, float]) -> float:
    """True hypervolume of the Pareto front of (score up, latency down) among ``idx``."""
    from edgenas.search.pareto import pareto_mask

    m = pareto_mask(np.stack([-score, lat[idx]], axis=1))
    sel = idx[m]
    return hypervolume_2d(np.stack([-acc[sel], lat[sel]], axis=1), ref)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--scores", required=True, type=Path, help="score table (CSV/JSONL keyed by index or arch)")
    ap.add_argument("--proxy", default="nwot",
                    help="a registered ensemble (its components are the columns, combined exactly as the "
                         "search does), one column, or comma-separated columns (mean log-rank)")
    ap.add_argument("--latency-csv", type=Path, default=ROOT.parent / "shared/data/nb201/nb201_hw_cifar10.csv")
    ap.add_argument("--accuracy-csv", type=Path, default=ROOT / "benchmarks/nb201/nb201_accuracy.csv")
    ap.add_argument("--evaluations", type=int, default=500)
    ap.add_argument("--population", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--percentiles", default="25,50,75")
    ap.add_argument("--searchers", default="nsga2,random",
                    help="searcher names; nsga2@S runs NSGA-II with local_share S (its climbing share)")
    ap.add_argument("--proxy-s-per-arch", type=float, default=None,
                    help="measured proxy seconds per arch, to project the wall time with proxy scoring "
                         "(default: the score table header's median_seconds_per_class, if any)")
    args = ap.parse_args()
    import functools

    from edgenas.search import searchers as registry

    for name in args.searchers.split(","):
        if name.startswith("nsga2@") and name not in registry.list_searchers():
            registry.register_searcher(name)(functools.partial(registry.nsga2, local_share=float(name[6:])))

    from edgenas.proxies.ensemble import ensemble_score, list_ensembles

    space = get_space("nb201")
    acc = np.full(15625, np.nan)
    for r in read_csv(args.accuracy_csv):
        acc[int(r["index"])] = float(r["cifar10_test"])
    lat, lat_source = load_latency(space, args.latency_csv)
    recipe = args.proxy if args.proxy in list_ensembles() else None
    if recipe is not None:
        scorer = TableScorer(space=space, path=str(args.scores), ensemble=recipe)
        columns = list(scorer.components)
    else:
        columns = [c.strip() for c in args.proxy.split(",")]
        scorer = TableScorer(space=space, path=str(args.scores), columns=columns)
    covered = {i for i in range(15625) if scorer.covers(space.from_index(i))}
    cov = np.array(sorted(covered))
    size = AdditiveSizeTable(space, "cifar10")  # measured once, shared by every run
    header = {}
    first = _text(args.scores).splitlines()[0]
    if first.startswith("# {"):
        header = json.loads(first[2:])
    s_per_arch = args.proxy_s_per_arch
    if s_per_arch is None and isinstance(header.get("median_seconds_per_class"), dict):
        s_per_arch = sum(v for v in header["median_seconds_per_class"].values() if v)

    comp = np.full((len(columns), 15625), np.nan)
    for i in cov:
        raw = scorer.score([space.from_index(int(i))])[0].values
        for k, c in enumerate(columns):
            comp[k, i] = np.nan if raw[c] is None else raw[c]
    adhoc = recipe is None and len(columns) > 1  # ad-hoc column ensemble: sum of log ranks

    def population_scores(sel: np.ndarray) -> np.ndarray:
        """Scores of the archs ``sel`` ranked among themselves (ensembles), as a finished search ranks
        its candidates; failed values rank as the worst."""
        if not adhoc:
            return product_scores(recipe, comp[:, sel], None)
        from scipy.stats import rankdata

        return sum(np.log(rankdata(np.nan_to_num(comp[k, sel], nan=-np.inf)) / len(sel)) for k in range(len(columns)))

    iso = [space.iso_key(space.from_index(i)) for i in range(15625)]

    def reachable(feas: np.ndarray) -> np.ndarray:
        """The arch the search reports for each feasible class: its cheapest feasible member, by
        the search's rule (latency, MACs, params, arch string). Isomorphic archs compute the same
        function; their benchmark accuracies differ only by training noise."""
        best: dict[str, tuple] = {}
        for i in feas.tolist():
            a = space.from_index(i)
            macs, params = size(a)
            r = (float(lat[i]), macs, params, space.format(a), i)
            if iso[i] not in best or r < best[iso[i]]:
                best[iso[i]] = r
        return np.array(sorted(r[-1] for r in best.values()))

    budgets = [float(np.percentile(lat[cov], float(p))) for p in args.percentiles.split(",")]
    table = []
    runs = []
    checked = False
    for pct, budget in zip(args.percentiles.split(","), budgets):
        feas = cov[lat[cov] <= budget]
        best = float(acc[feas].max())
        reach = reachable(feas)
        best_reach = float(acc[reach].max())
        F_oracle = np.stack([-acc[feas], lat[feas]], axis=1)
        refs = {"nadir": float(acc[feas].min()), "median": float(np.median(acc[feas]))}
        hv_oracle = {k: hypervolume_2d(F_oracle, (-a, budget)) for k, a in refs.items()}
        # bound 1 (the search's final rule): every feasible class scored (the member the search
        # reports), ensembles ranked among all of them, as a finished search ranks its candidates
        s_all = population_scores(reach)
        all_top = top_by_rule(reach, s_all, lat)
        all_gap = best - float(acc[all_top])
        all_hv = proxy_front_hv(reach, s_all, lat, acc, (-refs["nadir"], budget)) / hv_oracle["nadir"]
        for searcher in args.searchers.split(","):
            gaps, hvs, hvm, walls, fronts, rgaps, rhvs, sats, projs, reach_gaps = [], [], [], [], [], [], [], [], [], []
            for seed in range(args.seeds):
                t0 = time.perf_counter()
                res = run_search(
                    targets=("jetson-tx2",), max_latency_ms=budget, evaluations=args.evaluations,
                    population=args.population, searcher=searcher, seed=seed, write_outputs=False,
                    scorer=scorer, cost_models={"jetson-tx2": CoveredLatency(space, lat, covered, lat_source)},
                    size=size,
                )
                wall = time.perf_counter() - t0
                idx = np.array([m.index for m in res.front])
                top = res.front[0].index
                gap = best - float(acc[top])
                F = np.stack([-acc[idx], lat[idx]], axis=1)
                hv = {k: hypervolume_2d(F, (-a, budget)) / hv_oracle[k] for k, a in refs.items()}
                # bound 2 (this run's rule): every feasible arch scored against this run's reference
                # population (its first `population` candidates), top pick by the search's rule
                n_ref = min(args.population, args.evaluations)
                ref_idx = np.array([c.index for c in res.candidates[:n_ref]])
                if recipe is not None:
                    s_ref = product_scores(recipe, comp[:, feas], comp[:, ref_idx])
                    if not checked:  # the vectorised rule must equal the product's ensemble_score
                        for j in range(0, feas.size, max(1, feas.size // 200)):
                            want = ensemble_score(recipe, {c: float(comp[k, feas[j]]) if np.isfinite(comp[k, feas[j]])
                                                           else -np.inf for k, c in enumerate(columns)},
                                                  {c: comp[k, ref_idx] for k, c in enumerate(columns)})
                            assert abs(want - s_ref[j]) < 1e-9, (want, s_ref[j])
                        for c in res.candidates[:200]:  # and the scores that guided the search
                            j = int(np.searchsorted(feas, c.index))
                            assert abs(c.search_score - s_ref[j]) < 1e-9, (c.index, c.search_score, s_ref[j])
                        # final scores: ranks within every candidate of the run
                        c_idx = np.array([c.index for c in res.candidates])
                        want_final = product_scores(recipe, comp[:, c_idx], None)
                        got_final = np.array([c.score for c in res.candidates])
                        assert np.allclose(want_final, got_final, atol=1e-9), "final ranks differ from aggregate()"
                        checked = True
                else:  # single proxy: the rule is the raw value; ad-hoc columns: ranked among the feasible
                    s_ref = population_scores(feas)
                ref_top = top_by_rule(feas, s_ref, lat)
                rgap = best - float(acc[ref_top])
                rhv = proxy_front_hv(feas, s_ref, lat, acc, (-refs["nadir"], budget)) / hv_oracle["nadir"]
                sat = int(np.sum(s_ref == s_ref.max()))
                proj = wall + (res.n_scored * s_per_arch if s_per_arch else 0.0)
                reach_gaps.append(best_reach - float(acc[top]))
                gaps.append(gap), hvs.append(hv["nadir"]), hvm.append(hv["median"]), walls.append(wall)
                fronts.append(len(res.front)), rgaps.append(rgap), rhvs.append(rhv), sats.append(sat)
                projs.append(proj)
                runs.append({"percentile": int(pct), "budget_ms": budget, "searcher": searcher, "seed": seed,
                             "top_index": int(top), "top_acc": float(acc[top]), "oracle_acc": best,
                             "gap_pp": gap, "gap_pp_reachable": reach_gaps[-1], "hv_share": hv["nadir"], "hv_share_median_ref": hv["median"],
                             "ref_rule_top_index": ref_top, "ref_rule_gap_pp": rgap, "ref_rule_hv_share": rhv,
                             "feasible_tied_at_max_score": sat,
                             "front_size": len(res.front), "n_candidates": len(res.candidates),
                             "wall_s": wall, "projected_wall_s_with_proxy": proj})
            table.append({"percentile": int(pct), "budget_ms": round(budget, 4), "searcher": searcher,
                          "n_feasible": len(feas), "n_feasible_classes": int(reach.size),
                          "oracle_acc": round(best, 4), "reachable_oracle_acc": round(best_reach, 4),
                          "gap_pp_reachable_mean": float(np.mean(reach_gaps)),
                          "exhaustive_proxy_gap_pp": all_gap, "exhaustive_proxy_hv_share": all_hv,
                          "ref_rule_gap_pp_mean": float(np.mean(rgaps)), "ref_rule_hv_share_mean": float(np.mean(rhvs)),
                          "feasible_tied_at_max_score_mean": float(np.mean(sats)),
                          "gap_pp_mean": float(np.mean(gaps)), "gap_pp_max": float(np.max(gaps)),
                          "hv_share_mean": float(np.mean(hvs)), "hv_share_min": float(np.min(hvs)),
                          "hv_share_median_ref_mean": float(np.mean(hvm)),
                          "front_size_mean": float(np.mean(fronts)), "wall_s_mean": float(np.mean(walls)),
                          "projected_wall_s_with_proxy_mean": float(np.mean(projs)) if s_per_arch else None})

    hdr = f"{'pct':>3} {'budget_ms':>9} {'searcher':>8} {'feasible':>8} {'oracle':>7} {'gap_pp':>7} " \
          f"{'gap_max':>7} {'gap_rch':>7} {'bnd_ref':>7} {'bnd_all':>7} {'hv':>6} {'hv_min':>6} {'hvb_ref':>7} {'hvb_all':>7} " \
          f"{'ties':>5} {'front':>5} {'wall_s':>6}"
    print(f"proxy={scorer.proxy} (table {args.scores.name}, {len(covered)} archs covered); latency: {lat_source}")
    print("bnd_all / hvb_all: every feasible class scored and ranked among them (the finished search's rule); "
          "bnd_ref / hvb_ref: every feasible arch scored against the run's reference population (the rule "
          "that guides the search); ties: feasible archs tied at the best reference-rule score; gap_rch: gap "
          "to the best arch the search can report (the cheapest feasible member of each class)")
    print(hdr)
    for r in table:
        print(f"{r['percentile']:>3} {r['budget_ms']:>9.3f} {r['searcher']:>8} {r['n_feasible']:>8} "
              f"{r['oracle_acc']:>7.2f} {r['gap_pp_mean']:>7.3f} {r['gap_pp_max']:>7.3f} {r['gap_pp_reachable_mean']:>7.3f} "
              f"{r['ref_rule_gap_pp_mean']:>7.3f} {r['exhaustive_proxy_gap_pp']:>7.3f} {r['hv_share_mean']:>6.3f} "
              f"{r['hv_share_min']:>6.3f} {r['ref_rule_hv_share_mean']:>7.3f} {r['exhaustive_proxy_hv_share']:>7.3f} "
              f"{r['feasible_tied_at_max_score_mean']:>5.0f} {r['front_size_mean']:>5.1f} {r['wall_s_mean']:>6.2f}")
    doc = {
        "schema_version": 3, "benchmark": "search_nb201_cifar10_jetson-tx2",
        "proxy": scorer.proxy, "proxy_columns": columns, "proxy_table": str(args.scores),
        "proxy_table_header": header, "proxy_table_archs": len(covered),
        "proxy_s_per_arch_for_projection": s_per_arch,
        "latency_source": lat_source, "accuracy": "NAS-Bench-201 cifar10_test (200 epochs)",
        "evaluations": args.evaluations, "population": args.population, "seeds": args.seeds,
        "hv_reference": "(worst accuracy under the budget, budget); *_median_ref: (median accuracy, budget)",
        "reachable": "gap_pp_reachable: vs the best accuracy among the archs the search reports (the cheapest "
                     "feasible member of each isomorphism class); gap_pp: vs the best of all feasible archs",
        "bounds": {
            "exhaustive_proxy_*": "every feasible isomorphism class scored (the member the search reports); "
                                  "ensembles ranked among all of them (edgenas.proxies.ensemble.aggregate), as "
                                  "a finished search ranks its candidates; top pick = best score, ties to lower "
                                  "latency; the gap a perfect searcher would have",
            "ref_rule_*": "every feasible arch scored against the run's reference population (ensemble_score, "
                          "the rule that guides the search while it runs)",
        },
        "host": {"python": platform.python_version(), "machine": platform.machine()},
        "summary": table, "runs": runs,
    }
    write_json_atomic(args.out, doc, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
