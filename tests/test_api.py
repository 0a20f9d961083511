"""``edgenas.search(...)`` is ``edgenas search``: one source of defaults, the same pareto.json, and
either resumes the other's run; ``SearchResult.save`` / ``load``; per-target budgets."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import edgenas
from edgenas.cli import cli
from edgenas.errors import ConfigError
from edgenas.search.config import SearchConfig, parse_latency_budgets
from edgenas.search.result import SearchResult
from tests.search._fakes import install_fakes


def test_search_is_a_documented_function_even_after_importing_the_subpackage() -> None:
    import edgenas.search.config as config_module
    import edgenas.search.run

    assert callable(edgenas.search) and edgenas.search is edgenas.api.search
    assert config_module.SearchConfig is SearchConfig
    doc = edgenas.search.__doc__ or ""
    assert "max_latency_ms" in doc and "Returns" in doc
    code = "import edgenas, sys; help(edgenas.search); assert 'torch' not in sys.modules"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert "targets" in out and "evaluations: 'int' = 300" in out


def test_cli_option_defaults_are_the_config_defaults() -> None:
    import inspect

    import edgenas.api
    from edgenas.cli.search_cmd import search as command

    fields = {f.name: f.default for f in dataclasses.fields(SearchConfig)}
    api = inspect.signature(edgenas.api.search).parameters
    checked = 0
    for opt in command.params:
        name = {"space_name": "space"}.get(opt.name, opt.name)
        if name in ("targets", "max_latency_ms", "resume", "as_json", "extra_objectives"):
            continue
        assert name in fields, f"--{opt.name} is not a SearchConfig field"
        assert opt.default == fields[name], f"--{opt.name}: CLI default {opt.default!r} != {fields[name]!r}"
        assert api[name].default == fields[name], name
        checked += 1
    assert checked >= 15
    # space_definition is resolved at the door (the hash of a user's space definition), never an option
    assert set(fields) - {"space_definition"} <= set(api), set(fields) - set(api)


def _cli(args: list[str]) -> dict:
    r = CliRunner().invoke(cli, ["search", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_api_and_cli_write_the_same_pareto_json_and_resume_each_other(tmp_path: Path, monkeypatch) -> None:
    install_fakes(monkeypatch)
    opts = {"targets": ["jetson"], "max_latency_ms": 6.0, "evaluations": 40, "population": 10, "seed": 3}
    _cli(["--target", "jetson", "--max-latency-ms", "6", "--evaluations", "40", "--population", "10",
          "--seed", "3", "--out", str(tmp_path / "cli")])
    edgenas.search(**opts, out=str(tmp_path / "api"))
    cli_doc = (tmp_path / "cli" / "pareto.json").read_text()
    assert cli_doc == (tmp_path / "api" / "pareto.json").read_text()
    cfg_cli = json.loads((tmp_path / "cli" / "config.json").read_text())
    cfg_api = json.loads((tmp_path / "api" / "config.json").read_text())
    assert {k: v for k, v in cfg_cli.items() if k != "out"} == {k: v for k, v in cfg_api.items() if k != "out"}

    # the API resumes the CLI's run, and the CLI an interrupted API run: nothing stored is scored again
    r = edgenas.search(**opts, out=str(tmp_path / "cli"), resume=True)
    assert (r.n_reused, r.n_scored) == (40, 0)
    seen = []

    def stop_after_25(cand) -> None:
        seen.append(cand)
        if len(seen) == 25:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        edgenas.search(**opts, out=str(tmp_path / "cut"), on_candidate=stop_after_25)
    doc = _cli(["--target", "jetson", "--max-latency-ms", "6", "--evaluations", "40", "--population", "10",
                "--seed", "3", "--out", str(tmp_path / "cut"), "--resume"])
    assert doc["n_reused"] >= 25 and doc["n_reused"] + doc["n_scored"] == 40
    assert (tmp_path / "cut" / "pareto.json").read_text() == cli_doc


def test_result_save_and_load_round_trip(tmp_path: Path, monkeypatch) -> None:
    install_fakes(monkeypatch)
    r = edgenas.search(targets=["jetson", "raspi4"], max_latency_ms=7, evaluations=30, population=10,
                       out=str(tmp_path / "run"))
    back = SearchResult.load(tmp_path / "run")
    assert back.config == r.config
    assert [c.arch for c in back.front] == [c.arch for c in r.front]
    assert back.pick is not None and back.pick.arch == r.pick.arch
    assert back.pick.score_spread == r.pick.score_spread
    key = lambda c: (c.arch, c.score, dict(c.latency_ms), c.macs_m, c.params_m, dict(c.raw_scores))
    assert [key(c) for c in back.candidates] == [key(c) for c in r.candidates]
    files = back.save(tmp_path / "copy")
    assert (tmp_path / "copy" / "pareto.json").read_text() == (tmp_path / "run" / "pareto.json").read_text()
    assert set(files) >= {"pareto.json", "candidates.csv", "config.json"}
    with pytest.raises(ConfigError, match="not found"):
        SearchResult.load(tmp_path / "nothing-here")
    doc = json.loads((tmp_path / "copy" / "pareto.json").read_text())
    for bad, match in (({"iso_key": ["x"]}, r"members\[0\] is not a candidate"),
                       ({"score_spread": "wide"}, r"members\[0\].score_spread is 'wide'; expected an object")):
        edited = {**doc, "members": [{**doc["members"][0], **bad}, *doc["members"][1:]]}
        (tmp_path / "copy" / "pareto.json").write_text(json.dumps(edited))
        with pytest.raises(ConfigError, match=match):
            SearchResult.load(tmp_path / "copy")


def test_per_target_latency_budgets(tmp_path: Path, monkeypatch) -> None:
    install_fakes(monkeypatch)
    doc = _cli(["--target", "jetson", "--target", "raspi4", "--max-latency-ms", "jetson=5",
                "--max-latency-ms", "raspi4=9", "--evaluations", "30", "--population", "10",
                "--out", str(tmp_path / "r")])
    assert doc["config"]["max_latency_ms"] == {"jetson-tx2": 5.0, "raspi4": 9.0}
    members = doc["members"]
    assert members and all(m["latency_ms"]["jetson-tx2"] <= 5 and m["latency_ms"]["raspi4"] <= 9 for m in members)
    # raspi4 is 1.5x slower in the fakes: its own budget binds some archs a bare 5 ms would not allow
    assert max(m["latency_ms"]["raspi4"] for m in members) > 5
    pareto = json.loads((tmp_path / "r" / "pareto.json").read_text())
    assert pareto["budgets"]["max_latency_ms"] == {"jetson-tx2": 5.0, "raspi4": 9.0}


def test_latency_budget_parsing() -> None:
    assert parse_latency_budgets(["5"]) == 5.0
    assert parse_latency_budgets(["jetson=5", "raspi4=30"]) == {"jetson": 5.0, "raspi4": 30.0}
    assert parse_latency_budgets(["8", "jetson=5"]) == {"jetson": 5.0, "*": 8.0}
    for bad in (["x"], ["jetson=abc"], ["-1"], ["inf"], ["5", "6"], ["jetson=5", "jetson=6"], ["=5"]):
        with pytest.raises(ConfigError, match="--max-latency-ms"):
            parse_latency_budgets(bad)


def test_budget_naming_a_target_not_searched_is_refused(tmp_path: Path, monkeypatch) -> None:
    install_fakes(monkeypatch)
    r = CliRunner().invoke(cli, ["search", "--target", "jetson", "--max-latency-ms", "raspi4=5",
                                 "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "not searched" in r.output
    assert not (tmp_path / "r").exists()


def test_real_proxies_api_equals_cli(tmp_path: Path) -> None:
    """No fakes: the shipped target, the real proxy engine, the CLI's defaults."""
    args = ["--target", "jetson", "--max-latency-ms", "5", "--evaluations", "12", "--population", "6",
            "--noise-seeds", "0"]
    _cli([*args, "--out", str(tmp_path / "cli")])
    r = edgenas.search(targets=["jetson"], max_latency_ms=5, evaluations=12, population=6, noise_seeds=0,
                       out=str(tmp_path / "api"))
    assert r.config.batch_size == 16 and r.config.proxy == "edgenas_transfer" and r.config.pick_top_share == 0.0 and r.config.workers >= 1
    assert (tmp_path / "cli" / "pareto.json").read_text() == (tmp_path / "api" / "pareto.json").read_text()


def test_fewer_feasible_classes_than_evaluations_is_said_once(tmp_path: Path, monkeypatch) -> None:
    install_fakes(monkeypatch)
    r = edgenas.search(targets=["jetson"], max_latency_ms=2.3, evaluations=100, population=10,
                       out=str(tmp_path / "r"))
    few = [n for n in r.notes if "feasible arch classes meet the budgets" in n]
    assert len(few) == 1 and len(r.candidates) < 100
    n = int(few[0].split()[1].replace(",", ""))
    assert len(r.candidates) <= n
    roomy = edgenas.search(targets=["jetson"], max_latency_ms=6, evaluations=20, population=10,
                           out=str(tmp_path / "r2"))
    assert not [n for n in roomy.notes if "feasible arch classes" in n]


@pytest.mark.parametrize(("call", "match"), [
    (lambda: edgenas.load_target(None), "unknown target None"),
    (lambda: edgenas.load_target(["jetson"]), r"unknown target \['jetson'\]; did you mean 'jetson'"),
    (lambda: edgenas.get_space(["nb201"]), r"unknown space \['nb201'\]"),
    (lambda: edgenas.search(targets=None), "targets=None is invalid; expected a list of names"),
    (lambda: edgenas.search(targets=123), "targets=123 is invalid"),
    (lambda: edgenas.search(targets=["jetson"], out=123), "out=123 is invalid; expected a path"),
    (lambda: edgenas.search(targets=["jetson"], data=123), "data=123 is invalid; expected a path"),
    (lambda: edgenas.search(targets=["jetson"], extra_objectives="params"), "extra objective 'params' is unknown"),
    (lambda: edgenas.search(targets=["jetson"], proxy=1), "proxy=1 is invalid; expected a proxy name"),
    (lambda: edgenas.search(targets=["jetson"], proxy=""), "proxy='' is invalid"),
    (lambda: edgenas.search(targets=["jetson"], resume="no"), "resume='no' is invalid"),
    (lambda: edgenas.search(targets=["jetson"], on_progress="print"), "on_progress='print' is invalid"),
    (lambda: edgenas.search(targets=["jetson"], proxy_resolution=33), r"resolution 33 px is invalid for space "
                                                                      r"'nb201'; expected 8..1024 and a multiple of 4"),
    (lambda: edgenas.train(None), "run_dir=None is invalid"),
    (lambda: edgenas.load_model(None), "directory=None is invalid"),
    (lambda: edgenas.export("6111", out=None), "out=None is invalid"),
    (lambda: edgenas.export("6111", out="x", targets=["nosuch"]), "unknown target 'nosuch'"),
    (lambda: edgenas.export("6111", out="x", workspace_mib=1), "workspace_mib=1 is invalid"),
    (lambda: edgenas.validate("x", target="cpu", threads=0), "threads=0 is invalid"),
    (lambda: edgenas.validate("x", target="cpu", timeout=float("nan")), "timeout=nan is invalid"),
    (lambda: edgenas.validate("x", target="cpu", seed=-1), "seed=-1 is invalid"),
    (lambda: edgenas.SearchResult.load(123), "run_dir=123 is invalid"),
    (lambda: edgenas.score_archs("nb201", [None], "cifar10", ["flops"]), "arch None is invalid"),
    (lambda: edgenas.get_cost_model("jetson", "nb201", "cifar10", lut_fit_archs=0), "lut_fit_archs=0 is invalid"),
    (lambda: edgenas.get_cost_model("jetson", 1, "cifar10"), "unknown space 1"),
])
def test_a_python_callers_bad_argument_is_an_edgenas_error(tmp_path: Path, monkeypatch, call, match: str) -> None:
    """What the CLI's option types refuse, the API refuses the same way: never a bare TypeError from inside."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(edgenas.EdgeNASError, match=match):
        call()
    assert not any(tmp_path.iterdir())  # nothing written


def test_a_small_macs_budget_of_a_large_space_finds_its_archs(tmp_path: Path) -> None:
    """Under 20 M MACs only FBNet archs that skip most layers fit: none of 20,000 uniform draws, so the
    feasibility check called the budget impossible and the search would have drawn nothing."""
    from edgenas.search import run_search
    from tests.search._fakes import FakeScorer

    r = run_search(space="fbnet", targets=("macs",), max_macs_m=20.0, evaluations=24, population=8, noise_seeds=0,
                   out=str(tmp_path / "r"), scorer=FakeScorer())
    assert len(r.candidates) == 24 and all(c.macs_m <= 20.0 for c in r.candidates) and r.pick is not None


def test_cost_prices_on_every_target_given() -> None:
    r = CliRunner().invoke(cli, ["cost", "6111", "--target", "jetson", "--target", "raspi4", "--target", "macs",
                                 "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [x["target"] for x in rows] == ["jetson-tx2", "raspi4", "macs"]
    assert rows[0]["latency_ms"] > 0 and rows[1]["latency_ms"] > rows[0]["latency_ms"] and "latency_ms" not in rows[2]


def test_score_archs_takes_names_indices_and_one_proxy_as_the_cli_does() -> None:
    by_name = edgenas.score_archs("nb201", [6111, "6113"], "cifar10", "flops")
    by_space = edgenas.score_archs(edgenas.get_space("nb201"), ["6111", "6113"], "cifar10", ["flops"])
    assert [r.scores for r in by_name] == [r.scores for r in by_space] and by_name[0].scores["flops"] > 0
