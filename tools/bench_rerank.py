#!/usr/bin/env python
"""Does re-ranking the best front members by brief training beat the training-free pick?

``edgenas train RUN --top K --budget-epochs E`` trains the K best-scoring front members briefly and keeps
the one with the best validation accuracy. On NAS-Bench-201 the 12-epoch results ("hp=12" of
NB201-v1_1) stand in for the brief training: the validation accuracy after 12 epochs
(``cifar10valid_val_12ep``, ``cifar100_val_12ep``, ``imagenet16_120_val_12ep``) chooses, and the
choice is scored by its 200-epoch test accuracy, as the pick benchmark scores the training-free pick
(``tools/bench_picks.py``: the same default search, score tables, datasets, devices and latency budgets).
With one fidelity, successive halving reduces to the best of the K at 12 epochs.

Per case: the gap (pp) of the training-free pick and of the re-ranked pick for K = 1, 3, 5, 10 to the
best feasible arch's 200-epoch test accuracy (the oracle). The 12-epoch columns come from the
NAS-Bench-201 / NATS-Bench accuracy file in ../shared (MIT; not shipped with the project).

Example (the table in docs/benchmarks.md):
    python tools/bench_rerank.py --seeds 0 --out benchmarks/results/rerank_nb201.json
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bench_picks import DEFAULT_TARGETS, read_accuracy  # noqa: E402

from edgenas._json import write_json_atomic  # noqa: E402
from edgenas.errors import EdgeNASError  # noqa: E402
from edgenas.search import SearchConfig, run_search  # noqa: E402
from edgenas.search.config import default_proxy  # noqa: E402
from edgenas.search.problem import AdditiveSizeTable  # noqa: E402
from edgenas.search.scoring import TableScorer  # noqa: E402
from edgenas.spaces import get_space  # noqa: E402

BRIEF_COLUMN = {"cifar10": "cifar10valid_val_12ep", "cifar100": "cifar100_val_12ep",
                "ImageNet16-120": "imagenet16_120_val_12ep"}
SCORES = {d: ROOT / f"benchmarks/scores/nb201_{d}_b16_s0.csv.gz" for d in BRIEF_COLUMN}
SHARED_ACC = ROOT.parent / "shared/data/nb201/nb201_accuracy.csv"


def read_brief(path: Path, dataset: str) -> np.ndarray:
    rows = csv.DictReader(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))
    out = np.full(15625, np.nan)
    for r in rows:
        out[int(r["index"])] = float(r[BRIEF_COLUMN[dataset]])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="cifar10,cifar100,ImageNet16-120")
    ap.add_argument("--targets", default=DEFAULT_TARGETS)
    ap.add_argument("--percentiles", default="10,20,30,40,50,60,70,80,90")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--tops", default="1,3,5,10")
    ap.add_argument("--brief-csv", type=Path, default=SHARED_ACC,
                    help="accuracy file with the 12-epoch columns (NATS-Bench, MIT)")
    ap.add_argument("--accuracy-csv", type=Path, default=ROOT / "benchmarks/nb201/nb201_accuracy.csv")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    if not args.brief_csv.is_file():
        raise SystemExit(f"{args.brief_csv} not found: the 12-epoch accuracies live in ../shared (see --brief-csv)")
    from edgenas.hardware.cost import get_cost_model
    from edgenas.hardware.targets import load_target

    defaults = SearchConfig()
    proxy = default_proxy("nb201")
    space = get_space("nb201")
    archs = list(space.enumerate())
    alive = np.array([not space.is_degenerate(a) for a in archs])
    tops = [int(k) for k in args.tops.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    cases, skipped = [], []
    t_start = time.perf_counter()
    for dataset in args.datasets.split(","):
        acc = read_accuracy(args.accuracy_csv, dataset)
        brief = read_brief(args.brief_csv, dataset)
        scorer = TableScorer(space=space, path=str(SCORES[dataset]), ensemble=proxy)
        size = AdditiveSizeTable(space, dataset)
        for target in args.targets.split(","):
            try:
                model = get_cost_model(target, space, dataset, source=defaults.latency_source)
            except EdgeNASError as exc:
                skipped.append(f"{dataset}/{target}: {exc}")
                continue
            name = load_target(target).name
            lat = np.asarray(model.predict_many(archs, missing="nan"), dtype=float)
            ok = alive & np.isfinite(lat)
            for pct in [float(p) for p in args.percentiles.split(",")]:
                budget = float(np.percentile(lat[ok], pct))
                oracle = float(acc[np.flatnonzero(ok & (lat <= budget))].max())
                for seed in seeds:
                    res = run_search(seed=seed, targets=(target,), dataset=dataset, max_latency_ms=budget,
                                     write_outputs=False, scorer=scorer, size=size, cost_models={name: model},
                                     proxy=proxy)
                    members = [c.index for c in res.front]  # best score first, as `edgenas train --top`
                    gaps = {"pick": oracle - float(acc[res.pick.index])}
                    chosen = {}
                    for k in tops:
                        top = members[:k]
                        best = max(top, key=lambda i: (brief[i], -top.index(i)))  # ties keep the proxy's order
                        chosen[k] = best
                        gaps[f"top{k}"] = oracle - float(acc[best])
                    cases.append({"dataset": dataset, "target": target, "percentile": pct, "budget_ms": budget,
                                  "seed": seed, "front_size": len(members), "oracle_acc": oracle,
                                  "pick_index": res.pick.index, "rerank_index": chosen, "gap_pp": gaps})
                    print(f"{dataset:>14} {target:>14} p{pct:>2.0f} s{seed} front {len(members):>3}  "
                          + "  ".join(f"{k} {v:5.2f}" for k, v in gaps.items()), flush=True)
    summary = {}
    for dataset in args.datasets.split(","):
        mine = [c for c in cases if c["dataset"] == dataset]
        if not mine:
            continue
        summary[dataset] = {"cases": len(mine)}
        for key in ["pick", *(f"top{k}" for k in tops)]:
            g = np.array([c["gap_pp"][key] for c in mine])
            summary[dataset][key] = {"median": float(np.median(g)), "p90": float(np.percentile(g, 90)),
                                     "mean": float(g.mean()),
                                     "better_than_pick": float(np.mean(g < np.array([c["gap_pp"]["pick"] for c in mine]) - 1e-9)),
                                     "worse_than_pick": float(np.mean(g > np.array([c["gap_pp"]["pick"] for c in mine]) + 1e-9))}
    cols = ["pick", *(f"top{k}" for k in tops)]
    print("\n| dataset | cases | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for d, s in summary.items():
        print(f"| {d} | {s['cases']} | " + " | ".join(
            f"{s[c]['median']:.2f} / {s[c]['p90']:.2f} / {s[c]['mean']:.2f}" for c in cols) + " |")
    doc = {"schema_version": 1, "benchmark": "rerank_nb201",
           "what": "gap (pp, 200-epoch test accuracy) to the best feasible arch: training-free pick vs the best of "
                   "the K best-scoring front members by 12-epoch validation accuracy",
           "proxy": proxy, "tops": tops, "seeds": seeds, "targets": args.targets.split(","), "skipped": skipped,
           "made_by": "tools/bench_rerank.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "wall_s": round(time.perf_counter() - t_start, 1),
           "host": {"python": platform.python_version(), "machine": platform.machine()},
           "summary": summary, "cases": cases}
    write_json_atomic(args.out, doc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
