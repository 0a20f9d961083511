#!/usr/bin/env python3
"""Check the NB201 space against the benchmark on every architecture.

* index <-> arch string for all 15,625 archs (nb201_accuracy.csv)
* iso_key partitions == the benchmark's ``unique_str`` classes (all 15,625)
* params (millions) == benchmark ``params`` to 1e-4 and NB201-convention FLOPs vs ``flops`` (max relative
  error), for every arch of nb201_zc_proxies_cifar10_nbsz.csv (9,445)

Prints a table and writes JSON.  Usage:
    python tools/check_nb201_space.py [--shared ../shared/data] [--limit N] [--out benchmarks/results/nb201_space_check.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--limit", type=int, default=None, help="check only the first N archs of the params/flops file")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/nb201_space_check.json")
    args = ap.parse_args()

    import torch

    from edgenas.hardware.flops import count_flops_nb201, count_params
    from edgenas.spaces import get_space

    torch.set_num_threads(1)
    space = get_space("nb201")
    t0 = time.time()
    acc = list(csv.DictReader(open(args.shared / "nb201" / "nb201_accuracy.csv")))
    index_mismatch = 0
    ours: dict[str, set[int]] = defaultdict(set)
    theirs: dict[str, set[int]] = defaultdict(set)
    for r in acc:
        i = int(r["index"])
        a = space.parse(r["arch_str"])
        if space.index(a) != i or space.format(space.from_index(i)) != r["arch_str"]:
            index_mismatch += 1
        ours[space.iso_key(a)].add(i)
        theirs[r["unique_str"]].add(i)
    same_partition = sorted(map(sorted, ours.values())) == sorted(map(sorted, theirs.values()))
    same_strings = set(ours) == set(theirs)

    rows = list(csv.DictReader(open(args.shared / "nb201" / "nb201_zc_proxies_cifar10_nbsz.csv")))
    if args.limit:
        rows = rows[: args.limit]
    max_param_abs = 0.0
    max_flops_rel = 0.0
    flops_abs_diffs = set()
    for r in rows:
        a = space.parse(r["arch_str"])
        model = space.build_model(a, "cifar10")
        params_m, _ = count_params(model)
        flops_m = count_flops_nb201(model, (3, 32, 32))
        max_param_abs = max(max_param_abs, abs(params_m - float(r["params"])))
        rel = abs(flops_m - float(r["flops"])) / float(r["flops"])
        max_flops_rel = max(max_flops_rel, rel)
        flops_abs_diffs.add(round(float(r["flops"]) - flops_m, 6))
    result = {
        "n_index_checked": len(acc),
        "index_mismatches": index_mismatch,
        "n_iso_classes_ours": len(ours),
        "n_iso_classes_benchmark": len(theirs),
        "iso_partition_identical": same_partition,
        "iso_strings_identical": same_strings,
        "n_size_checked": len(rows),
        "params_max_abs_diff_m": max_param_abs,
        "flops_nb201_max_rel_err": max_flops_rel,
        "flops_benchmark_minus_ours_m": sorted(flops_abs_diffs),
        "seconds": round(time.time() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    width = max(map(len, result))
    for k, v in result.items():
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
