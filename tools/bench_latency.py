"""Predictor accuracy of per-op latency tables fitted from whole-model measurements.

For every shipped target with a measured NB201 per-arch table: fit the per-op NNLS model
(edgenas.hardware.fit, position keys; dead layers pruned for compiled runtimes: *_live) on k = 50 / 200 / 1000 randomly chosen
measured archs (seeded) and evaluate on all other measured archs: MAPE, RMSE, share within +-10 %,
Kendall tau. Also the FLOPs baseline (a * MACs + c) at k = 200. For the ``cpu`` target (built by
``edgenas profile``), the op-level table against the held-out end-to-end archs of the same run.

Usage: python tools/bench_latency.py --out benchmarks/results/latency_bench.json [--datasets cifar10]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgenas.hardware._graph import prunes_dead_layers
from edgenas.hardware.cost import _macs
from edgenas.hardware.fit import feature_matrix, nnls_fit, score
from edgenas.hardware.tables import _finite, load_arch_table, load_op_table
from edgenas.hardware.targets import list_targets
from edgenas.spaces import get_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--datasets", nargs="+", default=["cifar10", "cifar100", "ImageNet16-120"])
    ap.add_argument("--ks", nargs="+", type=int, default=[50, 200, 1000])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    space = get_space("nb201")
    archs = [space.from_index(i) for i in range(15625)]
    t0 = time.time()
    feats: dict[str, np.ndarray] = {}
    macs: dict[str, np.ndarray] = {}
    results = []
    for target in list_targets():
        for ref in target.tables:
            if ref.space != "nb201" or ref.dataset not in a.datasets or not ref.exists:
                continue
            if ref.kind == "op":
                op = load_op_table(ref.file, space="nb201", dataset=ref.dataset)
                chk = op.meta.get("check", {})
                for name in ("additive_sum", "global_scale", "calibrated"):
                    if name in chk:
                        results.append({"target": target.name, "dataset": ref.dataset, "method": f"cpu_profile_{name}",
                                        "k": op.meta.get("n_calibration"), **chk[name]})
                continue
            table = load_arch_table(ref.file, space="nb201", dataset=ref.dataset)
            prune = prunes_dead_layers(target.runtime)
            fkey = f"{ref.dataset}/{prune}"
            if fkey not in feats:
                feats[fkey] = feature_matrix(space, [archs[i] for i in table.index], ref.dataset, prune=prune)[0]
            if ref.dataset not in macs:
                macs[ref.dataset] = np.array([_macs(space, archs[i], ref.dataset) for i in table.index])
            x, y = feats[fkey], table.column(ref.column)
            ok = np.where(np.isfinite(y))[0]
            for k in a.ks:
                rng = np.random.default_rng([a.seed, k])
                train = rng.choice(ok, size=k, replace=False)
                test = np.setdiff1d(ok, train)
                coef = nnls_fit(x[train], y[train])
                pred = x[test] @ coef[:-1] + coef[-1]
                results.append({"target": target.name, "dataset": ref.dataset,
                                "method": "per_op_nnls" + ("_live" if prune else "_all"), "k": k,
                                **score(pred, y[test]).as_dict()})
                if k == 200:
                    m = macs[ref.dataset]
                    c = nnls_fit(m[train, None], y[train])
                    results.append({"target": target.name, "dataset": ref.dataset, "method": "flops_linear",
                                    "k": k, **score(m[test] * c[0] + c[1], y[test]).as_dict()})
    out = {"benchmark": "latency predictor accuracy (nb201)", "seed": a.seed, "ks": a.ks,
           "host": platform.node(), "python": platform.python_version(), "seconds": time.time() - t0,
           "results": results}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(_finite(out), indent=1, allow_nan=False) + "\n")  # NaN tau -> null
    print(f"{'target':<20} {'dataset':<15} {'method':<26} {'k':>5} {'n':>6} {'MAPE%':>7} {'RMSEms':>8} "
          f"{'<=10%':>6} {'tau':>6}")
    for r in results:
        print(f"{r['target']:<20} {r['dataset']:<15} {r['method']:<26} {r['k']!s:>5} {r['n']:>6} "
              f"{r['mape']:7.2f} {r['rmse_ms']:8.3f} {100 * r['within_10']:5.1f}% {r['kendall_tau']:6.3f}")
    print(f"wrote {a.out} ({out['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
