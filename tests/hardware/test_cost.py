"""Cost models: exact lookup against upstream values, missing entries, fitted LUT and FLOPs sources."""

from __future__ import annotations

import numpy as np
import pytest

from edgenas.errors import ConfigError, LatencyTableError, MissingLatencyError
from edgenas.hardware.cost import LatencyPrediction, get_cost_model
from edgenas.spaces import get_space

from ._hw_helpers import fixture_rows


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def test_lookup_returns_measured_hwnasbench_values(space):
    rows = fixture_rows()
    archs = [space.parse(r["arch_str"]) for r in rows]
    assert [space.index(a) for a in archs] == [int(r["index"]) for r in rows]
    for target, col in (("jetson", "edgegpu_latency"), ("raspi4", "raspi4_latency"), ("pixel3", "pixel3_latency")):
        model = get_cost_model(target, "nb201", "cifar10")
        assert model.source == "lookup"
        got = model.predict_many(archs)
        np.testing.assert_allclose(got, [float(r[col]) for r in rows], rtol=1e-6)
    p = get_cost_model("jetson", "nb201", "cifar10").predict(archs[0])
    assert p == LatencyPrediction(pytest.approx(float(rows[0]["edgegpu_latency"]), rel=1e-6), "lookup")


def test_missing_edgetpu_entry_raises_never_zero(space):
    rows = fixture_rows()
    failed = [space.parse(r["arch_str"]) for r in rows if float(r["edgetpu_latency"]) < 0]
    ok = [space.parse(r["arch_str"]) for r in rows if float(r["edgetpu_latency"]) >= 0]
    assert failed
    model = get_cost_model("edgetpu", "nb201", "cifar10")
    with pytest.raises(MissingLatencyError, match="edgetpu"):
        model.predict(failed[0])
    out = model.predict_many([ok[0], failed[0]], missing="nan")
    assert np.isfinite(out[0]) and np.isnan(out[1])


def test_fitted_lut_and_flops_sources(space):
    archs = [space.from_index(i) for i in range(0, 15625, 97)]
    measured = get_cost_model("jetson", "nb201", "cifar10", source="lookup").predict_many(archs)
    lut = get_cost_model("jetson", "nb201", "cifar10", source="lut", lut_fit_archs=400, seed=1)
    assert lut.source == "lut" and lut.op_table.prune  # TensorRT: dead layers removed
    assert lut.op_table.meta["reads"] is True  # and nodes keyed by what reads them
    rel = np.abs(lut.predict_many(archs) - measured) / measured
    assert np.median(rel) < 0.05 and np.mean(rel <= 0.10) > 0.9  # bench_latency, k = 200: 97 % within 10 %
    tflite = get_cost_model("raspi4", "nb201", "cifar10", source="lut", lut_fit_archs=400, seed=1)
    assert tflite.op_table.prune and tflite.op_table.meta["reads"] is False  # worse there (bench_latency)
    flops = get_cost_model("jetson", "nb201", "cifar10", source="flops", lut_fit_archs=400)
    assert flops.predict(archs[0]).source == "flops" and flops.predict(archs[0]).latency_ms > 0


def test_errors(space):
    with pytest.raises(ConfigError, match="unknown latency source 'magic'"):
        get_cost_model("jetson", "nb201", "cifar10", source="magic")
    with pytest.raises(LatencyTableError, match="no latency table"):
        get_cost_model("jetson-orin-nano", "nb201", "cifar10")
    with pytest.raises(LatencyTableError, match="no latency table for nb201/cifar100"):
        get_cost_model("gtx1080ti-b1", "nb201", "cifar100")


def test_shipped_cpu_table_prices_every_nb201_arch_by_lookup(space, monkeypatch):
    from edgenas.hardware import kernels

    def no_detection(*args, **kwargs):
        raise AssertionError("kernel detection ran although the table stores every prediction")

    monkeypatch.setattr(kernels, "arch_kernels", no_detection)
    model = get_cost_model("cpu", "nb201", "cifar10")
    op = model.op_table
    pre = op.kernels["space_ms"]
    assert pre["space"] == "nb201" and pre["n"] == len(pre["ms"]) == space.size
    assert "stored for every nb201 arch" in model.description
    # host-independent: the stored prediction of each end-to-end arch is the kernel model applied to
    # the kernel counts the profiled host recorded for it
    rows = op.meta["end_to_end"]
    archs = [space.parse(r["arch"]) for r in rows]
    want = [op.kernel_ms(space, a, r["kernels"]) for a, r in zip(archs, rows)]
    np.testing.assert_allclose(model.predict_many(archs), want, rtol=1e-5)
    assert len(rows) >= 200
