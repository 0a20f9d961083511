"""NB201 topology features: known values on hand-checked cells."""

from __future__ import annotations

import pytest

from edgenas.errors import ArchError
from edgenas.spaces import get_space
from edgenas.spaces._nb201_features import FEATURE_NAMES

SPACE = get_space("nb201")


def feats(text: str) -> dict[str, float]:
    return SPACE.arch_features(SPACE.parse(text))


def test_names_and_order_are_fixed() -> None:
    f = feats("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    assert tuple(f) == FEATURE_NAMES
    assert len(FEATURE_NAMES) == 24 + 9


def test_residual_cell() -> None:
    # paths: 0->3 skip; 0->1->3 conv,conv; 0->2->3; 0->1->2->3 ...
    f = feats("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    assert f["paths"] == 4
    assert f["min_conv_depth"] == 0 and f["max_conv_depth"] == 3
    assert f["live.e3<-0.skip_connect"] == 1 and f["live.e3<-0.nor_conv_3x3"] == 0
    assert f["live_conv3x3"] == 4 and f["live_conv1x1"] == 1 and f["live_skip"] == 1
    # output variance: skip 1 (depth 0) + conv 1 (depth 2) + conv 1 (depth 1 + mean depth of node 2)
    # node 2 = conv(0) depth 1 + conv(1) depth 2 -> mean 1.5 -> 2.5; output mean (0 + 2 + 2.5) / 3
    assert f["mean_conv_depth"] == pytest.approx(4.5 / 3)
    assert f["identity_share"] == pytest.approx(1 / 3)


def test_plain_chain_and_dead_edges() -> None:
    # live paths 0->1->2->3 (3 convs) and 0->2->3 (pool, conv: 1 conv); edge 0->3 is none
    f = feats("|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|")
    assert f["paths"] == 2 and f["min_conv_depth"] == 1 and f["max_conv_depth"] == 3
    assert f["identity_share"] == 0
    # an op that cannot reach the output is written as none
    g = feats("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|none~2|")
    assert g["paths"] == 1 and g["live_conv3x3"] == 1 and g["live_pool"] == 0
    assert g["live.e1<-0.nor_conv_3x3"] == 0 and g["live.e3<-0.nor_conv_3x3"] == 1


def test_pool_divides_variance_by_nine() -> None:
    # output = skip (1) + pool of the input (1/9): all of it is identity-depth 0
    f = feats("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert f["identity_share"] == 1 and f["mean_conv_depth"] == 0
    g = feats("|avg_pool_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|")
    # conv: mass 1 at depth 1; skip from node 1 (pool of input): mass 1/9 at depth 0
    assert g["identity_share"] == pytest.approx((1 / 9) / (1 + 1 / 9))
    assert g["mean_conv_depth"] == pytest.approx(1 / (1 + 1 / 9))


def test_degenerate_arch_has_no_features() -> None:
    with pytest.raises(ArchError, match="degenerate"):
        feats("|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|")


def test_space_without_features() -> None:
    with pytest.raises(NotImplementedError):
        get_space("fbnet").arch_features(get_space("fbnet").sample(0))
