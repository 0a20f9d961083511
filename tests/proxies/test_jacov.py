from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from edgenas.proxies.jacov import jacov_from_jacobian


def test_uncorrelated_jacobians_give_identity_correlation() -> None:
    jac = torch.tensor([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]])  # zero-mean, orthogonal rows
    v = 1.0 + 1e-5
    assert jacov_from_jacobian(jac) == pytest.approx(-2 * (math.log(v) + 1 / v), rel=1e-9)


def test_correlated_jacobians_score_lower() -> None:
    torch.manual_seed(0)
    base = torch.randn(1, 50)
    noisy = base + 0.1 * torch.randn(8, 50)
    assert jacov_from_jacobian(noisy) < jacov_from_jacobian(torch.randn(8, 50))
