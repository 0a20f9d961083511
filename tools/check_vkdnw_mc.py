#!/usr/bin/env python
"""How well does the 32-pass Monte-Carlo VKDNW rank against the exact one (one pass per class)?

Scores a seeded sample of NB201 archs on ImageNet16-120 (120 classes, where both are affordable)
twice: exact (the default up to 128 classes) and with the Monte-Carlo Fisher forced
(``EXACT_MAX_CLASSES = 0``), and prints the Kendall tau between the two and the seconds per arch.

Example (docs/benchmarks.md, "Cross-space picks"):
    python tools/check_vkdnw_mc.py --archs 16 --out benchmarks/results/vkdnw_mc_vs_exact_nb201_in16.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    import torch
    from scipy.stats import kendalltau

    import edgenas.proxies._vkdnw as vk
    from edgenas._json import write_json_atomic
    from edgenas.proxies.engine import score_archs
    from edgenas.spaces import get_space

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--archs", type=int, default=16)
    ap.add_argument("--dataset", default="ImageNet16-120")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = [space.from_index(int(i)) for i in rng.choice(space.size, 3 * args.archs, replace=False)]
    archs = [a for a in archs if not space.is_degenerate(a)][: args.archs]
    res: dict = {"archs": [space.format(a) for a in archs], "dataset": args.dataset, "batch_size": 16,
                 "mc_passes": vk.MC_PASSES}
    saved = vk.EXACT_MAX_CLASSES
    try:
        for mode, limit in (("exact", saved), ("monte_carlo", 0)):
            vk.EXACT_MAX_CLASSES = limit
            t0 = time.perf_counter()
            out = score_archs(space, archs, args.dataset, ["vkdnw", "vkdnw_single"], batch_size=16, seed=0)
            res[mode] = {"vkdnw": [o.scores["vkdnw"] for o in out],
                         "vkdnw_single": [o.scores["vkdnw_single"] for o in out],
                         "s_per_arch": (time.perf_counter() - t0) / len(archs)}
    finally:
        vk.EXACT_MAX_CLASSES = saved
    for k in ("vkdnw", "vkdnw_single"):
        res[f"{k}_kendall_exact_vs_mc"] = float(kendalltau(res["exact"][k], res["monte_carlo"][k]).statistic)
    res["made_by"] = "tools/check_vkdnw_mc.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json_atomic(args.out, res)
    print(f"{len(archs)} archs: exact {res['exact']['s_per_arch']:.2f} s/arch, Monte Carlo "
          f"{res['monte_carlo']['s_per_arch']:.2f} s/arch; Kendall tau exact vs MC: vkdnw "
          f"{res['vkdnw_kendall_exact_vs_mc']:.3f}, vkdnw_single {res['vkdnw_single_kendall_exact_vs_mc']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
