"""Per-op NNLS fitting on synthetic tables with a known answer; accuracy metrics."""

from __future__ import annotations

import numpy as np
import pytest

from edgenas.hardware._graph import cost_layers
from edgenas.hardware.fit import (
    feature_matrix,
    fit_op_table,
    fit_scale_intercept,
    fit_with_holdout,
    nnls_fit,
    score,
)
from edgenas.spaces import get_space
from edgenas.spaces._nb201_layers import _live_edges as _nb201_live_edges


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


def test_reads_key_each_multiply_read_node_by_its_readers():
    from edgenas.hardware._graph import keys_node_reads

    space = get_space("nb201")
    # node 0 read by conv3x3 (->1), skip (->2), none (->3); node 1 read by conv1x1 (->2), pool (->3)
    arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|skip_connect~2|")
    plain = cost_layers(space, arch, "cifar10")
    with_reads = cost_layers(space, arch, "cifar10", reads=True)
    added = [la for la in with_reads if la.op.startswith("reads")]
    assert len(with_reads) == len(plain) + len(added)
    assert [la.op for la in added[:2]] == ["reads1c1n", "reads1c1n"]  # node 0: c3 + skip; node 1: c1 + pool
    assert [la.position.rsplit(".", 1)[1] for la in added[:2]] == ["node0", "node1"]
    assert len(added) == 2 * 15 and added[0].in_shape == (16, 32, 32) and added[-1].in_shape == (64, 8, 8)
    # node 1 read only by a dead edge (node 2 -> 3 is none and 1 -> 3 is none): no layer for node 1
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|none~2|")
    ops = [la.op for la in cost_layers(space, arch, "cifar10", reads=True) if la.op.startswith("reads")]
    assert ops[:1] == ["reads1c0n"] and len(ops) == 15  # node 0: only the conv into node 3 is live
    assert keys_node_reads("tensorrt") and keys_node_reads("tflite-edgetpu")
    assert not keys_node_reads("tflite") and not keys_node_reads("onnxruntime")


def test_fit_recovers_a_reads_cost_the_edge_sum_cannot_express():
    NB201_OPS = ("nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect")
    # synthetic device: every edge costs 0.1 ms, and a node read by a single pool/skip costs 0.5 ms extra
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = [space.from_index(int(i)) for i in rng.choice(15625, 300, replace=False)]

    def truth(arch):
        layers = cost_layers(space, arch, "cifar10", reads=True)
        return 1.0 + 0.1 * sum(la.op in NB201_OPS for la in layers) + 0.5 * sum(la.op == "reads0c1n" for la in layers)

    y = np.array([truth(a) for a in archs])
    train, test = archs[:200], archs[200:]
    with_reads = fit_op_table(space, "cifar10", train, y[:200], reads=True)
    plain = fit_op_table(space, "cifar10", train, y[:200])
    assert with_reads.meta["reads"] is True
    err_reads = np.abs(with_reads.predict_many(space, test) / y[200:] - 1)
    err_plain = np.abs(plain.predict_many(space, test) / y[200:] - 1)
    assert err_reads.max() < 1e-6
    assert err_plain.max() > 0.05
