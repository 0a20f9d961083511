"""The data-free path-depth proxies ``depth`` and ``skipped_depth`` (edgenas/proxies/depth.py) and the
plain-depth penalty ``edgenas_paths`` derives from them."""

from __future__ import annotations

import math

import numpy as np
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


def test_nb201_plain_chain_has_the_deepest_shortest_path():
    from edgenas.proxies.engine import score_archs

    plain = arch("nor_conv_3x3", "none", "nor_conv_3x3", "none", "none", "nor_conv_3x3")
    resid = arch("nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "nor_conv_3x3")
    pooled = arch("nor_conv_3x3", "none", "nor_conv_3x3", "avg_pool_3x3", "none", "nor_conv_3x3")
    out = score_archs(SPACE, [plain, resid, pooled], "cifar10", ["depth", "skipped_depth"])
    assert [o.scores["depth"] for o in out] == [51.0, 51.0, 51.0]
    # shortest plain path: 45 cell convs + 4 fixed = 49 weighted layers (the reduction blocks' shortcuts skip
    # one conv each); beside a skip / pool only the fixed 4
    assert [o.scores["skipped_depth"] for o in out] == [2.0, 47.0, 47.0]


def test_dead_output_is_worst_via_engine():
    from edgenas.proxies.engine import WORST_SCORE, score_archs

    dead = arch("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "none", "none", "none")
    out = score_archs(SPACE, [dead], "cifar10", ["depth", "skipped_depth"])
    assert out[0].scores["depth"] == WORST_SCORE and out[0].scores["skipped_depth"] == WORST_SCORE
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
    assert recipe.components == ("flops", "depth", "az_expressivity", "sed", "skipped_depth")
    assert recipe.ranked == ("flops", "depth", "az_expressivity", "sed", "plain_depth_penalty")
    # log-rank sum, unit weights: the arch best on every term scores 5 log N; depth 20, 30, 40 minus
    # skipped_depth 19, 2, 20 leaves shortest paths 1, 28, 20: penalties 0, -10, -2
    table = {"flops": [1.0, 2.0, 3.0], "depth": [20.0, 30.0, 40.0], "az_expressivity": [1.0, 2.0, 3.0],
             "sed": [1.0, 2.0, 3.0], "skipped_depth": [19.0, 2.0, 20.0]}
    assert aggregate("edgenas_paths", table).tolist() == pytest.approx(
        [4 * math.log(1) + math.log(3), 4 * math.log(2) + math.log(1), 4 * math.log(3) + math.log(2)])
    cfg = resolve_config(SearchConfig(targets=("jetson",), proxy="edgenas_paths"), canonical_targets=("jetson-tx2",))
    assert cfg.pick_top_share == 0.0
    cfg = resolve_config(SearchConfig(targets=("jetson",), proxy="edgenas_fast"), canonical_targets=("jetson-tx2",))
    assert cfg.pick_top_share == DEFAULT_PICK_TOP_SHARE


def _shortcut(shortest: float) -> float:
    """The registered proxy ``shortcut`` that ``edgenas_paths`` ranked before ``skipped_depth`` and the derived
    ``plain_depth_penalty`` replaced it (it was 0 on every macro arch)."""
    return -max(0.0, shortest - PLAIN_DEPTH_LIMIT)


def _old_edgenas_paths(cols: dict[str, np.ndarray], shortcut: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    ranked = [cols[c] for c in ("flops", "depth", "az_expressivity", "sed")] + [shortcut]
    return sum(np.log(rankdata(v, method="average")) for v in ranked)


def _old_reference_score(cand: list[float], ref: list[np.ndarray]) -> float:
    total = 0.0
    for v, r in zip(cand, ref):
        r = np.where(np.isfinite(r), r, r[np.isfinite(r)].min())
        v = v if math.isfinite(v) else r.min()
        total += math.log(1 + np.sum(r < v) + 0.5 * np.sum(r == v))
    return total


@pytest.mark.parametrize("space_name", ["nb201", "macro"])
def test_edgenas_paths_ranks_as_it_did_with_shortcut(space_name: str) -> None:
    from edgenas.proxies.engine import WORST_SCORE, score_archs
    from edgenas.proxies.ensemble import aggregate, ensemble_score

    space = get_space(space_name)
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(60)]
    if space_name == "nb201":  # plain chains of several depths (the penalty's range) and a dead output
        archs += [arch("nor_conv_3x3", "none", "nor_conv_3x3", "none", "none", "nor_conv_3x3"),
                  arch("nor_conv_1x1", "none", "none", "none", "nor_conv_1x1", "none"),
                  arch("nor_conv_3x3", "none", "avg_pool_3x3", "none", "none", "nor_conv_3x3"),
                  arch("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "none", "none", "none")]
    scored = score_archs(space, archs, "cifar10", ["depth", "sed", "skipped_depth"])
    cols = {c: np.array([r.scores[c] for r in scored]) for c in ("depth", "sed", "skipped_depth")}
    cols["flops"] = rng.integers(0, 20, len(archs)).astype(float)  # model proxies: any values, ties included
    cols["az_expressivity"] = rng.normal(size=len(archs))
    shortest = [path_depths(space.layers(a, "cifar10"))[1] for a in archs]
    shortcut = np.array([WORST_SCORE if math.isinf(s) else _shortcut(s) for s in shortest])
    if space_name == "nb201":
        assert len(set(shortcut)) > 3 and WORST_SCORE in shortcut  # the penalty is active on these archs
    else:  # shortcut was constant on macro; skipped_depth is not
        assert set(shortcut) == {0.0} and len(set(cols["skipped_depth"])) > 1
    np.testing.assert_array_equal(aggregate("edgenas_paths", cols), _old_edgenas_paths(cols, shortcut))
    # the search's form: each arch against the others as the reference population, a failure as -inf
    old_cols = {**{c: cols[c] for c in ("flops", "depth", "az_expressivity", "sed")}, "shortcut": shortcut}
    for i in range(len(archs)):
        cand = {c: (-math.inf if v[i] == WORST_SCORE else float(v[i])) for c, v in cols.items()}
        ref = {c: np.delete(np.where(v == WORST_SCORE, -math.inf, v), i) for c, v in cols.items()}
        old_ref = {c: np.delete(np.where(v == WORST_SCORE, -math.inf, v), i) for c, v in old_cols.items()}
        old_cand = [-math.inf if v[i] == WORST_SCORE else float(v[i]) for v in old_cols.values()]
        assert ensemble_score("edgenas_paths", cand, ref) == pytest.approx(
            _old_reference_score(old_cand, list(old_ref.values())), abs=1e-12)
