from __future__ import annotations

import json

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
