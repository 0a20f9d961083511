#!/usr/bin/env python
"""Seconds per architecture of the model proxies on this machine (CPU by default).

Times the engine (``score_archs``, model build and input batch included) on a fixed, seeded
random sample of archs, at one or more batch sizes:

* ``set``: all the given proxies in one call per arch, sharing passes as the engine does
  (for the default proxies this is the full ``vkdnw_agg`` component set);
* per proxy, the engine's attribution inside that call (the first proxy that needs a shared
  pass pays for it) and, unless ``--no-isolated``, each proxy alone in its own call;
* with ``--workers W``: throughput of the search's scorer (``ProxyScorer``, ``--workers-proxy``)
  scoring the same archs in W worker processes of one thread each (``edgenas search --workers``).

One warm-up arch per batch size is not counted. Prints a table and writes JSON with the
median and 90th percentile seconds per arch, the torch version, CPU model, thread count and
the 1-minute load average before and after each block (timings on a loaded machine are
inflated: read them with the load average). Optionally (``--check-archs N``) compares the
per-sample Jacobians of the fast ``hooks`` path with the reference ``vmap`` formulation on N
archs of the sample: relative difference of J and of the vkdnw / vkdnw_textbook scores.

Example (run timing jobs one at a time on a shared machine):
    flock /tmp/coord/timing.lock python tools/bench_proxy_speed.py --archs 30 --batch-sizes 64,16 \\
        --threads 2 --out benchmarks/results/proxy_speed_nb201_cifar10.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

VKDNW_AGG_SET = "flops,az_expressivity,az_trainability,jacov,vkdnw_single"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def stats(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"median_s": float(np.median(a)), "p90_s": float(np.percentile(a, 90)), "mean_s": float(a.mean()),
            "n": int(a.size)}


def time_block(space: Any, archs: list, dataset: str, proxies: list[str], *, batch_size: int, seed: int,
               device: str, isolated: bool, resolution: int | None = None) -> dict[str, Any]:
    from edgenas.proxies.engine import score_archs

    load_before = os.getloadavg()[0]
    score_archs(space, [archs[0]], dataset, proxies, seed=seed, device=device, batch_size=batch_size,
                resolution=resolution)  # warm-up
    set_s: list[float] = []
    attributed: dict[str, list[float]] = {p: [] for p in proxies}
    alone: dict[str, list[float]] = {p: [] for p in proxies}
    n_warnings = 0
    for arch in archs[1:]:
        t0 = time.perf_counter()
        r = score_archs(space, [arch], dataset, proxies, seed=seed, device=device, batch_size=batch_size,
                        resolution=resolution)[0]
        set_s.append(time.perf_counter() - t0)
        n_warnings += r.n_warnings
        for p in proxies:
            attributed[p].append(r.seconds[p])
        if isolated:
            for p in proxies:
                t0 = time.perf_counter()
                score_archs(space, [arch], dataset, [p], seed=seed, device=device, batch_size=batch_size,
                            resolution=resolution)
                alone[p].append(time.perf_counter() - t0)
    return {
        "batch_size": batch_size, "resolution": resolution,
        "set": stats(set_s),
        "per_proxy_in_set": {p: stats(v) for p, v in attributed.items()},
        "per_proxy_alone": {p: stats(v) for p, v in alone.items()} if isolated else None,
        "n_warnings": n_warnings,
        "load_avg_1min_before": load_before,
        "load_avg_1min_after": os.getloadavg()[0],
    }


def time_workers(space: Any, archs: list, dataset: str, proxy: str, *, workers: int, batch_size: int,
                 seed: int, device: str) -> dict[str, Any]:
    """Throughput of the search's scorer with ``workers`` single-thread processes: wall seconds
    for all of ``archs[1:]`` (pool started and ``archs[0]`` scored first, not counted) / count."""
    from edgenas.search.scoring import ProxyScorer

    scorer = ProxyScorer(space=space, dataset=dataset, proxy=proxy, seed=seed, device=device,
                         batch_size=batch_size, workers=workers)
    load_before = os.getloadavg()[0]
    try:
        scorer.score([archs[0]] * workers)  # start the pool and warm every worker (not counted)
        t0 = time.perf_counter()
        scorer.score(archs[1:])
        wall = time.perf_counter() - t0
    finally:
        scorer.close()
    return {"batch_size": batch_size, "workers": workers, "proxy": proxy, "n": len(archs) - 1,
            "wall_s": wall, "s_per_arch": wall / max(1, len(archs) - 1),
            "load_avg_1min_before": load_before, "load_avg_1min_after": os.getloadavg()[0]}


def check_jacobians(space: Any, archs: list, dataset: str, *, batch_size: int, seed: int) -> dict[str, Any]:
    """hooks vs vmap per-sample Jacobians and the vkdnw scores computed from them."""
    import torch

    from edgenas._rng import derive_seed
    from edgenas.metrics import kendall_tau
    from edgenas.proxies._vkdnw import decile_entropy, fisher_spectrum, per_sample_jacobians
    from edgenas.proxies.engine import _model_factory, make_inputs

    ds = space.dataset(dataset)
    x, _ = make_inputs(ds, seed=seed, batch_size=batch_size)
    rows = []
    for arch in archs:
        model = _model_factory(space, arch, dataset, derive_seed(seed, space.iso_key(arch)), "cpu")().eval()
        res = {}
        for method in ("hooks", "vmap"):
            logits, jac = per_sample_jacobians(model, x, method=method)
            res[method] = (jac, decile_entropy(fisher_spectrum(logits, jac)),
                           decile_entropy(fisher_spectrum(logits, jac, textbook=True)))
        jh, jv = res["hooks"][0].to(torch.float64), res["vmap"][0].to(torch.float64)
        rows.append({
            "arch": space.format(arch),
            "jac_rel_diff": float(torch.linalg.vector_norm(jh - jv) / max(float(torch.linalg.vector_norm(jv)), 1e-30)),
            "vkdnw_hooks": res["hooks"][1], "vkdnw_vmap": res["vmap"][1],
            "vkdnw_textbook_hooks": res["hooks"][2], "vkdnw_textbook_vmap": res["vmap"][2],
        })

    def rel(a: float, b: float) -> float:
        return abs(a - b) / max(abs(b), 1e-12)

    out: dict[str, Any] = {"batch_size": batch_size, "n_archs": len(rows), "archs": rows,
                           "max_jac_rel_diff": max(r["jac_rel_diff"] for r in rows)}
    for name in ("vkdnw", "vkdnw_textbook"):
        h = [r[f"{name}_hooks"] for r in rows]
        v = [r[f"{name}_vmap"] for r in rows]
        out[f"{name}_max_rel_diff"] = max(rel(a, b) for a, b in zip(h, v))
        out[f"{name}_same_order"] = bool(np.array_equal(np.argsort(h, kind="stable"), np.argsort(v, kind="stable")))
        out[f"{name}_kendall_tau_hooks_vs_vmap"] = float(kendall_tau(np.array(h), np.array(v)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", default="nb201")
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--archs", type=int, default=30, help="timed archs (plus one warm-up arch)")
    ap.add_argument("--seed", type=int, default=0, help="sample seed and proxy run seed")
    ap.add_argument("--proxies", default=VKDNW_AGG_SET, help="comma-separated single proxies (default: vkdnw_agg set)")
    ap.add_argument("--batch-sizes", default="64,16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--resolution", default=None,
                    help="proxy input size N (N x N px); 'cpu' = the space's CPU default (what a CPU search "
                         "uses, e.g. FBNet ImageNet 64); default: the dataset's")
    ap.add_argument("--no-isolated", action="store_true", help="skip timing each proxy alone")
    ap.add_argument("--workers", type=int, default=0,
                    help="also time the search's scorer with this many single-thread worker processes "
                         "(throughput, same archs; 0: skip)")
    ap.add_argument("--workers-proxy", default="vkdnw_agg", help="proxy/ensemble the worker block scores")
    ap.add_argument("--check-archs", type=int, default=0, help="compare hooks vs vmap Jacobians on this many archs")
    ap.add_argument("--check-batch-size", type=int, default=16)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    import torch

    from edgenas._json import write_json_atomic
    from edgenas.errors import EdgeNASError
    from edgenas.proxies.base import get_proxy
    from edgenas.spaces import get_space

    try:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        print(f"error: --batch-sizes {args.batch_sizes!r} is invalid; expected comma-separated integers", file=sys.stderr)
        return 2
    if args.archs < 1 or args.threads < 1 or (not batch_sizes and not args.check_archs) or min(batch_sizes, default=2) < 2:
        print("error: --archs and --threads must be >= 1 and every batch size >= 2 (--batch-sizes '' "
              "with --check-archs N only checks)", file=sys.stderr)
        return 2
    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
    try:
        space = get_space(args.space)
        space.dataset(args.dataset)
        for p in proxies:
            get_proxy(p)
    except EdgeNASError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    n_sample = max(args.archs, args.check_archs) + 1
    if space.size <= 10**7:
        indices = rng.choice(space.size, size=min(n_sample, space.size), replace=False)
        archs = [space.from_index(int(i)) for i in indices]
    else:  # a space too large to index (FBNet): seeded uniform draws
        archs = [space.sample(int(rng.integers(2**31))) for _ in range(n_sample)]
    if args.resolution == "cpu":
        resolution = space.cpu_proxy_resolution.get(args.dataset)
    else:
        resolution = int(args.resolution) if args.resolution else None

    blocks = []
    for b in batch_sizes:
        blocks.append(time_block(space, archs[: args.archs + 1], args.dataset, proxies, batch_size=b, seed=args.seed,
                                 device=args.device, isolated=not args.no_isolated, resolution=resolution))
    worker_blocks = []
    if args.workers:
        for b in batch_sizes:
            worker_blocks.append(time_workers(space, archs[: args.archs + 1], args.dataset, args.workers_proxy,
                                              workers=args.workers, batch_size=b, seed=args.seed, device=args.device))
    check = None
    if args.check_archs:
        check = check_jacobians(space, archs[1 : args.check_archs + 1], args.dataset,
                                batch_size=args.check_batch_size, seed=args.seed)

    print(f"{args.space} {args.dataset}: {args.archs} archs (seed {args.seed}), {args.threads} threads, "
          f"torch {torch.__version__}, {cpu_model()}")
    for blk in blocks:
        print(f"\nbatch {blk['batch_size']}  (load avg 1 min: {blk['load_avg_1min_before']:.2f} before, "
              f"{blk['load_avg_1min_after']:.2f} after)")
        print(f"{'proxy':<22}{'in set median':>14}{'alone median':>14}{'alone p90':>11}")
        for p in proxies:
            a = blk["per_proxy_alone"][p] if blk["per_proxy_alone"] else None
            alone = f"{a['median_s']:>14.3f}{a['p90_s']:>11.3f}" if a else f"{'-':>14}{'-':>11}"
            print(f"{p:<22}{blk['per_proxy_in_set'][p]['median_s']:>14.3f}{alone}")
        s = blk["set"]
        print(f"{'SET (one call)':<22}{s['median_s']:>14.3f}{'p90':>14}{s['p90_s']:>11.3f}")
        print(f"{'SET mean (throughput)':<22}{s['mean_s']:>14.3f}")
        for w in worker_blocks:
            if w["batch_size"] == blk["batch_size"]:
                label = f"{w['proxy']} x {w['workers']} workers"
                print(f"{label:<22}{w['s_per_arch']:>14.3f}  s/arch throughput (1 thread each; "
                      f"load {w['load_avg_1min_before']:.2f})")
    if check:
        print(f"\nhooks vs vmap Jacobians, {check['n_archs']} archs, batch {check['batch_size']}: "
              f"max rel diff J {check['max_jac_rel_diff']:.2e}, vkdnw {check['vkdnw_max_rel_diff']:.2e} "
              f"(same order: {check['vkdnw_same_order']}), vkdnw_textbook {check['vkdnw_textbook_max_rel_diff']:.2e} "
              f"(same order: {check['vkdnw_textbook_same_order']})")

    result = {
        "what": "wall seconds per arch of model proxies through edgenas.proxies.engine.score_archs "
                "(model build and input batch included); 'set' = all proxies in one call per arch",
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "space": args.space, "dataset": args.dataset, "proxies": proxies, "seed": args.seed,
        "resolution": resolution,
        "archs": [space.format(a) for a in archs[1 : args.archs + 1]], "warmup_arch": space.format(archs[0]),
        "threads": args.threads, "device": args.device, "torch": torch.__version__, "cpu": cpu_model(),
        "n_cpus": os.cpu_count(), "python": platform.python_version(),
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "blocks": blocks, "worker_blocks": worker_blocks, "jacobian_check": check,
    }
    write_json_atomic(args.out, result, indent=1)
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
