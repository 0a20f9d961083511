#!/usr/bin/env python3
"""Regenerate the NB201 data shipped with edgenas from ../shared/data (MIT sources).

Writes:
  edgenas/spaces/data/nb201_index.csv   index -> 6-digit op code (official index order)
  benchmarks/nb201/nb201_accuracy.csv   200-epoch test accuracies (ground truth for benchmarks)
  tests/data/nb201_fixture.csv          300 archs with benchmark params/flops/unique_str (tests)

Usage: python tools/make_data.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
ROOT = Path(__file__).resolve().parents[1]


def tokens(arch_str: str) -> list[str]:
    t = re.findall(r"([a-z_0-9]+)~\d", arch_str)
    assert len(t) == 6, arch_str
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    acc = list(csv.DictReader(open(args.shared / "nb201" / "nb201_accuracy.csv")))

    with open(ROOT / "edgenas/spaces/data/nb201_index.csv", "w") as f:
        f.write("# NAS-Bench-201 architecture index order (0..15624).\n")
        f.write("# code: 6 digits, one per cell edge in arch-string order (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2),\n")
        f.write("#   digit = position in (none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3).\n")
        f.write("# source: NAS-Bench-201 / NATS-Bench-tss index order (MIT, D-X-Y/NAS-Bench-201), as re-shipped by\n")
        f.write("#   HW-NAS-Bench and HELP (MIT); converted by tools/make_data.py.\n")
        f.write("index,code\n")
        f.writelines(f"{r['index']},{''.join(str(OPS.index(t)) for t in tokens(r['arch_str']))}\n" for r in acc)

    with open(ROOT / "benchmarks/nb201/nb201_accuracy.csv", "w") as f:
        f.write("# NAS-Bench-201 ground truth: test accuracy (%) after the 200-epoch schedule, mean over seeds.\n")
        f.write("# cifar10_test: cifar10 ori-test; cifar100_test / imagenet16_120_test: x-test (as AZ-NAS / VKDNW use).\n")
        f.write("# graf_valid: the 9,445 archs of the VKDNW Table 1 protocol (no op left unreachable by none edges).\n")
        f.write("# source: NAS-Bench-201 / NATS-Bench-tss (MIT, D-X-Y), via ../shared/data/nb201/nb201_accuracy.csv;\n")
        f.write("#   converted by tools/make_data.py. Join on index (arch string: edgenas.spaces nb201 from_index).\n")
        f.write("index,graf_valid,cifar10_test,cifar100_test,imagenet16_120_test\n")
        for r in acc:
            gv = 1 if r["graf_valid"] == "True" else 0
            f.write(f"{r['index']},{gv},{r['cifar10_test']},{r['cifar100_test']},{r['imagenet16_120_test']}\n")

    zc = {r["index"]: r for r in csv.DictReader(open(args.shared / "nb201" / "nb201_zc_proxies_cifar10_nbsz.csv"))}
    rng = np.random.default_rng(0)
    picked = sorted(rng.choice(len(acc), size=300, replace=False).tolist())
    with open(ROOT / "tests/data/nb201_fixture.csv", "w") as f:
        f.write("# 300 NAS-Bench-201 archs (seed 0 sample) for tests that run without ../shared.\n")
        f.write("# params_m / flops_m: NAS-Bench-201 cifar10 values as published by NAS-Bench-Suite-Zero (NASLib,\n")
        f.write("#   Apache-2.0; empty for archs outside its 9,445-arch subset). unique_str: NATS-Bench isomorphism key.\n")
        f.write("# cifar10_test: 200-epoch test accuracy (NAS-Bench-201, MIT). Written by tools/make_data.py.\n")
        f.write("index,arch_str,params_m,flops_m,unique_str,cifar10_test\n")
        w = csv.writer(f, lineterminator="\n")
        for i in picked:
            r = acc[i]
            z = zc.get(r["index"], {})
            w.writerow([r["index"], r["arch_str"], z.get("params", ""), z.get("flops", ""), r["unique_str"], r["cifar10_test"]])
    print("wrote index, ground truth and fixture")


if __name__ == "__main__":
    main()
