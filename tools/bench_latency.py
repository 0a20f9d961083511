"""Predictor accuracy of per-op latency tables fitted from whole-model measurements.

For every shipped target with a measured NB201 per-arch table: fit the per-op NNLS model
(edgenas.hardware.fit, position keys; dead layers pruned for compiled runtimes: *_live) on k = 50 / 200 / 1000 randomly chosen
measured archs and evaluate on all other measured archs: MAPE, RMSE, share within +-10 %,
Kendall tau; repeated for every ``--seeds`` value (rows per seed plus ``summary`` = mean, min, max
over seeds). Compiled runtimes also get ``per_node_nnls_live`` (node sums keyed by the ops that
feed them, ``cost_layers(node_ops=True)``) and ``per_op_reads_live`` (plus a layer per node keyed
by what reads it, ``cost_layers(reads=True)``: what the ``lut`` source fits on TensorRT and Edge
TPU targets), and a ``repeat_measurement`` row: HW-NAS-Bench timed every arch once per dataset,
and the CIFAR-10, CIFAR-100 and ImageNet16-120 networks of one arch differ only in the classifier
(and input size), so the other datasets' measurements (scaled by their median ratio) predicting
this one bound what any predictor can score against these timings. Also the FLOPs baseline
(a * MACs + c) at k = 200. For the
``cpu`` target (built by ``edgenas profile``), the op-level table against the held-out end-to-end
archs of the same run.

Usage: python tools/bench_latency.py --out benchmarks/results/latency_bench.json [--datasets cifar10] [--seeds 0 1 2]
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


def repeat_measurement(target, dataset: str, index: np.ndarray, y: np.ndarray) -> list[dict]:
    """The same archs' measurements on the target's other NB201 datasets predicting ``y``.

    Each other dataset's column is scaled by its median ratio to ``y`` (the classifier differs);
    rows only where both are measured. Returns one row per other dataset with a table.
    """
    rows = []
    for ref in target.tables:
        if ref.space != "nb201" or ref.dataset == dataset or ref.kind != "arch" or not ref.exists:
            continue
        other = load_arch_table(ref.file, space="nb201", dataset=ref.dataset)
        pos = {int(i): j for j, i in enumerate(other.index)}
        z = other.column(ref.column)
        pairs = [(k, pos[int(i)]) for k, i in enumerate(index) if int(i) in pos]
        a = np.array([y[k] for k, _ in pairs])
        b = np.array([z[j] for _, j in pairs])
        ok = np.isfinite(a) & np.isfinite(b)
        ratio = float(np.median(b[ok] / a[ok]))
        rows.append({**score(b[ok] / ratio, a[ok]).as_dict(), "other_dataset": ref.dataset, "median_ratio": ratio,
                     "note": f"{ref.dataset} measurement / {ratio:.4f} as the prediction of the {dataset} one"})
    return rows


def summarise(results: list[dict]) -> list[dict]:
    """Mean (and min / max of within_10) over seeds per (target, dataset, method, k)."""
    from collections import defaultdict

    groups = defaultdict(list)
    for r in results:
        groups[(r["target"], r["dataset"], r["method"], r["k"])].append(r)
    out = []
    for (target, ds, method, k), rows in groups.items():
        out.append({"target": target, "dataset": ds, "method": method, "k": k, "seeds": len(rows), "n": rows[0]["n"],
                    **{m: float(np.mean([r[m] for r in rows]))
                       for m in ("mape", "rmse_ms", "within_10", "kendall_tau")},
                    "within_10_min": float(min(r["within_10"] for r in rows)),
                    "within_10_max": float(max(r["within_10"] for r in rows))})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--datasets", nargs="+", default=["cifar10", "cifar100", "ImageNet16-120"])
    ap.add_argument("--ks", nargs="+", type=int, default=[50, 200, 1000])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--targets", nargs="+", default=None, help="only these targets (default: all)")
    a = ap.parse_args()
    space = get_space("nb201")
    archs = [space.from_index(i) for i in range(15625)]
    t0 = time.time()
    feats: dict[str, np.ndarray] = {}
    macs: dict[str, np.ndarray] = {}
    results = []
    for target in list_targets():
        if a.targets and target.name not in a.targets:
            continue
        for ref in target.tables:
            if ref.space != "nb201" or ref.dataset not in a.datasets or not ref.exists:
                continue
            if ref.kind == "op":
                op = load_op_table(ref.file, space="nb201", dataset=ref.dataset)
                chk = op.meta.get("check", {})
                for name in ("additive_sum", "global_scale", "calibrated", "per_key_fit", "kernels"):
                    if name in chk:
                        used = chk.get("predictor") == ("kernels" if name == "kernels" else "ops") and \
                            name in ("kernels", "calibrated")
                        results.append({"target": target.name, "dataset": ref.dataset, "method": f"cpu_profile_{name}",
                                        "k": op.meta.get("n_calibration"), "table_predictor": used, **chk[name]})
                continue
            table = load_arch_table(ref.file, space="nb201", dataset=ref.dataset)
            prune = prunes_dead_layers(target.runtime)
            y = table.column(ref.column)
            ok = np.where(np.isfinite(y))[0]
            variants = [("per_op_nnls" + ("_live" if prune else "_all"), prune, False, False)]
            if prune:
                variants.append(("per_node_nnls_live", True, True, False))
                variants.append(("per_op_reads_live", True, False, True))
                for row in repeat_measurement(target, ref.dataset, table.index, y):
                    results.append({"target": target.name, "dataset": ref.dataset,
                                    "method": f"repeat_measurement_{row['other_dataset']}", "k": None, **row})
            if ref.dataset not in macs:
                macs[ref.dataset] = np.array([_macs(space, archs[i], ref.dataset) for i in table.index])
            for method, prn, node_ops, reads in variants:
                fkey = f"{ref.dataset}/{prn}/{node_ops}/{reads}"
                if fkey not in feats:
                    feats[fkey] = feature_matrix(space, [archs[i] for i in table.index], ref.dataset, prune=prn,
                                                 node_ops=node_ops, reads=reads)[0]
                x = feats[fkey]
                for k in a.ks:
                    for seed in a.seeds:
                        rng = np.random.default_rng([seed, k])
                        train = rng.choice(ok, size=k, replace=False)
                        test = np.setdiff1d(ok, train)
                        coef = nnls_fit(x[train], y[train])
                        pred = x[test] @ coef[:-1] + coef[-1]
                        results.append({"target": target.name, "dataset": ref.dataset, "method": method, "k": k,
                                        "seed": seed, **score(pred, y[test]).as_dict()})
                        if k == 200 and method.startswith("per_op_nnls"):
                            m = macs[ref.dataset]
                            c = nnls_fit(m[train, None], y[train])
                            results.append({"target": target.name, "dataset": ref.dataset, "method": "flops_linear",
                                            "k": k, "seed": seed, **score(m[test] * c[0] + c[1], y[test]).as_dict()})
    summary = summarise(results)
    out = {"benchmark": "latency predictor accuracy (nb201)", "seeds": a.seeds, "ks": a.ks,
           "host": platform.node(), "python": platform.python_version(), "seconds": time.time() - t0,
           "summary": summary, "results": results}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(_finite(out), indent=1, allow_nan=False) + "\n")  # NaN tau -> null
    print(f"{'target':<20} {'dataset':<15} {'method':<26} {'k':>5} {'n':>6} {'MAPE%':>7} {'RMSEms':>8} "
          f"{'<=10%':>6} {'tau':>6}")
    for r in summary:
        spread = f" ({100 * r['within_10_min']:.1f}-{100 * r['within_10_max']:.1f})" if r["seeds"] > 1 else ""
        print(f"{r['target']:<20} {r['dataset']:<15} {r['method']:<26} {r['k']!s:>5} {r['n']:>6} "
              f"{r['mape']:7.2f} {r['rmse_ms']:8.3f} {100 * r['within_10']:5.1f}% {r['kendall_tau']:6.3f}{spread}")
    print(f"wrote {a.out} ({out['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
