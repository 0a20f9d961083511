"""Per-op NNLS fitting on synthetic tables with a known answer; accuracy metrics."""

from __future__ import annotations

import numpy as np
import pytest

from edgenas.hardware._graph import _nb201_live_edges, cost_layers
from edgenas.hardware.fit import (
    feature_matrix,
    fit_op_table,
    fit_scale_intercept,
    fit_with_holdout,
    nnls_fit,
    score,
)
from edgenas.spaces import get_space


def test_score_known_values():
    r = score([1.0, 2.1, 2.8, 5.0], [1.0, 2.0, 3.0, 4.0])
    assert r.mape == pytest.approx(100 * (0 + 0.05 + 0.2 / 3 + 0.25) / 4)
    assert r.within_10 == pytest.approx(0.75)
    assert r.rmse_ms == pytest.approx(np.sqrt((0 + 0.01 + 0.04 + 1.0) / 4))
    assert r.kendall_tau == pytest.approx(1.0)


def test_nnls_recovers_known_coefficients():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, size=(80, 6)).astype(float)
    true = np.array([0.5, 0.0, 1.25, 2.0, 0.1, 0.7])
    coef = nnls_fit(x, x @ true + 0.3)
    np.testing.assert_allclose(coef, [*true, 0.3], atol=1e-9)
    s, c = fit_scale_intercept(np.array([1.0, 2.0, 4.0]), np.array([2.5, 4.5, 8.5]))
    assert (s, c) == (pytest.approx(2.0), pytest.approx(0.5))


@pytest.mark.parametrize("prune", [True, False])
def test_fitted_op_table_predicts_synthetic_additive_latency(prune):
    """Latency = hidden per-key cost summed over layers + constant -> held-out predictions exact."""
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(400)]
    x, keys = feature_matrix(space, archs, "cifar10", prune=prune)
    cost = rng.uniform(0.01, 0.2, size=len(keys))
    y = x @ cost + 0.4
    table = fit_op_table(space, "cifar10", archs[:300], y[:300], prune=prune)
    pred = table.predict_many(space, archs[300:])
    np.testing.assert_allclose(pred, y[300:], rtol=1e-6)
    _full, report = fit_with_holdout(space, "cifar10", archs, y, holdout=0.25, seed=3, prune=prune)
    assert report.within_10 == 1.0 and report.mape < 1e-4


def test_live_edges_rules():
    # node 3 fed only by 'none' -> constant network, no layers
    assert _nb201_live_edges(("nor_conv_3x3",) * 3 + ("none",) * 3)[0]
    space = get_space("nb201")
    const = space.arch(("nor_conv_3x3",) * 3 + ("none",) * 3)
    assert cost_layers(space, const, "cifar10") == []
    # node 1's op feeds nothing that reaches the output -> dropped; zero-input edge into node 2 kept
    constant, live = _nb201_live_edges(("nor_conv_1x1", "none", "nor_conv_3x3", "avg_pool_3x3", "none", "skip_connect"))
    assert not constant
    assert live == [True, False, True, True, False, True]
    constant, live = _nb201_live_edges(("nor_conv_1x1", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "none", "none"))
    assert live == [False, False, False, True, False, False]


def test_node_ops_key_node_sums_by_what_feeds_them():
    space = get_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|skip_connect~2|")
    plain = [la.op for la in cost_layers(space, arch, "cifar10") if la.op.startswith("sum")]
    named = [la.op for la in cost_layers(space, arch, "cifar10", node_ops=True) if la.op.startswith("sum")]
    assert plain[:2] == ["sum2", "sum2"] and len(plain) == len(named) == 2 * 15
    assert named[:2] == ["sum2[c1+s]", "sum2[p+s]"]  # node 2: skip + conv1x1; node 3: pool + skip (none is dead)
    x, keys = feature_matrix(space, [arch], "cifar10", key="shape", node_ops=True)
    assert any(k.startswith("sum2[c1+s]-") for k in keys) and x.sum() > 0
