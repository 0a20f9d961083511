"""TensorRT build logic against a fake ``tensorrt`` module (TensorRT cannot be installed here)."""

from __future__ import annotations

import pytest

from edgenas.errors import DependencyError, ExportError
from edgenas.export.tensorrt import build_engine, trt_major, trtexec_commands

from .fake_trt import fake_trt, plan_header


def test_trt10_uses_builder_flags_and_workspace(tmp_path, onnx_model):
    trt = fake_trt("10.3.0")
    eb = build_engine(onnx_model, tmp_path / "m.engine", precision="fp16", workspace_mib=256, trt=trt)
    assert ("flag", "FP16") in trt.calls and ("network", 0) in trt.calls
    assert ("pool", "WORKSPACE", 256 << 20) in trt.calls
    assert not eb.strongly_typed and eb.precision == "fp16"
    plan = (tmp_path / "m.engine").read_bytes()  # the builder's bytes, nothing else
    assert plan_header(plan)["onnx"] == str(onnx_model) and plan.endswith(onnx_model.read_bytes())
    assert eb.size_bytes == len(plan)


def test_fp32_engine_clears_tf32(tmp_path, onnx_model):
    # TF32 (on by default) would miss the 1e-4 fp32 parity bound; fp16 keeps TensorRT's defaults
    trt = fake_trt("10.3.0")
    build_engine(onnx_model, tmp_path / "a.engine", precision="fp32", trt=trt)
    assert ("clear_flag", "TF32") in trt.calls
    assert "TF32" not in plan_header((tmp_path / "a.engine").read_bytes())["flags"]


def test_trt11_is_strongly_typed(tmp_path, onnx_model):
    trt = fake_trt("11.4.0")
    assert trt_major(trt) == 11
    eb = build_engine(onnx_model, tmp_path / "m.engine", precision="fp32", trt=trt)
    assert eb.strongly_typed
    assert not [c for c in trt.calls if c[0] == "flag"]
    with pytest.raises(ExportError, match="strongly typed"):
        build_engine(onnx_model, tmp_path / "h.engine", precision="fp16", trt=trt)
    assert not (tmp_path / "h.engine").exists()


def test_version_fallback_on_missing_fp16_flag():
    trt = fake_trt("11.0.0")
    trt.__version__ = "dev"
    assert trt_major(trt) == 11


def test_int8_needs_qdq(tmp_path, onnx_model):
    with pytest.raises(ExportError, match="Q/DQ"):
        build_engine(onnx_model, tmp_path / "m.engine", precision="int8", trt=fake_trt("10.3.0"))


def test_timing_cache_is_reused_across_builds(tmp_path, onnx_model):
    trt = fake_trt("10.3.0")
    cache = tmp_path / "timing.cache"
    first = build_engine(onnx_model, tmp_path / "a.engine", timing_cache=cache, trt=trt)
    second = build_engine(onnx_model, tmp_path / "b.engine", timing_cache=cache, trt=trt)
    assert not first.timing_cache_reused and second.timing_cache_reused
    assert ("cache_in", b"+timed") in trt.calls  # the second build read what the first wrote


def test_parse_and_build_failures(tmp_path, onnx_model):
    with pytest.raises(ExportError, match="FancyOp"):
        build_engine(onnx_model, tmp_path / "m.engine", trt=fake_trt("10.3.0", parse_ok=False))
    with pytest.raises(ExportError, match="build failed"):
        build_engine(onnx_model, tmp_path / "m.engine", trt=fake_trt("10.3.0", build_ok=False))
    assert not (tmp_path / "m.engine").exists()


def test_missing_tensorrt_is_one_clear_error(tmp_path, onnx_model, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_trt(name, *a, **k):
        if name == "tensorrt":
            raise ImportError("No module named 'tensorrt'")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_trt)
    with pytest.raises(DependencyError, match="tensorrt is not installed"):
        build_engine(onnx_model, tmp_path / "m.engine")


def test_trtexec_commands_per_major_version():
    cmds = trtexec_commands("model.onnx", precision="fp16", workspace_mib=512)
    assert "--fp16" in cmds["trt10"].split() and "--fp16" not in cmds["trt11"].split()
    for c in cmds.values():
        assert c.startswith("trtexec --onnx=model.onnx --saveEngine=model.engine")
        assert "--memPoolSize=workspace:512M" in c and "--exportTimes=model.times.json" in c
    int8 = trtexec_commands("model.int8.onnx", precision="int8", calibration_cache="calibration.cache",
                            fp32_onnx="model.onnx", engine_name="model.engine")
    assert "--onnx=model.int8.onnx" in int8["trt10"] and "--int8" in int8["trt10"] and "--calib" not in int8["trt10"]
    assert "--int8" not in int8["trt11"] and "--onnx=model.int8.onnx" in int8["trt11"]
    assert "--onnx=model.onnx" in int8["trt10_calib"] and "--calib=calibration.cache" in int8["trt10_calib"]
    with pytest.raises(ExportError, match="calibration"):  # never an uncalibrated --int8
        trtexec_commands("model.onnx", precision="int8")
