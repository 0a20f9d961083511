"""The MACs-only target: ``--target macs`` or a ``--max-macs-m`` budget alone, no table needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgenas.errors import ConfigError
from edgenas.search import run_search
from edgenas.search.config import SearchConfig, load_config, macs_only
from edgenas.spaces import get_space
from tests.search._fakes import FakeScorer


def test_macs_only_resolves_to_a_macs_objective() -> None:
    c = macs_only(SearchConfig(targets=("macs",)))
    assert c.targets == () and c.extra_objectives == ("macs_m",)
    assert macs_only(c) == c
    c = macs_only(SearchConfig(max_macs_m=50))
    assert c.targets == () and c.extra_objectives == ("macs_m",)
    c = macs_only(SearchConfig(targets=("macs", "jetson"), extra_objectives=("params_m",)))
    assert c.targets == ("jetson",) and c.extra_objectives == ("macs_m", "params_m")
    assert macs_only(SearchConfig(targets=("jetson",), max_macs_m=5)).extra_objectives == ()
    with pytest.raises(ConfigError, match="no target given; expected at least one target .*--target macs"):
        SearchConfig().validate()


@pytest.mark.parametrize("kw", [{"targets": ("macs",), "max_macs_m": 40.0}, {"max_macs_m": 40.0}])
def test_macs_target_searches_a_space_without_any_table(tmp_path: Path, kw: dict) -> None:
    space = get_space("macro")
    out = tmp_path / "run"
    r = run_search(space="macro", evaluations=24, population=8, noise_seeds=0, out=str(out), scorer=FakeScorer(),
                   **kw)
    assert r.config.targets == () and "macs_m" in r.config.extra_objectives
    assert r.candidates and all(c.macs_m <= 40.0 and not c.latency_ms for c in r.candidates)
    for c in r.candidates:  # MACs at the task's resolution, the space's closed form
        assert c.macs_m == pytest.approx(space.analytic_size(space.parse(c.arch), "cifar10")[0], rel=1e-12)
    doc = json.loads((out / "pareto.json").read_text())
    assert doc["targets"] == [] and {"name": "macs_m", "direction": "min"} in doc["objectives"]
    assert (out / "pareto.png").stat().st_size > 0
    again = run_search(load_config(out / "config.json"), resume=True, scorer=FakeScorer())
    assert again.n_scored == 0 and [c.arch for c in again.front] == [c.arch for c in r.front]


def test_cost_with_the_macs_target_needs_no_table() -> None:
    from click.testing import CliRunner

    from edgenas.cli import cli

    r = CliRunner().invoke(cli, ["cost", "--space", "macro", "--target", "macs", "22212220", "00000000", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    # NAS-Bench-Macro's params; its flops plus global pooling (1280 x 4 x 4)
    assert [round(x["params_m"] * 1e6) for x in rows] == [1985514, 387882]
    assert [round(x["macs_m"] * 1e6) for x in rows] == [85164544 + 20480, 7713280 + 20480]
    assert rows[0]["target"] == "macs" and rows[0]["input_shape"] == [3, 32, 32]


@pytest.mark.parametrize("space_name", ["mobilenetv2", "mobilenetv3"])
def test_nsga2_never_mutates_a_position_with_one_choice(tmp_path: Path, space_name: str) -> None:
    """Both MobileNet spaces fix their first block: NSGA-II's mutation used to draw a 'different' token
    there (numpy: high <= 0) once the evolutionary loop ran."""
    space = get_space(space_name)
    fixed = [p for p, c in enumerate(space.choices) if len(c) == 1]
    assert fixed, "the test needs a space with a fixed position"
    r = run_search(space=space_name, dataset="cifar10", targets=("macs",), evaluations=100, population=8,
                   noise_seeds=0, seed=2, out=str(tmp_path / "run"), scorer=FakeScorer())
    assert len(r.candidates) >= 60  # the loop ran well past the initial population
    for c in r.candidates:
        genome = space.encode(space.parse(c.arch))
        assert all(genome[p] == 0 for p in fixed)
