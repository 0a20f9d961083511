"""What reaches the pick: degenerate archs, the exhaustive searcher, score spread, progress."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgenas.errors import ConfigError
from edgenas.search import run_search
from edgenas.search.config import load_config
from edgenas.spaces import get_space
from tests.search._fakes import FakeLatency, FakeScorer, fake_size

SPACE = get_space("nb201")
DEAD = "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"


class _LikesDead(FakeScorer):
    """Scores degenerate archs best, so any that slipped through would top the front."""

    def _value(self, arch, comp):
        return 100.0 if SPACE.is_degenerate(arch) else super()._value(arch, comp)


class _Seeded(FakeScorer):
    """A FakeScorer whose values move with the init seed (``score(..., seed=)``)."""

    def score(self, archs, *, seed=None):
        out = super().score(archs)
        if seed is None:
            return out
        from tests.search._fakes import _noise

        return [type(r)({c: v - 3.0 * _noise(f"{seed}{a}{c}") for c, v in r.values.items()}, 0.0)
                for a, r in zip(archs, out)]


def _search(scorer, **kw):
    kw.setdefault("evaluations", 150)
    kw.setdefault("population", 20)
    return run_search(targets=("fake",), scorer=scorer, cost_models={"fake-tx2": FakeLatency()}, size=fake_size,
                      write_outputs=False, **kw)


@pytest.mark.parametrize("searcher", ["nsga2", "random", "exhaustive"])
def test_degenerate_archs_are_never_scored_and_reported_once(searcher: str) -> None:
    scorer = _LikesDead()
    # 2.3 ms admits DEAD-like archs (cheap: pools, skips, nones)
    r = _search(scorer, searcher=searcher, max_latency_ms=3.0)
    assert scorer.calls, "nothing was scored"
    assert not any(SPACE.is_degenerate(SPACE.parse(a)) for a in scorer.calls)
    assert not any(SPACE.is_degenerate(SPACE.parse(c.arch)) for c in r.front)
    notes = [n for n in r.notes if "degenerate" in n]
    assert len(notes) == 1 and "never scored" in notes[0]


def test_exhaustive_scores_every_feasible_live_class_once() -> None:
    lat = FakeLatency()
    r = _search(FakeScorer(), searcher="exhaustive", evaluations=SPACE.size, max_latency_ms=3.0)
    want = {SPACE.iso_key(a) for a in SPACE.enumerate()
            if lat.predict(a).latency_ms <= 3.0 and not SPACE.is_degenerate(a)}
    got = [c.iso_key for c in r.candidates]
    assert len(got) == len(set(got)) and set(got) == want


def test_score_spread_in_units_of_the_score_and_in_pareto_json(tmp_path: Path) -> None:
    r = run_search(targets=("fake",), scorer=_Seeded("edgenas_fast", ensemble=True), evaluations=60, population=12,
                   cost_models={"fake-tx2": FakeLatency()}, size=fake_size, max_latency_ms=6.0, noise_seeds=2,
                   out=str(tmp_path / "run"))
    top = r.front[0]
    sp = top.score_spread
    assert sp is not None and len(sp["seeds"]) == 3 and sp["seeds"][0] == 0
    assert sp["scores"][0] == pytest.approx(top.score)  # the run's own seed reproduces the score
    assert sp["std"] == pytest.approx(float(np.std(sp["scores"], ddof=1)))
    assert sp["std"] > 0, "the seeded fake moves with the seed"
    doc = json.loads((tmp_path / "run" / "pareto.json").read_text())
    assert doc["members"][0]["score_spread"]["scores"] == pytest.approx(sp["scores"])
    # resumed, the spread comes from the store: nothing is scored again, under any seed
    again_scorer = _Seeded("edgenas_fast", ensemble=True)
    again = run_search(load_config(tmp_path / "run" / "config.json"), resume=True, scorer=again_scorer,
                       cost_models={"fake-tx2": FakeLatency()}, size=fake_size)
    assert again_scorer.calls == [] and again.front[0].score_spread == sp
    # a scorer that cannot change its seed (a table, this plain fake) gives no spread, not a fake one
    plain = _search(FakeScorer("edgenas_fast", ensemble=True), max_latency_ms=6.0)
    assert all(c.score_spread is None for c in plain.front)


def test_noise_seeds_validated() -> None:
    with pytest.raises(ConfigError, match="noise_seeds"):
        _search(FakeScorer(), noise_seeds=-1)


def test_progress_best_is_the_final_tables_best() -> None:
    seen = []
    r = _search(FakeScorer("edgenas_fast", ensemble=True), max_latency_ms=6.0, on_progress=seen.append)
    assert seen and seen[-1].best_score == pytest.approx(r.front[0].score)


def _cand(i: int, score: float, macs: float, lat: float):
    from edgenas.search.result import Candidate

    return Candidate(arch=f"a{i}", index=i, iso_key=f"k{i}", score=score, raw_scores={}, latency_ms={"t": lat},
                     latency_source={"t": "x"}, macs_m=macs, params_m=0.1, seconds=0.0, order=i)


def test_pick_is_the_largest_of_the_best_scoring_share() -> None:
    from edgenas.search.picks import pick_candidate

    cands = [_cand(0, 10.0, 50.0, 5.0), _cand(1, 9.9, 80.0, 6.0), _cand(2, 9.8, 90.0, 6.5),
             _cand(3, 5.0, 200.0, 9.0), _cand(4, float("-inf"), 300.0, 1.0)]
    assert pick_candidate(cands, 0.0).index == 0  # share 0: the best score
    assert pick_candidate(cands, 0.5).index == 1  # the best ceil(0.5 * 4 finite) = 2: the larger
    assert pick_candidate(cands, 0.75).index == 2
    assert pick_candidate(cands, 1.0).index == 3  # every finite candidate: the largest; failed ones never
    tie = [_cand(0, 10.0, 80.0, 5.0), _cand(1, 9.0, 80.0, 4.0)]
    assert pick_candidate(tie, 1.0).index == 0  # equal MACs: the higher score
    assert pick_candidate([_cand(0, float("-inf"), 1.0, 1.0)], 0.5) is None


def test_pick_in_result_pareto_json_and_candidates_csv(tmp_path: Path) -> None:
    import csv

    r = run_search(targets=("fake",), scorer=FakeScorer("edgenas_fast", ensemble=True), evaluations=120,
                   population=20, cost_models={"fake-tx2": FakeLatency()}, size=fake_size, max_latency_ms=6.0,
                   pick_top_share=0.05, out=str(tmp_path / "run"))
    top6 = sorted(r.candidates, key=lambda c: -c.score)[:6]
    assert r.pick.macs_m == max(c.macs_m for c in top6)
    doc = json.loads((tmp_path / "run" / "pareto.json").read_text())
    assert doc["pick"]["arch"] == r.pick.arch and "MACs" in doc["pick_rule"]
    rows = list(csv.DictReader(ln for ln in (tmp_path / "run" / "candidates.csv").read_text().splitlines()
                               if not ln.startswith("#")))
    assert [row["arch"] for row in rows if row["pick"] == "1"] == [r.pick.arch]
    with pytest.raises(ConfigError, match="pick_top_share"):
        _search(FakeScorer(), pick_top_share=1.5)


def test_noise_band_pick_is_the_largest_within_z_pooled_deviations(tmp_path: Path) -> None:
    from edgenas.search.picks import noise_std

    kw = dict(targets=("fake",), evaluations=80, population=12, cost_models={"fake-tx2": FakeLatency()},
              size=fake_size, max_latency_ms=6.0, noise_seeds=2)
    r = run_search(scorer=_Seeded("edgenas_fast", ensemble=True), pick_within_noise=2.0, out=str(tmp_path / "run"), **kw)
    std = noise_std(r.front)
    assert std is not None and std > 0
    best = max(c.score for c in r.candidates)
    band = [c for c in r.candidates if c.score >= best - 2.0 * std - 1e-12]
    assert r.pick.macs_m == max(c.macs_m for c in band)
    assert r.pick.score_spread is not None, "the pick carries its own spread"
    doc = json.loads((tmp_path / "run" / "pareto.json").read_text())
    assert "standard deviations" in doc["pick_rule"] and doc["pick"]["arch"] == r.pick.arch
    # z = 0: the band is the best score alone (the pick_top_share 0 rule, ties aside)
    r0 = run_search(scorer=_Seeded("edgenas_fast", ensemble=True), pick_within_noise=0.0, write_outputs=False, **kw)
    assert r0.pick.score == best and r0.pick.iso_key == r0.front[0].iso_key
    # a scorer that cannot change its seed measures no noise: the pick_top_share rule applies
    plain = _search(FakeScorer("edgenas_fast", ensemble=True), max_latency_ms=6.0, pick_within_noise=2.0,
                    pick_top_share=0.0)
    assert plain.pick.iso_key == plain.front[0].iso_key
    assert any("no init-seed spread was measured" in n for n in plain.notes)
    assert not any("no init-seed spread" in n for n in r0.notes)


def test_noise_band_pick_validated() -> None:
    with pytest.raises(ConfigError, match="pick_within_noise=-1 is invalid"):
        _search(FakeScorer(), pick_within_noise=-1)
    with pytest.raises(ConfigError, match="needs noise_seeds >= 1"):
        _search(FakeScorer(), pick_within_noise=1.0, noise_seeds=0)
