"""The data-free ``sed`` topology proxy: op entropy model, cell algebra, engine use, correlation."""

from __future__ import annotations

import csv
import math

import pytest

from edgenas.errors import ProxyError
from edgenas.metrics import kendall_tau
from edgenas.proxies.sed import op_entropy_gain, sed_from_layers, sed_score
from edgenas.spaces import LayerSpec, get_space

SPACE = get_space("nb201")
STAGE_CHANNELS = (16, 32, 64)


def arch(*ops: str):
    return SPACE.arch(ops)


def test_op_gains():
    assert op_entropy_gain("nor_conv_3x3", 16) == pytest.approx(0.5 * math.log(9 * 16))
    assert op_entropy_gain("nor_conv_1x1", 32) == pytest.approx(0.5 * math.log(32))
    assert op_entropy_gain("avg_pool_3x3", 16) == pytest.approx(-0.5 * math.log(9))
    assert op_entropy_gain("skip_connect", 16) == 0.0
    assert op_entropy_gain("none", 16) == -math.inf
    assert op_entropy_gain("k3_e6", 16) == pytest.approx(0.5 * math.log(9 * 6 * 16 * 16))
    with pytest.raises(ProxyError, match="sepconv"):
        op_entropy_gain("sepconv", 16)


def test_all_skip_cell_sums_independent_paths():
    # node1 = 0; node2 = 0.5 log(1 + 1); node3 = 0.5 log(1 + 1 + 2) per cell, 15 cells
    a = arch(*["skip_connect"] * 6)
    assert sed_score(SPACE, a, "cifar10") == pytest.approx(15 * 0.5 * math.log(4), abs=1e-12)


def test_conv_chain_adds_gains_per_stage():
    a = arch("nor_conv_3x3", "none", "nor_conv_3x3", "none", "none", "nor_conv_3x3")
    expected = sum(5 * 3 * 0.5 * math.log(9 * c) for c in STAGE_CHANNELS)
    assert sed_score(SPACE, a, "cifar10") == pytest.approx(expected, abs=1e-9)


def test_entropy_ordering_of_uniform_cells():
    s = {op: sed_score(SPACE, arch(*[op] * 6), "cifar10")
         for op in ("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3")}
    assert s["nor_conv_3x3"] > s["nor_conv_1x1"] > s["skip_connect"] > s["avg_pool_3x3"]


def test_dead_output_is_worst_via_engine(monkeypatch):
    from edgenas.proxies.engine import WORST_SCORE, score_archs

    dead = arch(*["none"] * 6)
    assert sed_score(SPACE, dead, "cifar10") == -math.inf

    def no_model(*args, **kwargs):  # sed must never build a model
        raise AssertionError("sed built a model")

    monkeypatch.setattr(type(SPACE), "build_model", no_model)
    out = score_archs(SPACE, [dead, arch(*["skip_connect"] * 6)], "cifar10", ["sed"])
    assert out[0].scores["sed"] == WORST_SCORE and out[0].n_warnings == 1
    assert out[1].scores["sed"] == pytest.approx(15 * 0.5 * math.log(4)) and out[1].n_warnings == 0


def test_chain_space_layers():
    layers = [
        LayerSpec("stem", "stem_conv3x3_bn", (3, 32, 32), (16, 32, 32)),
        LayerSpec("b0", "k3_e6", (16, 8, 8), (24, 8, 8)),
        LayerSpec("b1", "skip", (24, 8, 8), (24, 8, 8)),
        LayerSpec("b2", "k5_e3", (24, 8, 8), (24, 8, 8)),
    ]
    g2 = 0.5 * math.log(25 * 3 * 24 * 24)
    expected = 0.5 * math.log(9 * 6 * 16 * 16) + 0.0 + 0.5 * math.log(1 + math.exp(2 * g2))
    assert sed_from_layers(layers) == pytest.approx(expected, abs=1e-12)


def test_deterministic_and_dataset_channels():
    a = SPACE.parse("6111")
    assert sed_score(SPACE, a, "cifar10") == sed_score(SPACE, a, "cifar10")
    # NB201 uses the same channels for every dataset
    assert sed_score(SPACE, a, "ImageNet16-120") == pytest.approx(sed_score(SPACE, a, "cifar10"))


def test_fixture_correlation(data_dir):
    # measured 0.573 on this 50-arch fixture (0.596 on all 9,445 graf_valid archs)
    with (data_dir / "nb201_proxy_fixture.csv").open() as fh:
        rows = list(csv.DictReader(ln for ln in fh if not ln.startswith("#")))
    assert len(rows) == 50
    scores = [sed_score(SPACE, SPACE.parse(r["arch"]), "cifar10") for r in rows]
    assert kendall_tau(scores, [float(r["cifar10_test"]) for r in rows]) > 0.5


def test_macro_vocabulary_expand_fused_se_and_unknown_ops():
    down = ((16, 8, 8), (24, 4, 4))

    def block(**p):
        return LayerSpec("layer01", "ConvBlock", *down, tuple({"kernel": 3, "stride": 2, "group": 1, **p}.items()))

    full = 0.5 * math.log(9 * 6 * 16 * 16)
    assert sed_from_layers([block(exp=6)]) == pytest.approx(full)
    assert sed_from_layers([block(exp=6, se=0.25, act="hswish")]) == pytest.approx(full)  # SE / act add no sources
    assert sed_from_layers([block(exp=6, fused=1)]) == pytest.approx(full)
    assert sed_from_layers([block(exp=1, expand_conv=0)]) == pytest.approx(0.5 * math.log(9 * 16))  # no expand conv
    assert sed_from_layers([block(exp=1, fused=1)]) == pytest.approx(0.5 * math.log(9 * 16))
    fixed = [LayerSpec("stem", "ConvNorm", (3, 32, 32), (16, 32, 32)), LayerSpec("avgpool", "AvgP", *down),
             LayerSpec("classifier", "FC", (24, 1, 1), (10, 1, 1))]
    assert sed_from_layers([*fixed, block(exp=6)]) == pytest.approx(full)
    with pytest.raises(ProxyError, match="'MBConv'") as exc:
        sed_from_layers([LayerSpec("layer01", "MBConv", *down)])  # never a silent 0
    assert "\n" not in str(exc.value)


def test_macro_space_sed_rewards_blocks():
    space = get_space("macro")
    assert sed_score(space, space.parse("22222222"), "cifar10") > sed_score(space, space.parse("11111111"), "cifar10") \
        > sed_score(space, space.parse("00000000"), "cifar10")
