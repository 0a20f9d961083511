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


def test_jacov_from_shared_forward_equals_own_forward() -> None:
    """jacov reuses the AZ proxies' forward; the value must equal a forward of its own."""
    from edgenas._rng import derive_seed
    from edgenas.proxies.engine import _model_factory, make_inputs, score_archs
    from edgenas.spaces import get_space

    space = get_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone, shared = (
            score_archs(space, [arch], "cifar10", proxies, seed=3, batch_size=4)[0].scores
            for proxies in (["jacov"], ["az_expressivity", "az_trainability", "jacov", "naswot"])
        )
        model = _model_factory(space, arch, "cifar10", derive_seed(3, space.iso_key(arch)), "cpu")()
        x, _ = make_inputs(space.dataset("cifar10"), seed=3, batch_size=4)
        x = x.clone().requires_grad_(True)
        (jac,) = torch.autograd.grad(model(x).sum(), x)
    finally:
        torch.set_num_threads(n_threads)
    assert alone["jacov"] == shared["jacov"] == jacov_from_jacobian(jac.flatten(1))
