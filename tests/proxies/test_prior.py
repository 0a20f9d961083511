"""Linear accuracy priors: the shipped NB201 prior, its validation, and the edgenas_transfer recipe."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgenas.errors import ConfigError, ProxyError
from edgenas.proxies.ensemble import aggregate, ensemble_components, ensemble_score
from edgenas.proxies.prior import LinearTerm, load_prior, load_prior_file, prior_for_space
from edgenas.spaces import get_space

NB201 = get_space("nb201")
BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
MANY_SKIPS = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_shipped_prior_is_valid_and_matches_the_space() -> None:
    prior = prior_for_space(NB201)
    assert prior.space == "nb201" and prior.ensemble == "edgenas_transfer"
    assert prior.fitted_on["dataset"] == "cifar10"  # the other datasets are held out
    features = NB201.arch_features(NB201.parse(BEST_C10))
    assert {t.feature for t in prior.space_terms} <= set(features)
    proxy_features = {t.feature for t in prior.proxy_terms}
    assert proxy_features == set(ensemble_components("edgenas_transfer")[1:])


def test_term_arithmetic() -> None:
    t = LinearTerm("flops", "proxy", "log", center=1.0, scale=2.0, weight=3.0)
    assert t.value(math.e**5) == pytest.approx(3.0 * (5.0 - 1.0) / 2.0)
    assert t.value(None) == 0.0 and t.value(float("nan")) == 0.0 and t.value(float("inf")) == 0.0
    assert t.value(0.0) == pytest.approx(3.0 * (math.log(1e-30) - 1.0) / 2.0)  # floored, finite


def test_topology_alone_prefers_the_benchmark_best_over_a_skip_heavy_cell() -> None:
    prior = load_prior("nb201_prior.json")
    good = prior.structure_score(NB201.arch_features(NB201.parse(BEST_C10)))
    bad = prior.structure_score(NB201.arch_features(NB201.parse(MANY_SKIPS)))
    assert good > bad


def test_transfer_score_is_structure_plus_weighted_proxies() -> None:
    prior = load_prior("nb201_prior.json")
    comps = ensemble_components("edgenas_transfer")
    values = {"structure_prior": -2.0, "flops": 100.0, "params": 0.8, "az_expressivity": 50.0, "sed": 80.0}
    expected = -2.0
    for t in prior.proxy_terms:
        x = math.log(values[t.feature]) if t.transform == "log" else values[t.feature]
        expected += t.weight * (x - t.center) / t.scale
    assert ensemble_score("edgenas_transfer", values, {}) == pytest.approx(expected)
    # a population score is the same per-arch value (no ranks)
    table = {c: np.array([values[c], values[c] * 1.1]) for c in comps}
    pop = aggregate("edgenas_transfer", table)
    assert pop[0] == pytest.approx(expected)
    # a failed structure_prior (dead arch) is the worst score; a failed proxy counts as its mean
    assert ensemble_score("edgenas_transfer", {**values, "structure_prior": -math.inf}, {}) == -math.inf
    partial = ensemble_score("edgenas_transfer", {**values, "sed": -math.inf}, {})
    sed = next(t for t in prior.proxy_terms if t.feature == "sed")
    assert partial == pytest.approx(expected - sed.value(80.0))


def test_structure_prior_proxy_through_the_engine() -> None:
    from edgenas.proxies.engine import score_archs

    (res,) = score_archs(NB201, [BEST_C10], "cifar100", ["structure_prior"])
    prior = load_prior("nb201_prior.json")
    assert res.scores["structure_prior"] == pytest.approx(
        prior.structure_score(NB201.arch_features(NB201.parse(BEST_C10))))


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("intercept"), "intercept"),
    (lambda d: d["terms"][0].update(scale=0.0), "scale"),
    (lambda d: d["terms"][0].update(transform="sqrt"), "transform"),
    (lambda d: d["terms"][1].update(source="data"), "source"),
    (lambda d: d["terms"][2].update(weight="1"), "weight"),
    (lambda d: d.update(terms=[]), "terms"),
    (lambda d: d.update(schema_version=2), "schema_version"),
])
def test_malformed_prior_names_the_field(mutate, field) -> None:
    doc = json.loads(json.dumps({
        "schema_version": 1, "space": "nb201", "ensemble": "edgenas_transfer", "target": "t", "fitted_on": {},
        "intercept": 0.0, "terms": [
            {"feature": f, "source": "proxy", "transform": "identity", "center": 0.0, "scale": 1.0, "weight": 1.0}
            for f in ("flops", "params", "sed")]}))
    load_prior_file(json.dumps(doc), "p.json")  # valid before the mutation
    mutate(doc)
    with pytest.raises(ProxyError, match=field) as err:
        load_prior_file(json.dumps(doc), "p.json")
    assert "p.json" in str(err.value)
    with pytest.raises(ProxyError, match="not valid JSON"):
        load_prior_file("{", "p.json")


def test_space_without_prior_is_refused_before_any_work() -> None:
    from edgenas.search.config import SearchConfig, resolve_config

    with pytest.raises(ProxyError, match="ships no accuracy prior"):
        prior_for_space(get_space("fbnet"))
    with pytest.raises(ConfigError, match="'edgenas_transfer' needs an accuracy prior.*'fbnet'"):
        resolve_config(SearchConfig(space="fbnet", dataset="cifar100", targets=("pixel3",),
                                    proxy="edgenas_transfer", device="cpu"))


def test_table_scorer_computes_data_free_columns_live(tmp_path) -> None:
    from edgenas.search.scoring import TableScorer

    path = tmp_path / "t.csv"
    path.write_text("index,flops,params,az_expressivity,az_trainability,sed,synflow\n"
                    "6111,153.3,1.07,60.0,-0.2,90.0,1e45\n")
    t = TableScorer(space=NB201, path=str(path), ensemble="edgenas_transfer")
    (raw,) = t.score([NB201.from_index(6111)])
    assert raw.values["structure_prior"] == pytest.approx(
        load_prior("nb201_prior.json").structure_score(NB201.arch_features(NB201.from_index(6111))))
    assert math.isfinite(t.combine(raw.values, {}))


def test_table_scorer_with_only_data_free_columns() -> None:
    from pathlib import Path

    from edgenas.search.scoring import TableScorer

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "scores" / "nb201_cifar10_b16_s0.csv.gz"
    if not path.is_file():
        pytest.skip("score table not in this checkout")
    t = TableScorer(space=NB201, path=str(path), columns=("structure_prior",))
    (raw,) = t.score([NB201.from_index(6111)])
    assert raw.values["structure_prior"] is not None and math.isfinite(raw.values["structure_prior"])
