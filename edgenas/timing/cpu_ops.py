"""Measure latency on THIS machine with onnxruntime: per-op table + end-to-end sample.

Method (``research/hardware.md`` D.4): every model (op modules and whole archs) is exported to ONNX
and run in its own ``InferenceSession`` (CPU EP, ``ORT_ENABLE_ALL``, fixed ``intra_op_num_threads``,
``inter_op_num_threads = 1``, sequential) with ``warmup`` untimed runs, then timed runs with
``time.perf_counter_ns`` (wall) and ``time.thread_time_ns`` (CPU time of the calling thread).

Shared hosts: the measurements are taken in ``rounds`` interleaved passes over all models (random
order each pass), so a burst of load from other processes hits random models instead of a
contiguous block of them. With one intra-op thread onnxruntime runs the graph in the calling
thread, so its CPU time excludes time the run spent preempted. CPU time still drifts with the
core's speed on a shared host (other tenants on the same physical core and caches), so every
timed run is paired with a run of a reference arch (the first sampled one) right after it, and
the ``ref`` statistic (default) is the median pair ratio in units of the reference's median CPU
time (see :func:`time_models` for the measured effect). Wall ``median`` and ``p10`` and the
plain ``cpu`` time (smallest per-pass median) are kept too.

Op-level sums are not end-to-end latencies: an isolated op pays the ``session.run`` overhead and
the layout reorders at the graph's ends (onnxruntime converts conv chains to the blocked NCHWc
layout), and inside a graph onnxruntime fuses ops (Conv+BN, Conv+Add as a fused sum, shared ReLUs).
So shape-keeping ops are timed in a chain (``chain``: cost of one more copy inside a graph), other
ops alone minus the measured overhead of a one-node graph, and the table's entries are those times
a per-op-type scale plus an ``intercept_ms``, fitted (non-negative, relative error) on the first
``n_calibration`` end-to-end archs; the others are the held-out check (``meta["check"]``).
``meta["check"]["per_key_fit"]`` is a diagnostic: a per-key NNLS fit on the same calibration archs
(how far an additive model can get with this measurement noise).

Kernel model (see :mod:`edgenas.hardware.kernels` for why): the kernel counts of every
end-to-end arch's optimized graph, one cost per kernel type fitted (NNLS) on the calibration
archs, checked on the held-out ones (``check["kernels"]``). Which of the two predictors the table
uses (``check["predictor"]``) is decided by a 5-fold cross-validation on the calibration archs
alone (``check["calibration_cv_mape"]``): NB201 (few kernel types, wiring-dependent) gets the
kernel model, FBNet (135 kernel types for 25 calibration archs, but additive blocks) the per-op
table. With a kernel model the per-op entries stay as the fallback for a kernel type the
calibration never showed.

Op modules: NB201 ops are built here; other spaces provide ``space.layer_module(layer)``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._host import cpu_model
from .._imports import require
from .._rng import as_rng
from ..errors import ConfigError, LatencyTableError
from ..hardware.fit import fit_scale_intercept, score
from ..hardware.kernels import export_onnx_bytes, kernel_counts, space_kernel_counts
from ..hardware.tables import OpLatencyTable

if TYPE_CHECKING:  # pragma: no cover
    from ..spaces import SearchSpace

__all__ = ["SPACE_PREDICTION_MAX_ARCHS", "ProfileResult", "Timing", "add_space_predictions", "cpu_model", "profile_ops",
           "profile_space", "time_onnx"]

log = logging.getLogger(__name__)

#: callback(stage, done, total, label) for progress reporting (the CLI draws a bar)
Progress = Callable[[str, int, int, str], None]

#: spaces up to this many archs get the kernel model's prediction of every arch stored in the table
SPACE_PREDICTION_MAX_ARCHS = 20_000


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
    #: "isolated" (one-op session, includes the per-run overhead) or "chain" (per-op cost inside a
    #: chain of identical ops: (t(1 + n ops) - t(1 op)) / n, no session overhead, in-graph memory layout)
    context: str = "isolated"
    #: median CPU time of the timing thread per run (``time.thread_time_ns``); with one intra-op
    #: thread onnxruntime runs the graph in that thread, so this excludes time the run spent
    #: preempted by other processes: the uncontended latency on a shared host
    cpu_median_ms: float = 0.0
    #: (max - min) / min of the per-round CPU medians (0 for one round): the measurement's own noise
    round_spread: float = 0.0
    #: reference-normalised CPU time: median over paired runs of (this model's CPU time / the
    #: reference's CPU time in the run right after it) times the reference's median CPU time;
    #: cancels the drift of the core's speed (shared host) as far as it hits both runs alike
    ref_ms: float = 0.0

    def stat(self, statistic: str) -> float:
        """``median`` (wall), ``p10`` (wall), ``cpu`` (thread CPU time) or ``ref`` (reference-normalised) in ms."""
        if statistic == "cpu":
            return self.cpu_median_ms
        if statistic == "ref":
            return self.ref_ms
        return self.p10_ms if statistic == "p10" else self.median_ms

    @property
    def cv(self) -> float:
        """Coefficient of variation (std / mean)."""
        return self.std_ms / self.mean_ms if self.mean_ms > 0 else float("nan")

    def as_dict(self) -> dict[str, float | str]:
        return {"median_ms": self.median_ms, "p90_ms": self.p90_ms, "p10_ms": self.p10_ms, "mean_ms": self.mean_ms,
                "std_ms": self.std_ms, "runs": self.runs, "outliers": self.outliers, "context": self.context,
                "cpu_median_ms": self.cpu_median_ms, "round_spread": self.round_spread, "ref_ms": self.ref_ms}

    def minus(self, other: Timing, per: int, context: str) -> Timing:
        """``(self - other) / per`` statistic by statistic (clipped at 0): a differential timing."""
        def d(a: float, b: float) -> float:
            return max((a - b) / per, 0.0)

        return Timing(d(self.median_ms, other.median_ms), d(self.p90_ms, other.p90_ms), d(self.mean_ms, other.mean_ms),
                      float(np.hypot(self.std_ms, other.std_ms)) / per, self.runs, self.outliers + other.outliers,
                      d(self.p10_ms, other.p10_ms), context, d(self.cpu_median_ms, other.cpu_median_ms),
                      max(self.round_spread, other.round_spread), d(self.ref_ms, other.ref_ms))


@dataclass(frozen=True)
class ProfileResult:
    """A profiling run: the op table (with end-to-end sample and check in its meta)."""

    table: OpLatencyTable
    seconds: float


def _session(path: str, threads: int) -> Any:
    ort = require("onnxruntime", purpose="profiling with onnxruntime")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def _timing(wall: np.ndarray, cpu_rounds: list[np.ndarray], ratios: list[float], ref_unit: float) -> Timing:
    """Timing from all wall times, the per-round CPU times and reference ratios of one model."""
    med = float(np.median(wall))
    mad = float(np.median(np.abs(wall - med))) * 1.4826
    outl = int(np.sum(wall > med + 3 * max(mad, 1e-6)))
    per_round = np.array([np.median(c) for c in cpu_rounds])
    lo = float(per_round.min())
    return Timing(med, float(np.percentile(wall, 90)), float(wall.mean()), float(wall.std()), len(wall), outl,
                  float(np.percentile(wall, 10)), cpu_median_ms=lo,
                  round_spread=float((per_round.max() - lo) / lo) if lo > 0 else 0.0,
                  ref_ms=float(np.median(ratios) * ref_unit) if ratios else lo)


def time_models(models: list[tuple[Path, tuple[int, ...]]], *, runs: int = 50, warmup: int = 10, threads: int = 1,
                rounds: int = 1, seed: int = 0, reference: int | None = None,
                progress: Progress | None = None) -> list[Timing]:
    """Time several ONNX models ``(path, input shape)`` in ``rounds`` interleaved passes.

    Each pass visits every model once in a fresh random order and times ``ceil(runs / rounds)``
    runs (after ``warmup`` untimed runs in the first pass, 2 in later ones). Sessions are created
    once and kept for all passes.

    With ``reference`` (an index into ``models``) every timed run is paired with a run of the
    reference right after it, each preceded by one untimed run of the same model so both run
    with warm caches: ``[model, model*, ref, ref*]``. ``Timing.ref_ms`` is the median over all
    pairs of ``t(model*) / t(ref*)`` (thread CPU times) times the reference's median CPU time
    over all its paired runs. On this project's shared VM the speed of a core drifts by 20-40 %
    over tens of milliseconds (lag-1 autocorrelation of run times 0.7, gone after ~50 runs), so
    absolute medians of the same model repeat only within ~8 % (median; p90 30 %), while paired
    ratios repeat within 1 % (p90 5 %): the drift hits both runs of a pair alike.
    """
    rounds = max(1, rounds)
    per = max(1, -(-runs // rounds))
    sessions, inputs = [], []
    for path, shape in models:
        sess = _session(str(path), threads)
        sessions.append(sess)
        inputs.append({sess.get_inputs()[0].name: np.random.default_rng(0).standard_normal(shape).astype(np.float32)})
    wall: list[list[float]] = [[] for _ in models]
    cpu: list[list[np.ndarray]] = [[] for _ in models]
    ratios: list[list[float]] = [[] for _ in models]
    ref_cpu: list[float] = []

    def timed(sess: Any, x: dict) -> tuple[float, float]:
        """(wall ms, thread CPU ms) of one run."""
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        sess.run(None, x)
        return (time.perf_counter_ns() - t0) / 1e6, (time.thread_time_ns() - c0) / 1e6
    order_rng = np.random.default_rng(seed)
    total, done = rounds * len(models), 0
    paired = reference is not None
    for r in range(rounds):
        for j in order_rng.permutation(len(models)):
            if progress:
                progress("timing", done, total, str(models[j][0].name))
            sess, x = sessions[j], inputs[j]
            for _ in range(warmup if r == 0 else min(2, warmup)):
                sess.run(None, x)
            c = np.empty(per)
            for i in range(per):
                if paired and j != reference:
                    sess.run(None, x)
                w, c[i] = timed(sess, x)
                wall[j].append(w)
                if paired and j != reference:
                    sessions[reference].run(None, inputs[reference])
                    ref_now = timed(sessions[reference], inputs[reference])[1]
                    ref_cpu.append(ref_now)
                    ratios[j].append(c[i] / ref_now if ref_now > 0 else float("nan"))
            cpu[j].append(c)
            done += 1
    if progress:
        progress("timing", total, total, "")
    # unit: the reference's typical (median) warm CPU time over the whole measurement
    unit = float(np.median(ref_cpu)) if ref_cpu else 0.0
    if paired and ref_cpu:
        ratios[reference] = [1.0]
    return [_timing(np.array(w), c, [v for v in q if np.isfinite(v)], unit) for w, c, q in zip(wall, cpu, ratios)]


def time_onnx(path: str | Path, input_shape: tuple[int, ...], *, runs: int = 50, warmup: int = 10,
              threads: int = 1, rounds: int = 1) -> Timing:
    """Time one ONNX model with a fixed float32 input of ``input_shape`` (N, C, H, W)."""
    return time_models([(Path(path), input_shape)], runs=runs, warmup=warmup, threads=threads, rounds=rounds)[0]


def _export(module: Any, input_shape: tuple[int, ...], path: Path) -> None:
    """Export ``module`` to ONNX at ``path`` (settings: :func:`.kernels.export_onnx_bytes`)."""
    Path(path).write_bytes(export_onnx_bytes(module, input_shape))


def _op_module(space: SearchSpace, layer: Any) -> Any:
    """A torch module computing one ``LayerSpec`` alone (batch 1; ``space.layer_module``); None for
    an identity, which is no node in an exported graph and so costs 0."""
    from torch import nn

    module = space.layer_module(layer)
    return None if isinstance(module, nn.Identity) else module


def _input_shape(layer: Any) -> tuple[int, ...]:
    """Batch-1 input shape of a layer's module (classifiers take (1, C))."""
    return (1, layer.in_shape[0]) if layer.op in ("linear", "FC") else (1, *layer.in_shape)


def _space_layers(space: SearchSpace, dataset: str) -> list[Any]:
    """One LayerSpec per distinct shape key the space uses (one arch per op covers NB201)."""
    seen: dict[str, Any] = {}
    for tok in sorted({t for c in space.choices for t in c}):
        arch = space.arch(tuple(tok if tok in c else c[0] for c in space.choices))
        for layer in space.layers(arch, dataset):
            seen.setdefault(layer.key(), layer)
    return list(seen.values())


def _chainable(layer: Any) -> bool:
    """Whether copies of the layer can be chained (output shape == input shape, a 4-D tensor op)."""
    return layer.in_shape == layer.out_shape and layer.op not in ("linear", "FC", "AvgP", "bn_relu_gap")


@dataclass(frozen=True)
class _OpPlan:
    """What to run for one op key: its single-op model and, when chained, the longer chain."""

    key: str
    single: int | None  # index into the model list; None = no node (identity)
    chained: int | None = None
    copies: int = 0


def _plan_ops(space: SearchSpace, layers: list[Any], tmp: Path, chain: int,
              models: list[tuple[Path, tuple[int, ...]]], progress: Progress | None) -> list[_OpPlan]:
    """Export every op model (and chain) into ``tmp``, appending to ``models``."""
    from torch import nn

    plans = []
    for i, layer in enumerate(layers):
        if progress:
            progress("export ops", i, len(layers), layer.key())
        m = _op_module(space, layer)
        if m is None:
            plans.append(_OpPlan(layer.key(), None))
            continue
        shape = _input_shape(layer)
        p = tmp / f"op{i}.onnx"
        _export(m, shape, p)
        models.append((p, shape))
        single = len(models) - 1
        if chain > 0 and _chainable(layer):
            pc = tmp / f"op{i}_chain.onnx"
            _export(nn.Sequential(m, *(_op_module(space, layer) for _ in range(chain))), shape, pc)
            models.append((pc, shape))
            plans.append(_OpPlan(layer.key(), single, len(models) - 1, chain))
        else:
            plans.append(_OpPlan(layer.key(), single))
    if progress:
        progress("export ops", len(layers), len(layers), "")
    return plans


def _export_overhead(tmp: Path, models: list[tuple[Path, tuple[int, ...]]]) -> int:
    """Export the smallest real graph (one Add node) whose time is the per-run session overhead."""
    from torch import nn

    class _Copy(nn.Module):
        def forward(self, x: Any) -> Any:
            return x + 0.0

    p = tmp / "overhead.onnx"
    _export(_Copy(), (1, 3, 8, 8), p)
    models.append((p, (1, 3, 8, 8)))
    return len(models) - 1


def _op_timings(plans: list[_OpPlan], timings: list[Timing]) -> dict[str, Timing]:
    out = {}
    for pl in plans:
        if pl.single is None:
            out[pl.key] = Timing(0.0, 0.0, 0.0, 0.0, 0, 0)
        elif pl.chained is not None:
            out[pl.key] = timings[pl.chained].minus(timings[pl.single], pl.copies, "chain")
        else:
            out[pl.key] = timings[pl.single]
    return out


def profile_ops(space: SearchSpace, dataset: str, *, layers: list[Any] | None = None, runs: int = 50, warmup: int = 10,
                threads: int = 1, chain: int = 0, rounds: int = 1, progress: Progress | None = None,
                workdir: Path | None = None) -> tuple[dict[str, Timing], Timing]:
    """Time every op (shape key) of the space.

    Args:
        chain: 0 times each op alone in its own session (``context="isolated"``: includes the
            per-run overhead and the layout conversions at the graph's ends). ``n > 0`` times
            shape-keeping ops as ``(t(1 + n copies) - t(1 copy)) / n`` (``context="chain"``): the
            cost of one more op inside a graph, where session overhead, input/output layout
            reorders and cold-start effects cancel. Other ops stay isolated.
        rounds: interleaved timing passes (see :func:`time_models`).

    Returns:
        ({shape key: timing}, timing of a one-node graph = the per-run overhead).
    """
    layers = layers if layers is not None else _space_layers(space, dataset)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        models: list[tuple[Path, tuple[int, ...]]] = []
        ov = _export_overhead(Path(tmp), models)
        plans = _plan_ops(space, layers, Path(tmp), chain, models, progress)
        timings = time_models(models, runs=runs, warmup=warmup, threads=threads, rounds=rounds, progress=progress)
    return _op_timings(plans, timings), timings[ov]


def _per_op_type_calibration(space: SearchSpace, dataset: str, archs: list[Any], entries: dict[str, float],
                             measured: np.ndarray, cal: slice | np.ndarray) -> tuple[dict[str, float], float]:
    """Per-op-type scale (>= 0) and constant fitted on the calibration archs.

    An op timed alone runs with warm caches and its own session; inside a graph the same op can be
    cheaper (pools, element-wise) or dearer (convs reading cold activations). One scale per op type
    (not per key: few calibration archs) corrects that; entries become ``scale[type] * entry``.
    """
    from ..hardware.fit import nnls_fit

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


STATISTICS = ("ref", "cpu", "median", "p10")
#: folds of the cross-validation (on the calibration archs only) that picks the table's predictor
CV_FOLDS = 5


def _cv_mape(fit_predict: Callable[[np.ndarray], np.ndarray], measured: np.ndarray, n_calibration: int) -> float:
    """Mean relative error (%) of ``fit_predict(train indices) -> predictions for all archs`` over
    ``CV_FOLDS`` folds of the calibration archs (the held-out archs are never looked at)."""
    idx = np.arange(n_calibration)
    errs = []
    for f in range(min(CV_FOLDS, n_calibration)):
        test = idx[f::CV_FOLDS]
        pred = fit_predict(np.setdiff1d(idx, test))
        errs.extend(np.abs(pred[test] - measured[test]) / measured[test])
    return float(100 * np.mean(errs))


def _kernel_predictions(rows: list[Any], entries: dict[str, float], intercept: float) -> np.ndarray:
    return np.array([sum(entries.get(t, 0.0) * n for t, n in row.items()) + intercept for row in rows])


def _fit_kernels(rows: list[Any], measured: np.ndarray, cal: slice | np.ndarray) -> tuple[dict[str, float], float]:
    """Cost per kernel type (>= 0) and a constant, NNLS on the calibration archs' kernel counts.

    Kernel types no calibration arch has are left out (a prediction then falls back to the op
    entries); types present in every calibration arch in the same number are collinear with the
    constant, and NNLS splits them arbitrarily, which does not change any prediction.
    """
    from ..hardware.fit import fit_kernel_costs

    cal_rows = rows[cal] if isinstance(cal, slice) else [rows[i] for i in cal]
    return fit_kernel_costs(cal_rows, measured[cal])


def profile_space(space: SearchSpace, dataset: str, *, n_archs: int = 260, n_calibration: int = 60, runs: int = 60,
                  warmup: int = 10, threads: int = 1, seed: int | np.random.Generator | None = 0,
                  progress: Progress | None = None, device_name: str = "cpu", statistic: str | None = None,
                  chain: int = 4, rounds: int = 3, space_predictions: bool = True,
                  workers: int = 0) -> ProfileResult:
    """Op-level table + end-to-end timings of ``n_archs`` random archs, measured in one run.

    Ops and whole archs are timed together in ``rounds`` interleaved passes (see the module
    docstring). The first ``n_calibration`` sampled archs fit the per-op-type scales and
    ``intercept_ms`` and the kernel model, and cross-validation on them picks the table's predictor;
    the others are the held-out check (``meta["check"]`` for the table's ``statistic``;
    ``meta["check_by_statistic"]`` for all of them).

    Args:
        statistic: per-model value stored: ``ref`` (default with 1 thread: CPU time relative to a
            reference arch timed right after every run, see :func:`time_models`), ``cpu``
            (smallest per-pass median CPU time), ``median`` (wall; default with more threads) or
            ``p10`` (wall).
        chain: copies for chain timing of shape-keeping ops (0 = isolated only).
        rounds: interleaved timing passes.
        space_predictions: when the table gets a kernel model and the space has at most
            :data:`SPACE_PREDICTION_MAX_ARCHS` archs, store the model's prediction of every
            arch (:func:`add_space_predictions`; NB201: ~5 min on 2 cores, after all timing).
        workers: processes for that step (0 = one per core).

    Raises:
        ConfigError: unknown statistic, ``cpu`` with more than one thread, too few archs.
    """
    statistic = statistic or ("ref" if threads == 1 else "median")
    if statistic not in STATISTICS:
        raise ConfigError(f"statistic {statistic!r}; expected one of {', '.join(STATISTICS)}")
    if statistic in ("ref", "cpu") and threads != 1:
        raise ConfigError(f"statistic {statistic!r} needs --threads 1 (got {threads}): with more threads the work runs "
                          f"outside the timing thread; use median or p10")
    if n_archs - n_calibration < 2:
        raise ConfigError(f"--archs {n_archs} leaves no held-out archs after {n_calibration} calibration archs")
    ort = require("onnxruntime", purpose="profiling with onnxruntime")
    import torch

    t_start = time.perf_counter()
    torch.set_num_threads(max(1, threads))
    rng = as_rng(seed)
    archs, seen = [], set()
    while len(archs) < n_archs:
        a = space.sample(rng)
        if str(a) not in seen:
            seen.add(str(a))
            archs.append(a)
    ds = space.dataset(dataset)
    shape = (1, *ds.input_shape)
    with tempfile.TemporaryDirectory() as tmp:
        models: list[tuple[Path, tuple[int, ...]]] = []
        ov = _export_overhead(Path(tmp), models)
        plans = _plan_ops(space, _space_layers(space, dataset), Path(tmp), chain, models, progress)
        first_arch = len(models)
        for i, a in enumerate(archs):
            if progress:
                progress("export models", i, len(archs), str(a))
            p = Path(tmp) / f"arch{i}.onnx"
            _export(space.build_model(a, dataset), shape, p)
            models.append((p, shape))
        if progress:
            progress("export models", len(archs), len(archs), "")
        timings = time_models(models, runs=runs, warmup=warmup, threads=threads, rounds=rounds, reference=first_arch,
                              seed=0 if isinstance(seed, np.random.Generator) or seed is None else seed,
                              progress=progress)
        kernel_rows = []
        for i, (p, _) in enumerate(models[first_arch:]):
            if progress:
                progress("kernel detection", i, len(archs), str(archs[i]))
            kernel_rows.append(kernel_counts(p, threads=threads))
    ops, overhead, e2e = _op_timings(plans, timings), timings[ov], timings[first_arch:]

    def op_entries(stat: str) -> dict[str, float]:
        # chain timings carry no session overhead; isolated ones pay it once
        return {k: (t.stat(stat) if t.context == "chain" else max(t.stat(stat) - overhead.stat(stat), 0.0))
                if t.runs else 0.0 for k, t in ops.items()}

    from ..hardware.fit import feature_matrix, nnls_fit

    cal, test = slice(0, n_calibration), slice(n_calibration, None)
    counts, count_keys = feature_matrix(space, archs, dataset, key="shape", prune=False)
    checks: dict[str, dict] = {}
    fitted: dict[str, tuple] = {}
    for stat in STATISTICS:
        if stat in ("ref", "cpu") and threads != 1:
            continue
        ent = op_entries(stat)
        base = OpLatencyTable({"space": space.name, "dataset": dataset, "prune": False}, ent, "shape")
        s_op = base.predict_many(space, archs)
        measured = np.array([t.stat(stat) for t in e2e])
        sc, ic = fit_scale_intercept(s_op[cal], measured[cal])
        typed, tc = _per_op_type_calibration(space, dataset, archs, ent, measured, cal)
        t_pred = OpLatencyTable({"space": space.name, "dataset": dataset, "prune": False}, typed, "shape",
                                tc).predict_many(space, archs)
        coef = nnls_fit(counts[cal], measured[cal])
        k_ent, k_ic = _fit_kernels(kernel_rows, measured, cal)
        k_pred = _kernel_predictions(kernel_rows, k_ent, k_ic)

        def ops_fit(train: np.ndarray, ent: dict = ent, measured: np.ndarray = measured) -> np.ndarray:
            e, c = _per_op_type_calibration(space, dataset, archs, ent, measured, train)
            return OpLatencyTable({"space": space.name, "dataset": dataset, "prune": False}, e, "shape",
                                  c).predict_many(space, archs)

        def kernels_fit(train: np.ndarray, measured: np.ndarray = measured) -> np.ndarray:
            return _kernel_predictions(kernel_rows, *_fit_kernels(kernel_rows, measured, train))
        cv = {"ops": _cv_mape(ops_fit, measured, n_calibration), "kernels": _cv_mape(kernels_fit, measured, n_calibration)}
        checks[stat] = {
            "held_out_archs": int(len(archs) - n_calibration),
            "additive_sum": score(s_op[test], measured[test]).as_dict(),
            "global_scale": score(sc * s_op[test] + ic, measured[test]).as_dict(),
            "calibrated": score(t_pred[test], measured[test]).as_dict(),
            "per_key_fit": score(counts[test] @ coef[:-1] + coef[-1], measured[test]).as_dict(),
            "kernels": score(k_pred[test], measured[test]).as_dict(),
            "calibration_cv_mape": cv,
            "predictor": min(cv, key=lambda k: cv[k]),
        }
        fitted[stat] = (typed, s_op, 1.0, tc, k_ent, k_ic)
    entries, op_sum, scale, intercept, k_ent, k_ic = fitted[statistic]
    check = checks[statistic]
    kernels = None
    if check["predictor"] == "kernels":
        kernels = {"entries": k_ent, "intercept_ms": k_ic, "onnxruntime_version": ort.__version__,
                   "cpu_model": cpu_model(), "threads": threads,
                   "fit": f"NNLS of kernel counts on the {n_calibration} calibration archs ({statistic} statistic)"}
    all_t = [*ops.values(), *e2e]
    cvs = np.array([t.cv for t in all_t if t.runs and t.mean_ms > 0])
    spread = np.array([t.round_spread for t in e2e])
    noise = {"median_cv": float(np.median(cvs)), "p90_cv": float(np.percentile(cvs, 90)),
             "outlier_runs": int(sum(t.outliers for t in all_t)), "timed_runs": int(sum(t.runs for t in all_t)),
             "e2e_round_spread_median": float(np.median(spread)),
             "e2e_round_spread_p90": float(np.percentile(spread, 90)),
             "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
    from ..spaces.user import user_definition_hash

    definition = user_definition_hash(space)
    meta = {
        "space": space.name, "dataset": dataset, "prune": False,
        **({"space_definition": definition} if definition else {}),
        "device": f"{device_name}: {cpu_model()}", "cpu_model": cpu_model(), "cpu_count": os.cpu_count(),
        "runtime": "onnxruntime", "onnxruntime_version": ort.__version__, "torch_version": torch.__version__,
        "execution_provider": "CPUExecutionProvider", "precision": "fp32", "batch": 1, "threads": threads,
        "inter_op_threads": 1, "graph_optimization": "ORT_ENABLE_ALL", "runs": runs, "warmup": warmup,
        "rounds": rounds, "chain": chain, "statistic": statistic,
        "calibration": "per-op-type scale + constant (NNLS on the calibration archs)",
        "session_overhead": overhead.as_dict(), "check_by_statistic": checks,
        "source": "edgenas profile (measured on this host)", "license": "CC0 (measured by the user)",
        "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seed": None if isinstance(
            seed, np.random.Generator) else seed,
        "n_calibration": n_calibration, "check": check, "noise": noise,
        "entry_stats": {k: {kk: v for kk, v in t.as_dict().items() if kk != "median_ms"} | {"raw_median_ms": t.median_ms}
                        for k, t in ops.items()},
        "end_to_end": [{"arch": str(a), "index": space.index(a) if hasattr(space, "index") else None,
                        "op_sum_ms": float(s), **t.as_dict(), "kernels": dict(sorted(kr.items()))}
                       for a, s, t, kr in zip(archs, op_sum, e2e, kernel_rows)],
    }
    table = OpLatencyTable(meta, entries, "shape", intercept, scale, kernels)
    if space_predictions and kernels and space.size <= SPACE_PREDICTION_MAX_ARCHS:
        try:
            table = add_space_predictions(table, space, workers=workers, progress=progress)
        except LatencyTableError as exc:  # keep the measurements: pricing then detects kernels per arch
            log.warning("table saved without predictions for every arch: %s", exc)
    dt = time.perf_counter() - t_start
    table.meta["profile_seconds"] = dt
    log.info("profiled %d ops and %d models in %.0f s", len(ops), len(archs), dt)
    return ProfileResult(table, dt)


def add_space_predictions(table: OpLatencyTable, space: SearchSpace, *, workers: int = 0,
                          progress: Progress | None = None) -> OpLatencyTable:
    """``table`` with its kernel model's prediction of every arch of ``space`` stored
    (``kernels.space_ms``), from kernel counts computed on this host.

    Kernel counts depend on onnxruntime's version and the CPU, so this host's counts are checked
    against the counts the profiled host recorded for the table's end-to-end archs; any difference
    raises instead of storing another host's graph under this table's costs.

    Raises:
        LatencyTableError: no kernel model, a space too large to list, or kernel counts that differ
            from the recorded ones.
    """
    if not table.kernels:
        raise LatencyTableError(f"latency table {table.space}/{table.dataset} has no kernel model "
                                "(its per-op sum is already a cheap prediction)")
    if space.size > SPACE_PREDICTION_MAX_ARCHS:
        raise LatencyTableError(f"space {space.name!r} has {space.size:.3g} archs; predictions are stored for spaces of "
                                f"at most {SPACE_PREDICTION_MAX_ARCHS:,}")
    ort = require("onnxruntime", purpose="kernel detection (cpu latency tables)")
    if workers <= 0:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    def tick(done: int, total: int) -> None:
        if progress:
            progress("kernel counts of every arch", done, total, "")

    threads = int(table.kernels.get("threads", 1))
    position = _position(space)
    recorded = [(position(space.parse(r["arch"])), r["kernels"]) for r in table.meta.get("end_to_end", [])
                if r.get("arch") and r.get("kernels")]
    # fail fast (seconds) before counting the whole space (minutes)
    here = space_kernel_counts(space, table.dataset, [i for i, _ in recorded], threads=threads)
    bad = [i for (i, k), c in zip(recorded, here) if dict(c) != k]
    if bad:
        raise LatencyTableError(
            f"onnxruntime {ort.__version__} on {cpu_model()!r} optimizes {len(bad)} of the table's {len(recorded)} "
            f"end-to-end archs into other kernels than the profiled host recorded (first: {_at(space, bad[0])}); "
            "expected the profiled host's kernel counts", hint="compute the predictions on the profiled host")
    t0 = time.perf_counter()
    counts, how = _whole_space_counts(space, table.dataset, workers=workers, threads=threads, progress=tick)
    log.info("kernel counts of %d archs in %.0f s (%d workers; %s)", len(counts), time.perf_counter() - t0, workers, how)
    return table.with_space_ms(
        space, counts, onnxruntime_version=ort.__version__, cpu_model=cpu_model(),
        computed_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), counted=how,
        check=f"this host reproduced the recorded kernel counts of {len(recorded)} of {len(recorded)} end-to-end archs")


#: iso classes whose second member is counted too, to check that one count serves the class
ISO_CHECKS = 16


def _position(space: SearchSpace) -> Callable[[Any], int]:
    """arch -> its position in :func:`~edgenas.hardware.space_order.space_order`."""
    from ..hardware.space_order import ORDER_INDEX, arch_rank, space_order

    if space_order(space) == ORDER_INDEX:
        return space.index
    return lambda a: arch_rank(space, a)


def _at(space: SearchSpace, position: int) -> str:
    from ..hardware.space_order import ORDER_INDEX, arch_at_rank, space_order

    if space_order(space) == ORDER_INDEX:
        return f"index {position}"
    return f"arch {space.format(arch_at_rank(space, position))}"


def _whole_space_counts(space: SearchSpace, dataset: str, *, workers: int, threads: int,
                        progress: Callable[[int, int], None]) -> tuple[list[Any], str]:
    """Kernel counts of every arch in :func:`~edgenas.hardware.space_order.space_order`, and how they were counted.

    A space with arch strings only (the macro spaces) gets one count per isomorphism class
    (``iso_key``; NAS-Bench-Macro: 3,969 networks for 6,561 strings, each built from a torch export
    at ~0.3 s), checked on a second member of up to :data:`ISO_CHECKS` classes; if any differs, every
    arch is counted. An indexed space (NB201, whose iso classes are different graphs computing the
    same function) is counted arch by arch.
    """
    from ..hardware.space_order import ORDER_INDEX, arch_at_rank, space_order

    n = int(space.size)
    if space_order(space) == ORDER_INDEX:
        return space_kernel_counts(space, dataset, workers=workers, progress=progress, threads=threads), "every arch"
    keys = [space.iso_key(arch_at_rank(space, r)) for r in range(n)]
    first: dict[str, int] = {}
    members: dict[str, list[int]] = {}
    for r, key in enumerate(keys):
        first.setdefault(key, r)
        members.setdefault(key, []).append(r)
    reps = sorted(first.values())
    multi = sorted(k for k, m in members.items() if len(m) > 1)
    rng = np.random.default_rng(0)
    picked = [multi[int(i)] for i in rng.choice(len(multi), min(ISO_CHECKS, len(multi)), replace=False)] if multi else []
    probes = [members[k][1] for k in picked]
    counted = space_kernel_counts(space, dataset, reps + probes, workers=workers, threads=threads, progress=progress)
    by_rank = dict(zip(reps + probes, counted))
    if any(by_rank[members[k][1]] != by_rank[first[k]] for k in picked):
        log.warning("%s: members of one isomorphism class run different kernels; counting every arch", space.name)
        return space_kernel_counts(space, dataset, workers=workers, progress=progress, threads=threads), "every arch"
    how = (f"once per isomorphism class ({len(reps):,} classes for {n:,} archs; a second member of {len(picked)} "
           "classes gave the same counts)")
    return [by_rank[first[key]] for key in keys], how
