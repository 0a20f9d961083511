from __future__ import annotations

import json

import numpy as np
import pytest

from edgenas.errors import ExportError
from edgenas.export.bundle import export_bundle
from edgenas.export.sources import Candidate
from edgenas.spaces import get_space

from .conftest import ARCHS
from .fake_trt import fake_trt, plan_header


def _cands():
    space = get_space("nb201")
    return space, [Candidate(space.parse(a), k) for k, a in enumerate(ARCHS[:2], start=1)]


def test_tensorrt_bundle_with_fake_trt10_shares_timing_cache(tmp_path):
    space, cands = _cands()
    trt = fake_trt("10.3.0")
    res = export_bundle(cands, space=space, dataset="cifar10", out_dir=tmp_path / "e", fmt="tensorrt",
                        precision="fp16", trt=trt)
    engines = [m["engine"] for m in res.manifest["models"]]
    assert [e["timing_cache_reused"] for e in engines] == [False, True]
    assert all(e["precision"] == "fp16" and not e["strongly_typed"] for e in engines)
    plan = (tmp_path / "e" / "rank02" / "model.engine").read_bytes()  # the builder's bytes, nothing else
    assert "FP16" in plan_header(plan)["flags"] and plan.endswith((tmp_path / "e" / "rank02" / "model.onnx").read_bytes())
    assert (tmp_path / "e" / "timing.cache").is_file()
    assert json.loads((tmp_path / "e" / "export.json").read_text())["format"] == "tensorrt"


def test_failure_leaves_nothing_behind(tmp_path):
    space, cands = _cands()
    with pytest.raises(ExportError, match="build failed"):
        export_bundle(cands, space=space, dataset="cifar10", out_dir=tmp_path / "e", fmt="tensorrt",
                      trt=fake_trt("10.3.0", build_ok=False))
    assert list(tmp_path.iterdir()) == []


def test_tensorrt_fp16_with_fake_trt11_builds_the_fp16_onnx(tmp_path):
    """TensorRT 11 reads precision from the ONNX: its command and build take model.fp16.onnx (the fp32 ONNX
    built an fp32 engine, or a strongly typed build refused it)."""
    space, cands = _cands()
    res = export_bundle(cands[:1], space=space, dataset="cifar10", out_dir=tmp_path / "e", fmt="tensorrt",
                        precision="fp16", trt=fake_trt("11.0.0"))
    m = res.manifest["models"][0]
    assert "--onnx=model.fp16.onnx" in m["trtexec"]["trt11"] and "--onnx=model.onnx" in m["trtexec"]["trt10"]
    assert m["engine"]["precision"] == "fp16" and m["engine"]["strongly_typed"]
    plan = (tmp_path / "e" / "rank01" / "model.engine").read_bytes()
    assert plan.endswith((tmp_path / "e" / "rank01" / "model.fp16.onnx").read_bytes())


def test_int8_below_opset_13_is_refused_before_any_work(tmp_path):
    space, cands = _cands()
    cal = tmp_path / "cal.npz"
    np.savez(cal, x=np.random.default_rng(0).random((4, 3, 32, 32)).astype(np.float32))
    with pytest.raises(ExportError, match="--precision int8 needs --opset 13 or later"):
        export_bundle(cands, space=space, dataset="cifar10", out_dir=tmp_path / "e", precision="int8", opset=12,
                      calibration_data=cal)
    assert not (tmp_path / "e").exists()
