from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from edgenas.proxies._vkdnw import (
    VKDNW_MAX,
    decile_entropy,
    fisher_spectrum,
    multinomial_cholesky,
    per_sample_jacobians,
)
from edgenas.proxies.vkdnw_single import vkdnw_single_value


def test_flat_spectrum_scores_log9() -> None:
    assert decile_entropy(torch.full((50,), 3.0)) == pytest.approx(math.log(9.0), abs=1e-8)
    assert VKDNW_MAX == pytest.approx(math.log(9.0))


def test_peaked_spectrum_scores_low() -> None:
    lam = torch.cat([torch.zeros(95), torch.ones(5)])  # deciles 1..9 all zero
    assert decile_entropy(lam) == pytest.approx(0.0, abs=1e-8)
    geometric = torch.logspace(-6, 0, 100)
    assert 0.0 < decile_entropy(geometric) < math.log(9.0) - 0.5


def test_multinomial_cholesky_factor() -> None:
    torch.manual_seed(0)
    p = torch.softmax(torch.randn(4, 6, dtype=torch.float64), dim=-1)
    chol = multinomial_cholesky(p)
    sigma = torch.diag_embed(p) - p[..., :, None] * p[..., None, :]
    torch.testing.assert_close(chol @ chol.transpose(-1, -2), sigma, rtol=0, atol=1e-12)
    assert torch.all(torch.triu(chol, diagonal=1) == 0)


def test_per_sample_jacobians_match_autograd_and_textbook_differs() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 5))
    x = torch.randn(6, 3)
    logits, jac = per_sample_jacobians(net, x, n_tensors=3)
    assert jac.shape == (6, 5, 3)
    # column 0: d z / d W1[0, 0] for sample 2, by plain autograd
    z = net(x[2:3])[0]
    for c in range(5):
        (g,) = torch.autograd.grad(z[c], net[0].weight, retain_graph=True)
        assert float(jac[2, c, 0]) == pytest.approx(float(g[0, 0]), abs=1e-6)
    torch.testing.assert_close(logits, net(x).detach())
    ref = fisher_spectrum(logits, jac)
    textbook = fisher_spectrum(logits, jac, textbook=True)
    assert ref.shape == (3,) and not torch.allclose(ref, textbook)


def test_vkdnw_single_is_lexicographic() -> None:
    assert vkdnw_single_value(10, VKDNW_MAX) < vkdnw_single_value(11, 0.0)
    assert vkdnw_single_value(10, 0.1) < vkdnw_single_value(10, 0.2)
    assert vkdnw_single_value(10, VKDNW_MAX) < 11
