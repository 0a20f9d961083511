#!/usr/bin/env python
"""Benchmark training-free proxies against NAS-Bench-201 ground truth.

Scores a set of NB201 archs with single proxies (the engine; topology proxies such as ``sed`` run
in microseconds) and ensembles (ranked within the evaluated set), then prints a table of Kendall
tau, Spearman rho and nDCG@1000 (gain 2^acc - 1, VKDNW protocol) against the 200-epoch test
accuracy, the median seconds per arch on this machine, and the VKDNW paper's Table 1 numbers
(research notes, proxies.md section 2.1) beside ours. Writes the same as JSON.

Per-arch scores are appended to a JSONL cache as they are computed (one line per arch), so an
interrupted run resumes where it stopped; the cache key holds space, dataset, seed, batch size
and input kind. Optionally reports the Spearman correlation of our per-arch scores with
NAS-Bench-Suite-Zero's published ones (``nb201_zc_proxies_*_nbsz.csv``; skipped if absent).

Example:
    nice -n 10 python tools/bench_proxies.py --space nb201 --dataset cifar10 --archs 1000 --seed 0 \
        --proxies naswot,synflow,vkdnw_agg --out benchmarks/results/proxies_nb201_cifar10.json
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GT = ROOT / "benchmarks" / "nb201" / "nb201_accuracy.csv"
DEFAULT_ZC = ROOT.parent / "shared" / "data" / "nb201"
GT_COLUMN = {"cifar10": "cifar10_test", "cifar100": "cifar100_test", "ImageNet16-120": "imagenet16_120_test"}
ZC_FILE = {"cifar10": "nb201_zc_proxies_cifar10_nbsz.csv",
           "ImageNet16-120": "nb201_zc_proxies_ImageNet16-120_nbsz.csv"}
# our proxy name -> NAS-Bench-Suite-Zero column
ZC_NAME = {"naswot": "nwot", "synflow": "synflow", "snip": "snip", "grasp": "grasp", "grad_norm": "grad_norm",
           "jacov": "jacov", "fisher": "fisher", "params": "params", "flops": "flops", "zen": "zen"}

# VKDNW paper Table 1 (CVPR 2025), NB201, 9,445 graf_valid archs, 5 seeds: (KT, SPR, nDCG@1000)
# per dataset; transcribed in ../shared/research/proxies.md section 2.1. "params" is compared
# with the FLOPs row (ranking by #params reproduces it to 3 decimals, proxies.md section 2.1).
PUBLISHED = {
    "flops": {"cifar10": (0.623, 0.799, 0.745), "cifar100": (0.586, 0.763, 0.576), "ImageNet16-120": (0.545, 0.718, 0.403)},
    "grad_norm": {"cifar10": (0.328, 0.438, 0.509), "cifar100": (0.341, 0.451, 0.278), "ImageNet16-120": (0.310, 0.418, 0.265)},
    "grasp": {"cifar10": (0.352, 0.505, 0.518), "cifar100": (0.349, 0.498, 0.284), "ImageNet16-120": (0.359, 0.502, 0.281)},
    "snip": {"cifar10": (0.431, 0.591, 0.513), "cifar100": (0.440, 0.597, 0.286), "ImageNet16-120": (0.389, 0.521, 0.286)},
    "synflow": {"cifar10": (0.561, 0.758, 0.709), "cifar100": (0.553, 0.750, 0.594), "ImageNet16-120": (0.531, 0.719, 0.511)},
    "jacov": {"cifar10": (0.616, 0.800, 0.540), "cifar100": (0.639, 0.820, 0.402), "ImageNet16-120": (0.602, 0.779, 0.356)},
    "naswot": {"cifar10": (0.571, 0.762, 0.607), "cifar100": (0.607, 0.799, 0.475), "ImageNet16-120": (0.605, 0.794, 0.490)},
    "zen": {"cifar10": (0.102, 0.103, 0.120), "cifar100": (0.079, 0.072, 0.115), "ImageNet16-120": (0.091, 0.109, 0.073)},
    "te_nas": {"cifar10": (0.536, 0.722, 0.602), "cifar100": (0.537, 0.723, 0.327), "ImageNet16-120": (0.523, 0.709, 0.330)},
    "az_nas": {"cifar10": (0.712, 0.892, 0.749), "cifar100": (0.696, 0.880, 0.549), "ImageNet16-120": (0.673, 0.859, 0.534)},
    "n_layers": {"cifar10": (0.626, 0.767, 0.671), "cifar100": (0.646, 0.787, 0.525), "ImageNet16-120": (0.623, 0.764, 0.497)},
    "vkdnw_single": {"cifar10": (0.618, 0.815, 0.751), "cifar100": (0.634, 0.829, 0.617), "ImageNet16-120": (0.622, 0.814, 0.608)},
    "vkdnw_agg": {"cifar10": (0.750, 0.919, 0.785), "cifar100": (0.753, 0.919, 0.636), "ImageNet16-120": (0.743, 0.906, 0.664)},
}
PUBLISHED["params"] = PUBLISHED["flops"]

log = logging.getLogger("bench_proxies")


def read_ground_truth(path: Path) -> dict[str, np.ndarray]:
    """Columns of the ground-truth CSV (``#`` header lines skipped) as arrays."""
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    rows = list(csv.DictReader(lines))
    if not rows:
        raise SystemExit(f"error: ground truth {path} has no rows")
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def choose_indices(gt: dict[str, np.ndarray], which: str, seed: int) -> tuple[np.ndarray, str]:
    """Benchmark indices to evaluate and a description of the selection."""
    idx = gt["index"].astype(np.int64)
    valid = idx[gt["graf_valid"] > 0] if "graf_valid" in gt else idx
    if which == "all":
        return idx, f"all {idx.size} archs"
    if which == "graf_valid":
        return valid, f"{valid.size} graf_valid archs (VKDNW Table 1 protocol)"
    try:
        n = int(which)
    except ValueError:
        raise SystemExit(f"error: --archs {which!r}; expected graf_valid, all or a sample size N") from None
    if not 1 <= n <= valid.size:
        raise SystemExit(f"error: --archs {n}; expected 1..{valid.size}")
    # draw order kept: any prefix of a partial run is itself a uniform random sample
    pick = np.random.default_rng(seed).choice(valid, size=n, replace=False)
    return pick, f"random sample of {n} of {valid.size} graf_valid archs (numpy default_rng({seed}))"


def load_cache(path: Path, key: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Per-arch cached records ``{index: {"scores": {}, "seconds": {}, "n_warnings": {}}}``."""
    out: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return out
    lines = path.read_text().splitlines()
    if not lines or json.loads(lines[0]).get("cache_key") != key:
        raise SystemExit(f"error: cache {path} was written for another configuration; use --cache or delete it")
    for ln in lines[1:]:
        try:
            rec = json.loads(ln)
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
        cur = out.setdefault(int(rec["index"]), {"scores": {}, "seconds": {}, "n_warnings": {}})
        cur["scores"].update(rec["scores"])
        cur["seconds"].update(rec["seconds"])
        cur["n_warnings"].update({k: rec.get("n_warnings", 0) for k in rec["scores"]})
    return out


def kendall_tau_ci95(scores: np.ndarray, acc: np.ndarray, *, n_boot: int = 300, seed: int = 0) -> list[float] | None:
    """Bootstrap (archs resampled with replacement) 2.5 / 97.5 % percentiles of Kendall tau.

    Says how far a KT on a sample of archs may sit from the same proxy's KT on all 9,445 by
    sampling alone, so a gap to the published row can be told apart from noise.
    """
    from edgenas.metrics import kendall_tau

    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(n_boot):
        pick = rng.integers(scores.size, size=scores.size)
        t = kendall_tau(scores[pick], acc[pick])
        if np.isfinite(t):
            taus.append(t)
    if not taus:
        return None
    lo, hi = np.percentile(taus, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def zc_spearman(zc_dir: Path, dataset: str, indices: np.ndarray, table: dict[str, np.ndarray],
                acc: np.ndarray | None = None) -> dict[str, Any]:
    """Spearman of our per-arch scores with NAS-Bench-Suite-Zero's, on the archs both have, and
    (given ``acc``) the Kendall tau of their scores on those same archs, which separates sample
    noise from a real difference when only part of the sample is scored."""
    from edgenas.metrics import kendall_tau, spearman_rho

    f = zc_dir / ZC_FILE.get(dataset, "")
    if dataset not in ZC_FILE or not f.is_file():
        return {}
    rows = list(csv.DictReader(ln for ln in f.read_text().splitlines() if not ln.startswith("#")))
    by_index = {int(r["index"]): r for r in rows}
    pos = [i for i, x in enumerate(indices) if int(x) in by_index]
    out: dict[str, Any] = {}
    for ours, theirs in ZC_NAME.items():
        if ours not in table or not pos:
            continue
        a = table[ours][pos]
        b = np.array([float(by_index[int(indices[i])][theirs]) for i in pos])
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() > 2:
            out[ours] = {"spearman_vs_nbsz": round(spearman_rho(a[ok], b[ok]), 4), "n_archs": int(ok.sum())}
            if acc is not None:
                out[ours]["nbsz_kendall_tau_same_archs"] = round(kendall_tau(b[ok], acc[pos][ok]), 4)
    return out


def _finite_or_none(obj: Any) -> Any:
    """``obj`` with NaN/inf floats replaced by None (JSON null); e.g. the tau of a constant proxy."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite_or_none(v) for v in obj]
    return obj


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", default="nb201")
    ap.add_argument("--dataset", default="cifar10", choices=sorted(GT_COLUMN))
    ap.add_argument("--archs", default="graf_valid", help="graf_valid | all | N (random graf_valid sample)")
    ap.add_argument("--seed", type=int, default=0, help="proxy run seed and sample seed")
    ap.add_argument("--proxies", required=True, help="comma-separated single proxies and ensembles")
    ap.add_argument("--out", required=True, type=Path, help="JSON result file")
    ap.add_argument("--cache", type=Path, default=None, help="per-arch JSONL cache (default: OUT with .cache.jsonl)")
    ap.add_argument("--ground-truth", type=Path, default=DEFAULT_GT)
    ap.add_argument("--zc-dir", type=Path, default=DEFAULT_ZC, help="NAS-Bench-Suite-Zero CSVs (optional)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--time-limit", type=float, default=0.0, help="stop scoring after this many seconds (0: none)")
    ap.add_argument("--evaluate-only", action="store_true", help="score nothing; evaluate what the cache holds")
    ap.add_argument("--fill-from", default=None, metavar="CACHE=PROXY[,PROXY]",
                    help="take these proxies' scores from another cache of the same space, dataset and seed "
                         "(e.g. another batch size) where this cache lacks them; never written to this cache, "
                         "and recorded in the JSON (for diagnostics such as an ensemble with one costly term "
                         "from a cheaper batch)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import torch

    from edgenas.cli.proxies_cmd import split_names
    from edgenas.metrics import accuracy_gain, kendall_tau, ndcg_at_k, spearman_rho
    from edgenas.proxies.base import get_proxy
    from edgenas.proxies.engine import score_archs
    from edgenas.proxies.ensemble import aggregate, ensemble_components
    from edgenas.spaces import get_space

    torch.set_num_threads(args.threads)
    space = get_space(args.space)
    space.dataset(args.dataset)
    names, singles, ensembles = split_names(args.proxies)
    gt = read_ground_truth(args.ground_truth)
    indices, selection = choose_indices(gt, args.archs, args.seed)
    acc_by_index = dict(zip(gt["index"].astype(np.int64).tolist(), gt[GT_COLUMN[args.dataset]].tolist()))

    cache = args.cache or args.out.with_suffix(".cache.jsonl")
    key = {"space": args.space, "dataset": args.dataset, "seed": args.seed, "batch_size": args.batch_size,
           "inputs": "gaussian"}
    cached = load_cache(cache, key)
    cache.parent.mkdir(parents=True, exist_ok=True)
    if not cache.exists():
        cache.write_text(json.dumps({"cache_key": key}) + "\n")
    filled = None
    if args.fill_from:
        path_text, _, names_text = args.fill_from.partition("=")
        fill_names = [n.strip() for n in names_text.split(",") if n.strip()]
        if not fill_names:
            raise SystemExit(f"error: --fill-from {args.fill_from!r}; expected CACHE=PROXY[,PROXY]")
        fill_path = Path(path_text)
        try:
            fill_key = json.loads(fill_path.read_text().splitlines()[0])["cache_key"]
        except (OSError, IndexError, KeyError, json.JSONDecodeError):
            raise SystemExit(f"error: --fill-from cache {fill_path} is missing or has no cache_key line") from None
        if {k: v for k, v in fill_key.items() if k != "batch_size"} != {k: v for k, v in key.items() if k != "batch_size"}:
            raise SystemExit(f"error: --fill-from cache {fill_path} is for {fill_key}; expected {key} up to the batch size")
        n_filled = 0
        for i, rec in load_cache(fill_path, fill_key).items():
            cur = cached.setdefault(i, {"scores": {}, "seconds": {}, "n_warnings": {}})
            for p in fill_names:
                if p in rec["scores"] and p not in cur["scores"]:
                    cur["scores"][p] = rec["scores"][p]
                    cur["seconds"][p] = rec["seconds"].get(p, float("nan"))
                    cur["n_warnings"][p] = rec["n_warnings"].get(p, 0)
                    n_filled += 1
        filled = {"cache": str(fill_path), "batch_size": fill_key.get("batch_size"), "proxies": fill_names,
                  "values_filled": n_filled}
        print(f"filled {n_filled} scores of {', '.join(fill_names)} from {fill_path} "
              f"(batch {fill_key.get('batch_size')})")
    todo_model = [s for s in singles if get_proxy(s).needs == "model"]
    todo_arch = [s for s in singles if get_proxy(s).needs != "model"]
    t_start = time.perf_counter()
    stopped_early = False
    with cache.open("a") as fh:
        # topology proxies first: all archs in one call (microseconds per arch)
        for group in (todo_arch, todo_model):
            for i in indices.tolist():
                missing = [p for p in group if p not in cached.get(i, {}).get("scores", {})]
                if not missing:
                    continue
                if args.evaluate_only or (args.time_limit and time.perf_counter() - t_start > args.time_limit):
                    stopped_early = True
                    break
                r = score_archs(space, [space.from_index(i)], args.dataset, missing, seed=args.seed,
                                device=args.device, batch_size=args.batch_size)[0]
                rec = {"index": i, "arch": r.arch, "scores": r.scores, "seconds": r.seconds, "n_warnings": r.n_warnings}
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
                cur = cached.setdefault(i, {"scores": {}, "seconds": {}, "n_warnings": {}})
                cur["scores"].update(r.scores)
                cur["seconds"].update(r.seconds)
                cur["n_warnings"].update({k: r.n_warnings for k in r.scores})

    # evaluate on the archs that have every requested single proxy
    done = np.array([i for i in indices.tolist() if all(p in cached.get(i, {}).get("scores", {}) for p in singles)],
                    dtype=np.int64)
    if done.size < 2:
        print(f"only {done.size} archs scored so far; nothing to evaluate (cache: {cache})")
        return 1
    acc = np.array([acc_by_index[int(i)] for i in done])
    gains = accuracy_gain(acc)
    k = min(1000, done.size)
    table = {p: np.array([cached[int(i)]["scores"][p] for i in done], dtype=np.float64) for p in singles}
    secs = {p: np.array([cached[int(i)]["seconds"][p] for i in done], dtype=np.float64) for p in singles}
    for e in ensembles:
        comps = ensemble_components(e)
        table[e] = aggregate(e, {c: table[c] for c in comps})
        secs[e] = np.sum([secs[c] for c in comps], axis=0)
    zc = zc_spearman(args.zc_dir, args.dataset, done, table, acc)
    results: dict[str, Any] = {}
    for p in names:
        s = table[p]
        pub = PUBLISHED.get(p, {}).get(args.dataset)
        res = {
            "kendall_tau": round(kendall_tau(s, acc), 4),
            "kendall_tau_ci95_bootstrap": kendall_tau_ci95(s, acc),
            "spearman_rho": round(spearman_rho(s, acc), 4),
            f"ndcg_at_{k}": round(ndcg_at_k(s, gains, k), 4),
            "median_seconds_per_arch": float(np.median(secs[p])),
            "n_warnings": int(sum(cached[int(i)]["n_warnings"].get(c, 0) > 0 for i in done
                                  for c in ([p] if p in singles else ensemble_components(p)))),
            "kind": "ensemble (ranked within the evaluated archs)" if p in ensembles else get_proxy(p).needs,
        }
        if pub:
            res["published_vkdnw_table1"] = {"kendall_tau": pub[0], "spearman_rho": pub[1], "ndcg_at_1000": pub[2]}
        if p in zc:
            res["nbsz"] = zc[p]
        results[p] = res

    header = f"{'proxy':<14}{'KT':>7}{'KT 95% CI':>15}{'SPR':>7}{'nDCG@' + str(k):>10}{'s/arch':>10}   {'pub KT':>7}{'pub SPR':>8}{'pub nDCG':>9}{'rho vs NBSZ':>12}{'NBSZ KT':>9}"
    print(f"NB201 {args.dataset}: {done.size} archs ({selection}{'; partial' if done.size < indices.size else ''}), "
          f"seed {args.seed}, batch {args.batch_size}, {args.threads} threads, device {args.device}")
    print(header)
    print("-" * len(header))
    for p, r in results.items():
        pub = r.get("published_vkdnw_table1")
        pubs = (f"{pub['kendall_tau']:>7.3f}{pub['spearman_rho']:>8.3f}{pub['ndcg_at_1000']:>9.3f}" if pub
                else f"{'-':>7}{'-':>8}{'-':>9}")
        nb = (f"{r['nbsz']['spearman_vs_nbsz']:>12.3f}{r['nbsz'].get('nbsz_kendall_tau_same_archs', np.nan):>9.3f}"
              if "nbsz" in r else f"{'-':>12}{'-':>9}")
        ci = r["kendall_tau_ci95_bootstrap"]
        cis = f"{ci[0]:.3f}..{ci[1]:.3f}" if ci else "-"
        print(f"{p:<14}{r['kendall_tau']:>7.3f}{cis:>15}{r['spearman_rho']:>7.3f}{r[f'ndcg_at_{k}']:>10.3f}"
              f"{r['median_seconds_per_arch']:>10.4f}   {pubs}{nb}")
    if k < 1000:
        print(f"note: nDCG@{k} on {done.size} archs is not comparable with the published nDCG@1000 on 9,445")
    out = {
        "benchmark": "bench_proxies", "space": args.space, "dataset": args.dataset,
        "ground_truth": f"{args.ground_truth.name}:{GT_COLUMN[args.dataset]} (200-epoch test accuracy, %)",
        "selection": selection, "n_archs_requested": int(indices.size), "n_archs_evaluated": int(done.size),
        "partial": bool(done.size < indices.size or stopped_early), "seed": args.seed,
        "batch_size": args.batch_size, "threads": args.threads, "device": args.device,
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "torch": torch.__version__},
        "published_source": "VKDNW (Tybl & Neumann, CVPR 2025) Table 1 via ../shared/research/proxies.md 2.1",
        "seconds_note": "median wall seconds per arch on this machine; model build included; the first proxy "
                        "of a shared forward pass pays for it; ensembles = sum of their components",
        "results": results, "cache": str(cache),
    }
    if filled:
        out["filled_from"] = filled
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(_finite_or_none(out), indent=2, allow_nan=False) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
