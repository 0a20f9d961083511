"""Pure Pareto utilities: non-dominated sorting and exact 2-D hypervolume.

Every function here *minimises* every column of ``F`` (shape (N, M): N points, M objectives);
flip the sign of a maximised objective before calling. Hand-rolled rather than taken from pymoo
because they are a few lines, need no pymoo objects, and the benchmark and the outputs use them on
ground-truth data where an independent, obviously-correct implementation is worth having (pymoo's
NonDominatedSorting does the heavy lifting inside the NSGA-II survival).
"""

from __future__ import annotations

import numpy as np

__all__ = ["dominates", "hypervolume_2d", "non_dominated_sort", "pareto_mask"]


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """True if point ``a`` (M,) Pareto-dominates ``b`` (M,) under minimisation."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return bool(np.all(a <= b) and np.any(a < b))


def _dominance_matrix(F: np.ndarray) -> np.ndarray:
    # D[i, j] = i dominates j; O(N^2 M) memory is fine for the few thousand points a search keeps
    le = np.all(F[:, None, :] <= F[None, :, :], axis=2)
    lt = np.any(F[:, None, :] < F[None, :, :], axis=2)
    return le & lt


def non_dominated_sort(F: np.ndarray) -> list[np.ndarray]:
    """Fronts of ``F`` (N, M), best first, as arrays of row indices (ascending within a front).

    Duplicated points share a front. An empty ``F`` gives ``[]``.
    """
    F = np.asarray(F, dtype=float)
    if F.ndim != 2:
        raise ValueError(f"F must be 2-D (N, M), got shape {F.shape}")
    n = F.shape[0]
    if n == 0:
        return []
    D = _dominance_matrix(F)
    n_dominators = D.sum(axis=0)
    fronts: list[np.ndarray] = []
    remaining = np.ones(n, dtype=bool)
    while remaining.any():
        front = np.flatnonzero(remaining & (n_dominators == 0))
        fronts.append(front)
        remaining[front] = False
        n_dominators = n_dominators - D[front].sum(axis=0)
        n_dominators[~remaining] = -1  # never picked again
    return fronts


def pareto_mask(F: np.ndarray) -> np.ndarray:
    """Boolean (N,) mask of the non-dominated rows of ``F`` (N, M)."""
    F = np.asarray(F, dtype=float)
    mask = np.zeros(F.shape[0], dtype=bool)
    if F.shape[0]:
        mask[non_dominated_sort(F)[0]] = True
    return mask


def hypervolume_2d(F: np.ndarray, ref: tuple[float, float] | np.ndarray) -> float:
    """Exact area dominated by the points ``F`` (N, 2) and bounded by ``ref`` (2,), minimisation.

    Points that do not strictly dominate ``ref`` in both coordinates add nothing. O(N log N).
    """
    F = np.asarray(F, dtype=float).reshape(-1, 2)
    r = np.asarray(ref, dtype=float).reshape(2)
    F = F[np.all(F < r, axis=1)]
    if F.shape[0] == 0:
        return 0.0
    order = np.lexsort((F[:, 1], F[:, 0]))  # by f0, then f1
    area = 0.0
    best_f1 = r[1]
    for x, y in F[order]:
        if y < best_f1:  # a new staircase step; points with y >= best_f1 are dominated
            area += (r[0] - x) * (best_f1 - y)
            best_f1 = y
    return float(area)
