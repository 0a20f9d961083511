from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from edgenas.errors import ProxyError
from edgenas.proxies._common import relu_kernel
from edgenas.proxies.linear_regions import count_loop_crossings, loop_points
from edgenas.proxies.naswot import naswot_from_kernel


def _hinge_net(act: type = torch.nn.ReLU) -> torch.nn.Module:
    # three units with kinks at x = 0, 1, 2 (ReLU6: also at 6, 7, 8)
    lin = torch.nn.Linear(1, 3)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.copy_(torch.tensor([0.0, -1.0, -2.0]))
    return torch.nn.Sequential(lin, act())


def test_loop_points_lie_on_the_ellipse_through_both_inputs() -> None:
    x0, x1 = torch.randn(3, 4, 4), torch.randn(3, 4, 4)
    pts = loop_points(x0, x1, 8)
    assert pts.shape == (8, 3, 4, 4)
    torch.testing.assert_close(pts[0], x0)
    torch.testing.assert_close(pts[2], x1, atol=1e-6, rtol=0)
    torch.testing.assert_close(pts[4], -x0, atol=1e-6, rtol=0)
    torch.testing.assert_close(pts.sum(0), torch.zeros(3, 4, 4), atol=1e-5, rtol=0)  # a centred batch


def test_a_loop_through_three_kinks_crosses_each_twice() -> None:
    # x(t) = 3 cos t sweeps 3 -> -3 -> 3: every kink (0, 1, 2) is crossed on the way down and up
    crossings, n_units = count_loop_crossings(_hinge_net(), loop_points(torch.tensor([3.0]), torch.tensor([0.0]), 64))
    assert (crossings, n_units) == (6, 3)


def test_the_count_has_no_ceiling_at_the_number_of_points() -> None:
    # two points (3 and -3): six crossings between them, counted there and back; TE-NAS's distinct-pattern
    # count of the same two points is 2
    crossings, _ = count_loop_crossings(_hinge_net(), torch.tensor([[3.0], [-3.0]]))
    assert crossings == 6


def test_relu6_has_a_second_kink_per_unit() -> None:
    # 9 cos t spans -9..9: ReLU6 units cross 0 (unit 0), 1 (unit 1), 2 (unit 2) and 6, 7, 8 (their upper kinks)
    crossings, _ = count_loop_crossings(_hinge_net(torch.nn.ReLU6),
                                        loop_points(torch.tensor([9.0]), torch.tensor([0.0]), 256))
    assert crossings == 12


def test_a_model_without_relu_is_refused() -> None:
    with pytest.raises(ProxyError, match="^model has no ReLU modules$"):
        count_loop_crossings(torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.Tanh()), torch.zeros(4, 1))


def test_nb201_counts_exceed_the_batch_and_tell_archs_apart() -> None:
    # the distinct-pattern count was the batch size (4) for every arch of every shipped space
    from edgenas.proxies.engine import score_archs
    from edgenas.spaces import get_space

    archs = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
             "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|skip_connect~1|none~2|"]
    deep, shallow = (r.scores["linear_regions"] for r in
                     score_archs(get_space("nb201"), archs, "cifar10", ["linear_regions"], batch_size=4))
    assert deep > shallow > 4


def test_naswot_of_two_opposite_patterns() -> None:
    # patterns 000 and 111 agree on no unit: K = diag(3, 3), log det = log 9
    kernel, _ = relu_kernel(_hinge_net(), torch.tensor([[-0.5], [2.5]]))
    torch.testing.assert_close(kernel, torch.diag(torch.tensor([3.0, 3.0], dtype=torch.float64)))
    assert naswot_from_kernel(kernel) == pytest.approx(math.log(9.0))
