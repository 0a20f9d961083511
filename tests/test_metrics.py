"""Ranking metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgenas.metrics import accuracy_gain, kendall_tau, ndcg_at_k, spearman_rho


def test_kendall_tau_hand_values():
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    # 6 pairs, one discordant (2 vs 3): (5 - 1) / 6
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6, abs=1e-12)


def test_spearman_hand_value():
    # d^2 = 0 + 1 + 1 + 0 = 2 -> 1 - 6 * 2 / (4 * 15)
    assert spearman_rho([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8, abs=1e-12)


def test_ndcg_hand_values():
    scores, gains = [3.0, 2.0, 1.0], [1.0, 0.0, 2.0]
    dcg = 1.0 / math.log2(2) + 0.0 + 2.0 / math.log2(4)
    idcg = 2.0 + 1.0 / math.log2(3)
    assert ndcg_at_k(scores, gains, k=3) == pytest.approx(dcg / idcg, abs=1e-12)
    assert ndcg_at_k(scores, gains, k=1) == pytest.approx(0.5, abs=1e-12)
    assert ndcg_at_k(scores, gains, k=100) == pytest.approx(dcg / idcg, abs=1e-12)  # k clipped to N
    assert ndcg_at_k(scores, [0.0, 0.0, 0.0]) == 0.0


def test_ndcg_ties_are_averaged():
    # the two tied top items share mean gain 0.5 over positions 1 and 2
    assert ndcg_at_k([1.0, 1.0, 0.0], [1.0, 0.0, 0.0], k=3) == pytest.approx(0.5 * (1 + 1 / math.log2(3)), abs=1e-12)
    assert ndcg_at_k([1.0, 1.0, 0.0], [1.0, 0.0, 0.0], k=1) == pytest.approx(0.5, abs=1e-12)
    # same gains, order of tied items irrelevant
    assert ndcg_at_k([1.0, 1.0, 0.0], [0.0, 1.0, 0.0], k=3) == ndcg_at_k([1.0, 1.0, 0.0], [1.0, 0.0, 0.0], k=3)


def test_accuracy_gain_and_big_accuracies():
    assert np.allclose(accuracy_gain([0.0, 1.0, 3.0]), [0.0, 1.0, 7.0])
    acc = np.array([94.37, 93.0, 10.0, 91.5])
    assert ndcg_at_k(acc, accuracy_gain(acc), k=2) == pytest.approx(1.0)
    assert ndcg_at_k(-acc, accuracy_gain(acc), k=1) < 1e-20


def test_bad_input_raises():
    with pytest.raises(ValueError, match="same length"):
        kendall_tau([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 2"):
        spearman_rho([1], [1])
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k([1, 2], [1, 2], k=0)
