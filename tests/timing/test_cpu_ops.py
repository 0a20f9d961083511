"""The onnxruntime profiler on a few ops with few runs (real measurements, tiny)."""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime")

from edgenas.errors import ConfigError
from edgenas.spaces import get_space
from edgenas.timing.cpu_ops import cpu_model, profile_ops, profile_space, time_models


def test_profile_three_ops():
    space = get_space("nb201")
    layers = [la for la in space.layers(space.parse("|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+"
                                                    "|none~0|none~1|none~2|"), "cifar10")
              if la.position.startswith("stage0.cell0.")][:3]
    seen = []
    timings, overhead = profile_ops(space, "cifar10", layers=layers, runs=5, warmup=1, threads=1,
                                    progress=lambda stage, done, total, label: seen.append((stage, done, total)))
    assert set(timings) == {la.key() for la in layers}
    conv = timings[layers[0].key()]
    assert conv.runs == 5 and 0 < conv.median_ms <= conv.p90_ms and conv.median_ms < 1000
    assert timings[layers[1].key()].runs == 0  # skip_connect: nothing to run
    assert overhead.median_ms > 0
    assert seen[-1] == ("timing", 3, 3)  # overhead graph + conv + pool (skip_connect is no node), one round
    assert isinstance(cpu_model(), str) and cpu_model()


def test_chain_timing_and_fbnet_blocks(tmp_path):
    """Chained NB201 conv is a differential timing; FBNet blocks come from the space's layer_module."""
    nb = get_space("nb201")
    conv = next(la for la in nb.layers(nb.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
                                       "cifar10") if la.op == "nor_conv_3x3")
    t, _ = profile_ops(nb, "cifar10", layers=[conv], runs=4, warmup=1, chain=1, rounds=2)
    assert t[conv.key()].context == "chain" and t[conv.key()].runs == 4
    fb = get_space("fbnet")
    layers = fb.layers(fb.parse("-".join(["k3_e1"] + ["skip"] * 21)), "cifar100")
    picked = [layers[1], layers[3]]  # k3_e1 block at 32x32; skip at layer 3 (24 -> 24, stride 1) = identity
    t, _ = profile_ops(fb, "cifar100", layers=picked, runs=3, warmup=1)
    assert t[picked[0].key()].runs == 3 and t[picked[0].key()].median_ms > 0
    assert t[picked[1].key()].runs == 0  # identity skip: no node, costs 0


def test_time_models_reference_normalisation(tmp_path):
    import torch

    from edgenas.timing.cpu_ops import _export

    paths = []
    for i, c in enumerate((4, 32)):
        p = tmp_path / f"m{i}.onnx"
        _export(torch.nn.Conv2d(c, c, 3, padding=1), (1, c, 16, 16), p)
        paths.append((p, (1, c, 16, 16)))
    small, big = time_models(paths, runs=6, warmup=1, rounds=3, reference=0)
    assert small.runs == big.runs == 6
    assert small.ref_ms == pytest.approx(small.stat("ref")) and small.ref_ms > 0
    assert big.ref_ms > 0 and big.cpu_median_ms > 0 and big.round_spread >= 0
    assert big.as_dict()["ref_ms"] == big.ref_ms


def test_cpu_statistics_need_one_thread():
    with pytest.raises(ConfigError, match="needs --threads 1"):
        profile_space(get_space("nb201"), "cifar10", n_archs=4, n_calibration=2, threads=2, statistic="ref")
    with pytest.raises(ConfigError, match="statistic 'fast'"):
        profile_space(get_space("nb201"), "cifar10", n_archs=4, n_calibration=2, statistic="fast")


def test_whole_space_lists_are_by_index_or_by_token_rank() -> None:
    # the macro spaces inherit from_index (which raises): their whole-space lists go by token rank
    from edgenas.hardware.tables import ORDER_CHOICES, ORDER_INDEX, arch_at_rank, arch_rank, space_order

    assert space_order(get_space("nb201")) == ORDER_INDEX
    assert space_order(get_space("macro")) == space_order(get_space("fbnet")) == ORDER_CHOICES
    macro = get_space("macro")
    ranks = [arch_rank(macro, a) for a in macro.enumerate()]
    assert ranks == list(range(macro.size))  # the base class's enumeration order
    assert [macro.format(arch_at_rank(macro, r)) for r in (0, 1, 6560)] == ["00000000", "00000001", "22222222"]
