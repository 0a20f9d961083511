"""The ``macro`` space (NAS-Bench-Macro) against the benchmark, and the macro-space machinery."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from edgenas.errors import ArchError, DatasetError
from edgenas.spaces import DatasetSpec, get_space

ROOT = Path(__file__).resolve().parents[2]
GT = ROOT / "benchmarks" / "nas-bench-macro" / "nas-bench-macro_cifar10.csv"


def _rows() -> list[dict[str, str]]:
    with open(GT) as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def test_params_and_flops_equal_the_benchmark_on_every_string() -> None:
    space = get_space("macro")
    rows = _rows()
    assert len(rows) == 6561 == space.size
    for r in rows:
        arch = space.parse(r["arch"])
        assert space.format(arch) == r["arch"]
        macs_m, params_m = space.analytic_size(arch, "cifar10")
        assert round(params_m * 1e6) == int(r["params"]), r["arch"]
        assert space.conv_linear_macs(arch, "cifar10") == int(r["flops"]), r["arch"]
        # fvcore's MACs add global pooling (1 per input element: 1280 x 4 x 4) to the benchmark's flops
        assert round(macs_m * 1e6) == int(r["flops"]) + 1280 * 16


def test_iso_key_merges_the_3969_networks() -> None:
    space = get_space("macro")
    rows = _rows()
    by_key: dict[str, set[str]] = {}
    for r in rows:
        by_key.setdefault(space.iso_key(space.parse(r["arch"])), set()).add(r["iso"])
    assert len(by_key) == 3969
    assert all(len(v) == 1 for v in by_key.values())  # the CSV's iso column is the same partition
    # strings of one network carry the benchmark's one training (identical accuracies)
    acc: dict[str, set[str]] = {}
    for r in rows:
        acc.setdefault(r["iso"], set()).add(r["mean_acc"])
    assert all(len(v) == 1 for v in acc.values())
    assert space.iso_key(space.parse("22212220")) == space.iso_key(space.parse("22212202"))
    assert space.iso_key(space.parse("22212220")) != space.iso_key(space.parse("22212222"))
    # an identity at the first layer of a stage changes the shape: not dropped
    assert space.iso_key(space.parse("02212220")) != space.iso_key(space.parse("20212220"))


@pytest.mark.shared
def test_ground_truth_csv_equals_the_benchmark_json(shared_data: Path) -> None:
    data = json.loads((shared_data / "nas-bench-macro" / "nas-bench-macro_cifar10.json").read_text())
    rows = {r["arch"]: r for r in _rows()}
    assert set(rows) == set(data)
    for arch, v in data.items():
        r = rows[arch]
        assert float(r["mean_acc"]) == v["mean_acc"] and float(r["std"]) == v["std"]
        assert [float(r[f"test_acc_{i}"]) for i in range(3)] == v["test_acc"]
        assert int(r["params"]) == v["params"] and int(r["flops"]) == v["flops"]


def test_built_models_match_the_analytic_counts_and_protocol() -> None:
    import torch

    from edgenas.hardware.flops import count_macs, count_params

    space = get_space("macro")
    rng = np.random.default_rng(0)
    for text in ["00000000", "22222222", space.format(space.sample(rng))]:
        arch = space.parse(text)
        model = space.build_model(arch, "cifar10")
        macs_m, params_m = space.analytic_size(arch, "cifar10")
        assert count_params(model)[0] == pytest.approx(params_m, abs=1e-9)
        assert count_macs(model, (3, 32, 32))[0] == pytest.approx(macs_m, abs=1e-9)
        assert len(model.blocks) == 8 and model.training
        feats = model.forward_features(torch.randn(2, 3, 32, 32))
        assert [tuple(f.shape[1:]) for f in feats[1:]] == [lay.out_shape for lay in space.layers(arch, "cifar10")[1:9]]
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_layer_modules_compute_their_layer_alone() -> None:
    import torch

    space = get_space("macro")
    arch = space.parse("02102010")
    total = 0
    for lay in space.layers(arch, "cifar10"):
        mod = space.layer_module(lay)
        x = torch.randn(2, lay.in_shape[0]) if lay.op == "FC" else torch.randn(2, *lay.in_shape)
        y = mod(x)
        want = (2, lay.out_shape[0]) if lay.op in ("FC", "AvgP") else (2, *lay.out_shape)
        assert tuple(y.shape) == want, lay
        total += sum(p.numel() for p in mod.parameters())
    assert total == round(space.analytic_size(arch, "cifar10")[1] * 1e6)
    assert [lay.op for lay in space.layers(arch, "cifar10")] == (
        ["ConvNorm", "Skip", "ConvBlock", "ConvBlock", "Skip", "ConvBlock", "Skip", "ConvBlock", "Skip",
         "ConvNorm", "AvgP", "FC"])
    # a shape-changing identity is a 1x1 conv + BN with no activation; the stem keeps FBNet's key
    assert space.layers(arch, "cifar10")[1].params == (("stride", 2), ("act", "none"))
    assert space.layers(arch, "cifar10")[0].key() == "ConvNorm-in3x32x32-out32x32x32-kernel3-stride1-group1"


def test_builds_for_any_task() -> None:
    import torch

    space = get_space("macro")
    arch = space.parse("12012021")
    gray = DatasetSpec("digits", 7, 8, channels=1)
    model = space.build_model(arch, gray)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 7)
    assert space.layers(arch, gray)[0].in_shape == (1, 8, 8)
    odd = DatasetSpec("odd", 3, 27)
    lays = space.layers(arch, odd)
    assert space.build_model(arch, odd).forward_features(torch.randn(1, 3, 27, 27))[-1].shape[-1] == \
        lays[8].out_shape[-1] == 4  # 27 -> 14 -> 7 -> 4 (ceil, as the convs do)
    with pytest.raises(DatasetError, match="below the total stride 8"):
        space.layers(arch, DatasetSpec("tiny", 10, 4))


@pytest.mark.parametrize("text, match", [
    ("2221222", "is not 8 digits"),
    ("22212223", "digit '3' at position 8 is out of range"),
    ("2221222x", "is not 8 digits"),
])
def test_bad_arch_strings(text: str, match: str) -> None:
    with pytest.raises(ArchError, match=match):
        get_space("macro").parse(text)
