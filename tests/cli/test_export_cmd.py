"""`edgenas export` through the click runner: formats, sources, bad input (exit 2, nothing written)."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from tests.export.fake_trt import fake_trt, plan_header

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
SMALL = "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_export_arch_json(tmp_path):
    out = tmp_path / "out"
    res = run("export", BEST, "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    man = json.loads(res.stdout)
    assert man["models"][0]["arch"] == BEST and man["models"][0]["parity"]["max_rel"] <= 1e-4
    assert json.loads((out / "export.json").read_text())["models"][0]["files"]["onnx"] == "rank01/model.onnx"
    assert (out / "rank01" / "model.onnx").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # temp dir gone


def test_export_pareto_all_and_rank(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    members = [{"arch": a, "scores": {}, "latency_ms": {"jetson-tx2": ms}, "latency_source": {}, "macs_m": 1.0,
                "params_m": 0.1} for a, ms in ((BEST, 3.25), (SMALL, 1.5))]
    (run_dir / "pareto.json").write_text(json.dumps({"schema_version": 1, "space": "nb201", "dataset": "cifar10",
                                                     "members": members}))
    res = run("export", str(run_dir), "--all", "--out", str(tmp_path / "all"), "--json")
    assert res.exit_code == 0, res.output
    models = json.loads(res.stdout)["models"]
    assert [m["rank"] for m in models] == [1, 2]
    assert models[1]["predicted_latency_ms"] == {"jetson-tx2": 1.5}
    res = run("export", str(run_dir / "pareto.json"), "--rank", "2", "--out", str(tmp_path / "r2"), "--json")
    assert json.loads(res.stdout)["models"][0]["arch"] == SMALL
    # --target by alias: the prediction is under the target's name; a typo is an error, not a null prediction
    res = run("export", str(run_dir / "pareto.json"), "--rank", "2", "--target", "jetson", "--out",
              str(tmp_path / "alias"), "--json")
    assert res.exit_code == 0 and set(json.loads(res.stdout)["models"][0]["predicted_latency_ms"]) == {"jetson-tx2"}
    res = run("export", str(run_dir / "pareto.json"), "--target", "jetsn", "--out", str(tmp_path / "typo"))
    assert res.exit_code == 2 and "unknown target 'jetsn'" in res.output and not (tmp_path / "typo").exists()
    res = run("export", str(run_dir), "--rank", "3", "--out", str(tmp_path / "r3"))
    assert res.exit_code == 2 and "out of range" in res.output and not (tmp_path / "r3").exists()
    res = run("export", str(run_dir), "--dataset", "cifar100", "--out", str(tmp_path / "c100"))
    assert res.exit_code == 2 and "'cifar10'" in res.output


def test_export_torch(tmp_path):
    res = run("export", "6111", "--format", "torch", "--out", str(tmp_path / "t"), "--json")
    assert res.exit_code == 0, res.output
    from edgenas.export.torch_export import load_exported

    model = load_exported(tmp_path / "t" / "rank01")
    assert sum(p.numel() for p in model.parameters()) > 0


def test_export_tensorrt_without_tensorrt(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt fails, as on this machine
    res = run("export", SMALL, "--format", "tensorrt", "--precision", "fp16", "--out", str(tmp_path / "e"))
    assert res.exit_code == 0, res.output
    assert "tensorrt is not installed" in res.output
    script = (tmp_path / "e" / "rank01" / "trtexec.sh").read_text()
    assert "trtexec --onnx=model.onnx" in script and "--fp16" in script
    assert not list((tmp_path / "e").rglob("*.engine"))  # never a fake engine
    res = run("export", SMALL, "--format", "tensorrt", "--require-engine", "--out", str(tmp_path / "req"))
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "tensorrt is not installed" in res.output
    assert not (tmp_path / "req").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e"]  # no temp dir left behind


def test_export_tensorrt_engine_with_fake_tensorrt(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.3.0"))
    res = run("export", SMALL, "--format", "tensorrt", "--precision", "fp16", "--require-engine",
              "--out", str(tmp_path / "e"), "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)["models"][0]
    assert m["files"]["engine"] == "rank01/model.engine" and m["engine"]["trt_version"] == "10.3.0"
    assert "FP16" in plan_header((tmp_path / "e" / "rank01" / "model.engine").read_bytes())["flags"]
    # TensorRT 11 is strongly typed: it builds the fp16 ONNX the export writes beside the fp32 one
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("11.4.0"))
    res = run("export", SMALL, "--format", "tensorrt", "--precision", "fp16", "--out", str(tmp_path / "t11"), "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)["models"][0]
    assert m["engine"]["strongly_typed"] and m["engine"]["precision"] == "fp16"
    assert "--onnx=model.fp16.onnx" in m["trtexec"]["trt11"]


@pytest.mark.parametrize("args, expect", [
    (["|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "nor_conv_5x5"),
    (["99999"], "99999"),
    ([BEST, "--dataset", "imagenet"], "imagenet"),
    ([BEST, "--rank", "2"], "--rank"),
])
def test_export_bad_input_one_line_exit_2(tmp_path, args, expect):
    out = tmp_path / "out"
    res = run("export", *args, "--out", str(out))
    assert res.exit_code == 2, res.output
    assert res.output.count("\n") == 1 and res.output.startswith("error:") and expect in res.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


DEAD = "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"


def test_export_refuses_degenerate_arch_and_skips_degenerate_members(tmp_path):
    res = run("export", DEAD, "--out", str(tmp_path / "dead"))
    assert res.exit_code == 2 and "degenerate" in res.output and not (tmp_path / "dead").exists()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    members = [{"arch": a, "scores": {}, "latency_ms": {}, "latency_source": {}, "macs_m": 1.0, "params_m": 0.1}
               for a in (DEAD, SMALL)]
    (run_dir / "pareto.json").write_text(json.dumps({"schema_version": 1, "space": "nb201", "dataset": "cifar10",
                                                     "members": members}))
    res = run("export", str(run_dir), "--all", "--out", str(tmp_path / "all"), "--json")
    assert res.exit_code == 0, res.output
    assert [m["arch"] for m in json.loads(res.stdout)["models"]] == [SMALL]
    res = run("export", str(run_dir), "--rank", "1", "--out", str(tmp_path / "r1"))
    assert res.exit_code == 2 and "degenerate" in res.output and not (tmp_path / "r1").exists()


def test_export_default_is_the_searchs_pick(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    members = [{"arch": a, "scores": {}, "latency_ms": {"jetson-tx2": ms}, "latency_source": {}, "macs_m": 1.0,
                "params_m": 0.1} for a, ms in ((SMALL, 1.5),)]
    pick = {"arch": BEST, "latency_ms": {"jetson-tx2": 3.25}}
    (run_dir / "pareto.json").write_text(json.dumps({"schema_version": 1, "space": "nb201", "dataset": "cifar10",
                                                     "members": members, "pick": pick}))
    res = run("export", str(run_dir), "--out", str(tmp_path / "p"), "--json")
    assert res.exit_code == 0, res.output
    (model,) = json.loads(res.stdout)["models"]
    assert model["arch"] == BEST and (tmp_path / "p" / "pick" / "model.onnx").is_file()
    res = run("export", str(run_dir), "--rank", "1", "--out", str(tmp_path / "r1"), "--json")
    assert json.loads(res.stdout)["models"][0]["arch"] == SMALL


def test_missing_run_folder_is_named_as_such(tmp_path):
    from click.testing import CliRunner

    from edgenas.cli import cli

    for src in (str(tmp_path / "does-not-exist"), "runs/does-not-exist", "nowhere/pareto.json"):
        r = CliRunner().invoke(cli, ["export", src, "--all", "--out", str(tmp_path / "e")])
        assert r.exit_code == 2 and "not found" in r.output and "malformed" not in r.output, r.output
        assert not (tmp_path / "e").exists()


def _calibration_npz(path, n=24, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.random((n, 3, 32, 32)).astype(np.float32), y=rng.integers(0, 10, n))
    return path


def test_export_onnx_int8_calibrated(tmp_path):
    import numpy as np

    from edgenas.export.quantize import run_onnx
    from edgenas.export.tensorrt import onnx_precision

    cal = _calibration_npz(tmp_path / "cal.npz")
    out = tmp_path / "q"
    res = run("export", SMALL, "--precision", "int8", "--calibration-data", str(cal), "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    man = json.loads((out / "export.json").read_text())
    m = man["models"][0]
    assert m["files"] == {"onnx": "rank01/model.int8.onnx", "onnx_fp32": "rank01/model.onnx"}
    assert man["precision"] == "int8" and m["precision"] == "int8"
    assert man["calibration"]["n_samples"] == 24 and man["calibration"]["method"] == "minmax"
    assert len(man["calibration"]["sha256"]) == 64 and man["calibration"]["source"] == str(cal)
    assert onnx_precision(out / "rank01" / "model.int8.onnx") == "int8"
    assert onnx_precision(out / "rank01" / "model.onnx") == "fp32"
    # int8 follows fp32 on the calibration images: same class almost always, small logit error
    x = np.load(cal)["x"]
    a, b = run_onnx(out / "rank01" / "model.int8.onnx", x), run_onnx(out / "rank01" / "model.onnx", x)
    assert np.mean(a.argmax(1) == b.argmax(1)) >= 0.9
    assert 0 < np.max(np.abs(a - b)) < 0.1 * np.max(np.abs(b))
    assert m["vs_fp32"]["top1_agreement"] == pytest.approx(float(np.mean(a.argmax(1) == b.argmax(1))))
    # the same data gives the same calibration hash; a 10-image subset another
    from edgenas.export.quantize import load_calibration

    assert load_calibration(cal, (3, 32, 32)).sha256 == man["calibration"]["sha256"]
    sub = load_calibration(cal, (3, 32, 32), max_samples=10)
    assert sub.n_samples == 10 and sub.n_available == 24 and sub.sha256 != man["calibration"]["sha256"]
    assert sub.sha256 == load_calibration(cal, (3, 32, 32), max_samples=10).sha256  # seeded subset


def test_export_onnx_fp16(tmp_path):
    res = run("export", SMALL, "--precision", "fp16", "--out", str(tmp_path / "h"), "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)["models"][0]
    assert m["files"]["onnx"] == "rank01/model.fp16.onnx" and m["vs_fp32"]["max_rel"] <= 1e-2
    assert m["vs_fp32"]["max_abs"] > 0  # really fp16: not the fp32 file again
    import onnx

    proto = onnx.load(str(tmp_path / "h" / "rank01" / "model.fp16.onnx"))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # fp32 I/O


@pytest.mark.parametrize("args, expect", [
    (["--precision", "int8"], "--calibration-data"),
    (["--precision", "int8", "--format", "tensorrt"], "--calibration-data"),
    (["--precision", "int8", "--calibration-data", "MISSING.npz"], "MISSING.npz"),
    (["--precision", "fp16", "--calibration-data", "CAL"], "applies to --precision int8"),
    (["--precision", "int8", "--calibration-data", "BAD"], "(3, 32, 32)"),
    (["--precision", "fp16", "--format", "torch"], "torch exports are fp32"),
])
def test_export_int8_bad_input_one_line_exit_2(tmp_path, args, expect):
    import numpy as np

    cal = _calibration_npz(tmp_path / "cal.npz")
    # images of the wrong size (random: constant pixels are refused by the loader first)
    np.save(tmp_path / "bad.npy", np.random.default_rng(0).random((4, 3, 16, 16), dtype=np.float32))
    args = [{"CAL": str(cal), "BAD": str(tmp_path / "bad.npy"), "MISSING.npz": str(tmp_path / "MISSING.npz")}.get(a, a)
            for a in args]
    out = tmp_path / "out"
    res = run("export", BEST, *args, "--out", str(out))
    assert res.exit_code == 2, res.output
    assert res.output.count("\n") == 1 and res.output.startswith("error:") and expect in res.output
    assert not out.exists()


def test_export_tensorrt_int8_calibrated_without_tensorrt(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    cal = _calibration_npz(tmp_path / "cal.npz")
    res = run("export", SMALL, "--format", "tensorrt", "--precision", "int8", "--calibration-data", str(cal),
              "--out", str(tmp_path / "e"), "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)["models"][0]
    d = tmp_path / "e" / "rank01"
    assert m["files"]["onnx"] == "rank01/model.onnx" and m["files"]["onnx_int8"] == "rank01/model.int8.onnx"
    script = (d / "trtexec.sh").read_text()
    lines = [ln for ln in script.splitlines() if "--int8" in ln]
    # every --int8 line is calibrated: the Q/DQ ONNX or the calibration cache edgenas wrote
    assert lines and all("--onnx=model.int8.onnx" in ln or "--calib=calibration.cache" in ln for ln in lines)
    cache = (d / "calibration.cache").read_text().splitlines()
    assert cache[0] == "TRT-100300-EntropyCalibration2"
    import struct

    scales = dict(ln.split(": ") for ln in cache[1:])
    import numpy as np

    x = np.load(cal)["x"]
    # the graph input's scale is max |x| / 127 of the calibration images, as TensorRT stores it
    assert struct.unpack(">f", bytes.fromhex(scales["input"]))[0] == pytest.approx(float(np.abs(x).max()) / 127,
                                                                                  rel=1e-6)
    assert len(scales) > 5


def test_export_tensorrt_int8_engine_with_fake_tensorrt(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.3.0"))
    cal = _calibration_npz(tmp_path / "cal.npz")
    res = run("export", SMALL, "--format", "tensorrt", "--precision", "int8", "--calibration-data", str(cal),
              "--require-engine", "--out", str(tmp_path / "e"), "--json")
    assert res.exit_code == 0, res.output
    assert "INT8" in plan_header((tmp_path / "e" / "rank01" / "model.engine").read_bytes())["flags"]
