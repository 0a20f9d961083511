from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from edgenas.proxies._az import block_trainability, spectrum_entropy


def test_isotropic_features_have_entropy_log_c() -> None:
    c = 6
    feat = torch.cat([torch.eye(c), -torch.eye(c)])  # zero mean, covariance proportional to I
    assert spectrum_entropy(feat) == pytest.approx(math.log(c), abs=1e-6)
    rank_one = torch.randn(40, 1) * torch.ones(1, c)
    assert spectrum_entropy(rank_one) == pytest.approx(0.0, abs=1e-5)


def test_identity_block_is_minus_inf_and_scaled_identity_is_finite() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    assert block_trainability(x, x, gen) == -math.inf
    y = 1.0 * x + 0.0
    assert block_trainability(x, y * 1.0001, gen) <= 0.0  # graph present; bounded above by 0
    # an orthogonal channel mixing keeps sigma ~ 1 (the optimum t = 0 up to Rademacher noise)
    q, _ = torch.linalg.qr(torch.randn(3, 3))
    z = torch.einsum("oc,bchw->bohw", q, x)
    assert -0.5 < block_trainability(x, z, gen) <= 0.0
