"""The onnxruntime profiler on a few ops with few runs (real measurements, tiny)."""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime")

from edgenas.hardware.profile import cpu_model, profile_ops
from edgenas.spaces import get_space


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
    assert seen[-1] == ("ops", 3, 3)
    assert isinstance(cpu_model(), str) and cpu_model()
