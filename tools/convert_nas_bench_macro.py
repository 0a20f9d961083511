#!/usr/bin/env python3
"""Convert NAS-Bench-Macro's JSON (../shared/data/nas-bench-macro) into the project's ground-truth CSV.

Writes ``benchmarks/nas-bench-macro/nas-bench-macro_cifar10.csv``: one row per arch string (6,561) with
its 3-seed CIFAR-10 test accuracies, mean, std, params and flops exactly as the JSON has them (floats
written with ``repr`` so they read back bit for bit), and ``iso``: the smallest arch string of the arch's
network (``get_space("macro").iso_key``), so rows of one network share it (3,969 values).

Usage:
    python tools/convert_nas_bench_macro.py [--shared ../shared/data] [--out benchmarks/nas-bench-macro]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADER = """\
# NAS-Bench-Macro CIFAR-10 ground truth, converted from data/nas-bench-macro_cifar10.json of
# github.com/xiusu/NAS-Bench-Macro (commit 61a2bfc2ca0dce04d0997e6cf498047c27d6acf2), Apache-2.0
# (LICENSE beside this file). Su et al., "Prioritized Architecture Sampling with Monte-Carlo Tree
# Search", CVPR 2021. Changes: JSON -> CSV, the column iso added by tools/convert_nas_bench_macro.py.
# arch: one digit per layer (0 identity, 1 MBConv e3 k3, 2 MBConv e6 k5); test_acc_*: % per seed
# (50 epochs); params: parameters; flops: conv + linear multiply-accumulates at 32 px; iso: smallest
# arch string of the same network (identities that keep the shape dropped).
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "nas-bench-macro")
    args = ap.parse_args()

    from edgenas._io import atomic_write_text
    from edgenas.spaces import get_space

    space = get_space("macro")
    data = json.loads((args.shared / "nas-bench-macro" / "nas-bench-macro_cifar10.json").read_text())
    iso_rep: dict[str, str] = {}
    for arch in sorted(data):
        iso_rep.setdefault(space.iso_key(space.parse(arch)), arch)
    lines = [HEADER.rstrip("\n"), "arch,mean_acc,std,test_acc_0,test_acc_1,test_acc_2,params,flops,iso"]
    for arch in sorted(data):
        r = data[arch]
        accs = ",".join(repr(float(a)) for a in r["test_acc"])
        iso = iso_rep[space.iso_key(space.parse(arch))]
        lines.append(f"{arch},{float(r['mean_acc'])!r},{float(r['std'])!r},{accs},{r['params']},{r['flops']},{iso}")
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "nas-bench-macro_cifar10.csv", "\n".join(lines) + "\n")
    atomic_write_text(args.out / "LICENSE", (args.shared / "nas-bench-macro" / "LICENSE").read_text())
    print(f"wrote {len(data)} rows, {len(set(iso_rep.values()))} networks to {args.out}")


if __name__ == "__main__":
    main()
