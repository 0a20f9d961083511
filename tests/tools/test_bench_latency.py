"""tools/bench_latency.py: the repeat-measurement bound pairs each arch with its own other-dataset timing."""

from __future__ import annotations

import numpy as np
import pytest

from edgenas.hardware.tables import load_arch_table
from edgenas.hardware.targets import load_target
from tests.tools._load import load_tool


@pytest.fixture(scope="module")
def tool():
    return load_tool("bench_latency")


def test_repeat_measurement_pairs_archs_by_index(tool):
    target = load_target("jetson-tx2")
    ref = target.table("nb201", "cifar10")
    table = load_arch_table(ref.file, space="nb201", dataset="cifar10")
    y = table.column(ref.column)
    # a shuffled subset: pairing must follow the benchmark index, not the row order
    rows = np.random.default_rng(0).permutation(len(y))[:600]
    out = tool.repeat_measurement(target, "cifar10", table.index[rows], y[rows])
    assert sorted(r["other_dataset"] for r in out) == ["ImageNet16-120", "cifar100"]
    for r in out:
        assert r["n"] == 600 and 0.95 < r["median_ratio"] < 1.05
        # the same arch timed again agrees closely (session 6: 97.8 % within 10 % on all archs) ...
        assert r["within_10"] > 0.9 and r["kendall_tau"] > 0.85
    # ... and a mispaired copy does not
    shifted = tool.repeat_measurement(target, "cifar10", table.index[rows], np.roll(y[rows], 1))
    assert all(r["within_10"] < 0.5 for r in shifted)
