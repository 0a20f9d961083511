"""`edgenas validate` through the click runner: local onnxruntime run and bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgenas.cli import cli

SMALL = "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("v") / "exp"
    assert run("export", SMALL, "--out", str(out)).exit_code == 0
    return out


def test_validate_export_dir_json(export_dir, tmp_path):
    out = tmp_path / "validation.json"
    res = run("validate", str(export_dir), "--target", "cpu", "--runs", "5", "--warmup", "2", "--threads", "1",
              "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows == json.loads(out.read_text())
    r = rows[0]
    for key in ("model", "arch", "target", "runtime", "measured_ms", "predicted_ms", "error_pct", "parity_max_abs"):
        assert key in r
    assert set(r["measured_ms"]) >= {"p50", "p90", "p99"} and r["arch"] == SMALL
    assert r["target"] == "cpu" and r["runtime"] == "onnxruntime" and r["parity_max_abs"] < 1e-4


def test_validate_report(export_dir, tmp_path):
    res = run("validate", str(export_dir / "rank01" / "model.onnx"), "--target", "cpu", "--runs", "3",
              "--out", str(tmp_path / "v.json"))
    assert res.exit_code == 0, res.output
    assert "p50 ms" in res.output and "wrote" in res.output


def test_bad_inputs_one_line_exit_2(export_dir, tmp_path):
    out = tmp_path / "v.json"
    bad = tmp_path / "notes.onnx"
    bad.write_text("not a model\n")
    cases = [
        ([str(bad)], "not an ONNX model"),
        ([str(tmp_path / "missing.onnx")], "not found"),
        ([str(export_dir), "--runtime", "trtexec"], "trtexec"),
        ([str(export_dir), "--host", "nobody@127.0.0.1", "--ssh-option", "Port=1", "--ssh-option",
          "StrictHostKeyChecking=no", "--timeout", "30"], "cannot reach"),
    ]
    for args, expect in cases:
        res = run("validate", *args, "--target", "cpu", "--runs", "2", "--out", str(out))
        assert res.exit_code == 2, (args, res.output)
        assert res.output.count("\n") == 1 and expect in res.output, res.output
        assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def test_input_shape_disagreeing_with_dataset(tmp_path):
    # an ImageNet16-120 export whose metadata is edited to claim cifar10 (32x32): shapes disagree
    import onnx

    exp = tmp_path / "exp"
    assert run("export", SMALL, "--dataset", "ImageNet16-120", "--out", str(exp)).exit_code == 0
    path = exp / "rank01" / "model.onnx"
    proto = onnx.load(str(path))
    for m in proto.metadata_props:
        if m.key == "dataset":
            m.value = "cifar10"
    onnx.save(proto, str(path))
    res = run("validate", str(path), "--target", "cpu", "--runs", "2", "--out", str(tmp_path / "v.json"))
    assert res.exit_code == 2 and "dataset expects [3, 32, 32]" in res.output
    assert not (tmp_path / "v.json").exists()
