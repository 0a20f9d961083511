"""Rank-aggregation ensembles: recipes, population ranking, reference ranking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgenas.errors import ProxyError, UnknownNameError
from edgenas.proxies.ensemble import aggregate, ensemble_components, ensemble_score, list_ensembles


def test_recipes():
    assert {"vkdnw_agg", "az_nas", "te_nas", "edgenas_agg", "edgenas_fast"} <= set(list_ensembles())
    assert ensemble_components("vkdnw_agg") == ("flops", "az_expressivity", "az_trainability", "jacov", "vkdnw_single")
    assert ensemble_components("te_nas") == ("ntk_cond", "linear_regions")
    assert "sed" in ensemble_components("edgenas_agg")
    with pytest.raises(UnknownNameError):
        ensemble_components("nope")


def test_te_nas_rank_sum_hand_values():
    out = aggregate("te_nas", {"ntk_cond": np.array([1.0, 2.0, 3.0]), "linear_regions": np.array([30.0, 10.0, 20.0])})
    assert out.tolist() == [4.0, 3.0, 5.0]


def test_log_ranks_ties_and_nan_to_column_minimum():
    cols = {c: np.array([1.0, 2.0, 3.0]) for c in ensemble_components("vkdnw_agg")}
    cols["jacov"] = np.array([np.nan, 1.0, 2.0])  # NaN -> 1.0: tie with arch 1 at rank 1.5
    out = aggregate("vkdnw_agg", cols)
    expected = [4 * math.log(1) + math.log(1.5), 4 * math.log(2) + math.log(1.5), 4 * math.log(3) + math.log(3)]
    assert out == pytest.approx(expected, abs=1e-12)
    az = aggregate("az_nas", {c: cols[c] if c in cols else np.array([1.0, 2.0, 3.0]) for c in ensemble_components("az_nas")})
    assert az == pytest.approx([4 * math.log(r / 3) for r in (1, 2, 3)], abs=1e-12)


def test_missing_component_and_length_mismatch():
    with pytest.raises(ProxyError, match="linear_regions"):
        aggregate("te_nas", {"ntk_cond": np.array([1.0])})
    with pytest.raises(ProxyError, match="length"):
        aggregate("te_nas", {"ntk_cond": np.array([1.0]), "linear_regions": np.array([1.0, 2.0])})


@pytest.mark.parametrize("name", ["vkdnw_agg", "az_nas", "te_nas", "edgenas_agg", "edgenas_fast"])
def test_reference_score_equals_rank_in_joined_population(name):
    rng = np.random.default_rng(0)
    comps = ensemble_components(name)
    ref = {c: rng.integers(0, 5, size=20).astype(float) for c in comps}  # integers: many ties
    cand = {c: float(rng.integers(0, 5)) for c in comps}
    joined = {c: np.append(ref[c], cand[c]) for c in comps}
    assert ensemble_score(name, cand, ref) == pytest.approx(aggregate(name, joined)[-1], abs=1e-12)


def test_reference_score_handles_non_finite_and_missing():
    ref = {"ntk_cond": np.array([1.0, 2.0, -np.inf]), "linear_regions": np.array([1.0, 2.0, 3.0])}
    # -inf in the reference counts as its column minimum (1.0); a NaN candidate too
    assert ensemble_score("te_nas", {"ntk_cond": math.nan, "linear_regions": 4.0}, ref) == pytest.approx(
        (1 + 0 + 0.5 * 2) + 4.0)
    with pytest.raises(ProxyError, match="candidate"):
        ensemble_score("te_nas", {"ntk_cond": 1.0}, ref)


def test_weighted_recipe_multiplies_each_log_rank():
    from edgenas.proxies.ensemble import EnsembleRecipe, get_ensemble

    rec = get_ensemble("edgenas_prior")
    assert rec.components == ("flops", "params", "az_expressivity", "az_trainability", "sed")
    assert rec.component_weights.tolist() == [1.0, 2.0, 1.0, 1.0, 2.0]
    cols = {"flops": np.array([1.0, 2.0, 3.0]), "params": np.array([3.0, 1.0, 2.0]),
            "az_expressivity": np.array([2.0, 3.0, 1.0]), "az_trainability": np.array([1.0, 3.0, 2.0]),
            "sed": np.array([2.0, 1.0, 3.0])}
    # ranks: flops 1,2,3; params 3,1,2; expr 2,3,1; train 1,3,2; sed 2,1,3
    want = [math.log(1) + 2 * math.log(3) + math.log(2) + math.log(1) + 2 * math.log(2),
            math.log(2) + 2 * math.log(1) + math.log(3) + math.log(3) + 2 * math.log(1),
            math.log(3) + 2 * math.log(2) + math.log(1) + math.log(2) + 2 * math.log(3)]
    np.testing.assert_allclose(aggregate("edgenas_prior", cols), want)
    # against a reference population: the same weights
    ref = {c: np.delete(v, 0) for c, v in cols.items()}
    assert ensemble_score("edgenas_prior", {c: float(v[0]) for c, v in cols.items()}, ref) == pytest.approx(want[0])
    with pytest.raises(ProxyError, match="one positive weight per component"):
        EnsembleRecipe("bad", ("flops", "sed"), "log_rank", weights=(1.0,))
    with pytest.raises(ProxyError, match="one positive weight per component"):
        EnsembleRecipe("bad", ("flops", "sed"), "log_rank", weights=(1.0, 0.0))


def test_derived_term_carries_failures_of_its_inputs():
    from edgenas.proxies.engine import WORST_SCORE
    from edgenas.proxies.ensemble import TERMS

    term = TERMS.get("plain_depth_penalty")
    assert term.inputs == ("depth", "skipped_depth")
    out = term.values({"depth": np.array([51.0, 51.0, 30.0, WORST_SCORE, -math.inf, np.nan]),
                       "skipped_depth": np.array([2.0, 47.0, 2.0, WORST_SCORE, -math.inf, 1.0])})
    # shortest 49 -> -31, 4 -> 0, 28 -> -10; the engine's failure stays the worst score, others become NaN
    assert out[:4].tolist() == [-31.0, 0.0, -10.0, WORST_SCORE]
    assert np.isnan(out[4:]).all()


def test_recipe_terms_are_checked():
    from edgenas.errors import UnknownNameError
    from edgenas.proxies.ensemble import EnsembleRecipe

    with pytest.raises(ProxyError, match="'plain_depth_penalty' reads depth, skipped_depth"):
        EnsembleRecipe("bad", ("flops", "depth"), "log_rank", terms=("flops", "plain_depth_penalty"))
    with pytest.raises(UnknownNameError):
        EnsembleRecipe("bad", ("flops",), "log_rank", terms=("nope",))
    with pytest.raises(ProxyError, match="one positive weight per ranked term"):
        EnsembleRecipe("bad", ("flops", "depth", "skipped_depth"), "log_rank", weights=(1.0, 1.0, 1.0),
                       terms=("flops", "plain_depth_penalty"))
