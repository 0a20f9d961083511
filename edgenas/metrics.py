"""Ranking metrics for proxy evaluation: Kendall tau, Spearman rho, nDCG@k.

Pure numpy/scipy. ``ndcg_at_k`` follows the VKDNW paper's protocol (gain ``2**acc - 1`` with
accuracy in percent, proxy ties averaged) and matches ``sklearn.metrics.ndcg_score`` semantics
for a single query without depending on scikit-learn.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["accuracy_gain", "kendall_tau", "ndcg_at_k", "spearman_rho"]


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"score and truth must have the same length, got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError(f"need at least 2 items to correlate, got {x.size}")
    return x, y


def kendall_tau(scores: ArrayLike, truth: ArrayLike) -> float:
    """Kendall tau-b between proxy scores and ground truth (ties handled as in scipy).

    Args:
        scores: (N,) proxy scores, higher = better.
        truth: (N,) ground-truth values (e.g. test accuracy in %).

    Returns:
        tau in [-1, 1]; NaN if either input is constant.
    """
    from scipy.stats import kendalltau

    x, y = _pair(scores, truth)
    return float(kendalltau(x, y).statistic)


def spearman_rho(scores: ArrayLike, truth: ArrayLike) -> float:
    """Spearman rank correlation (average ranks for ties); NaN if either input is constant."""
    from scipy.stats import spearmanr

    x, y = _pair(scores, truth)
    return float(spearmanr(x, y).statistic)


def accuracy_gain(accuracy_percent: ArrayLike) -> np.ndarray:
    """The VKDNW nDCG gain ``2**acc - 1`` for accuracies in percent (float64; 2**100 is finite)."""
    return np.exp2(np.asarray(accuracy_percent, dtype=np.float64)) - 1.0


def ndcg_at_k(scores: ArrayLike, gains: ArrayLike, k: int = 1000) -> float:
    """Normalised discounted cumulative gain of the top ``k`` items ranked by ``scores``.

    DCG@k = sum_{i<=k} gain_(i) / log2(i + 1) with items sorted by descending score. Items with
    tied scores share the average gain of their tie group over the discount positions the group
    occupies (sklearn's ``ignore_ties=False``). The ideal DCG sorts by gain. Pass
    ``accuracy_gain(acc)`` as ``gains`` for the VKDNW protocol.

    Args:
        scores: (N,) proxy scores, higher = better.
        gains: (N,) non-negative relevance gains.
        k: cut-off (clipped to N).

    Returns:
        nDCG in [0, 1]; 0.0 when every gain is zero.
    """
    s, g = _pair(scores, gains)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    n = s.size
    discount = 1.0 / np.log2(np.arange(n, dtype=np.float64) + 2.0)
    discount[min(k, n):] = 0.0
    ideal = float(np.sort(g)[::-1] @ discount)
    if ideal == 0.0:
        return 0.0
    # tie groups in descending score order; each group spreads its mean gain over its positions
    _, inverse, counts = np.unique(-s, return_inverse=True, return_counts=True)
    mean_gain = np.zeros(counts.size)
    np.add.at(mean_gain, inverse.ravel(), g)
    mean_gain /= counts
    cum = np.concatenate([[0.0], np.cumsum(discount)])
    ends = np.cumsum(counts)
    group_discount = cum[ends] - cum[ends - counts]
    return float(mean_gain @ group_discount / ideal)
