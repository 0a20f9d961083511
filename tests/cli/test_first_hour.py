"""What a new user meets in the first hour: the real default proxy per space, hints that work,
notes said once, and progress lines in a log."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from edgenas.search.config import default_proxies, default_proxy
from tests._asserts import assert_one_error


def test_search_help_and_proxies_list_name_each_spaces_default() -> None:
    defaults = default_proxies()
    assert defaults["nb201"] == default_proxy("nb201") and set(defaults) >= {"nb201", "fbnet"}
    help_text = " ".join(CliRunner().invoke(cli, ["search", "--help"]).output.split())
    for space, proxy in defaults.items():
        assert f"{space}: {proxy}" in help_text
    rows = json.loads(CliRunner().invoke(cli, ["proxies", "list", "--json"]).stdout)
    for space, proxy in defaults.items():
        assert space in next(r for r in rows if r["name"] == proxy)["search_default_for"]
    assert sum(len(r["search_default_for"]) for r in rows) == len(defaults)


def test_no_table_hint_for_a_shipped_target_suggests_what_works() -> None:
    r = CliRunner().invoke(cli, ["cost", "00000000", "--target", "raspi4", "--space", "macro"])
    err = assert_one_error(r, "no latency table for macro/cifar10")
    assert "edgenas profile --target my-raspi4 --host USER@DEVICE --space macro" in err
    assert "--runtime tensorrt" not in err  # a Raspberry Pi runs no TensorRT
    r = CliRunner().invoke(cli, ["cost", "00000000", "--target", "jetson", "--space", "macro"])
    assert "--target my-jetson-tx2" in r.stderr and "--runtime tensorrt" in r.stderr


def test_a_per_op_cpu_table_from_another_cpu_is_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from edgenas.hardware.tables import load_op_table
    from edgenas.spaces import get_space

    src = Path(__file__).resolve().parents[2] / "edgenas" / "latency_tables" / "fbnet_cifar100_cpu_ops.json"
    doc = json.loads(src.read_text())
    assert "kernels" not in doc  # a per-op table: the note used to come from kernel tables only
    doc["cpu_model"] = f"Some Other CPU {tmp_path.name}"
    (tmp_path / "t.json").write_text(json.dumps(doc))
    space = get_space("fbnet")
    table = load_op_table(tmp_path / "t.json")
    with caplog.at_level(logging.WARNING, logger="edgenas.hardware.tables"):
        table.predict_many(space, [space.parse("-".join(["k3_e1"] * 22))])
        table.predict_many(space, [space.parse("-".join(["k5_e3"] * 22))])
    said = [r for r in caplog.records if "was profiled with onnxruntime" in r.getMessage()]
    assert len(said) == 1 and f"Some Other CPU {tmp_path.name}" in said[0].getMessage()


def test_log_progress_lines_are_rate_limited(capsys: pytest.CaptureFixture[str]) -> None:
    from edgenas.cli._common import LogProgress

    now = [0.0]
    lines = LogProgress("profile", every=20.0, clock=lambda: now[0])
    for i in range(1, 101):  # 100 items over 100 s: a line at the start, every 20 s and at the end
        now[0] = float(i)
        lines("timing", i, 100)
    lines("timing", 100, 100)  # the end is said once
    err = capsys.readouterr().err.splitlines()
    assert err == ["profile: timing 1/100 (1 s)", "profile: timing 21/100 (21 s)", "profile: timing 41/100 (41 s)",
                   "profile: timing 61/100 (61 s)", "profile: timing 81/100 (81 s)", "profile: timing 100/100 (100 s)"]


def test_validate_report_explains_table_units(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edgenas.cli.validate_cmd import _report

    r = {"model": "x/rank01/model.onnx", "target": "cpu", "runtime": "onnxruntime", "host": "here", "threads": 1,
         "runs": 10, "warmup": 2, "measured_ms": {"p50": 2.0, "p90": 2.1, "p99": 2.2}, "cv": 0.02,
         "predicted_ms": 1.5, "error_pct": -25.0, "error_cpu_pct": None, "error_paired_pct": 3.0,
         "parity_ok": True, "parity_max_abs": 1e-6}
    _report([r], tmp_path / "v.json")
    out = " ".join(capsys.readouterr().out.split())
    assert "paired timing (table units) 3.0 %" in out
    assert "wall-clock error" in out and "cancels this host's speed drift" in out
