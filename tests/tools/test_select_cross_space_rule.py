"""tools/select_cross_space_rule.py: the exhaustive pick rule and the log-rank score it ranks with."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tools._load import load_tool

tool = load_tool("select_cross_space_rule")


def test_log_rank_score_ties_and_failures() -> None:
    a = np.array([1.0, 2.0, 2.0, np.nan])
    b = np.array([3.0, 1.0, 2.0, 4.0])
    s = tool.log_rank_score([a, b], (1.0, 2.0))
    # a's ranks: nan -> the minimum 1.0, tied with it: 1.5, 3.5, 3.5, 1.5; b's: 3, 1, 2, 4
    expect = np.log([1.5, 3.5, 3.5, 1.5]) + 2 * np.log([3.0, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(s, expect)


def test_exhaustive_pick_best_score_or_largest_of_the_best_share() -> None:
    idx = np.array([10, 11, 12, 13])
    score = np.array([4.0, 3.0, 2.0, 1.0])
    macs = np.zeros(20)
    macs[[10, 11, 12, 13]] = [1.0, 5.0, 9.0, 2.0]
    assert tool.exhaustive_pick(score, idx, macs, 0.0) == 10
    assert tool.exhaustive_pick(score, idx, macs, 0.5) == 11  # best 2 scores, the larger network
    assert tool.exhaustive_pick(score, idx, macs, 1.0) == 12


def test_rules_are_registered_proxies_or_terms() -> None:
    from edgenas.proxies import list_proxies
    from edgenas.proxies.ensemble import TERMS, get_ensemble

    for comps, weights, share in tool.RULES.values():
        assert set(comps) <= set(list_proxies()) | set(TERMS.names())
        assert len(weights) == len(comps) and 0 <= share <= 1
    paths = get_ensemble("edgenas_paths")
    comps, weights, share = tool.RULES["edgenas_paths"]
    assert comps == paths.ranked and share == paths.pick_top_share
    assert tuple(paths.component_weights) == pytest.approx(weights)
    assert math.isclose(tool.RULES["edgenas_prior"][2], 0.025)
