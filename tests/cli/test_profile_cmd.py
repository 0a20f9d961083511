"""`edgenas profile`: refuses non-onnxruntime targets; a tiny real run writes a valid table."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgenas.cli import cli


def test_profile_refuses_tensorrt_target():
    res = CliRunner().invoke(cli, ["profile", "--target", "jetson"])
    assert res.exit_code == 2 and "shipped target" in res.output and "--host USER@BOARD" in res.output


def test_profile_bad_calibration():
    res = CliRunner().invoke(cli, ["profile", "--archs", "5", "--calibration", "4"])
    assert res.exit_code == 2 and "--calibration 4" in res.output


def test_profile_tiny_run(tmp_path):
    pytest.importorskip("onnxruntime")
    from edgenas.hardware.tables import load_op_table

    out = tmp_path / "cpu.json"
    res = CliRunner().invoke(cli, ["profile", "--archs", "5", "--calibration", "2", "--runs", "3", "--warmup", "1",
                                   "--no-space-predictions", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["end_to_end_archs"] == 5 and summary["check"]["calibrated"]["n"] == 3
    assert summary["space_predictions"] == 0
    table = load_op_table(out, space="nb201", dataset="cifar10")
    assert table.meta["onnxruntime_version"] and table.meta["cpu_model"] and table.meta["threads"] == 1
    assert len(table.entries) >= 20
    assert table.meta["statistic"] == "ref" and table.meta["rounds"] == 3  # defaults for one thread
    assert {"ref_ms", "cpu_median_ms", "round_spread", "kernels"} <= set(table.meta["end_to_end"][0])
    # both predictors are checked; cross-validation on the calibration archs picks one
    chk = summary["check"]
    assert chk["kernels"]["n"] == 3 and set(chk["calibration_cv_mape"]) == {"ops", "kernels"}
    assert chk["predictor"] == min(chk["calibration_cv_mape"], key=chk["calibration_cv_mape"].get)
    assert (table.kernels is not None) == (chk["predictor"] == "kernels")
    assert set(table.meta["end_to_end"][0]["kernels"]) >= {"Gemm", "GlobalAveragePool"}


def test_profile_names_a_default_calibration_that_does_not_fit():
    r = CliRunner().invoke(cli, ["profile", "--target", "cpu", "--archs", "5"])
    assert r.exit_code == 2 and "--calibration 60 (its default) must be smaller than --archs 5" in r.output
