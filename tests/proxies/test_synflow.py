from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgenas.proxies.synflow import synflow_score


def test_synflow_of_linear_chain_is_layers_times_path_sum() -> None:
    # R = 1^T |W2| |W1| 1 is degree-1 homogeneous in each layer, so sum |w * dR/dw| = R per layer.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4, bias=False), torch.nn.Linear(4, 2, bias=False))
    w1, w2 = net[0].weight.detach().double().abs(), net[1].weight.detach().double().abs()
    r = float(torch.ones(2, dtype=torch.float64) @ w2 @ w1 @ torch.ones(3, dtype=torch.float64))
    assert synflow_score(net, (3,)) == pytest.approx(2 * r, rel=1e-12)
    assert net[0].weight.min() < 0  # the caller's model is not made absolute


def test_synflow_bypasses_batchnorm() -> None:
    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.Linear(3, 4, bias=False), torch.nn.Linear(4, 2, bias=False))
    with_bn = torch.nn.Sequential(plain[0], torch.nn.BatchNorm1d(4), plain[1])
    assert synflow_score(with_bn, (3,)) == pytest.approx(synflow_score(plain, (3,)), rel=1e-12)
