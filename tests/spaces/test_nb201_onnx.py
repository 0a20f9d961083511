"""The directly written NB201 ONNX graph gives onnxruntime's optimizer the same kernels as the torch export."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from edgenas.hardware.kernels import export_onnx_bytes, kernel_counts
from edgenas.spaces import get_space


@pytest.mark.parametrize("dataset", ["cifar10", "ImageNet16-120"])
def test_same_kernels_as_torch_export(dataset):
    space = get_space("nb201")
    rng = np.random.default_rng(7)
    archs = [space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
             space.parse("|skip_connect~0|+|avg_pool_3x3~0|skip_connect~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|"),
             *(space.sample(rng) for _ in range(4))]
    shape = (1, *space.dataset(dataset).input_shape)
    for a in archs:
        traced = kernel_counts(export_onnx_bytes(space.build_model(a, dataset), shape))
        assert kernel_counts(space.onnx_bytes(a, dataset)) == traced, str(a)


def test_written_graph_runs_with_the_right_output_shape():
    import onnxruntime as ort

    space = get_space("nb201")
    a = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    sess = ort.InferenceSession(space.onnx_bytes(a, "cifar100"), providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": np.zeros((1, 3, 32, 32), np.float32)})
    assert y.shape == (1, 100) and np.isfinite(y).all()
