"""`edgenas fit`: measured archs -> a user target chosen by cross-validation, usable at once."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from edgenas.hardware.targets import load_target
from edgenas.spaces import get_space


def _measure(tmp_path, n=30, seed=0):
    """A made-up device: 0.3 ms + 0.02 ms per M MACs, +-2 % noise (so the MACs model should win)."""
    from edgenas.hardware.size import size_table

    space = get_space("nb201")
    sizes = size_table(space, "cifar10")
    rng = np.random.default_rng(seed)
    archs = [a for a in (space.from_index(int(i)) for i in rng.choice(space.size, 2 * n, replace=False))
             if not space.is_degenerate(a)][:n]
    path = tmp_path / "timings.csv"
    path.write_text("arch,latency_ms\n" + "".join(
        f"{space.format(a) if i % 2 else space.index(a)},{(0.3 + 0.02 * sizes(a)[0]) * rng.uniform(0.98, 1.02):.5f}\n"
        for i, a in enumerate(archs)))
    return path, sizes


def test_fit_makes_a_target_that_prices_the_space(tmp_path):
    path, sizes = _measure(tmp_path)
    r = CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "myboard", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["method"] == "macs" and doc["cv"]["macs"]["within_10"] >= 0.9 and doc["n_measured"] == 30
    target = load_target("myboard")  # found in $EDGENAS_HOME beside the shipped targets
    assert target.path.parent.name == "targets" and "edgenas_home" in str(target.path)
    space = get_space("nb201")
    arch = space.from_index(6111)
    out = CliRunner().invoke(cli, ["cost", "6111", "--target", "myboard", "--json"])
    assert out.exit_code == 0, out.output
    ms = json.loads(out.stdout)[0]["latency_ms"]
    assert ms == pytest.approx(0.3 + 0.02 * sizes(arch)[0], rel=0.05)
    listed = json.loads(CliRunner().invoke(cli, ["targets", "--json"]).stdout)
    (mine,) = [t for t in listed if t["name"] == "myboard"]
    assert mine["tables"][0]["fit"]["method"] == "macs" and mine["tables"][0]["fit"]["within_10"] >= 0.9
    assert CliRunner().invoke(cli, ["targets"]).exit_code == 0
    again = CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "myboard"])
    assert again.exit_code == 2 and "--force" in again.output
    assert CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "myboard", "--force"]).exit_code == 0


@pytest.mark.parametrize("content, expect", [
    ("arch,ms\n1,2\n", "columns arch,latency_ms"),
    ("arch,latency_ms\n1,-2\n", "line 2: latency_ms '-2'"),
    ("arch,latency_ms\n1,2\n99999,3\n", "line 3"),
    ("arch,latency_ms\n1,2\n1,3\n", "measured twice"),
    ("arch,latency_ms\n1,2\n2,3\n", "at least 5"),
])
def test_bad_measurements_are_one_line_errors(tmp_path, content, expect):
    path = tmp_path / "m.csv"
    path.write_text(content)
    r = CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "x1"])
    assert r.exit_code == 2 and expect in r.output and r.output.count("\n") == 1, r.output


def test_shipped_target_names_are_never_replaced(tmp_path):
    path, _ = _measure(tmp_path, n=8)
    r = CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "jetson-tx2"])
    assert r.exit_code == 2 and "shipped target" in r.output
