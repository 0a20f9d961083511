"""Measure latency on THIS machine with onnxruntime: per-op table + end-to-end sample.

Method (``research/hardware.md`` D.4): every op module is exported to ONNX in a temp dir and run in
its own ``InferenceSession`` (CPU EP, ``ORT_ENABLE_ALL``, fixed ``intra_op_num_threads``,
``inter_op_num_threads = 1``, sequential), ``warmup`` untimed runs, then ``runs`` timed runs with
``time.perf_counter_ns``; we keep median and p90 and count outliers (> median + 3 * 1.4826 * MAD).

Op-level sums are not end-to-end latencies: every isolated op pays the ``session.run`` overhead
(measured on a one-node graph and subtracted from each entry), and inside a whole graph ops run
with other cache contents. So the stored entries are overhead-corrected op timings times a
per-op-type scale, plus an ``intercept_ms``, both fitted (non-negative, relative error) on a
calibration part of the end-to-end sample; the rest of the sample is the held-out check in
``meta["check"]`` (raw additive sum, one global scale, per-type calibration). Raw timings stay in
each entry's stats (``raw_median_ms``, ``p10_ms``, ``p90_ms``).

Only NB201 op modules are built here (``_op_module``); another space needs its own builder there.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._imports import require
from .._rng import as_rng
from ..errors import ConfigError
from .fit import fit_scale_intercept, score
from .tables import OpLatencyTable

__all__ = ["ProfileResult", "Timing", "cpu_model", "profile_ops", "profile_space", "time_onnx"]

log = logging.getLogger(__name__)

#: callback(stage, done, total, label) for progress reporting (the CLI draws a bar)
Progress = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class Timing:
    """Latency of one ONNX model: median / p90 / p10 / mean / std in ms over ``runs`` timed runs."""

    median_ms: float
    p90_ms: float
    mean_ms: float
    std_ms: float
    runs: int
    outliers: int
    p10_ms: float = 0.0

    def stat(self, statistic: str) -> float:
        """``median`` or ``p10`` in ms."""
        return self.p10_ms if statistic == "p10" else self.median_ms

    @property
    def cv(self) -> float:
        """Coefficient of variation (std / mean)."""
        return self.std_ms / self.mean_ms if self.mean_ms > 0 else float("nan")

    def as_dict(self) -> dict[str, float]:
        return {"median_ms": self.median_ms, "p90_ms": self.p90_ms, "p10_ms": self.p10_ms, "mean_ms": self.mean_ms,
                "std_ms": self.std_ms, "runs": self.runs, "outliers": self.outliers}


@dataclass(frozen=True)
class ProfileResult:
    """A profiling run: the op table (with end-to-end sample and check in its meta)."""

    table: OpLatencyTable
    seconds: float


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (falls back to platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _session(path: str, threads: int) -> Any:
    ort = require("onnxruntime", purpose="profiling with onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def time_onnx(path: str | Path, input_shape: tuple[int, ...], *, runs: int = 50, warmup: int = 10,
              threads: int = 1) -> Timing:
    """Time one ONNX model with a fixed float32 input of ``input_shape`` (N, C, H, W)."""
    sess = _session(str(path), threads)
    name = sess.get_inputs()[0].name
    x = {name: np.random.default_rng(0).standard_normal(input_shape).astype(np.float32)}
    for _ in range(warmup):
        sess.run(None, x)
    t = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        sess.run(None, x)
        t[i] = (time.perf_counter_ns() - t0) / 1e6
    med = float(np.median(t))
    mad = float(np.median(np.abs(t - med))) * 1.4826
    outl = int(np.sum(t > med + 3 * max(mad, 1e-6)))
    return Timing(med, float(np.percentile(t, 90)), float(t.mean()), float(t.std()), runs, outl,
                  float(np.percentile(t, 10)))


def _export(module: Any, input_shape: tuple[int, ...], path: Path) -> None:
    import warnings

    import torch

    module.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(input_shape),), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"])


def _op_module(space: Any, layer: Any) -> Any:
    """A torch module computing one NB201 ``LayerSpec`` (batch 1)."""
    from torch import nn

    from ..spaces._nb201_net import ResNetBasicBlock, make_op

    if getattr(space, "name", "") != "nb201":
        raise ConfigError(f"the onnxruntime profiler has no op builder for space {space.name!r} yet")
    bn = {"track_running_stats": True}
    ci, co = layer.in_shape[0], layer.out_shape[0]
    if layer.op == "stem_conv3x3_bn":
        return nn.Sequential(nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co))
    if layer.op == "resblock_s2":
        return ResNetBasicBlock(ci, co, bn)
    if layer.op == "bn_relu_gap":
        return nn.Sequential(nn.BatchNorm2d(ci), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if layer.op == "linear":
        return nn.Linear(ci, co)
    if layer.op == "skip_connect":
        # an Identity graph would be empty; a lone edge costs nothing in a fused graph
        return None
    return make_op(layer.op, ci, bn)


def _space_layers(space: Any, dataset: str) -> list[Any]:
    """One LayerSpec per distinct shape key the space uses (one arch per op covers NB201)."""
    seen: dict[str, Any] = {}
    for tok in sorted({t for c in space.choices for t in c}):
        arch = space.arch(tuple(tok if tok in c else c[0] for c in space.choices))
        for layer in space.layers(arch, dataset):
            seen.setdefault(layer.key(), layer)
    return list(seen.values())


def profile_ops(space: Any, dataset: str, *, layers: list[Any] | None = None, runs: int = 50, warmup: int = 10,
                threads: int = 1, progress: Progress | None = None, workdir: Path | None = None
                ) -> tuple[dict[str, Timing], Timing]:
    """Time every op (shape key) of the space in isolation.

    Returns:
        ({shape key: timing}, timing of an empty Identity graph = the per-run overhead).
    """
    from torch import nn

    layers = layers if layers is not None else _space_layers(space, dataset)
    out: dict[str, Timing] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        p = Path(tmp) / "identity.onnx"

        class _Copy(nn.Module):
            def forward(self, x: Any) -> Any:
                return x + 0.0  # the smallest real graph: one node

        _export(_Copy(), (1, 3, 8, 8), p)
        overhead = time_onnx(p, (1, 3, 8, 8), runs=runs, warmup=warmup, threads=threads)
        for i, layer in enumerate(layers):
            if progress:
                progress("ops", i, len(layers), layer.key())
            m = _op_module(space, layer)
            if m is None:
                out[layer.key()] = Timing(0.0, 0.0, 0.0, 0.0, 0, 0)
                continue
            p = Path(tmp) / f"op{i}.onnx"
            shape = (1, layer.in_shape[0]) if layer.op == "linear" else (1, *layer.in_shape)
            _export(m, shape, p)
            out[layer.key()] = time_onnx(p, shape, runs=runs, warmup=warmup, threads=threads)
        if progress:
            progress("ops", len(layers), len(layers), "")
    return out, overhead


def _per_op_type_calibration(space: Any, dataset: str, archs: list[Any], entries: dict[str, float],
                             measured: np.ndarray, cal: slice) -> tuple[dict[str, float], float]:
    """Per-op-type scale (>= 0) and constant fitted on the calibration archs.

    An op timed alone runs with warm caches and its own session; inside a graph the same op can be
    cheaper (pools, element-wise) or dearer (convs reading cold activations). One scale per op type
    (not per key: few calibration archs) corrects that; entries become ``scale[type] * entry``.
    """
    from .fit import nnls_fit

    types = sorted({k.split("-", 1)[0] for k in entries})
    col = {t: j for j, t in enumerate(types)}
    x = np.zeros((len(archs), len(types)))
    for i, a in enumerate(archs):
        for layer in space.layers(a, dataset):
            k = layer.key()
            x[i, col[k.split("-", 1)[0]]] += entries[k]
    coef = nnls_fit(x[cal], measured[cal])
    # a type whose entries are all 0 (skip_connect) or never sampled keeps scale 1, never 0 by accident
    scales = {t: (coef[j] if x[cal, j].any() else 1.0) for t, j in col.items()}
    return {k: float(scales[k.split("-", 1)[0]] * v) for k, v in entries.items()}, float(coef[-1])


def profile_space(space: Any, dataset: str, *, n_archs: int = 260, n_calibration: int = 50, runs: int = 50,
                  warmup: int = 10, threads: int = 1, seed: int | np.random.Generator | None = 0,
                  progress: Progress | None = None, device_name: str = "cpu",
                  statistic: str = "median") -> ProfileResult:
    """Op-level table + end-to-end timings of ``n_archs`` random archs, measured in one run.

    The first ``n_calibration`` sampled archs fit ``scale`` and ``intercept_ms``; the others are the
    held-out check (``meta["check"]``: additive sum alone and calibrated, for the table's
    ``statistic``; ``meta["check_by_statistic"]`` has it for both).

    Args:
        statistic: per-model value stored in the table: ``median`` (default) or ``p10`` (10th
            percentile; closer to the uncontended latency on a shared, noisy host).
    """
    if statistic not in ("median", "p10"):
        raise ConfigError(f"statistic {statistic!r}; expected 'median' or 'p10'")
    ort = require("onnxruntime", purpose="profiling with onnxruntime")
    import torch

    if n_archs - n_calibration < 2:
        raise ConfigError(f"--archs {n_archs} leaves no held-out archs after {n_calibration} calibration archs")
    t_start = time.perf_counter()
    torch.set_num_threads(max(1, threads))
    ops, overhead = profile_ops(space, dataset, runs=runs, warmup=warmup, threads=threads, progress=progress)
    def op_entries(stat: str) -> dict[str, float]:
        return {k: max(t.stat(stat) - overhead.stat(stat), 0.0) if t.runs else 0.0 for k, t in ops.items()}

    rng = as_rng(seed)
    archs, seen = [], set()
    while len(archs) < n_archs:
        a = space.sample(rng)
        if str(a) not in seen:
            seen.add(str(a))
            archs.append(a)
    e2e: list[Timing] = []
    ds = space.dataset(dataset)
    with tempfile.TemporaryDirectory() as tmp:
        for i, a in enumerate(archs):
            if progress:
                progress("models", i, len(archs), str(a))
            p = Path(tmp) / "model.onnx"
            _export(space.build_model(a, dataset), (1, *ds.input_shape), p)
            e2e.append(time_onnx(p, (1, *ds.input_shape), runs=runs, warmup=warmup, threads=threads))
    if progress:
        progress("models", len(archs), len(archs), "")

    cal, test = slice(0, n_calibration), slice(n_calibration, None)
    checks: dict[str, dict] = {}
    fitted: dict[str, tuple] = {}
    for stat in ("median", "p10"):
        ent = op_entries(stat)
        base = OpLatencyTable({"space": space.name, "dataset": dataset, "prune": False}, ent, "shape")
        s_op = base.predict_many(space, archs)
        measured = np.array([t.stat(stat) for t in e2e])
        sc, ic = fit_scale_intercept(s_op[cal], measured[cal])
        typed, tc = _per_op_type_calibration(space, dataset, archs, ent, measured, cal)
        t_pred = OpLatencyTable({"space": space.name, "dataset": dataset, "prune": False}, typed, "shape",
                                tc).predict_many(space, archs)
        checks[stat] = {
            "held_out_archs": int(len(archs) - n_calibration),
            "additive_sum": score(s_op[test], measured[test]).as_dict(),
            "global_scale": score(sc * s_op[test] + ic, measured[test]).as_dict(),
            "calibrated": score(t_pred[test], measured[test]).as_dict(),
        }
        fitted[stat] = (typed, s_op, 1.0, tc)
    entries, op_sum, scale, intercept = fitted[statistic]
    check = checks[statistic]
    all_t = [*ops.values(), *e2e]
    cvs = np.array([t.cv for t in all_t if t.runs])
    noise = {"median_cv": float(np.median(cvs)), "p90_cv": float(np.percentile(cvs, 90)),
             "outlier_runs": int(sum(t.outliers for t in all_t)), "timed_runs": int(sum(t.runs for t in all_t))}
    meta = {
        "space": space.name, "dataset": dataset, "prune": False,
        "device": f"{device_name}: {cpu_model()}", "cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
        "runtime": "onnxruntime", "onnxruntime_version": ort.__version__, "torch_version": torch.__version__,
        "execution_provider": "CPUExecutionProvider", "precision": "fp32", "batch": 1, "threads": threads,
        "inter_op_threads": 1, "graph_optimization": "ORT_ENABLE_ALL", "runs": runs, "warmup": warmup,
        "statistic": statistic, "calibration": "per-op-type scale + constant (NNLS on calibration archs)", "session_overhead": overhead.as_dict(), "check_by_statistic": checks,
        "source": "edgenas profile (measured on this host)", "license": "CC0 (measured by the user)",
        "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seed": None if isinstance(
            seed, np.random.Generator) else seed,
        "n_calibration": n_calibration, "check": check, "noise": noise,
        "entry_stats": {k: {kk: v for kk, v in t.as_dict().items() if kk != "median_ms"} | {"raw_median_ms": t.median_ms}
                        for k, t in ops.items()},
        "end_to_end": [{"arch": str(a), "index": space.index(a) if hasattr(space, "index") else None,
                        "op_sum_ms": float(s), **t.as_dict()} for a, s, t in zip(archs, op_sum, e2e)],
    }
    table = OpLatencyTable(meta, entries, "shape", intercept, scale)
    dt = time.perf_counter() - t_start
    table.meta["profile_seconds"] = dt
    log.info("profiled %d ops and %d models in %.0f s", len(ops), len(archs), dt)
    return ProfileResult(table, dt)
