#!/usr/bin/env python
"""Score every NAS-Bench-201 isomorphism class with edgenas proxies; write a compact score table.

The search scores each isomorphism class once, and the engine seeds each arch from the run seed and
its isomorphism key, so one representative per class (the lowest benchmark index) gives the score
of every member. This script scores the 6,466 CIFAR-10 classes with the single proxies an ensemble
needs (``--proxies edgenas_fast`` expands to its components), appending one JSONL line per class to
a cache as it goes (resumable: rerun the same command), then writes a CSV with one row per
benchmark index (15,625) that ``tools/bench_search.py --scores`` and the search's ``TableScorer``
read. Raw component values are stored, never ranks: ensembles are ranked by the consumer against
its own reference population, as the product does.

Example (long: run it in the background at low priority):
    nice -n 19 python tools/score_nb201_table.py --proxies edgenas_fast --batch-size 16 --threads 1 \
        --shard 0/2 --cache /tmp/E/a.jsonl /tmp/E/b.jsonl   # and --shard 1/2 --cache /tmp/E/b.jsonl /tmp/E/a.jsonl
    python tools/score_nb201_table.py --proxies edgenas_fast --batch-size 16 --threads 1 --write-only \
        --cache /tmp/E/a.jsonl /tmp/E/b.jsonl --out benchmarks/results/search_scores_nb201_cifar10_b16.csv
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def expand(names: str) -> list[str]:
    """Single proxies of a comma-separated list of proxies / ensembles, in first-seen order."""
    from edgenas.proxies.ensemble import ensemble_components, list_ensembles

    out: list[str] = []
    for n in (x.strip() for x in names.split(",") if x.strip()):
        for c in (ensemble_components(n) if n in list_ensembles() else (n,)):
            if c not in out:
                out.append(c)
    return out


BASE_KEY = ("space", "dataset", "seed", "batch_size", "inputs")


def read_cache(path: Path, key: dict) -> dict[int, dict]:
    """{scored arch index: {"scores": {}, "seconds": {}}} from a JSONL cache (ours or a
    tools/bench_proxies.py cache: the same engine, so the same scores for the same base key)."""
    out: dict[int, dict] = {}
    if not path.exists():
        return out
    lines = path.read_text().splitlines()
    head = json.loads(lines[0]).get("cache_key", {}) if lines else {}
    if any(head.get(k) != key[k] for k in BASE_KEY):
        raise SystemExit(f"error: cache {path} was written for another configuration ({head}); expected {key}")
    for ln in lines[1:]:
        try:
            r = json.loads(ln)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed run: rescored
        cur = out.setdefault(int(r["index"]), {"scores": {}, "seconds": {}})
        cur["scores"].update(r["scores"])
        cur["seconds"].update(r["seconds"])
    return out


def read_table(path: Path, key: dict) -> dict[int, dict]:
    """{scored arch index: {"scores": {}, "seconds": {}}} from a score table this tool wrote (one row
    per benchmark index; the scored member's row); seconds are the table's per-proxy medians."""
    import gzip

    data = path.read_bytes()
    lines = (gzip.decompress(data) if path.suffix == ".gz" else data).decode().splitlines()
    head = json.loads(lines[0][2:]) if lines and lines[0].startswith("# {") else {}
    want = {"dataset": key["dataset"], "seed": key["seed"], "batch_size": key["batch_size"]}
    if any(head.get(k) != v for k, v in want.items()):
        raise SystemExit(f"error: table {path} was written for another configuration ({head}); expected {want}")
    secs = head.get("median_seconds_per_class") or {}
    body = [ln for ln in lines if not ln.startswith("#")]
    cols = body[0].split(",")
    out: dict[int, dict] = {}
    for ln in body[1:]:
        row = dict(zip(cols, ln.split(",")))
        i = int(row["scored_index"])
        if i in out or int(row["index"]) != i:
            continue
        scores = {p: float(v) for p, v in row.items() if p not in ("index", "scored_index")}
        out[i] = {"scores": {p: (v if math.isfinite(v) else -1e30) for p, v in scores.items()},
                  "seconds": {p: float(secs.get(p) or 0.0) for p in scores}}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--proxies", default="edgenas_fast", help="single proxies and/or ensembles (components)")
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", type=Path, nargs="+", required=True,
                    help="JSONL cache(s): new scores are appended to the first; all are read (resumable)")
    ap.add_argument("--shard", default="0/1", help="K/N: score only classes K, K+N, ... of the order "
                    "(run N processes on N caches, then once more with every cache to write --out)")
    ap.add_argument("--from-table", type=Path, nargs="*", default=(),
                    help="score tables this tool wrote before (same dataset, seed, batch): their columns count as "
                         "scored (e.g. to add proxies to a table whose caches are gone)")
    ap.add_argument("--out", type=Path, default=None,
                    help="CSV to write once every class is scored (.gz: gzip-compressed)")
    ap.add_argument("--limit", type=int, default=0, help="score at most this many new classes (0: all)")
    ap.add_argument("--allow-partial", action="store_true",
                    help="write --out even if some classes are unscored (their archs get no row)")
    ap.add_argument("--write-only", action="store_true", help="score nothing; write --out from the caches")
    ap.add_argument("--order", choices=("index", "shuffled"), default="shuffled",
                    help="shuffled (seeded): any prefix of a partial run is a uniform sample of classes")
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    from edgenas.proxies.engine import score_archs
    from edgenas.spaces import get_space

    torch.set_num_threads(args.threads)
    space = get_space("nb201")
    space.dataset(args.dataset)
    proxies = expand(args.proxies)
    rep_of: list[int] = []
    reps: dict[str, int] = {}
    for i in range(space.size):
        rep_of.append(reps.setdefault(space.iso_key(space.from_index(i)), i))
    classes = np.array(sorted(set(rep_of)))
    if args.order == "shuffled":
        classes = np.random.default_rng(0).permutation(classes)
    key = {"space": "nb201", "dataset": args.dataset, "seed": args.seed, "batch_size": args.batch_size,
           "inputs": "gaussian"}
    # per class (keyed by its lowest index): the scores of one member, the first one found with
    # every proxy (the engine seeds all members alike; members differ only in dead ops)
    cached: dict[int, dict] = {}
    for path in args.cache:
        for i, rec in read_cache(path, key).items():
            cur = cached.get(rep_of[i])
            if cur is None or (cur["member"] != i and not all(p in cur["scores"] for p in proxies)):
                cached[rep_of[i]] = cur = {"scores": {}, "seconds": {}, "member": i}
            if cur["member"] == i:
                cur["scores"].update(rec["scores"])
                cur["seconds"].update(rec["seconds"])
    for table in args.from_table:
        for i, rec in read_table(table, key).items():
            cur = cached.setdefault(rep_of[i], {"scores": {}, "seconds": {}, "member": i})
            if cur["member"] == i:
                cur["scores"].update({p: v for p, v in rec["scores"].items() if p not in cur["scores"]})
                cur["seconds"].update({p: v for p, v in rec["seconds"].items() if p not in cur["seconds"]})
    cache = args.cache[0]
    cache.parent.mkdir(parents=True, exist_ok=True)
    if not cache.exists():
        cache.write_text(json.dumps({"cache_key": key}) + "\n")
    k_shard, n_shard = (int(x) for x in args.shard.split("/"))
    n_new, t0 = 0, time.perf_counter()
    with cache.open("a") as fh:
        for i in classes[k_shard::n_shard].tolist():
            missing = [p for p in proxies if p not in cached.get(i, {}).get("scores", {})]
            if not missing:
                continue
            if args.write_only or (args.limit and n_new >= args.limit):
                break
            if i in cached and cached[i]["member"] != i:  # another member has part: score the lowest
                missing = list(proxies)
            r = score_archs(space, [space.from_index(i)], args.dataset, missing, seed=args.seed,
                            batch_size=args.batch_size)[0]
            fh.write(json.dumps({"index": i, "scores": r.scores, "seconds": r.seconds}) + "\n")
            fh.flush()
            cur = cached.get(i)
            if cur is None or cur["member"] != i:
                cached[i] = cur = {"scores": {}, "seconds": {}, "member": i}
            cur["scores"].update(r.scores)
            cur["seconds"].update(r.seconds)
            n_new += 1
            if n_new % 50 == 0:
                done = sum(all(p in cached.get(c, {}).get("scores", {}) for p in proxies) for c in classes.tolist())
                el = time.perf_counter() - t0
                print(f"{done}/{classes.size} classes; {el / n_new:.3f} s/class this run", flush=True)
    done = [c for c in classes.tolist() if all(p in cached.get(c, {}).get("scores", {}) for p in proxies)]
    secs = {p: float(np.median([cached[c]["seconds"][p] for c in done])) if done else None for p in proxies}
    print(f"{len(done)}/{classes.size} classes scored with {', '.join(proxies)}; median s/class "
          f"{sum(v for v in secs.values() if v):.3f} ({', '.join(f'{p} {v:.4f}' for p, v in secs.items() if v)})")
    if args.out is None:
        return 0
    if len(done) < classes.size and not args.allow_partial:
        print(f"not writing {args.out}: {classes.size - len(done)} classes still unscored")
        return 1
    done_set = set(done)
    header = {
        "what": "edgenas proxy raw scores (higher = better), NAS-Bench-201, one row per benchmark index of "
                "the scored isomorphism classes; every member of a class carries the scores of one member, "
                "scored_index (what a search that meets that member first stores for the class)",
        "classes_scored": len(done), "archs_with_rows": int(sum(rep_of[i] in done_set for i in range(space.size))),
        "proxies": proxies, "dataset": args.dataset, "seed": args.seed, "batch_size": args.batch_size,
        "inputs": "gaussian (engine default)", "threads": args.threads,
        "median_seconds_per_class": secs, "classes": int(classes.size),
        "made_by": "tools/score_nb201_table.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "host": {"python": platform.python_version(), "torch": torch.__version__, "machine": platform.machine()},
    }
    lines = ["# " + json.dumps(header), "index,scored_index," + ",".join(proxies)]
    for i in range(space.size):
        if rep_of[i] not in done_set:
            continue
        s = cached[rep_of[i]]["scores"]
        lines.append(f"{i},{cached[rep_of[i]]['member']}," + ",".join(
            (repr(float(f"{s[p]:.7g}")) if math.isfinite(s[p]) else "nan") for p in proxies))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    data = ("\n".join(lines) + "\n").encode()
    if args.out.suffix == ".gz":
        import gzip

        data = gzip.compress(data, mtime=0)
    tmp.write_bytes(data)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({len(lines) - 2} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
