"""`edgenas validate` through the click runner: local onnxruntime / fake-TensorRT runs and bad input.

Every bad input of issue 6 is checked here end to end: one line on stderr, exit 2, no validation.json
and no temp file left behind.
"""

from __future__ import annotations

import json
import socket
import sys
import time

import pytest
from click.testing import CliRunner

from edgenas import device_runner
from edgenas.cli import cli
from tests.export.fake_trt import FakeCuda, fake_trt, kernel_ms

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


def _closed_port() -> int:
    with socket.socket() as s:  # bound, never listening, then released: connections are refused
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _edited_copy(src, dst, **meta):
    """Copy an exported ONNX to ``dst`` with some metadata values replaced."""
    import onnx

    proto = onnx.load(str(src))
    for m in proto.metadata_props:
        if m.key in meta:
            m.value = meta[m.key]
    onnx.save(proto, str(dst))
    return dst


def test_bad_inputs_one_line_exit_2(export_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # as on this machine: import tensorrt fails
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "out" / "v.json"
    bad = work / "notes.onnx"
    bad.write_text("not a model\n")
    model = export_dir / "rank01" / "model.onnx"
    bad_arch = _edited_copy(model, work / "bad_arch.onnx",
                            arch="|nor_conv_7x7~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|")
    cases = [
        ([str(bad)], "not an ONNX model"),  # a non-ONNX file
        ([str(work / "missing.onnx")], "not found"),
        ([str(bad_arch)], "nor_conv_7x7"),  # arch not in the space
        ([str(export_dir), "--runtime", "trtexec"], "trtexec not found"),  # missing runtime
        ([str(export_dir), "--runtime", "tensorrt"], "tensorrt (Python API) is not installed"),  # missing runtime
        ([str(export_dir), "--precision", "fp16"], "--precision fp16 needs --runtime tensorrt or trtexec"),
        ([str(export_dir), "--host", " "], "--host ' ' is empty; expected USER@BOARD"),
        # unreachable host: a closed port on 127.0.0.1, short timeout
        ([str(export_dir), "--host", "nobody@127.0.0.1", "--ssh-option", f"Port={_closed_port()}", "--ssh-option",
          "StrictHostKeyChecking=no", "--ssh-option", "UserKnownHostsFile=/dev/null", "--timeout", "10"],
         "cannot reach nobody@127.0.0.1 over ssh"),
    ]
    for args, expect in cases:
        t0 = time.monotonic()
        res = run("validate", *args, "--target", "cpu", "--runs", "2", "--out", str(out))
        assert res.exit_code == 2, (args, res.output)
        assert res.output.count("\n") == 1 and res.output.startswith("error:") and expect in res.output, res.output
        assert time.monotonic() - t0 < 60, args
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # nothing half-written
        assert sorted(p.name for p in work.iterdir()) == ["bad_arch.onnx", "notes.onnx"]


def test_batch_disagreeing_with_target(tmp_path):
    exp = tmp_path / "exp"
    assert run("export", SMALL, "--batch", "2", "--out", str(exp)).exit_code == 0
    res = run("validate", str(exp), "--target", "cpu", "--runs", "2", "--out", str(tmp_path / "v.json"))
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert "input batch 2 disagrees with the target's batch_size 1" in res.output
    assert not (tmp_path / "v.json").exists()


def test_validate_runtime_tensorrt_with_fake_tensorrt(export_dir, tmp_path, monkeypatch):
    # the control flow of --runtime tensorrt end to end; the timings are the fake's, not a GPU's
    cuda = FakeCuda()
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.3.0", cuda=cuda))
    monkeypatch.setattr(device_runner, "load_cudart", lambda path=None: cuda)
    out = tmp_path / "validation.json"
    res = run("validate", str(export_dir), "--target", "cpu", "--runtime", "tensorrt", "--runs", "7", "--warmup", "3",
              "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    (r,) = json.loads(out.read_text())
    assert r["runtime"] == "tensorrt" and r["runtime_version"] == "10.3.0" and r["precision"] == "fp32"
    assert r["measured_ms"]["p50"] == pytest.approx(sorted(kernel_ms(k) for k in range(3, 10))[3])
    assert r["parity_ok"] and r["parity_max_abs"] < 1e-4 and r["arch"] == SMALL
    assert r["runtime_details"]["strongly_typed"] is False and cuda.mem == {}


def test_input_shape_disagreeing_with_dataset(tmp_path):
    # an ImageNet16-120 export whose metadata is edited to claim cifar10 (32x32): shapes disagree
    exp = tmp_path / "exp"
    assert run("export", SMALL, "--dataset", "ImageNet16-120", "--out", str(exp)).exit_code == 0
    path = exp / "rank01" / "model.onnx"
    _edited_copy(path, path, dataset="cifar10")
    res = run("validate", str(path), "--target", "cpu", "--runs", "2", "--out", str(tmp_path / "v.json"))
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "dataset expects [3, 32, 32]" in res.output
    assert not (tmp_path / "v.json").exists()


@pytest.mark.parametrize("out", ["/dev/null"])
def test_out_that_is_not_a_regular_file_is_refused_before_measuring(export_dir, tmp_path, out):
    path = out if out.startswith("/") else str(tmp_path)
    res = run("validate", str(export_dir), "--target", "cpu", "--runs", "2", "--out", path)
    assert res.exit_code == 2 and "not a regular file" in res.output, res.output
    assert res.output.count("\n") == 1
    import os
    import stat

    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_another_devices_target_without_host_is_refused(export_dir, tmp_path):
    res = run("validate", str(export_dir), "--target", "jetson", "--runs", "2", "--out", str(tmp_path / "v.json"))
    assert res.exit_code == 2 and "'jetson-tx2' (NVIDIA Jetson TX2" in res.output and "--host" in res.output
    assert res.output.count("\n") == 1 and not (tmp_path / "v.json").exists()


def test_a_target_profiled_on_this_machine_needs_no_host(tmp_path, monkeypatch):
    """`edgenas profile --target mine` without --host measured this machine: validating it here is right."""
    import platform

    import numpy as np

    from edgenas import device_runner
    from edgenas.cli.validate_cmd import _check_where
    from edgenas.errors import ConfigError
    from edgenas.hardware.fewshot import fit_target
    from edgenas.spaces import get_space

    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    space = get_space("nb201")
    archs = [space.from_index(i) for i in (11, 222, 3333, 4444, 5555, 6666)]
    y = np.linspace(1.0, 2.0, len(archs))
    here = {"host": platform.node(), "cpu_model": device_runner._cpu_model()}
    for name, facts in (("mine", here), ("theirs", {**here, "host": "another-board"})):
        fit_target(space, "cifar10", archs, y, name=name, device=name, runtime="onnxruntime", source="test",
                   facts=facts)
    _check_where("mine", None, False)
    with pytest.raises(ConfigError, match="'theirs'.*is not this machine"):
        _check_where("theirs", None, False)


def _labelled_npz(path, n=20, seed=3):
    import numpy as np

    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.random((n, 3, 32, 32)).astype(np.float32), y=rng.integers(0, 10, n))
    return path


def test_runtime_other_than_the_tables_is_one_warning_naming_both(export_dir, tmp_path):
    res = CliRunner().invoke(cli, ["validate", str(export_dir), "--target", "raspi4", "--here",
                                                   "--runs", "2", "--warmup", "0", "--threads", "1",
                                                   "--out", str(tmp_path / "v.json"), "--json"])
    assert res.exit_code == 0, res.output
    warn = [ln for ln in res.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warn) == 1 and "tflite" in warn[0] and "onnxruntime" in warn[0] and "--format litert" in warn[0]
    json.loads(res.stdout)  # the JSON on stdout stays clean
    res = CliRunner().invoke(cli, ["validate", str(export_dir), "--target", "cpu", "--runs", "2",
                                                   "--warmup", "0", "--out", str(tmp_path / "c.json"), "--json"])
    assert res.exit_code == 0 and "warning:" not in res.stderr  # the cpu table is onnxruntime's


def test_validate_data_reports_every_precision_and_delta(tmp_path):
    import numpy as np

    from edgenas.export.quantize import run_onnx

    cal = _labelled_npz(tmp_path / "cal.npz", seed=0)
    held = _labelled_npz(tmp_path / "held.npz", seed=1)
    exp = tmp_path / "exp"
    assert run("export", SMALL, "--precision", "int8", "--calibration-data", str(cal), "--out", str(exp)).exit_code == 0
    out = tmp_path / "v.json"
    res = run("validate", str(exp), "--target", "cpu", "--runs", "2", "--warmup", "0", "--threads", "1",
              "--data", str(held), "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["models"][0]["precision"] == "int8"
    rows = {r["precision"]: r for r in doc["accuracy"] if r["format"] == "onnx"}
    assert set(rows) == {"fp32", "int8"} and rows["fp32"]["delta_pp"] == 0.0
    (torch_row,) = [r for r in doc["accuracy"] if r["format"] == "torch"]  # the network rebuilt from --seed
    assert abs(rows["fp32"]["delta_torch_pp"]) <= 0.1 and torch_row["weights"] == "random-init"
    z = np.load(held)
    for p, name in (("fp32", "model.onnx"), ("int8", "model.int8.onnx")):
        want = 100.0 * np.mean(run_onnx(exp / "rank01" / name, z["x"]).argmax(1) == z["y"])
        assert rows[p]["top1_pct"] == pytest.approx(want) and rows[p]["n_images"] == 20
    assert rows["int8"]["delta_pp"] == pytest.approx(rows["int8"]["top1_pct"] - rows["fp32"]["top1_pct"])
    res = run("validate", str(exp), "--target", "cpu", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "b.json"))
    assert res.exit_code == 2 and not (tmp_path / "b.json").exists()


@pytest.mark.slow
def test_validate_litert_export_on_litert(tmp_path):
    pytest.importorskip("litert_torch")
    cal = _labelled_npz(tmp_path / "cal.npz", seed=0)
    exp = tmp_path / "exp"
    res = run("export", SMALL, "--format", "litert", "--precision", "int8", "--calibration-data", str(cal),
              "--out", str(exp))
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["validate", str(exp), "--target", "raspi4", "--here", "--runs", "3",
                                                   "--warmup", "1", "--threads", "1", "--data", str(cal),
                                                   "--out", str(tmp_path / "v.json"), "--json"])
    assert res.exit_code == 0, res.output
    assert "warning:" not in res.stderr  # the raspi4 table is TFLite's: no mismatch
    doc = json.loads(res.stdout)
    (r,) = doc["models"]
    assert r["runtime"] == "litert" and r["precision"] == "int8" and r["model"].endswith("model.int8.tflite")
    assert r["runtime_version"].startswith("ai-edge-litert") and r["predicted_ms"] is not None
    assert {(a["format"], a["precision"]) for a in doc["accuracy"]} == {("torch", "fp32"), ("litert", "fp32"),
                                                                      ("litert", "int8")}


def test_validate_tensorrt_int8_from_the_calibrated_qdq_onnx(tmp_path, monkeypatch):
    # control flow only (fake TensorRT): the Q/DQ ONNX needs no calibration data on the device
    cuda = FakeCuda()
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    cal = _labelled_npz(tmp_path / "cal.npz", seed=0)
    exp = tmp_path / "exp"
    res = run("export", SMALL, "--format", "tensorrt", "--precision", "int8", "--calibration-data", str(cal),
              "--out", str(exp))
    assert res.exit_code == 0, res.output
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.3.0", cuda=cuda))
    monkeypatch.setattr(device_runner, "load_cudart", lambda path=None: cuda)
    out = tmp_path / "v.json"
    res = run("validate", str(exp / "rank01" / "model.int8.onnx"), "--target", "cpu", "--runtime", "tensorrt",
              "--precision", "int8", "--runs", "3", "--warmup", "1", "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    (r,) = json.loads(out.read_text())
    assert r["precision"] == "int8" and r["runtime"] == "tensorrt"
    # the fp32 ONNX is refused for int8 (no scales, no calibration data): one line, exit 2
    res = run("validate", str(exp / "rank01" / "model.onnx"), "--target", "cpu", "--runtime", "tensorrt",
              "--precision", "int8", "--runs", "3", "--out", str(tmp_path / "w.json"))
    assert res.exit_code == 2 and "calibration" in res.output and not (tmp_path / "w.json").exists()
