from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgenas.proxies.fisher import fisher_score


def test_fisher_of_linear_layer_weights_channels_by_fan_in() -> None:
    # One Linear layer a = W x + b: channel c gets 0.5 * mean_b (a_c * dL/da_c)^2, and the
    # zero-cost harness counts it once per weight of that channel (in_features times).
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 3)
    x, y = torch.randn(4, 5), torch.tensor([0, 2, 1, 0])
    a = lin(x)
    grad = torch.autograd.grad(torch.nn.functional.cross_entropy(a, y), a)[0]
    expected = 5 * (0.5 * (a.detach() * grad).pow(2).mean(0)).sum()
    assert fisher_score(lin, x, y) == pytest.approx(float(expected), rel=1e-5)


def test_fisher_sums_spatial_positions_before_squaring() -> None:
    torch.manual_seed(1)
    conv = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(3 * 16, 4))
    x, y = torch.randn(5, 2, 4, 4), torch.tensor([0, 1, 2, 3, 0])
    a1 = conv[0](x)
    a2 = conv[2](conv[1](a1))
    g1, g2 = torch.autograd.grad(torch.nn.functional.cross_entropy(a2, y), (a1, a2))
    s1 = (a1.detach() * g1).sum(dim=(2, 3))
    expected = 2 * 9 * 0.5 * s1.pow(2).mean(0).sum() + 48 * 0.5 * (a2.detach() * g2).pow(2).mean(0).sum()
    assert fisher_score(conv, x, y) == pytest.approx(float(expected), rel=1e-5)
