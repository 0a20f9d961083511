"""`edgenas targets` JSON contract."""

from __future__ import annotations

import json

from click.testing import CliRunner

from edgenas.cli import cli


def test_targets_json_contract():
    res = CliRunner().invoke(cli, ["targets", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    by_name = {r["name"]: r for r in rows}
    for r in rows:
        assert {"name", "aliases", "runtime", "spaces"} <= set(r)
    assert "jetson" in by_name["jetson-tx2"]["aliases"]
    assert by_name["jetson-tx2"]["spaces"] == ["nb201"] and by_name["jetson-tx2"]["runtime"] == "tensorrt"
    assert by_name["jetson-orin-nano"]["spaces"] == []
    assert "profile" in by_name["jetson-orin-nano"]["profile_hint"]


def test_targets_table():
    res = CliRunner().invoke(cli, ["targets"])
    assert res.exit_code == 0 and "jetson-tx2" in res.output
