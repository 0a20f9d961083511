"""Kernel detection (onnxruntime's optimized graph) and the kernel model of op tables."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from onnx import helper

from edgenas.errors import LatencyTableError
from edgenas.hardware import kernels as kernels_mod
from edgenas.hardware.kernels import (
    arch_kernels,
    export_onnx_bytes,
    kernel_counts,
    kernel_key,
    space_kernel_counts,
)
from edgenas.hardware.tables import OpLatencyTable, arch_rank, load_op_table, save_op_table
from edgenas.spaces import get_space
from edgenas.timing.cpu_ops import add_space_predictions

ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
MIXED = "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|none~2|"


def test_kernel_key_names_fused_convs():
    conv = helper.make_node("Conv", ["x", "w", "b", "s"], ["y"], domain="com.microsoft.nchwc", kernel_shape=[3, 3],
                            strides=[2, 2], group=1, activation="Relu")
    assert kernel_key(conv) == "Conv-k3x3-s2-g1+Relu+sum"
    plain = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[1, 1], group=4)
    assert kernel_key(plain) == "Conv-k1x1-s1-g4"
    assert kernel_key(helper.make_node("ReorderInput", ["x"], ["y"], domain="com.microsoft.nchwc")) == "ReorderInput"


def test_conv_relu_is_one_kernel():
    from torch import nn

    model = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
    counts = kernel_counts(export_onnx_bytes(model, (1, 16, 8, 8)))
    convs = {k: n for k, n in counts.items() if "Conv" in k}
    assert sum(convs.values()) == 1  # BatchNorm folded into the conv
    assert "Relu" not in counts and "BatchNormalization" not in counts  # ReLU fused too


def test_nb201_kernels_depend_on_wiring():
    space = get_space("nb201")
    dense = arch_kernels(space, space.parse(ALL_CONV), "cifar10")
    mixed = arch_kernels(space, space.parse(MIXED), "cifar10")
    n_conv = sum(n for k, n in dense.items() if k.startswith("Conv-k3x3-s1"))
    assert n_conv == 6 * 15 + 1 + 2  # 6 edges x 15 cells, the stem, the stride-1 conv of the 2 resblocks
    assert "Mul" not in dense and "ReorderInput" not in dense  # all-NCHWc: no layout changes inside
    assert mixed["Mul"] == 2 * 15  # the two `none` edges of every cell stay Mul nodes
    assert mixed["ReorderInput"] > 0 and mixed["ReorderOutput"] > 0


def _table(entries: dict[str, float], kernels: dict | None) -> OpLatencyTable:
    meta = {"space": "nb201", "dataset": "cifar10", "prune": False, "source": "test", "license": "CC0"}
    return OpLatencyTable(meta, entries, "shape", 0.5, 1.0, kernels)


def _op_entries(space, archs) -> dict[str, float]:
    return {la.key(): 0.01 for a in archs for la in space.layers(a, "cifar10")}


def test_kernel_model_predicts_and_round_trips(tmp_path):
    space = get_space("nb201")
    archs = [space.parse(ALL_CONV), space.parse(MIXED)]
    counts = [arch_kernels(space, a, "cifar10") for a in archs]
    types = sorted(set(counts[0]) | set(counts[1]))
    entries = {t: 0.001 * (i + 1) for i, t in enumerate(types)}
    kernels = {"entries": entries, "intercept_ms": 0.25, "threads": 1}
    table = _table(_op_entries(space, archs), kernels)
    want = [sum(entries[t] * n for t, n in c.items()) + 0.25 for c in counts]
    np.testing.assert_allclose(table.predict_many(space, archs), want)
    save_op_table(table, tmp_path / "t.json")
    back = load_op_table(tmp_path / "t.json", space="nb201", dataset="cifar10")
    assert back.kernels["entries"] == entries
    np.testing.assert_allclose(back.predict_many(space, archs), want)
    # without the kernel model the same table sums its op entries
    np.testing.assert_allclose(back.predict_ops(space, archs), table.predict_ops(space, archs))
    assert not np.allclose(back.predict_ops(space, archs), want)


def test_unknown_kernel_type_falls_back_to_op_entries(caplog):
    space = get_space("nb201")
    a = space.parse(MIXED)
    table = _table(_op_entries(space, [a]), {"entries": {"Conv-k3x3-s1-g1": 1.0}, "intercept_ms": 0.0})
    with caplog.at_level(logging.WARNING):
        got = table.predict_many(space, [a])
    assert got[0] == pytest.approx(table.predict_ops(space, [a])[0])
    assert "no entry for" in caplog.text


@pytest.mark.parametrize(("kernels", "needle"), [
    ({"entries": {}}, "non-empty 'entries'"),
    ({"entries": {"Add": -1.0}}, r"kernels.entries\['Add'\] is -1.0"),
    ({"entries": {"Add": 1.0}, "intercept_ms": "x"}, "kernels.intercept_ms"),
    ({"entries": {"Add": 1.0}, "space_ms": {"space": "nb201", "n": 2, "ms": [1.0, float("nan")]}}, "space_ms"),
    ({"entries": {"Add": 1.0}, "space_ms": {"space": "nb201", "n": 3, "ms": [1.0, 2.0]}}, "space_ms"),
])
def test_bad_kernel_section_is_rejected(tmp_path, kernels, needle):
    space = get_space("nb201")
    table = _table(_op_entries(space, [space.parse(ALL_CONV)]), None)
    obj = table.to_json() | {"kernels": kernels}
    (tmp_path / "t.json").write_text(json.dumps(obj))  # NaN is written as a bare NaN, which json reads
    with pytest.raises(LatencyTableError, match=needle):
        load_op_table(tmp_path / "t.json")


def test_space_kernel_counts_match_single_arch_detection():
    space = get_space("nb201")
    idx = [0, 7, 4242]
    seq = space_kernel_counts(space, "cifar10", idx)
    assert seq == [arch_kernels(space, space.from_index(i), "cifar10") for i in idx]
    # spawned worker processes, one arch per chunk: same counts, still in index order
    assert space_kernel_counts(space, "cifar10", idx, workers=2, chunk=1) == seq


def _synthetic_counts(n: int) -> list[dict[str, int]]:
    return [{"Add": i % 5, "Conv-k3x3-s1-g1": 1 + i % 3} for i in range(n)]


def test_stored_space_predictions_replace_kernel_detection(tmp_path, monkeypatch):
    space = get_space("nb201")
    probe = [space.from_index(i) for i in (0, 7, 4242, 15624)]
    table = _table(_op_entries(space, probe), {"entries": {"Add": 0.01, "Conv-k3x3-s1-g1": 0.1}, "intercept_ms": 0.2})
    stored = table.with_space_ms(space, _synthetic_counts(space.size), cpu_model="test host")
    want = [0.01 * (i % 5) + 0.1 * (1 + i % 3) + 0.2 for i in (0, 7, 4242, 15624)]

    def no_detection(*args, **kwargs):
        raise AssertionError("kernel detection ran although the table stores every prediction")

    monkeypatch.setattr(kernels_mod, "arch_kernels", no_detection)
    np.testing.assert_allclose(stored.predict_many(space, probe), want, rtol=1e-6)
    save_op_table(stored, tmp_path / "t.json")
    back = load_op_table(tmp_path / "t.json", space="nb201", dataset="cifar10")
    assert back.kernels["space_ms"]["n"] == space.size and back.kernels["space_ms"]["cpu_model"] == "test host"
    np.testing.assert_allclose(back.predict_many(space, probe), want, rtol=1e-6)
    with pytest.raises(AssertionError, match="kernel detection ran"):
        table.predict_many(space, probe[:1])  # the table without stored predictions detects kernels


def test_stored_space_predictions_of_the_wrong_length_are_an_error():
    space = get_space("nb201")
    a = space.from_index(3)
    pre = {"space": "nb201", "n": 10, "order": "space index", "ms": [1.0] * 10}
    table = _table(_op_entries(space, [a]), {"entries": {"Add": 0.01}, "intercept_ms": 0.2, "space_ms": pre})
    with pytest.raises(LatencyTableError, match=r"10 values, expected one per nb201 arch \(15625\)"):
        table.predict_many(space, [a])


def test_add_space_predictions_refuses_another_hosts_kernel_counts():
    space = get_space("nb201")
    a = space.from_index(5)
    table = _table(_op_entries(space, [a]), {"entries": {"Add": 0.01}, "intercept_ms": 0.2})
    table.meta["end_to_end"] = [{"index": 5, "arch": str(a), "kernels": {"Add": 1}}]  # not what onnxruntime makes
    with pytest.raises(LatencyTableError, match="other kernels than the profiled host recorded"):
        add_space_predictions(table, space, workers=1)
    with pytest.raises(LatencyTableError, match="no kernel model"):
        add_space_predictions(_table(_op_entries(space, [a]), None), space, workers=1)


def _macro_table(recorded: dict[str, dict[str, int]]) -> OpLatencyTable:
    meta = {"space": "macro", "dataset": "cifar10", "prune": False, "source": "test", "license": "CC0",
            "end_to_end": [{"arch": a, "index": None, "kernels": k} for a, k in recorded.items()]}
    return OpLatencyTable(meta, {"x": 1.0}, "shape", 0.5, 1.0, {"entries": {"K": 0.01, "L": 0.1}, "intercept_ms": 0.5})


def test_macro_space_predictions_count_each_network_once_and_price_by_lookup(tmp_path, monkeypatch):
    """A space with arch strings only (macro): one kernel count per isomorphism class, stored in token-rank order."""
    from collections import Counter

    from edgenas.hardware.tables import arch_at_rank
    from edgenas.timing import cpu_ops as profile_mod

    space = get_space("macro")
    calls = []

    def fake_counts(sp, dataset, indices=None, **kwargs):  # kernels that follow the network, as onnxruntime's do
        idx = list(range(sp.size)) if indices is None else list(indices)
        calls.append(len(idx))
        return [Counter(K=len(sp.iso_key(arch_at_rank(sp, i))) % 97, L=1) for i in idx]

    def want(a):
        return 0.01 * (len(space.iso_key(a)) % 97) + 0.1 + 0.5

    monkeypatch.setattr(profile_mod, "space_kernel_counts", fake_counts)
    probe = [space.parse(t) for t in ("00000000", "21100000", "02121122", "22222222")]
    table = _macro_table({"21100000": {"K": len(space.iso_key(probe[1])) % 97, "L": 1}})
    stored = add_space_predictions(table, space, workers=1)
    pre = stored.kernels["space_ms"]
    assert pre["order"] == "choices" and pre["n"] == space.size == 6561
    assert calls == [1, 3969 + profile_mod.ISO_CHECKS]  # the recorded arch, then one arch per network + checks
    assert "3,969 classes for 6,561 archs" in pre["counted"]

    def no_detection(*args, **kwargs):
        raise AssertionError("kernel detection ran although the table stores every prediction")

    monkeypatch.setattr(kernels_mod, "arch_kernels", no_detection)
    np.testing.assert_allclose(stored.predict_many(space, probe), [want(a) for a in probe], rtol=1e-6)
    save_op_table(stored, tmp_path / "t.json")
    back = load_op_table(tmp_path / "t.json", space="macro", dataset="cifar10")
    np.testing.assert_allclose(back.predict_many(space, probe), [want(a) for a in probe], rtol=1e-6)


def test_macro_space_predictions_count_every_arch_when_a_class_disagrees(monkeypatch, caplog):
    from collections import Counter

    from edgenas.hardware.tables import arch_at_rank
    from edgenas.timing import cpu_ops as profile_mod

    space = get_space("macro")
    calls = []

    def by_string(sp, dataset, indices=None, **kwargs):  # differs between members of a class
        idx = list(range(sp.size)) if indices is None else list(indices)
        calls.append(len(idx))
        return [Counter(K=int(sp.format(arch_at_rank(sp, i)), 3) % 7) for i in idx]

    monkeypatch.setattr(profile_mod, "space_kernel_counts", by_string)
    with caplog.at_level(logging.WARNING):
        stored = add_space_predictions(_macro_table({}), space, workers=1)
    assert calls[-1] == space.size and stored.kernels["space_ms"]["counted"] == "every arch"
    assert "different kernels" in caplog.text
    a = space.parse("01201201")
    assert stored.predict_many(space, [a])[0] == pytest.approx(0.01 * (int("01201201", 3) % 7) + 0.5)


def test_isomorphic_macro_archs_run_the_same_kernels():
    # why one count per class is enough: identity skips vanish from the exported graph
    space = get_space("macro")
    a, b = space.parse("02101122"), space.parse("02110122")
    assert space.iso_key(a) == space.iso_key(b) and space.format(a) != space.format(b)
    assert space_kernel_counts(space, "cifar10", [arch_rank(space, a), arch_rank(space, b)]) == [
        arch_kernels(space, a, "cifar10")] * 2


def test_runner_protobuf_reader_reads_what_onnx_reads(tmp_path):
    """The device runner's own ONNX reader (no onnx package on a device) against onnx's parser."""
    import onnx
    import onnxruntime as ort

    from edgenas import device_runner

    space = get_space("nb201")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(space.onnx_bytes(space.parse(MIXED), "cifar10"), so, providers=["CPUExecutionProvider"])
    raw = (tmp_path / "opt.onnx").read_bytes()
    nodes, shapes = device_runner.onnx_graph(raw)
    graph = onnx.load_from_string(raw).graph
    assert [n["op_type"] for n in nodes] == [n.op_type for n in graph.node]
    assert [n["inputs"] for n in nodes] == [list(n.input) for n in graph.node]
    for mine, ref in zip(nodes, graph.node):
        for a in ref.attribute:
            if a.type in (onnx.AttributeProto.INT, onnx.AttributeProto.INTS, onnx.AttributeProto.STRING):
                assert mine["attrs"][a.name] == onnx.helper.get_attribute_value(a), (ref.op_type, a.name)
    assert shapes == {t.name: tuple(t.dims) for t in graph.initializer}
    assert any(k.startswith("Conv-") and "+sum" in k for k in kernel_counts(raw))


def test_runner_reader_refuses_truncated_protobuf():
    from edgenas import device_runner

    with pytest.raises(device_runner.RunnerError, match="malformed ONNX"):
        device_runner.onnx_graph(b"\x3a\x05\x0a")  # graph field claims 5 bytes, 1 follows


def test_fit_kernel_costs_recovers_known_costs():
    from edgenas.hardware.fit import fit_kernel_costs

    rows = [{"A": 1, "B": 2}, {"A": 3}, {"B": 1, "C": 2}, {"A": 2, "C": 1}, {"B": 4}]
    cost = {"A": 0.5, "B": 0.25, "C": 1.0}
    y = np.array([0.1 + sum(cost[t] * n for t, n in r.items()) for r in rows])
    costs, constant = fit_kernel_costs(rows, y)
    assert costs == pytest.approx(cost, rel=1e-6) and constant == pytest.approx(0.1, rel=1e-6)
    assert "D" not in fit_kernel_costs(rows[:2], y[:2])[0] and set(fit_kernel_costs(rows[:2], y[:2])[0]) == {"A", "B"}
