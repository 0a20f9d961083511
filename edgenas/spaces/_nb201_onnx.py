"""The NB201 network as an ONNX graph written directly (no torch trace), for kernel detection.

Pricing an arch on an onnxruntime target counts the kernels of onnxruntime's optimized graph
(:mod:`edgenas.hardware.kernels`). Tracing the torch network to get that graph costs ~0.35 s per
arch; writing the same graph node by node costs milliseconds, which matters when a search prices
every member of every isomorphism class it meets. The graph mirrors what
``torch.onnx.export(NB201Network.eval(), opset 17)`` produces for the optimizer's purposes: each
ReLU-Conv-BN is ``Relu -> Conv`` with the BN folded into the conv's bias, ``none`` is ``Mul`` by a
scalar 0, ``skip_connect`` is no node, node sums are ``Add`` chains in edge order, the reduction
block adds the shortcut first. ``tests/spaces/test_nb201_onnx.py`` checks that onnxruntime turns
both into the same kernels. Weights are random (only the structure matters).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._nb201_net import InferCell

__all__ = ["nb201_onnx_bytes"]


class _Builder:
    def __init__(self, rng: np.random.Generator) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        # one random pool, sliced per tensor: drawing ~0.4 M numbers per tensor was a third of the time
        self.pool = (rng.standard_normal(1 << 17) * 0.1).astype(np.float32)
        self.n = 0
        self.attrs: dict[tuple, list[Any]] = {}  # attribute protos by (op, attrs): make_attribute is slow

    def name(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}_{self.n}"

    def init(self, shape: tuple[int, ...], positive: bool = False) -> str:
        from onnx import numpy_helper

        n = self.name("w")
        size = int(np.prod(shape))
        start = (self.n * 7919) % (len(self.pool) - size)
        v = self.pool[start:start + size].reshape(shape)
        self.inits.append(numpy_helper.from_array(np.abs(v) + 0.5 if positive else v, n))
        return n

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        from onnx import NodeProto, helper

        out = self.name(op.lower())
        key = (op, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in attrs.items())))
        if key not in self.attrs:
            self.attrs[key] = [helper.make_attribute(k, v) for k, v in sorted(attrs.items())]
        n = NodeProto()
        n.op_type = op
        n.input.extend(inputs)
        n.output.append(out)
        n.attribute.extend(self.attrs[key])
        self.nodes.append(n)
        return out

    def conv(self, x: str, c_in: int, c_out: int, k: int, stride: int, pad: int, bias: bool = True) -> str:
        ins = [x, self.init((c_out, c_in, k, k))] + ([self.init((c_out,))] if bias else [])
        return self.node("Conv", ins, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
                         dilations=[1, 1], group=1)

    def relu_conv(self, x: str, c_in: int, c_out: int, k: int, stride: int, pad: int) -> str:
        return self.conv(self.node("Relu", [x]), c_in, c_out, k, stride, pad)


def _edge(b: _Builder, op: str, x: str, c: int) -> str:
    if op == "none":
        zero = b.node("Constant", [], value_float=0.0)
        return b.node("Mul", [x, zero])
    if op == "skip_connect":
        return x
    if op == "nor_conv_1x1":
        return b.relu_conv(x, c, c, 1, 1, 0)
    if op == "nor_conv_3x3":
        return b.relu_conv(x, c, c, 3, 1, 1)
    if op == "avg_pool_3x3":
        return b.node("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                      count_include_pad=0, ceil_mode=0)
    raise ValueError(f"unknown NB201 op {op!r}")


def _cell(b: _Builder, ops: tuple[str, ...], x: str, c: int) -> str:
    nodes = [x]
    k = 0
    for target in (1, 2, 3):
        acc = None
        for _ in range(target):
            y = _edge(b, ops[k], nodes[InferCell.EDGES[k][1]], c)
            acc = y if acc is None else b.node("Add", [acc, y])
            k += 1
        nodes.append(acc)
    return nodes[3]


def nb201_onnx_bytes(ops: tuple[str, ...], num_classes: int, input_shape: tuple[int, ...], *, channels: int = 16,
                     cells_per_stage: int = 5, seed: int = 0) -> bytes:
    """Serialized ONNX model (opset 17) of the NB201 network at batch 1 for ``input_shape`` (C, H, W)."""
    from onnx import TensorProto, helper

    b = _Builder(np.random.default_rng(seed))
    c_img, h, w = input_shape
    x = b.conv("x", c_img, channels, 3, 1, 1)  # stem conv + folded BN
    c_prev = channels
    for stage, c in enumerate((channels, 2 * channels, 4 * channels)):
        if stage > 0:
            short = b.node("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=0)
            short = b.conv(short, c_prev, c, 1, 1, 0, bias=False)
            main = b.relu_conv(b.relu_conv(x, c_prev, c, 3, 2, 1), c, c, 3, 1, 1)
            x = b.node("Add", [short, main])
        for _ in range(cells_per_stage):
            x = _cell(b, ops, x, c)
        c_prev = c
    bn = [b.init((c_prev,), positive=i == 3) for i in range(4)]  # scale, bias, mean, var > 0
    x = b.node("BatchNormalization", [x, *bn], epsilon=1e-5)
    x = b.node("Flatten", [b.node("GlobalAveragePool", [b.node("Relu", [x])])], axis=1)
    x = b.node("Gemm", [x, b.init((num_classes, c_prev)), b.init((num_classes,))], alpha=1.0, beta=1.0, transB=1)
    graph = helper.make_graph(
        b.nodes, "nb201", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c_img, h, w])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, num_classes])], initializer=b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgenas")
    model.ir_version = 8
    return model.SerializeToString()
