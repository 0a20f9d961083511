"""``edgenas search``: CliRunner with fake proxies/cost models injected, exit codes, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from tests.search._fakes import install_fakes


@pytest.fixture
def fake_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the proxy engine, target loading and MAC counting with fast fakes."""
    install_fakes(monkeypatch)


def _invoke(args: list[str]):
    return CliRunner().invoke(cli, ["search", *args])


def test_json_output_and_files(tmp_path: Path, fake_backends: None) -> None:
    out = tmp_path / "run"
    r = _invoke(["--target", "jetson", "--evaluations", "60", "--population", "12", "--max-latency-ms", "6",
                 "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and doc["n_candidates"] == 60
    assert doc["config"]["targets"] == ["jetson-tx2"] and doc["config"]["proxy"] == "edgenas_transfer"
    assert all(m["latency_ms"]["jetson-tx2"] <= 6 for m in doc["members"])
    for f in ("pareto.json", "candidates.csv", "config.json", "pareto.png", "candidates.sqlite"):
        assert (out / f).exists(), f


def test_table_output_and_several_targets(tmp_path: Path, fake_backends: None) -> None:
    r = _invoke(["--target", "jetson", "--target", "raspi4", "--evaluations", "40", "--population", "10",
                 "--max-latency-ms", "7", "--out", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    assert "Pareto front" in r.stdout and "raspi4 ms" in r.stdout
    doc = json.loads((tmp_path / "r" / "pareto.json").read_text())
    for m in doc["members"]:
        assert m["latency_ms"]["raspi4"] <= 7 and m["latency_ms"]["jetson-tx2"] <= 7


def test_resume_same_and_different_config(tmp_path: Path, fake_backends: None) -> None:
    base = ["--target", "jetson", "--evaluations", "40", "--population", "10", "--out", str(tmp_path / "r"), "--json"]
    first = json.loads(_invoke(base).stdout)
    again = _invoke([*base, "--resume"])
    assert again.exit_code == 0
    doc = json.loads(again.stdout)
    assert doc["n_reused"] == 40 and doc["n_scored"] == 0 and doc["members"] == first["members"]
    bad = _invoke([*base, "--resume", "--seed", "9"])
    assert bad.exit_code == 2
    assert bad.stderr.count("\n") == 1 and "different search config" in bad.stderr and "seed" in bad.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--max-latency-ms", "0.1"], "no nb201 architecture meets the budgets"),
        (["--max-latency-ms", "-5"], "--max-latency-ms '-5' is invalid"),
        (["--max-params-m", "-1"], "max_params_m=-1.0 is invalid"),
        (["--proxy", "vkdnw_ag"], "unknown proxy 'vkdnw_ag'"),
        (["--space", "nb301"], "unknown space 'nb301'"),
        (["--searcher", "cmaes"], "unknown searcher 'cmaes'"),
        (["--evaluations", "0"], "evaluations=0 is invalid"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path: Path, fake_backends: None, args: list[str],
                                                   needle: str) -> None:
    out = tmp_path / "r"
    r = _invoke(["--target", "jetson", "--out", str(out), *args])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr
    assert not out.exists()


def test_unknown_target(tmp_path: Path, fake_backends: None) -> None:
    r = _invoke(["--target", "jetsn", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "unknown target 'jetsn'" in r.stderr and "did you mean" in r.stderr
    assert not (tmp_path / "r").exists()


def test_unwritable_out(tmp_path: Path, fake_backends: None) -> None:
    (tmp_path / "f").write_text("")
    r = _invoke(["--target", "jetson", "--evaluations", "20", "--population", "5", "--out", str(tmp_path / "f" / "r")])
    assert r.exit_code == 2 and "cannot write run folder" in r.stderr and r.stderr.count("\n") == 1


def test_target_required() -> None:
    r = _invoke([])
    assert r.exit_code == 2 and "--target" in r.stderr


def test_latency_source_lut_prices_with_the_fitted_model(tmp_path: Path) -> None:
    # real cost models and the data-free sed proxy: every member priced by the fitted per-op model
    out = tmp_path / "r"
    r = _invoke(["--target", "jetson", "--proxy", "sed", "--evaluations", "30", "--population", "10",
                 "--max-latency-ms", "5", "--latency-source", "lut", "--workers", "1", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["config"]["latency_source"] == "lut"
    assert doc["members"] and all(m["latency_source"] == {"jetson-tx2": "lut"} for m in doc["members"])
    assert all(m["latency_ms"]["jetson-tx2"] <= 5 for m in doc["members"])
    bad = _invoke(["--target", "jetson", "--proxy", "sed", "--latency-source", "guess", "--out", str(tmp_path / "b")])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "unknown latency source 'guess'" in bad.stderr
    assert not (tmp_path / "b").exists()


def test_partial_measured_table_is_named_in_the_notes(tmp_path: Path) -> None:
    # HW-NAS-Bench's Edge TPU table has no value for archs the device could not run
    r = _invoke(["--target", "edgetpu", "--proxy", "sed", "--evaluations", "20", "--population", "10",
                 "--workers", "1", "--out", str(tmp_path / "r"), "--json"])
    assert r.exit_code == 0, r.output
    notes = json.loads(r.stdout)["notes"]
    assert any(n.startswith("edgetpu: measured latency for 10,926 of 15,625 nb201 archs") for n in notes), notes
