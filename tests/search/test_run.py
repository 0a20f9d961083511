"""run_search: determinism, isomorphism, budgets, reference population, outputs, bad inputs."""

from __future__ import annotations

import csv
import json
import math
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgenas.errors import ConfigError, InfeasibleError, UnknownNameError
from edgenas.search import run_search
from edgenas.search.config import load_config
from edgenas.search.pareto import pareto_mask
from edgenas.spaces import get_space
from tests.search._fakes import FakeLatency, FakeScorer, fake_size, fakes

SPACE = get_space("nb201")


def _run(tmp_path: Path, name: str = "run", **kw):
    kw.setdefault("evaluations", 120)
    kw.setdefault("population", 20)
    kw.setdefault("max_latency_ms", 6.0)
    scorer_kw = kw.pop("scorer_kw", {})
    return run_search(targets=("fake",), out=str(tmp_path / name), **fakes(**scorer_kw), **kw)


def test_same_seed_same_front_different_seed_differs(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", seed=1)
    b = _run(tmp_path, "b", seed=1)
    c = _run(tmp_path, "c", seed=2)
    assert [x.arch for x in a.candidates] == [x.arch for x in b.candidates]
    assert [x.arch for x in a.front] == [x.arch for x in b.front]
    assert [x.arch for x in a.candidates] != [x.arch for x in c.candidates]
    pa = json.loads((tmp_path / "a" / "pareto.json").read_text())
    pb = json.loads((tmp_path / "b" / "pareto.json").read_text())
    assert pa["members"] == pb["members"]


@pytest.mark.parametrize("searcher", ["nsga2", "random"])
def test_candidates_feasible_unique_and_budget_respected(tmp_path: Path, searcher: str) -> None:
    r = _run(tmp_path, searcher=searcher, max_params_m=0.5, max_macs_m=70.0)
    assert len(r.candidates) == 120
    keys = [c.iso_key for c in r.candidates]
    assert len(set(keys)) == len(keys), "an isomorphism class was scored twice"
    for c in r.candidates:
        assert c.latency_ms["fake-tx2"] <= 6.0 and c.params_m <= 0.5 and c.macs_m <= 70.0
    # the front is exactly the non-dominated set of (score up, latency down)
    F = np.array([[-c.score, c.latency_ms["fake-tx2"]] for c in r.candidates])
    expect = {c.arch for c, m in zip(r.candidates, pareto_mask(F)) if m}
    assert {c.arch for c in r.front} == expect
    scores = [c.score for c in r.front]
    assert scores == sorted(scores, reverse=True)


def test_nsga2_beats_random_on_fake_problem(tmp_path: Path) -> None:
    """The fake proxy rewards convolutions, latency punishes them: NSGA-II's front should
    dominate more area than random's for most seeds (hypervolume in score x latency)."""
    from edgenas.search.pareto import hypervolume_2d

    wins = 0
    for seed in range(4):
        hv = {}
        for s in ("nsga2", "random"):
            r = _run(tmp_path, f"{s}{seed}", searcher=s, seed=seed, evaluations=150)
            F = np.array([[-c.score, c.latency_ms["fake-tx2"]] for c in r.candidates])
            hv[s] = hypervolume_2d(F, (0.0, 6.0))
        wins += hv["nsga2"] > hv["random"]
    assert wins >= 3


def test_isomorphic_archs_scored_once(tmp_path: Path) -> None:
    scorer = FakeScorer()
    r = run_search(targets=("fake",), evaluations=300, population=30, out=str(tmp_path / "r"), scorer=scorer,
                   cost_models={"fake-tx2": FakeLatency()}, size=fake_size)
    iso = [SPACE.iso_key(SPACE.parse(a)) for a in scorer.calls]
    assert len(iso) == len(set(iso)) == len(r.candidates) == 300


def test_ensemble_reference_is_initial_population(tmp_path: Path) -> None:
    r = _run(tmp_path, scorer_kw={"ensemble": True}, evaluations=80, population=20)
    ref = r.candidates[:20]
    # reference members' ranks are against themselves: mean over components of share strictly below
    for c in r.candidates:
        assert 0.0 <= c.search_score <= 1.0
    ref_a = np.array([c.raw_scores["fake_a"] for c in ref])
    ref_b = np.array([c.raw_scores["fake_b"] for c in ref])
    for c in r.candidates[20:]:
        expect = (np.mean(ref_a < c.raw_scores["fake_a"]) + np.mean(ref_b < c.raw_scores["fake_b"])) / 2
        assert c.search_score == pytest.approx(expect)


def test_finished_search_ranks_ensembles_within_all_its_candidates(tmp_path: Path) -> None:
    r = _run(tmp_path, scorer_kw={"ensemble": True}, evaluations=80, population=20)
    a = np.array([c.raw_scores["fake_a"] for c in r.candidates])
    b = np.array([c.raw_scores["fake_b"] for c in r.candidates])
    for i, c in enumerate(r.candidates):  # the fake's rule: mean share of the other candidates below
        expect = (np.mean(np.delete(a, i) < a[i]) + np.mean(np.delete(b, i) < b[i])) / 2
        assert c.score == pytest.approx(expect)
    # reference ranks saturate at the top (several candidates beat the whole reference); final ones do not
    ties_ref = sum(c.search_score == 1.0 for c in r.candidates)
    ties_final = sum(c.score == max(x.score for x in r.candidates) for c in r.candidates)
    assert ties_ref >= 2 and ties_final <= ties_ref
    assert r.front[0].score == max(c.score for c in r.candidates)
    members = json.loads((tmp_path / "run" / "pareto.json").read_text())["members"]
    assert members[0]["scores"]["fake"] == pytest.approx(r.front[0].score)
    assert members[0]["search_score"] == pytest.approx(r.front[0].search_score)
    rows = [ln for ln in (tmp_path / "run" / "candidates.csv").read_text().splitlines() if not ln.startswith("#")]
    head = rows[0].split(",")
    first = dict(zip(head, rows[1].split(",")))
    assert float(first["score"]) == pytest.approx(r.candidates[0].score)
    assert float(first["search_score"]) == pytest.approx(r.candidates[0].search_score)


class _RecipeScorer(FakeScorer):
    """The edgenas_fast recipe over fake components, combined by the product's ensemble_score;
    every arch without a 3x3 conv fails one component (None)."""

    def __init__(self) -> None:
        super().__init__("edgenas_fast", ensemble=True)
        from edgenas.proxies.ensemble import ensemble_components

        self.components = ensemble_components("edgenas_fast")
        self.config = {"proxy": "edgenas_fast", "fake": 2}

    def score(self, archs):
        out = super().score(archs)
        return [type(r)({k: (None if k == "sed" and "nor_conv_3x3" not in str(a) else v) for k, v in r.values.items()},
                        r.seconds) for a, r in zip(archs, out)]

    def combine(self, raw, reference):
        from edgenas.proxies.ensemble import ensemble_score

        return ensemble_score("edgenas_fast", {k: (-math.inf if v is None else v) for k, v in raw.items()}, reference)


def test_final_ranks_equal_aggregate_over_the_candidates_failures_included(tmp_path: Path) -> None:
    from edgenas.proxies.ensemble import aggregate

    r = run_search(targets=("fake",), evaluations=80, population=16, max_latency_ms=6.0, write_outputs=False,
                   scorer=_RecipeScorer(), cost_models={"fake-tx2": FakeLatency()}, size=fake_size)
    table = {c: np.array([np.nan if x.raw_scores[c] is None else x.raw_scores[c] for x in r.candidates])
             for c in r.candidates[0].raw_scores}
    assert np.isnan(table["sed"]).any(), "some fake archs should fail a component"
    np.testing.assert_allclose([c.score for c in r.candidates], aggregate("edgenas_fast", table), atol=1e-9)
    # ... which is, by definition, each candidate ranked against all the others (failed = their worst)
    from edgenas.proxies.ensemble import ensemble_score

    for i in (0, len(r.candidates) // 2, len(r.candidates) - 1):
        others = {c: np.delete(v, i) for c, v in table.items()}
        others = {c: np.where(np.isnan(v), np.nanmin(v), v) for c, v in others.items()}
        mine = {c: (-math.inf if np.isnan(v[i]) else float(v[i])) for c, v in table.items()}
        assert r.candidates[i].score == pytest.approx(ensemble_score("edgenas_fast", mine, others), abs=1e-9)


def test_outputs_contract(tmp_path: Path) -> None:
    r = _run(tmp_path)
    d = tmp_path / "run"
    p = json.loads((d / "pareto.json").read_text())
    assert p["schema_version"] == 1 and len(p["members"]) == len(r.front) > 0
    for m in p["members"]:
        assert set(m) >= {"arch", "scores", "latency_ms", "latency_source", "macs_m", "params_m", "index", "iso_key"}
        assert SPACE.format(SPACE.parse(m["arch"])) == m["arch"]
        assert m["latency_source"] == {"fake-tx2": "fake-measured"}
    first = [m["scores"]["fake"] for m in p["members"]]
    assert first == sorted(first, reverse=True)
    rows = list(csv.DictReader(line for line in (d / "candidates.csv").read_text().splitlines()
                               if not line.startswith("#")))
    assert len(rows) == len(r.candidates)
    assert sum(int(x["on_front"]) for x in rows) == len(r.front)
    again = load_config(d / "config.json")
    assert again == r.config and again.out == str(d)
    rerun = run_search(again, resume=True, **fakes())  # config.json re-runs the same search
    assert rerun.n_scored == 0 and [c.arch for c in rerun.front] == [c.arch for c in r.front]
    assert (d / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(d.glob("*.tmp")), "temporary files left behind"
    mask = os.umask(0)
    os.umask(mask)
    for f in ("pareto.json", "candidates.csv", "config.json", "pareto.png"):  # not private like mkstemp's
        assert stat.S_IMODE((d / f).stat().st_mode) == 0o666 & ~mask, f


def test_resume_reuses_everything_and_refuses_other_config(tmp_path: Path) -> None:
    first = _run(tmp_path, seed=5)
    scorer = FakeScorer()
    again = run_search(targets=("fake",), evaluations=120, population=20, max_latency_ms=6.0, seed=5,
                       out=str(tmp_path / "run"), resume=True, scorer=scorer,
                       cost_models={"fake-tx2": FakeLatency()}, size=fake_size)
    assert scorer.calls == [] and again.n_reused == 120 and again.n_scored == 0
    assert [c.arch for c in again.front] == [c.arch for c in first.front]
    with pytest.raises(ConfigError, match="different search config.*seed"):
        _run(tmp_path, seed=6, resume=True)
    with pytest.raises(ConfigError, match="already holds a search"):
        _run(tmp_path, seed=5)
    with pytest.raises(ConfigError, match="nothing to resume"):
        _run(tmp_path, "empty", resume=True)
    assert not (tmp_path / "empty").exists()


def test_kill9_then_resume_loses_and_rescores_nothing(tmp_path: Path) -> None:
    """A real subprocess is killed with SIGKILL mid-run; the resumed run rescoring nothing that
    was stored and ends with exactly the uninterrupted run's candidates."""
    import sqlite3
    import time

    root = Path(__file__).resolve().parents[2]
    out, log1, log2 = tmp_path / "run", tmp_path / "calls1.txt", tmp_path / "calls2.txt"
    n = 120
    cmd = [sys.executable, "-m", "tests.search._run_fake", str(out), str(log1), "0.02", str(n)]
    proc = subprocess.Popen(cmd, cwd=root)
    deadline = time.time() + 30
    while time.time() < deadline:
        # the 41st proxy call starts only after the 40th result is committed; the call in flight at
        # the kill is legitimately not stored
        if log1.exists() and len(log1.read_text().splitlines()) >= 41:
            break
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no cleanup, no checkpoint
    proc.wait()
    assert proc.returncode == -9
    db = sqlite3.connect(str(out / "candidates.sqlite"))
    stored = {r[0] for r in db.execute("SELECT iso_key FROM scores")}
    db.close()
    assert 40 <= len(stored) < n, "the kill did not land mid-run"
    assert not (out / "pareto.json").exists()

    done = subprocess.run([*cmd[:4], str(log2), "0", str(n), "--resume"], cwd=root, timeout=60, check=False)
    assert done.returncode == 0
    rescored = {SPACE.iso_key(SPACE.parse(a)) for a in log2.read_text().splitlines()} if log2.exists() else set()
    assert not rescored & stored, "stored candidates were scored again"
    rows = [ln for ln in (out / "candidates.csv").read_text().splitlines() if not ln.startswith(("#", "order"))]
    assert len(rows) == n
    final_keys = {r.split(",")[3] for r in rows}
    assert stored <= final_keys, "a stored candidate was lost"
    ref = _run(tmp_path, "reference", seed=3, evaluations=n, population=16)
    assert sorted(final_keys) == sorted(c.iso_key for c in ref.candidates)
    p = json.loads((out / "pareto.json").read_text())
    assert [m["arch"] for m in p["members"]] == [c.arch for c in ref.front]


def test_results_without_a_store_are_never_overwritten(tmp_path: Path) -> None:
    r = _run(tmp_path, evaluations=30)
    (r.run_dir / "candidates.sqlite").unlink()
    before = (r.run_dir / "pareto.json").read_bytes()
    with pytest.raises(ConfigError, match="holds the results of another search .pareto.json. but no candidates.sqlite"):
        _run(tmp_path, evaluations=30, seed=1)
    assert (r.run_dir / "pareto.json").read_bytes() == before


def test_infeasible_budget_writes_nothing(tmp_path: Path) -> None:
    # the all-none arch (2 ms) is degenerate: the fastest live arch is what the message names
    want = r"latency <= 0.5 ms.*all 15,625 archs checked, 341 degenerate ones excluded.*fastest on fake-tx2 2.05 ms"
    with pytest.raises(InfeasibleError, match=want):
        _run(tmp_path, "never", max_latency_ms=0.5)
    assert not (tmp_path / "never").exists()
    with pytest.raises(InfeasibleError, match="params"):
        _run(tmp_path, "never", max_params_m=0.01)
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"max_latency_ms": -1.0}, "max_latency_ms=-1.0 is invalid"),
        ({"max_params_m": 0.0}, "max_params_m=0.0 is invalid"),
        ({"max_macs_m": math.nan}, "max_macs_m=nan is invalid"),
        ({"evaluations": 0}, "evaluations=0 is invalid"),
        ({"population": 1}, "population=1 is invalid"),
        ({"seed": -3}, "seed=-3 is invalid"),
    ],
)
def test_bad_config_values(tmp_path: Path, kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _run(tmp_path, "bad", **kw)
    assert not (tmp_path / "bad").exists()


def test_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="unknown searcher 'nsga3'"):
        _run(tmp_path, "bad", searcher="nsga3")
    with pytest.raises(UnknownNameError, match="unknown space"):
        _run(tmp_path, "bad", space="nb202")
    assert not (tmp_path / "bad").exists()


def test_unwritable_out_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="cannot write run folder"):
        _run(tmp_path, "file/sub")


def test_missing_latency_is_infeasible_not_zero(tmp_path: Path) -> None:
    fast = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    r = run_search(targets=("fake",), evaluations=50, population=10, out=str(tmp_path / "r"),
                   scorer=FakeScorer(), cost_models={"fake-tx2": FakeLatency(missing={fast})}, size=fake_size)
    assert fast not in {c.arch for c in r.candidates}


def test_progress_callback(tmp_path: Path) -> None:
    seen = []
    _run(tmp_path, on_progress=seen.append, evaluations=60)
    n = [p.n_evaluated for p in seen]
    assert sorted(set(n)) == list(range(1, 61)) and n == sorted(n)
    assert seen[-1].front_size > 0 and seen[-1].n_budget == 60
    # a run no larger than its first population: its ticks came while the batch was pending; one more after it
    seen.clear()
    _run(tmp_path, name="small", on_progress=seen.append, evaluations=20, population=20)
    assert seen[-1].n_evaluated == 20 and seen[-1].front_size > 0 and seen[-1].best_score is not None


def test_top_level_lazy_export() -> None:
    code = "import edgenas, sys; assert callable(edgenas.search); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_is_light() -> None:
    code = ("import sys, edgenas.search, edgenas.search.run; "
            "bad = [m for m in ('torch', 'pymoo', 'matplotlib') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


class _FailingScorer(FakeScorer):
    """Fails (None) on every arch without a 3x3 convolution."""

    def score(self, archs):
        out = super().score(archs)
        return [type(r)({k: (v if "nor_conv_3x3" in str(a) else None) for k, v in r.values.items()}, r.seconds)
                for a, r in zip(archs, out)]


def test_failed_scores_are_stored_but_never_on_the_front(tmp_path: Path) -> None:
    r = run_search(targets=("fake",), evaluations=80, population=16, out=str(tmp_path / "r"),
                   scorer=_FailingScorer(), cost_models={"fake-tx2": FakeLatency()}, size=fake_size)
    failed = [c for c in r.candidates if not math.isfinite(c.score)]
    assert failed, "the fake should fail on some archs"
    assert all(math.isfinite(c.score) for c in r.front)
    p = json.loads((tmp_path / "r" / "pareto.json").read_text())
    assert all(m["scores"]["fake"] is not None for m in p["members"])
    rows = (tmp_path / "r" / "candidates.csv").read_text().splitlines()
    assert len([ln for ln in rows if not ln.startswith(("#", "order"))]) == 80


def test_each_class_is_represented_by_its_cheapest_feasible_member(tmp_path: Path) -> None:
    """Isomorphic archs compute the same function but dead ops still cost latency: the search
    must report (and score) the feasible member of each class with the lowest cost."""
    members: dict[str, list] = {}
    for a in SPACE.enumerate():
        members.setdefault(SPACE.iso_key(a), []).append(a)
    lat, budget = FakeLatency(), 6.0
    r = _run(tmp_path, evaluations=80, max_latency_ms=budget)
    n_multi = 0
    for c in r.candidates:
        group = members[c.iso_key]
        n_multi += len(group) > 1
        feasible = [lat.predict(m).latency_ms for m in group if lat.predict(m).latency_ms <= budget]
        assert c.latency_ms["fake-tx2"] == pytest.approx(min(feasible))
    assert n_multi > 10, "the test needs classes with several members"


def test_nsga2_ends_with_a_climb_from_the_best_candidate(tmp_path: Path) -> None:
    """The last ``local_share`` of the evaluations are single-position neighbours of the best candidates."""
    import inspect

    from edgenas.search.searchers import nsga2

    def neighbour_keys(c) -> set[str]:
        g = SPACE.encode(SPACE.parse(c.arch))
        out = set()
        for p, ch in enumerate(SPACE.choices):
            for t in range(len(ch)):
                if t != g[p]:
                    n = g.copy()
                    n[p] = t
                    out.add(SPACE.iso_key(SPACE.decode(n)))
        return out

    r = _run(tmp_path, evaluations=120, population=20)
    n_local = round(inspect.signature(nsga2).parameters["local_share"].default * 120)
    local = r.candidates[-n_local:]
    best = max(r.candidates[:-n_local], key=lambda c: (c.score, -c.order))
    assert local[0].iso_key in neighbour_keys(best)
    for c in local:
        assert any(c.iso_key in neighbour_keys(e) for e in r.candidates[:c.order]), c.arch
    # the top pick is at least as good as every scored neighbour of the best pre-climb candidate
    assert r.front[0].score >= max(c.score for c in local if c.iso_key in neighbour_keys(best))


def test_results_finishing_out_of_order_give_the_same_run(tmp_path: Path) -> None:
    """Parallel workers finish in any order: the run must not depend on it."""
    from tests.search._fakes import ShuffledFakeScorer

    plain = _run(tmp_path, "plain", seed=4, scorer_kw={"ensemble": True})
    shuffled_scorer = ShuffledFakeScorer(ensemble=True)
    shuffled = run_search(targets=("fake",), out=str(tmp_path / "shuffled"), evaluations=120, population=20,
                          max_latency_ms=6.0, seed=4, scorer=shuffled_scorer,
                          cost_models={"fake-tx2": FakeLatency()}, size=fake_size)
    assert max(shuffled_scorer.batch_sizes) == 20  # whole generations were handed over at once
    assert [(c.arch, c.score) for c in shuffled.candidates] == [(c.arch, c.score) for c in plain.candidates]
    assert [c.arch for c in shuffled.front] == [c.arch for c in plain.front]


def test_two_proxy_workers_score_like_one(tmp_path: Path) -> None:
    """Real worker processes (spawned, one torch thread each) against in-process scoring."""
    from edgenas.search.scoring import ProxyScorer

    archs = [SPACE.from_index(i) for i in (11, 2024, 15000)]
    kw = {"space": SPACE, "dataset": "cifar10", "proxy": "naswot", "seed": 3, "batch_size": 4}
    one = ProxyScorer(**kw).score(archs)
    two = ProxyScorer(**kw, workers=2)
    try:
        got = two.score(archs)
    finally:
        two.close()
    for a, b in zip(one, got):
        assert a.values["naswot"] == pytest.approx(b.values["naswot"], rel=1e-6)


def test_bad_workers_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workers=-1 is invalid"):
        _run(tmp_path, "bad", workers=-1)
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_kill9_at_ten_points_then_resume_gives_the_uninterrupted_run(tmp_path: Path) -> None:
    """SIGKILL the same search 10 times (after 8, 18, ..., 98 stored scores), resuming each time: no stored
    score is lost or recomputed, and the finished run equals an uninterrupted one (candidates and front)."""
    import sqlite3
    import time

    root = Path(__file__).resolve().parents[2]
    out, n = tmp_path / "run", 120

    def stored() -> set[str]:
        if not (out / "candidates.sqlite").exists():
            return set()
        db = sqlite3.connect(str(out / "candidates.sqlite"))
        try:
            return {r[0] for r in db.execute("SELECT iso_key FROM scores")}
        except sqlite3.OperationalError:  # the table is not created yet
            return set()
        finally:
            db.close()

    scored: list[str] = []  # every proxy call of every attempt, in order
    for i, point in enumerate(range(8, 108, 10)):
        log = tmp_path / f"calls{i}.txt"
        cmd = [sys.executable, "-m", "tests.search._run_fake", str(out), str(log), "0.01", str(n)]
        proc = subprocess.Popen([*cmd, *(["--resume"] if i else [])], cwd=root)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and len(stored()) < point:
            time.sleep(0.01)
        assert proc.poll() is None, f"the run ended before kill point {point}"
        before = stored()
        proc.kill()
        proc.wait()
        after = stored()
        assert before <= after, "a committed score disappeared at the kill"
        scored += log.read_text().splitlines() if log.exists() else []
    log = tmp_path / "calls-final.txt"
    done = subprocess.run([sys.executable, "-m", "tests.search._run_fake", str(out), str(log), "0", str(n),
                           "--resume"], cwd=root, timeout=120, check=False)
    assert done.returncode == 0
    scored += log.read_text().splitlines() if log.exists() else []
    keys = [SPACE.iso_key(SPACE.parse(a)) for a in scored]
    # a score is recomputed only if its process was killed before committing it (at most one per kill)
    assert len(keys) - len(set(keys)) <= 10
    rows = [ln for ln in (out / "candidates.csv").read_text().splitlines() if not ln.startswith(("#", "order"))]
    ref = _run(tmp_path, "reference", seed=3, evaluations=n, population=16)
    assert sorted(r.split(",")[3] for r in rows) == sorted(c.iso_key for c in ref.candidates)
    p = json.loads((out / "pareto.json").read_text())
    assert [m["arch"] for m in p["members"]] == [c.arch for c in ref.front]


def test_score_shown_is_a_percentile_or_a_predicted_accuracy(tmp_path: Path) -> None:
    from dataclasses import replace

    from edgenas.search.outputs import score_shown

    r = _run(tmp_path)
    p = json.loads((tmp_path / "run" / "pareto.json").read_text())
    assert p["score_shown"]["name"] == "percentile"
    scores = sorted(c.score for c in r.candidates if math.isfinite(c.score))
    shown = {m["iso_key"]: m["score_shown"] for m in p["members"]}
    best = r.front[0]
    # the best score beats every other candidate: percentile 100; a member's value is its share below
    assert shown[best.iso_key] == pytest.approx(100.0 * (sum(s < best.score for s in scores)) / (len(scores) - 1))
    assert p["pick"]["score_shown"] == score_shown(r).values[r.pick.iso_key]
    assert all(0.0 <= v <= 100.0 for v in shown.values())
    # an accuracy prior's score -log(100 - acc) is shown as the accuracy it predicts
    prior = replace(r, config=replace(r.config, proxy="edgenas_transfer"))
    s = score_shown(prior)
    assert s.name == "predicted_accuracy_pct"
    assert s.values[best.iso_key] == pytest.approx(100.0 - math.exp(-best.score))


def test_resume_takes_the_same_data_by_any_spelling(tmp_path: Path, monkeypatch) -> None:
    """./d.npz, d.npz and its absolute path are one --data: a resume by another spelling used to be refused as a
    different search config."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for name in ("d.npz", "other.npz"):
        np.savez(tmp_path / name, x=rng.random((12, 3, 32, 32)).astype(np.float32), y=np.arange(12) % 3)
    kw = dict(targets=("fake",), evaluations=20, population=10, max_latency_ms=6.0, out="run",
              cost_models={"fake-tx2": FakeLatency()}, size=fake_size)
    run_search(data="d.npz", scorer=FakeScorer(), **kw)
    for spelling in ("./d.npz", str(tmp_path / "d.npz")):
        scorer = FakeScorer()
        again = run_search(data=spelling, resume=True, scorer=scorer, **kw)
        assert scorer.calls == [] and again.n_scored == 0 and again.config.data == "d.npz"
    with pytest.raises(ConfigError, match="different search config.*data"):
        run_search(data="other.npz", resume=True, scorer=FakeScorer(), **kw)
