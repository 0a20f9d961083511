"""Fit per-op latency tables from whole-model measurements, and score predictors.

Model: ``latency_ms(arch) ~= sum_k count_k(arch) * t_k + c`` with ``t_k >= 0`` and ``c >= 0``, where
``k`` runs over op-table keys (:func:`edgenas.hardware.tables.layer_key` of every
``LayerSpec`` of the arch) and ``count_k`` is how often key ``k`` occurs. Solved with
non-negative least squares (``scipy.optimize.nnls``). Works for any space whose ``layers()``
gives keys; nothing here is NB201-specific.

When keys are collinear (e.g. NB201 repeats one cell 5 times per stage) the split of time between
them is not identifiable, but predictions are; the fitted entries are a predictor, not a
per-op measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import LatencyTableError
from ._graph import cost_layers
from .tables import OpLatencyTable, layer_key

if TYPE_CHECKING:  # pragma: no cover
    from ..spaces import SearchSpace

__all__ = ["AccuracyReport", "feature_matrix", "fit_op_table", "fit_scale_intercept", "fit_with_holdout", "nnls_fit", "score"]


@dataclass(frozen=True)
class AccuracyReport:
    """Accuracy of predicted vs measured latencies.

    Attributes:
        n: number of archs scored.
        mape: mean absolute percentage error, %.
        rmse_ms: root mean squared error, ms.
        within_10: share of archs with |error| <= 10 % of the measurement, in [0, 1].
        kendall_tau: Kendall rank correlation (tau-b).
    """

    n: int
    mape: float
    rmse_ms: float
    within_10: float
    kendall_tau: float

    def as_dict(self) -> dict[str, float]:
        return {"n": self.n, "mape": self.mape, "rmse_ms": self.rmse_ms, "within_10": self.within_10,
                "kendall_tau": self.kendall_tau}


def score(predicted_ms: Sequence[float] | np.ndarray, measured_ms: Sequence[float] | np.ndarray) -> AccuracyReport:
    """MAPE, RMSE, share within +-10 % and Kendall tau of ``predicted_ms`` against ``measured_ms``."""
    from scipy.stats import kendalltau

    p = np.asarray(predicted_ms, dtype=np.float64)
    m = np.asarray(measured_ms, dtype=np.float64)
    if p.shape != m.shape or p.ndim != 1 or len(p) < 2:
        raise ValueError(f"need two equal-length 1-D arrays of >= 2 values, got {p.shape} and {m.shape}")
    rel = np.abs(p - m) / m
    tau = kendalltau(p, m).statistic
    return AccuracyReport(len(p), float(100 * rel.mean()), float(np.sqrt(np.mean((p - m) ** 2))),
                          float(np.mean(rel <= 0.10)), float(tau))


def feature_matrix(space: SearchSpace, archs: Sequence[Any], dataset: str, *, key: str = "position",
                   keys: Sequence[str] | None = None, prune: bool = True,
                   node_ops: bool = False, reads: bool = False) -> tuple[np.ndarray, list[str]]:
    """Count matrix (n_archs, n_keys) of op-table keys per arch.

    Args:
        prune: count only layers a compiler executes (``edgenas.hardware._graph.cost_layers``).
        node_ops: key each node's sum by the ops feeding it (``cost_layers(node_ops=True)``).
        reads: add a layer per node read by several edges, keyed by its readers (``cost_layers(reads=True)``).
        keys: fixed key order; when given, an arch with a key outside it raises
            :class:`LatencyTableError` (a table missing an op). Default: all keys seen, sorted.
    """
    per_arch = []
    for a in archs:
        counts: dict[str, int] = {}
        for layer in cost_layers(space, a, dataset, prune=prune, node_ops=node_ops, reads=reads):
            k = layer_key(layer, key)
            counts[k] = counts.get(k, 0) + 1
        per_arch.append(counts)
    if keys is None:
        keys = sorted({k for c in per_arch for k in c})
    pos = {k: j for j, k in enumerate(keys)}
    x = np.zeros((len(per_arch), len(keys)))
    for i, c in enumerate(per_arch):
        for k, v in c.items():
            if k not in pos:
                raise LatencyTableError(f"op table has no entry for {k!r}")
            x[i, pos[k]] = v
    return x, list(keys)


def fit_op_table(space: SearchSpace, dataset: str, archs: Sequence[Any], latency_ms: Sequence[float] | np.ndarray, *,
                 key: str = "position", prune: bool = True, node_ops: bool = False, reads: bool = False,
                 meta: dict[str, Any] | None = None) -> OpLatencyTable:
    """Non-negative least-squares per-op table (with a constant) from whole-model latencies.

    Args:
        space: a :class:`~edgenas.spaces.SearchSpace`.
        archs: measured archs.
        latency_ms: (len(archs),) measured ms.
        key: ``"position"`` (default; position-aware keys) or ``"shape"``.
        prune: drop dead layers before counting (see ``_graph``); stored in the table.
        node_ops: key node sums by what feeds them (see ``_graph.cost_layers``); stored in the table.
        reads: add node layers keyed by what reads them (see ``_graph.cost_layers``); stored in the table.
        meta: extra metadata stored in the table (device, source, ...).
    """
    y = np.asarray(latency_ms, dtype=np.float64)
    if len(archs) != len(y) or len(y) == 0 or not np.all(np.isfinite(y)):
        raise ValueError("need one finite latency per arch")
    x, keys = feature_matrix(space, archs, dataset, key=key, prune=prune, node_ops=node_ops, reads=reads)
    coef = nnls_fit(x, y)
    entries = {k: float(v) for k, v in zip(keys, coef[:-1])}
    m = {"space": space.name, "dataset": dataset, "fitted_on": len(y), "method": "nnls, 1/y weighted", "prune": prune,
         "node_ops": node_ops, "reads": reads,
         **(meta or {})}
    return OpLatencyTable(m, entries, key, float(coef[-1]), 1.0)


def nnls_fit(counts: np.ndarray, latency_ms: np.ndarray) -> np.ndarray:
    """Non-negative coefficients (n_keys + 1,) of ``counts @ coef[:-1] + coef[-1]``.

    Rows are weighted by 1/latency: relative error is what users judge, so a 0.6 ms network
    matters as much as a 6 ms one.
    """
    from scipy.optimize import nnls

    y = np.asarray(latency_ms, dtype=np.float64)
    xa = np.hstack([np.asarray(counts, dtype=np.float64), np.ones((len(y), 1))])
    w = 1.0 / np.maximum(y, 1e-6)
    coef, _ = nnls(xa * w[:, None], y * w, maxiter=50 * xa.shape[1])
    return coef


def fit_kernel_costs(rows: Sequence[Any], latency_ms: np.ndarray) -> tuple[dict[str, float], float]:
    """Cost per kernel type (>= 0, ms) and a constant: :func:`nnls_fit` on kernel counts (one mapping
    kernel type -> count per measured arch). Types no row has get no cost (no price, not zero)."""
    types = sorted({t for r in rows for t in r})
    x = np.array([[r.get(t, 0) for t in types] for r in rows], dtype=np.float64).reshape(len(rows), len(types))
    coef = nnls_fit(x, latency_ms)
    return dict(zip(types, (float(c) for c in coef[:-1]))), float(coef[-1])


def fit_scale_intercept(op_sum_ms: np.ndarray, measured_ms: np.ndarray) -> tuple[float, float]:
    """Non-negative (scale, intercept) minimising relative error of ``scale * op_sum + intercept``."""
    from scipy.optimize import nnls

    s = np.asarray(op_sum_ms, dtype=np.float64)
    y = np.asarray(measured_ms, dtype=np.float64)
    w = 1.0 / np.maximum(y, 1e-6)
    coef, _ = nnls(np.stack([s, np.ones_like(s)], 1) * w[:, None], y * w)
    return float(coef[0]), float(coef[1])


def fit_with_holdout(space: SearchSpace, dataset: str, archs: Sequence[Any], latency_ms: Sequence[float] | np.ndarray, *,
                     holdout: float = 0.2, seed: int | np.random.Generator | None = 0,
                     key: str = "position", prune: bool = True) -> tuple[OpLatencyTable, AccuracyReport]:
    """Fit on a random ``1 - holdout`` share and score on the rest (then refit on everything).

    Returns:
        (table fitted on all archs, held-out accuracy of the table fitted without them).
    """
    from .._rng import as_rng

    y = np.asarray(latency_ms, dtype=np.float64)
    n = len(y)
    n_test = max(2, round(holdout * n))
    if n - n_test < 2:
        raise ValueError(f"too few archs ({n}) for a held-out check")
    perm = as_rng(seed).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    t = fit_op_table(space, dataset, [archs[i] for i in train], y[train], key=key, prune=prune)
    report = score(t.predict_many(space, [archs[i] for i in test]), y[test])
    return fit_op_table(space, dataset, archs, y, key=key, prune=prune), report
