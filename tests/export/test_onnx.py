from __future__ import annotations

import json

import numpy as np
import pytest

from edgenas.errors import ExportError, ValidationError
from edgenas.export import onnx as onnx_export
from edgenas.export.onnx import export_onnx, input_shape_of, read_metadata
from edgenas.spaces import get_space

from .conftest import ARCHS


@pytest.mark.parametrize("arch", ARCHS)
def test_export_passes_checker_and_parity(tmp_path, arch):
    import onnx

    space = get_space("nb201")
    res = export_onnx(space, space.parse(arch), "cifar10", tmp_path / "m.onnx",
                      predicted_latency_ms={"jetson-tx2": 1.5})
    onnx.checker.check_model(onnx.load(str(res.path)), full_check=True)
    assert res.parity.n_inputs == 3
    assert res.parity.max_rel <= 1e-4
    assert res.input_shape == (1, 3, 32, 32)
    assert input_shape_of(res.path) == (1, 3, 32, 32)  # static: no symbolic dims
    meta = read_metadata(res.path)
    assert meta["arch"] == space.format(space.parse(arch))
    assert (meta["space"], meta["dataset"]) == ("nb201", "cifar10")
    assert json.loads(meta["predicted_latency_ms"]) == {"jetson-tx2": 1.5}
    assert meta["edgenas_version"]


def test_batch_and_dataset_shape(tmp_path):
    space = get_space("nb201")
    res = export_onnx(space, space.parse(ARCHS[1]), "ImageNet16-120", tmp_path / "m.onnx", batch_size=4)
    assert input_shape_of(res.path) == (4, 3, 16, 16)


def test_parity_is_enforced(tmp_path, monkeypatch):
    # a zero tolerance cannot be met by float32 kernels of two runtimes on a conv net
    monkeypatch.setitem(onnx_export.PARITY_RTOL, "fp32", 0.0)
    space = get_space("nb201")
    with pytest.raises(ExportError, match="parity failed"):
        export_onnx(space, space.parse(ARCHS[0]), "cifar10", tmp_path / "m.onnx")


def test_parity_numbers_are_measured(tmp_path, onnx_model):
    import onnxruntime as ort
    import torch

    space = get_space("nb201")
    model = onnx_export.build_eval_model(space, space.parse(ARCHS[0]), "cifar10", seed=0)
    x = np.random.default_rng(5).standard_normal((1, 3, 32, 32)).astype(np.float32)
    got = ort.InferenceSession(str(onnx_model)).run(None, {"input": x})[0]
    ref = model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_read_metadata_rejects_non_onnx(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_text("this is not a protobuf\n")
    with pytest.raises(ValidationError, match="not an ONNX model"):
        read_metadata(bad)
