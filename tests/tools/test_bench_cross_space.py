"""tools/bench_cross_space.py: the summary of cases and the MACs pricing of MACs-budget searches."""

from __future__ import annotations

import math

import pytest

from tests.tools._load import load_tool

tool = load_tool("bench_cross_space")


def _case(pick: float, params: float, macs: float, oracle: float = 90.0) -> dict:
    acc = {"pick": pick, "max_params": params, "max_macs": macs, "mean": 80.0}
    return {"acc": acc, "gap_pp": {k: oracle - v for k, v in acc.items()}}


def test_summary_gaps_and_shares_worse_than_the_size_picks() -> None:
    cases = [_case(89.0, 88.0, 89.5), _case(90.0, 90.0, 85.0), _case(87.0, 89.0, 86.0), _case(89.5, 80.0, 89.5)]
    s = tool.summarise(cases)
    assert s["cases"] == 4
    assert s["pick"]["median"] == pytest.approx(0.75) and s["pick"]["worst"] == pytest.approx(3.0)
    assert s["share_worse_than_max_params"] == pytest.approx(0.25)  # case 3 only
    assert s["share_worse_than_max_macs"] == pytest.approx(0.25)  # case 1 only (a tie is not worse)


def test_macs_cost_and_table_numbers() -> None:
    from edgenas.spaces import get_space

    space = get_space("macro")
    a = space.parse("22222222")
    cost = tool.MacsCost(lambda arch: (123.5, 2.0))
    p = cost.predict(a)
    assert p.latency_ms == 123.5 and p.source == "macs"
    assert tool._num(None, 3) == "-" and tool._num(math.nan, 2) == "-" and tool._num(0.52749, 3) == "0.527"
