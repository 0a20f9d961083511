#!/usr/bin/env python
"""Reduced vs full proxy settings on the FBNet space: rank agreement and cost.

There is no accuracy ground truth for the FBNet space in this project (HW-NAS-Bench / HELP give
latencies only), so this does not measure how well a proxy predicts accuracy. It measures what
the reduced-resolution / reduced-batch CPU mode (``--proxy-resolution``, ``--batch-size``) costs
in *agreement*: for a seeded sample of FBNet archs it scores every proxy at the full setting
(the dataset's resolution) and at each reduced ``RESOLUTIONxBATCH`` setting, and reports

* Kendall tau between each reduced setting and the full one, per proxy and for the
  ``edgenas_fast`` / ``az_nas`` ensembles (ranks within the sample);
* Kendall tau of each proxy (full setting) with params and MACs of the arch, as a sanity check
  of what the proxy sees;
* median wall seconds per arch of each setting (sum over the proxies; the first proxy that needs
  the shared forward pays for it). Timings from a bulk run on a shared, niced machine are upper
  bounds; ``--timing-only`` reruns a few archs for clean numbers (under the timing lock).

Per-(arch, setting) scores are appended to a JSONL cache as they are computed, archs in the outer
loop, so an interrupted run resumes and a partial run still compares complete rows.

Example:
    nice -n 19 python tools/bench_fbnet_proxies.py --dataset imagenet --archs 60 --seed 0 \\
        --settings 224x16,112x16,64x16,64x8 --shard 0/2 \\
        --cache benchmarks/results/fbnet_imagenet_reduced.cache.jsonl \\
        --out benchmarks/results/fbnet_imagenet_reduced.json
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_PROXIES = "flops,params,sed,naswot,az_expressivity,az_progressivity,az_trainability"
ENSEMBLES = ("edgenas_fast", "az_nas")


def parse_setting(text: str) -> tuple[int, int]:
    """``"112x16"`` -> (112, 16): resolution in px and batch size."""
    try:
        r, b = text.lower().split("x")
        res, batch = int(r), int(b)
    except ValueError:
        raise SystemExit(f"error: setting {text!r} is invalid; expected RESOLUTIONxBATCH, e.g. 112x16") from None
    if res < 8 or batch < 2:
        raise SystemExit(f"error: setting {text!r} is invalid; expected resolution >= 8 and batch >= 2")
    return res, batch


def sample_archs(space: Any, n: int, seed: int) -> list[Any]:
    """``n`` distinct archs from ``default_rng(seed)`` (the sample every setting shares)."""
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < n:
        a = space.sample(rng)
        if a.text not in seen:
            seen.add(a.text)
            out.append(a)
    return out


def read_cache(path: Path, key: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    if not path.exists():
        return rows
    lines = path.read_text().splitlines()
    if not lines:
        return rows
    head = json.loads(lines[0])
    if head.get("cache_key") != key:
        raise SystemExit(f"error: cache {path} was made with {head.get('cache_key')}; expected {key}: "
                         "use another --cache")
    for line in lines[1:]:
        if line.strip():
            r = json.loads(line)
            rows[(r["arch"], r["setting"])] = r
    return rows


def kendall(a: np.ndarray, b: np.ndarray) -> float | None:
    from edgenas.metrics import kendall_tau

    ok = np.isfinite(a) & np.isfinite(b) & (a > -1e29) & (b > -1e29)
    if ok.sum() < 3:
        return None
    return round(float(kendall_tau(a[ok], b[ok])), 4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="imagenet", choices=("cifar100", "imagenet"))
    ap.add_argument("--archs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0, help="arch sample and proxy seed")
    ap.add_argument("--settings", default="224x16,112x16,64x16,64x8",
                    help="RESOLUTIONxBATCH list; the first is the full (reference) setting")
    ap.add_argument("--proxies", default=DEFAULT_PROXIES)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--shard", default="0/1", help="I/N: score only archs i with i %% N == I (parallel runs "
                    "appending to one cache); the tables need every shard done")
    ap.add_argument("--rescore", default="", metavar="PROXY@SETTING,...",
                    help="recompute these cached values (e.g. after a fix), appending new rows")
    ap.add_argument("--timing-only", type=int, default=0, metavar="N",
                    help="only time N archs per setting (no cache, no tau); prints s/arch")
    args = ap.parse_args(argv)

    import torch

    from edgenas.cli.proxies_cmd import load_proxies
    from edgenas.proxies.engine import score_archs
    from edgenas.proxies.ensemble import aggregate, ensemble_components
    from edgenas.spaces import get_space

    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(args.threads)
    load_proxies()
    space = get_space("fbnet")
    settings = [parse_setting(s) for s in args.settings.split(",") if s.strip()]
    names = [p.strip() for p in args.proxies.split(",") if p.strip()]
    archs = sample_archs(space, args.archs, args.seed)

    if args.timing_only:
        print(f"{'setting':>9} {'median s/arch':>14}  proxies: {','.join(names)}")
        rows = []
        for res, batch in settings:
            secs = []
            for a in archs[: args.timing_only]:
                t0 = time.perf_counter()
                score_archs(space, [a], args.dataset, names, seed=args.seed, batch_size=batch, resolution=res)
                secs.append(time.perf_counter() - t0)
            rows.append({"setting": f"{res}x{batch}", "median_s_per_arch": round(float(np.median(secs)), 3),
                         "n_archs": len(secs)})
            print(f"{f'{res}x{batch}':>9} {np.median(secs):14.3f}")
        if args.out:
            args.out.write_text(json.dumps({"timing": rows, "proxies": names, "dataset": args.dataset,
                                            "threads": args.threads,
                                            "machine": platform.processor() or platform.machine()},
                                           indent=1) + "\n")
        return 0

    key = {"space": "fbnet", "dataset": args.dataset, "seed": args.seed, "input": "gaussian"}
    cache = read_cache(args.cache, key)
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    if not args.cache.exists() or not args.cache.read_text().strip():
        args.cache.write_text(json.dumps({"cache_key": key}) + "\n")
    rescore = {tuple(x.split("@")) for x in args.rescore.split(",") if x.strip()}
    with args.cache.open("a") as fh:
        shard, n_shards = (int(x) for x in args.shard.split("/"))
        for i, a in enumerate(archs):
            if i % n_shards != shard:
                continue
            for res, batch in settings:
                tag = f"{res}x{batch}"
                have = cache.get((a.text, tag))
                todo = [n for n in names if have is None or n not in have["scores"] or (n, tag) in rescore]
                if not todo:
                    continue
                r = score_archs(space, [a], args.dataset, todo, seed=args.seed, batch_size=batch, resolution=res)[0]
                row = have or {"arch": a.text, "setting": tag, "scores": {}, "seconds": {}}
                row["scores"].update(r.scores)
                row["seconds"].update({k: round(v, 4) for k, v in r.seconds.items()})
                cache[(a.text, tag)] = row
                fh.write(json.dumps(row) + "\n")  # one short O_APPEND write: shards do not interleave
                fh.flush()
            print(f"arch {i + 1}/{len(archs)} done", file=sys.stderr, flush=True)

    cache = read_cache(args.cache, key)  # other shards may have added rows
    # archs with every setting and proxy scored
    tags = [f"{r}x{b}" for r, b in settings]
    done = [a for a in archs if all((a.text, t) in cache and all(n in cache[(a.text, t)]["scores"] for n in names)
                                    for t in tags)]
    if len(done) < 3:
        print("fewer than 3 complete archs; nothing to compare yet", file=sys.stderr)
        return 1
    # analytic MACs (equal to the built model's fvcore count, tests/spaces/test_fbnet.py) and params
    macs = np.array([sum(space.layer_macs_m(layer) for layer in space.layers(a, args.dataset)) for a in done])
    params = np.array([sum(p.numel() for p in space.build_model(a, args.dataset).parameters()) / 1e6 for a in done])

    def column(tag: str, name: str) -> np.ndarray:
        if name in ENSEMBLES:
            comps = ensemble_components(name)
            table = {c: np.array([cache[(a.text, tag)]["scores"][c] for a in done], dtype=float) for c in comps}
            return np.asarray(aggregate(name, table), dtype=float)
        return np.array([cache[(a.text, tag)]["scores"][name] for a in done], dtype=float)

    ens = [e for e in ENSEMBLES if all(c in names for c in ensemble_components(e))]
    cols = names + ens
    full = tags[0]
    tau_vs_full = {t: {n: kendall(column(t, n), column(full, n)) for n in cols} for t in tags[1:]}
    tau_vs_size = {n: {"params": kendall(column(full, n), params), "macs": kendall(column(full, n), macs)}
                   for n in cols}
    n_floor = {t: {n: int(np.sum(column(t, n) <= -1e29)) for n in names} for t in tags}
    seconds = {}
    for t in tags:
        per_arch = [sum(cache[(a.text, t)]["seconds"].get(n, 0.0) for n in names) for a in done]
        fast = [sum(cache[(a.text, t)]["seconds"].get(n, 0.0) for n in ensemble_components("edgenas_fast")
                    if n in names) for a in done]
        seconds[t] = {"all_proxies": round(float(np.median(per_arch)), 3),
                      "edgenas_fast": round(float(np.median(fast)), 3)}

    w = max(len(n) for n in cols) + 2
    print(f"\nFBNet {args.dataset}: Kendall tau of reduced settings vs full {full} "
          f"({len(done)} archs, default_rng({args.seed}) sample; no accuracy ground truth)")
    print(f"{'proxy':<{w}}" + "".join(f"{t:>10}" for t in tags[1:]) + f"{'~params':>10}{'~MACs':>10}")
    for n in cols:
        print(f"{n:<{w}}" + "".join(f"{tau_vs_full[t][n] if tau_vs_full[t][n] is not None else '-':>10}"
                                    for t in tags[1:])
              + f"{tau_vs_size[n]['params'] or '-':>10}{tau_vs_size[n]['macs'] or '-':>10}")
    print(f"{'s/arch all':<{w}}" + "".join(f"{seconds[t]['all_proxies']:>10}" for t in tags[1:]))
    print(f"{'s/arch fast':<{w}}" + "".join(f"{seconds[t]['edgenas_fast']:>10}" for t in tags[1:]))
    print(f"full setting {full}: {seconds[full]['all_proxies']} s/arch all proxies, "
          f"{seconds[full]['edgenas_fast']} s/arch edgenas_fast components (bulk run, niced, shared CPU)")
    if args.out:
        doc = {
            "what": "FBNet proxies: Kendall tau of reduced-resolution/batch settings vs the full setting; "
                    "no accuracy ground truth exists for FBNet here",
            "command": "python " + " ".join(sys.argv),
            "dataset": args.dataset, "seed": args.seed, "n_archs": len(done), "settings": tags,
            "full_setting": full, "proxies": names, "ensembles": ens, "threads": args.threads,
            "machine": platform.processor() or platform.machine(),
            "units": {"seconds": "median wall seconds per arch (bulk run, niced, shared 2-core CPU)"},
            "kendall_tau_vs_full": tau_vs_full, "kendall_tau_full_vs_size": tau_vs_size,
            "n_floor_scores": n_floor, "seconds_per_arch": seconds,
            "archs": [a.text for a in done],
        }
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
