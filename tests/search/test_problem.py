"""Budgets, constraint values, the additive MACs/params table and the score-table scorer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from edgenas.errors import ConfigError
from edgenas.search.problem import AdditiveSizeTable, ArchCost, Budgets, CostEvaluator
from edgenas.search.scoring import TableScorer
from edgenas.spaces import get_space
from tests.search._fakes import FakeLatency, fake_size

SPACE = get_space("nb201")


def test_budgets_validation_and_description() -> None:
    b = Budgets(max_latency_ms=5, max_params_m=1.5)
    assert b.describe() == "latency <= 5 ms, params <= 1.5 M"
    assert Budgets().describe() == "no budgets"
    for bad in (-1.0, 0.0, math.inf, math.nan, True, "3"):
        with pytest.raises(ConfigError, match="is invalid; expected a positive finite number"):
            Budgets(max_macs_m=bad)  # type: ignore[arg-type]


def test_constraint_values_g_le_0() -> None:
    c = ArchCost({"b": 4.0, "a": 7.0}, {"a": "m", "b": "m"}, macs_m=50.0, params_m=0.5)
    g = c.violations(Budgets(max_latency_ms=5.0, max_params_m=1.0, max_macs_m=40.0))
    np.testing.assert_allclose(g, [2.0, -1.0, -0.5, 10.0])  # targets sorted (a, b), params, MACs
    assert not c.feasible(Budgets(max_latency_ms=5.0))
    assert c.feasible(Budgets(max_latency_ms=7.0))
    assert not ArchCost({}, {}, 1.0, 1.0, missing=("a",)).feasible(Budgets())


def test_cost_evaluator_marks_missing_latency() -> None:
    a = SPACE.parse("6111")
    ev = CostEvaluator(SPACE, {"t": FakeLatency(missing={str(a)})}, fake_size)
    assert ev(a).missing == ("t",) and not ev(a).feasible(Budgets())
    assert ev(SPACE.parse("1")).missing == ()


def test_additive_size_table_matches_built_models() -> None:
    """NB201 MACs/params are additive over edges; the table must equal fvcore on built models."""
    from edgenas.hardware.flops import model_size

    table = AdditiveSizeTable(SPACE, "cifar10")
    assert table.additive
    rng = np.random.default_rng(11)
    for a in [SPACE.sample(rng), SPACE.parse("6111")]:
        m = model_size(SPACE.build_model(a, "cifar10"), (3, 32, 32))
        macs_m, params_m = table(a)
        assert macs_m == pytest.approx(m.macs_m, rel=1e-9)
        assert params_m == pytest.approx(m.params_m, rel=1e-9)


def test_table_scorer_single_and_log_rank(tmp_path: Path) -> None:
    p = tmp_path / "scores.csv"
    p.write_text("# test table\nindex,a,b\n1,1.0,5.0\n2,2.0,nan\n6111,3.0,4.0\n")
    single = TableScorer(space=SPACE, path=str(p), columns=["a"])
    assert not single.is_ensemble and single.proxy == "a"
    assert single.covers(SPACE.parse("6111")) and not single.covers(SPACE.parse("3"))
    assert single.score([SPACE.parse("2")])[0].values == {"a": 2.0}
    ens = TableScorer(space=SPACE, path=str(p), columns=["a", "b"])
    assert ens.is_ensemble and ens.proxy == "rank(a+b)"
    ref = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([5.0, 4.0, -np.inf])}
    # a=2.5 beats 2 of 3 -> rank 3 of 4; b=None (failed) is the worst -> rank 1 of 4
    assert ens.combine({"a": 2.5, "b": None}, ref) == pytest.approx(math.log(3 / 4) + math.log(1 / 4))
    # b=0 beats only the failed reference arch (-inf) -> rank 2; a=3.0 ties the best -> rank 3.5
    assert ens.combine({"a": 3.0, "b": 0.0}, ref) == pytest.approx(math.log(3.5 / 4) + math.log(2 / 4))
    with pytest.raises(ConfigError, match="no column 'c'"):
        TableScorer(space=SPACE, path=str(p), columns=["c"])
    with pytest.raises(ConfigError, match="score table .*missing.csv. not found"):
        TableScorer(space=SPACE, path=str(tmp_path / "missing.csv"), columns=["a"])


def test_table_scorer_reads_gzip_and_rejects_garbage(tmp_path: Path) -> None:
    import gzip

    p = tmp_path / "scores.csv.gz"
    p.write_bytes(gzip.compress(b"# test table\nindex,a\n1,1.5\n6111,3.0\n"))
    t = TableScorer(space=SPACE, path=str(p), columns=["a"])
    assert t.score([SPACE.parse("6111")])[0].values == {"a": 3.0}
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(ConfigError, match="bad.csv.gz"):
        TableScorer(space=SPACE, path=str(bad), columns=["a"])


def test_a_budget_that_excludes_no_arch_is_named_once() -> None:
    from edgenas.search.problem import Budgets, CostEvaluator, check_feasible, loose_budget_note

    from ._fakes import FakeLatency, fake_size

    cost = CostEvaluator(SPACE, {"fake": FakeLatency()}, fake_size)
    # fake latency tops out at 2 + 7 * 1.0 = 9 ms; params at 0.07 + 6 * 0.14 = 0.91 M
    loose = Budgets(max_latency_ms=50.0, max_params_m=0.5)
    assert check_feasible(SPACE, cost, loose, 0)
    note = loose_budget_note(SPACE, cost, loose, 0, ["fake"])
    assert note == ("this budget excludes no arch of all 15,625 archs: --max-latency-ms 50 on fake (largest 9); "
                    "the search ran as without it")
    assert loose_budget_note(SPACE, cost, Budgets(max_latency_ms=5.0, max_params_m=0.5), 0, ["fake"]) is None
    both = loose_budget_note(SPACE, cost, Budgets(max_latency_ms={"fake": 9.0}, max_macs_m=1e4), 0, ["fake"])
    assert both is not None and both.startswith("these budgets exclude no arch") and "fake=9 (largest 9)" in both
    assert loose_budget_note(SPACE, cost, Budgets(), 0, ["fake"]) is None
