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
* exh_gap: the gap of the arch the proxy ranks first among *all* archs under the budget (what
  scoring every feasible arch would give): the part of the gap due to the proxy, not the search;
* wall_s: wall time of the search call (proxy cost excluded: scores come from the table).

Proxy scores come from a precomputed table (``--scores``; proxy evaluation is the expensive part
and is benchmarked by tools/bench_proxies.py). Archs the table does not cover are excluded from the
search and from the oracle alike, and the coverage is reported.

Latencies: ``edgenas.hardware.cost.get_cost_model`` for jetson-tx2 when it exists and reports
measured values, otherwise the HW-NAS-Bench measured table (``--latency-csv``, column
``edgegpu_latency``; Jetson TX2 per the HW-NAS-Bench paper).

Usage:
    python tools/bench_search.py --scores ../shared/data/nb201/nb201_zc_proxies_cifar10_nbsz.csv \
        --proxy nwot --out benchmarks/results/search_nb201_cifar10.json
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

from edgenas.errors import MissingLatencyError
from edgenas.search.pareto import hypervolume_2d
from edgenas.search.problem import AdditiveSizeTable
from edgenas.search.run import run_search
from edgenas.search.scoring import TableScorer
from edgenas.spaces import get_space


def read_csv(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--scores", required=True, type=Path, help="score table (CSV/JSONL keyed by index or arch)")
    ap.add_argument("--proxy", default="nwot", help="column(s); comma-separated = mean-rank ensemble")
    ap.add_argument("--latency-csv", type=Path, default=ROOT.parent / "shared/data/nb201/nb201_hw_cifar10.csv")
    ap.add_argument("--accuracy-csv", type=Path, default=ROOT / "benchmarks/nb201/nb201_accuracy.csv")
    ap.add_argument("--evaluations", type=int, default=500)
    ap.add_argument("--population", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--percentiles", default="25,50,75")
    args = ap.parse_args()

    space = get_space("nb201")
    acc = np.full(15625, np.nan)
    for r in read_csv(args.accuracy_csv):
        acc[int(r["index"])] = float(r["cifar10_test"])
    lat, lat_source = load_latency(space, args.latency_csv)
    columns = [c.strip() for c in args.proxy.split(",")]
    scorer = TableScorer(space=space, path=str(args.scores), columns=columns)
    covered = {i for i in range(15625) if scorer.covers(space.from_index(i))}
    cov = np.array(sorted(covered))
    size = AdditiveSizeTable(space, "cifar10")  # measured once, shared by every run

    # exhaustive proxy ranking over the covered archs (global ranks for an ensemble): what the
    # search would pick if it could afford to score every feasible arch
    from scipy.stats import rankdata

    comp = np.full((len(columns), 15625), np.nan)
    for i in cov:
        raw = scorer.score([space.from_index(int(i))])[0].values
        for k, c in enumerate(columns):
            comp[k, i] = np.nan if raw[c] is None else raw[c]
    if len(columns) == 1:
        exhaustive = comp[0]
    else:
        exhaustive = np.full(15625, -np.inf)
        exhaustive[cov] = sum(np.log(rankdata(np.nan_to_num(comp[k, cov], nan=-np.inf)) / len(cov))
                              for k in range(len(columns)))

    budgets = [float(np.percentile(lat[cov], float(p))) for p in args.percentiles.split(",")]
    table = []
    runs = []
    for pct, budget in zip(args.percentiles.split(","), budgets):
        feas = cov[lat[cov] <= budget]
        best = float(acc[feas].max())
        F_oracle = np.stack([-acc[feas], lat[feas]], axis=1)
        refs = {"nadir": float(acc[feas].min()), "median": float(np.median(acc[feas]))}
        proxy_top = int(feas[np.nanargmax(exhaustive[feas])])
        proxy_gap = best - float(acc[proxy_top])
        hv_oracle = {k: hypervolume_2d(F_oracle, (-a, budget)) for k, a in refs.items()}
        for searcher in ("nsga2", "random"):
            gaps, hvs, hvm, walls, fronts = [], [], [], [], []
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
                gaps.append(gap), hvs.append(hv["nadir"]), hvm.append(hv["median"]), walls.append(wall)
                fronts.append(len(res.front))
                runs.append({"percentile": int(pct), "budget_ms": budget, "searcher": searcher, "seed": seed,
                             "top_index": int(top), "top_acc": float(acc[top]), "oracle_acc": best,
                             "gap_pp": gap, "hv_share": hv["nadir"], "hv_share_median_ref": hv["median"],
                             "front_size": len(res.front), "n_candidates": len(res.candidates),
                             "wall_s": wall})
            table.append({"percentile": int(pct), "budget_ms": round(budget, 4), "searcher": searcher,
                          "n_feasible": len(feas), "oracle_acc": round(best, 4),
                          "exhaustive_proxy_gap_pp": proxy_gap,
                          "gap_pp_mean": float(np.mean(gaps)), "gap_pp_max": float(np.max(gaps)),
                          "hv_share_mean": float(np.mean(hvs)), "hv_share_min": float(np.min(hvs)),
                          "hv_share_median_ref_mean": float(np.mean(hvm)),
                          "front_size_mean": float(np.mean(fronts)), "wall_s_mean": float(np.mean(walls))})

    hdr = f"{'pct':>3} {'budget_ms':>9} {'searcher':>8} {'feasible':>8} {'oracle':>7} {'gap_pp':>7} " \
          f"{'gap_max':>7} {'exh_gap':>7} {'hv':>6} {'hv_min':>6} {'hv_med':>6} {'front':>5} {'wall_s':>6}"
    print(f"proxy={scorer.proxy} (table {args.scores.name}, {len(covered)} archs covered); latency: {lat_source}")
    print(hdr)
    for r in table:
        print(f"{r['percentile']:>3} {r['budget_ms']:>9.3f} {r['searcher']:>8} {r['n_feasible']:>8} "
              f"{r['oracle_acc']:>7.2f} {r['gap_pp_mean']:>7.3f} {r['gap_pp_max']:>7.3f} "
              f"{r['exhaustive_proxy_gap_pp']:>7.3f} {r['hv_share_mean']:>6.3f} "
              f"{r['hv_share_min']:>6.3f} {r['hv_share_median_ref_mean']:>6.3f} {r['front_size_mean']:>5.1f} "
              f"{r['wall_s_mean']:>6.2f}")
    doc = {
        "schema_version": 1, "benchmark": "search_nb201_cifar10_jetson-tx2",
        "proxy": scorer.proxy, "proxy_table": str(args.scores), "proxy_table_archs": len(covered),
        "latency_source": lat_source, "accuracy": "NAS-Bench-201 cifar10_test (200 epochs)",
        "evaluations": args.evaluations, "population": args.population, "seeds": args.seeds,
        "hv_reference": "(worst accuracy under the budget, budget); *_median_ref: (median accuracy, budget)",
        "host": {"python": platform.python_version(), "machine": platform.machine()},
        "summary": table, "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
