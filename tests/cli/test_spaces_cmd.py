"""``edgenas spaces`` (list, add, show) and ``--space FILE.yaml`` through a search and its resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from edgenas.cli import cli
from edgenas.errors import ConfigError
from edgenas.search import run_search
from edgenas.search.config import load_config
from edgenas.spaces import get_space, list_spaces
from edgenas.spaces.macro import shipped_definition_path
from tests.search._fakes import FakeScorer


def _definition(tmp_path: Path, name: str = "mine", **changes: object) -> Path:
    data = yaml.safe_load(shipped_definition_path("macro").read_text())
    data["name"] = name
    data.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_add_show_and_list(tmp_path: Path) -> None:
    path = _definition(tmp_path)
    r = CliRunner().invoke(cli, ["spaces", "add", str(path), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["name"] == "mine" and info["size"] == 6561 and Path(info["path"]).is_file()
    assert "mine" in list_spaces() and get_space("mine").size == 6561
    r = CliRunner().invoke(cli, ["spaces", "--json"])
    assert {"name": "mine", "origin": "user"}.items() <= next(x for x in json.loads(r.output) if x["name"] == "mine").items()
    r = CliRunner().invoke(cli, ["spaces", "show", "fbnet", "--json"])
    df = json.loads(r.output)["defaults"]
    assert df == {"proxy": "edgenas_fast", "gpu_batch_size": 64, "cpu_batch_size": 8,
                  "cpu_proxy_resolution": {"cifar100": 32, "imagenet": 64}}
    r = CliRunner().invoke(cli, ["spaces", "show", "mine", "--json"])
    info = json.loads(r.output)
    assert info["origin"] == "user" and yaml.safe_load(info["definition"])["name"] == "mine"
    assert info["choices"][0] == ["id", "ir_3x3_t3", "ir_5x5_t6"]


def test_add_refuses_shipped_names_other_definitions_and_bad_fields(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["spaces", "add", str(shipped_definition_path("macro"))])
    assert r.exit_code == 2 and "is a shipped space; expected another name" in r.output
    assert CliRunner().invoke(cli, ["spaces", "add", str(_definition(tmp_path))]).exit_code == 0
    other = _definition(tmp_path / "..", description="changed")
    r = CliRunner().invoke(cli, ["spaces", "add", str(other)])
    assert r.exit_code == 2 and "already exists" in r.output and "--replace" in r.output
    assert CliRunner().invoke(cli, ["spaces", "add", "--replace", str(other)]).exit_code == 0
    assert get_space("mine").description == "changed"
    bad = _definition(tmp_path, name="bad", stem={"channels": 0})
    r = CliRunner().invoke(cli, ["spaces", "add", str(bad)])
    assert r.exit_code == 2 and "bad.yaml: space definition field stem.channels: expected an integer" in r.output
    assert len(r.output.strip().splitlines()) == 1
    typo = _definition(tmp_path, name="typo", default_proxy="edgenas_path")
    r = CliRunner().invoke(cli, ["spaces", "add", str(typo)])
    assert r.exit_code == 2 and "unknown proxy 'edgenas_path'; did you mean 'edgenas_paths'?" in r.output
    assert "typo" not in list_spaces()


def test_search_of_a_definition_file_records_it_and_resumes(tmp_path: Path) -> None:
    path = _definition(tmp_path, name="filespace")
    out = tmp_path / "run"
    r = run_search(space=str(path), targets=("macs",), max_macs_m=60.0, evaluations=10, population=5,
                   noise_seeds=0, out=str(out), scorer=FakeScorer())
    cfg = load_config(out / "config.json")
    assert cfg.space == "filespace" and cfg.space_definition and len(cfg.space_definition) == 16
    assert (out / "space.yaml").read_text() == path.read_text()
    assert r.candidates and all(get_space("filespace").parse(c.arch) for c in r.candidates)
    again = run_search(cfg, resume=True, scorer=FakeScorer())
    assert again.n_scored == 0
    # a definition changed under the run is refused on resume
    CliRunner().invoke(cli, ["spaces", "add", "--replace", str(_definition(tmp_path, name="filespace",
                                                                                head={"channels": 640}))])
    with pytest.raises(ConfigError):
        run_search(cfg, resume=True, scorer=FakeScorer())


def test_proxies_score_reads_a_definition_file(tmp_path: Path) -> None:
    path = _definition(tmp_path, name="scored")
    r = CliRunner().invoke(cli, ["proxies", "score", "--space", str(path), "--proxy", "sed,params", "--json",
                                 "00000000", "22222222"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [round(x["scores"]["params"] * 1e6) for x in rows] == [387882, 2932586]  # NAS-Bench-Macro's params
    assert rows[0]["scores"]["sed"] < rows[1]["scores"]["sed"]
