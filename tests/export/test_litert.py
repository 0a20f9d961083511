"""LiteRT export (litert-torch + ai-edge-quantizer, the optional extra ``edgenas[litert]``).

Conversion takes ~30-50 s per model on 2 cores, so the converter tests are slow; all skip cleanly
where the extra is not installed (CI installs only ``.[test,ray]``).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from edgenas.errors import DependencyError
from edgenas.export.bundle import export_bundle
from edgenas.export.sources import Candidate
from edgenas.spaces import get_space

from .conftest import ARCHS


def test_missing_converter_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "litert_torch", None)  # import fails, as without the extra
    space = get_space("nb201")
    with pytest.raises(DependencyError, match="litert-torch") as err:
        export_bundle([Candidate(space.parse(ARCHS[0]), 1)], space=space, dataset="cifar10",
                      out_dir=tmp_path / "out", fmt="litert")
    assert "edgenas[litert]" in (err.value.hint or "") and not (tmp_path / "out").exists()


def test_int8_io_quantization_round_trip():
    from edgenas.export.litert import from_output, to_input

    detail = {"dtype": np.int8, "quantization": (0.5, -3)}
    x = np.array([[-100.0, -1.0, 0.0, 0.26, 2.0, 100.0]], np.float32)
    q = to_input(x, detail)
    assert q.dtype == np.int8 and q.tolist() == [[-128, -5, -3, -2, 1, 127]]
    assert from_output(q, detail).tolist() == [[-62.5, -1.0, 0.0, 0.5, 2.0, 65.0]]


@pytest.mark.slow
def test_litert_fp32_and_int8_export(tmp_path, calibration_npz):
    pytest.importorskip("litert_torch")
    pytest.importorskip("ai_edge_quantizer")
    import torch

    from edgenas.export.litert import run_litert
    from edgenas.export.onnx import build_eval_model

    space = get_space("nb201")
    arch = space.parse(ARCHS[1])
    out = tmp_path / "out"
    res = export_bundle([Candidate(arch, 1)], space=space, dataset="cifar10", out_dir=out, fmt="litert",
                        precision="int8", calibration_data=calibration_npz)
    m = res.manifest["models"][0]
    assert m["files"] == {"litert": "rank01/model.int8.tflite", "litert_fp32": "rank01/model.tflite"}
    assert m["litert"]["input_dtype"] == "int8" and m["litert"]["output_dtype"] == "int8"  # full integer
    assert json.loads((out / "export.json").read_text())["calibration"]["n_samples"] == 24
    x = np.load(calibration_npz)["x"]
    with torch.no_grad():
        ref = build_eval_model(space, arch, "cifar10").eval()(torch.from_numpy(x)).numpy()
    fp32 = run_litert(out / "rank01" / "model.tflite", x)
    assert np.max(np.abs(fp32 - ref)) <= 1e-4 * max(1.0, np.max(np.abs(ref)))
    q = run_litert(out / "rank01" / "model.int8.tflite", x)
    assert 0 < np.max(np.abs(q - ref)) < 0.2 * np.max(np.abs(ref))
    assert np.mean(q.argmax(1) == ref.argmax(1)) >= 0.9
