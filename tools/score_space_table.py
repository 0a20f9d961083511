#!/usr/bin/env python
"""Score every isomorphism class of an enumerable space once, resumably, and write a score table.

Each class is scored on its first member in the space's order with the proxy engine
(``score_archs``: seed 0 by default, per-arch seeds derived from the isomorphism key, Gaussian
inputs), one JSON line per class appended to ``--journal`` as it finishes (a killed run resumes
where it stopped; several processes may share the work with ``--part K/N``). ``--out`` then writes
the table a search or ``tools/bench_cross_space.py`` reads: one row per arch string, every member
of a class carrying its class's scores (``scored_arch`` names the member scored).

Example (benchmarks/scores/macro_cifar10_b16_s0.csv.gz):
    python tools/score_space_table.py --space macro --proxies flops,params,sed,az_expressivity \
        --journal runs/macro.jsonl --part 1/2 &
    python tools/score_space_table.py --space macro --proxies flops,params,sed,az_expressivity \
        --journal runs/macro_b.jsonl --part 2/2
    python tools/score_space_table.py --space macro --proxies flops,params,sed,az_expressivity \
        --journal runs/macro.jsonl runs/macro_b.jsonl --out benchmarks/scores/macro_cifar10_b16_s0.csv.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgenas._io import atomic_write_bytes  # noqa: E402
from edgenas.proxies.engine import WORST_SCORE, score_archs  # noqa: E402
from edgenas.spaces import get_space  # noqa: E402


def read_journals(paths: list[Path]) -> dict[str, dict]:
    out = {}
    for p in paths:
        if not p.exists():
            continue
        for line in p.read_text().splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a torn last line of a killed run
            out[r["arch"]] = r["scores"]
    return out


def read_table(path: Path) -> tuple[dict[str, dict], list[str]]:
    """Rows of a table this tool wrote (by arch string) and its proxy columns."""
    import csv

    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    rows = list(csv.DictReader(ln for ln in text.splitlines() if not ln.startswith("#")))
    cols = [c for c in (rows[0] if rows else {}) if c not in ("arch", "scored_arch")]
    return {r["arch"]: r for r in rows}, cols


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--space", required=True)
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--proxies", required=True)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--journal", nargs="+", type=Path, required=True,
                    help="JSONL journal to append to (scoring) or to read (with --out: several allowed)")
    ap.add_argument("--part", default="1/1", help="K/N: score the K-th of N interleaved shares of the classes")
    ap.add_argument("--out", type=Path, default=None, help="write the table from the journals (no scoring)")
    ap.add_argument("--join", type=Path, default=None,
                    help="with --out: also carry the columns of this earlier table of the same space, seed and "
                         "batch (its scored archs must be the journals')")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    space = get_space(args.space)
    dataset = args.dataset or next(iter(space.datasets))
    proxies = [p for p in args.proxies.split(",") if p]
    first: dict[str, object] = {}
    for a in space.enumerate():
        first.setdefault(space.iso_key(a), a)
    done = read_journals(args.journal)
    if args.out is not None:
        by_iso = {space.iso_key(space.parse(a)): (a, s) for a, s in done.items()}
        missing = [k for k in first if k not in by_iso]
        if missing:
            print(f"error: {len(missing)} of {len(first)} classes are not scored yet", file=sys.stderr)
            return 2
        head = {"kind": "score_table", "space": space.name, "dataset": dataset, "proxies": proxies,
                "seed": args.seed, "batch_size": args.batch_size, "inputs": "gaussian (engine default)",
                "threads": args.threads, "classes": len(first),
                "what": "edgenas proxy raw scores (higher = better), one row per arch string; every member of an "
                        "isomorphism class carries the scores of its first member (scored_arch)",
                "made_by": "tools/score_space_table.py " + " ".join(argv if argv is not None else sys.argv[1:])}
        earlier, old_cols = read_table(args.join) if args.join is not None else ({}, [])
        if args.join is not None:
            head["proxies"] = [*old_cols, *proxies]
            head["joined"] = str(args.join)
        lines = ["# " + json.dumps(head), "arch,scored_arch," + ",".join([*old_cols, *proxies])]
        for a in space.enumerate():
            src, s = by_iso[space.iso_key(a)]
            cells = ["" if s.get(c) is None or s[c] <= WORST_SCORE else repr(float(s[c])) for c in proxies]
            row = earlier.get(space.format(a))
            if args.join is not None and (row is None or row["scored_arch"] != src):
                print(f"error: {args.join} scored another member for {space.format(a)} "
                      f"({None if row is None else row['scored_arch']} vs {src})", file=sys.stderr)
                return 2
            lines.append(",".join([space.format(a), src, *[row[c] for c in old_cols], *cells]))
        atomic_write_bytes(args.out, gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
        print(f"wrote {args.out}: {len(lines) - 2} archs, {len(first)} classes")
        return 0
    k, n = (int(x) for x in args.part.split("/"))
    todo = [a for i, a in enumerate(first.values()) if i % n == k - 1 and space.format(a) not in done]
    print(f"{len(first)} classes, part {k}/{n}: {len(todo)} to score", flush=True)
    with args.journal[0].open("a") as f:
        for i in range(0, len(todo), 8):
            chunk = todo[i:i + 8]
            t0 = time.perf_counter()
            res = score_archs(space, chunk, dataset, proxies, batch_size=args.batch_size, seed=args.seed)
            for a, r in zip(chunk, res):
                f.write(json.dumps({"arch": space.format(a), "scores": r.scores}) + "\n")
            f.flush()
            print(f"{i + len(chunk)}/{len(todo)}  {(time.perf_counter() - t0) / len(chunk):.2f} s/arch", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
