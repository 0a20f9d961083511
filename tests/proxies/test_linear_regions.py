from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from edgenas.proxies._common import relu_kernel
from edgenas.proxies.linear_regions import count_patterns
from edgenas.proxies.naswot import naswot_from_kernel


def _hinge_net() -> torch.nn.Module:
    # three ReLUs with breakpoints at x = 0, 1, 2: four linear regions on the real line
    lin = torch.nn.Linear(1, 3)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.copy_(torch.tensor([0.0, -1.0, -2.0]))
    return torch.nn.Sequential(lin, torch.nn.ReLU())


def test_linear_regions_of_1d_relu_net() -> None:
    x = torch.tensor([[-0.5], [0.5], [0.6], [1.5], [2.5], [3.0]])
    kernel, n_units = relu_kernel(_hinge_net(), x)
    assert n_units == 3
    assert count_patterns(kernel, n_units) == 4  # {-0.5}, {0.5, 0.6}, {1.5}, {2.5, 3.0}


def test_naswot_of_two_opposite_patterns() -> None:
    # patterns 000 and 111 agree on no unit: K = diag(3, 3), log det = log 9
    kernel, _ = relu_kernel(_hinge_net(), torch.tensor([[-0.5], [2.5]]))
    torch.testing.assert_close(kernel, torch.diag(torch.tensor([3.0, 3.0], dtype=torch.float64)))
    assert naswot_from_kernel(kernel) == pytest.approx(math.log(9.0))
