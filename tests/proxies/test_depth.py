"""The data-free path-depth proxies ``depth`` and ``shortcut`` (edgenas/proxies/depth.py)."""

from __future__ import annotations

import math

import pytest

from edgenas.errors import ProxyError
from edgenas.proxies.depth import PLAIN_DEPTH_LIMIT, op_depth, path_depths
from edgenas.spaces import LayerSpec, get_space

SPACE = get_space("nb201")
# stem 1 + two reduction blocks (2 convs beside a 1-conv shortcut) + classifier 1
FIXED_LONGEST, FIXED_SHORTEST = 6, 4


def arch(*ops: str):
    return SPACE.arch(ops)


def test_nb201_residual_cell_counts_paths():
    # edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2: a conv chain 0-1-2-3 beside an identity 0-3
    a = arch("nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "nor_conv_1x1")
    assert path_depths(SPACE.layers(a, "cifar10")) == (15 * 3 + FIXED_LONGEST, 0 + FIXED_SHORTEST)


def test_nb201_plain_chain_is_penalised():
    from edgenas.proxies.engine import score_archs

    plain = arch("nor_conv_3x3", "none", "nor_conv_3x3", "none", "none", "nor_conv_3x3")
    resid = arch("nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "nor_conv_3x3")
    pooled = arch("nor_conv_3x3", "none", "nor_conv_3x3", "avg_pool_3x3", "none", "nor_conv_3x3")
    out = score_archs(SPACE, [plain, resid, pooled], "cifar10", ["depth", "shortcut"])
    assert [o.scores["depth"] for o in out] == [51.0, 51.0, 51.0]
    # shortest plain path: 45 cell convs + 4 fixed = 49 weighted layers, 31 beyond the limit
    assert out[0].scores["shortcut"] == -(49.0 - PLAIN_DEPTH_LIMIT)
    assert out[1].scores["shortcut"] == 0.0 and out[2].scores["shortcut"] == 0.0


def test_dead_output_is_worst_via_engine():
    from edgenas.proxies.engine import WORST_SCORE, score_archs

    dead = arch("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "none", "none", "none")
    out = score_archs(SPACE, [dead], "cifar10", ["depth", "shortcut"])
    assert out[0].scores["depth"] == WORST_SCORE and out[0].scores["shortcut"] == WORST_SCORE
    assert math.isinf(path_depths(SPACE.layers(dead, "cifar10"))[0])


def test_chain_vocabulary():
    same = ((32, 8, 8), (32, 8, 8))
    down = ((32, 8, 8), (64, 4, 4))
    assert op_depth("ConvBlock", *same, (("exp", 6), ("kernel", 3), ("stride", 1))) == (3, 0)  # residual
    assert op_depth("ConvBlock", *down, (("exp", 6), ("kernel", 3), ("stride", 2))) == (3, 3)
    assert op_depth("ConvBlock", *down, (("exp", 1), ("expand_conv", 0))) == (2, 2)
    assert op_depth("ConvBlock", *down, (("exp", 4), ("fused", 1))) == (2, 2)
    assert op_depth("ConvBlock", *down, (("exp", 1), ("fused", 1))) == (1, 1)
    assert op_depth("ConvBlock", *down, (("exp", 6), ("se", 0.25), ("act", "hswish"))) == (3, 3)
    assert op_depth("Skip", *same) == (0, 0) and op_depth("Skip", *down) == (1, 1)
    assert op_depth("ConvNorm", *down) == (1, 1) and op_depth("FC", *down) == (1, 1)
    assert op_depth("AvgP", *down) == (0, 0)


def test_unknown_op_is_one_line_error_naming_it():
    with pytest.raises(ProxyError, match="'MBConv'") as exc:
        path_depths([LayerSpec("layer01", "MBConv", (16, 8, 8), (16, 8, 8))])
    assert "\n" not in str(exc.value)
    with pytest.raises(ProxyError, match="'weird_op'"):
        path_depths([LayerSpec("c.edge1<-0", "weird_op", (16, 8, 8), (16, 8, 8))])


def test_fbnet_chain():
    space = get_space("fbnet")
    a = space.sample(0)
    longest, shortest = path_depths(space.layers(a, "cifar100"))
    assert longest > shortest >= 3  # stem, header and classifier are on every path


def test_edgenas_paths_recipe_and_its_pick_rule():
    from edgenas.proxies.ensemble import aggregate, get_ensemble
    from edgenas.search.config import DEFAULT_PICK_TOP_SHARE, SearchConfig, resolve_config

    recipe = get_ensemble("edgenas_paths")
    assert recipe.components == ("flops", "depth", "az_expressivity", "sed", "shortcut")
    # log-rank sum, unit weights: the arch best on every component scores 5 log N
    table = {c: [1.0, 2.0, 3.0] for c in recipe.components}
    assert aggregate("edgenas_paths", table)[2] == pytest.approx(5 * math.log(3))
    cfg = resolve_config(SearchConfig(targets=("jetson",), proxy="edgenas_paths"), canonical_targets=("jetson-tx2",))
    assert cfg.pick_top_share == 0.0
    cfg = resolve_config(SearchConfig(targets=("jetson",), proxy="edgenas_fast"), canonical_targets=("jetson-tx2",))
    assert cfg.pick_top_share == DEFAULT_PICK_TOP_SHARE
