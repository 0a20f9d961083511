"""`edgenas cost` JSON contract and errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from edgenas.cli import cli

ARCH0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_cost_json_contract(tmp_path):
    f = tmp_path / "archs.txt"
    f.write_text("# two archs\n1\n")
    res = run("cost", ARCH0, "--archs-file", str(f), "--target", "jetson", "--dataset", "cifar10", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 2
    for r in rows:
        assert {"arch", "target", "latency_ms", "source", "macs_m", "params_m"} <= set(r)
        assert r["target"] == "jetson-tx2" and r["source"] == "lookup"
    assert rows[0]["arch"] == ARCH0
    assert abs(rows[0]["latency_ms"] - 5.807418537139893) < 1e-5  # HW-NAS-Bench edgegpu, arch 0
    assert abs(rows[1]["latency_ms"] - 6.547689437866211) < 1e-5
    assert rows[0]["macs_m"] > 0 and rows[0]["params_m"] > 0


def test_cost_unknown_target_one_line_exit_2():
    res = run("cost", ARCH0, "--target", "jetsn", "--json")
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0
    assert "unknown target 'jetsn'" in res.output and "jetson" in res.output


def test_cost_missing_measurement_exit_2():
    res = run("cost", "6", "--target", "edgetpu", "--json")  # arch 6 failed the Edge TPU compiler upstream
    assert res.exit_code == 2 and "no lookup latency" in res.output
    assert "[" not in res.output  # nothing half-printed


def test_cost_no_table_tells_how_to_profile():
    res = run("cost", "0", "--target", "jetson-orin-nano")
    assert res.exit_code == 2 and "edgenas profile --target my-orin --host" in res.output
