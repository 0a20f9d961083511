"""The official NAS-Bench-201 network (TinyNetwork / InferCell), written from its description.

Module registration order matters: proxies that take "the first k parameter tensors" (VKDNW)
see ``named_parameters()`` in the same order as the reference implementation: stem, then
each cell's edges in arch-string order, reduction blocks (conv_a, conv_b, downsample), final
BN, classifier.
"""

from __future__ import annotations

import torch
from torch import nn

from ._protocol import FeatureNet

__all__ = ["NB201Network", "make_op"]


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BN, the NB201 conv op."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, bn: dict) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, **bn),
        )


class Zero(nn.Module):
    """The ``none`` op: a zero tensor of the input's shape (stride 1, C_in == C_out in cells)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int, bn: dict) -> nn.Module:
    """One cell-edge op at stride 1 with ``channels`` in and out."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0, bn)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1, bn)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}")


class InferCell(nn.Module):
    """4-node DAG cell; node i sums op(node j) over j < i; output is node 3."""

    # (target node, source node) for each token, in arch-string order
    EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))

    def __init__(self, ops: tuple[str, ...], channels: int, bn: dict) -> None:
        super().__init__()
        self.layers = nn.ModuleList(make_op(op, channels, bn) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for target in (1, 2, 3):
            acc = None
            for _ in range(target):
                src = self.EDGES[k][1]
                y = self.layers[k](nodes[src])
                acc = y if acc is None else acc + y
                k += 1
            nodes.append(acc)
        return nodes[3]


class ResNetBasicBlock(nn.Module):
    """Stride-2 reduction block: two ReLU-Conv-BN 3x3 plus an AvgPool(2)+Conv1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, bn: dict) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1, bn)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(FeatureNet):
    """Stem conv3x3+BN, 3 stages of N cells (C, 2C, 4C) joined by reduction blocks,
    BN-ReLU, global average pooling and a linear classifier.

    Args:
        ops: the 6 cell-edge op names.
        num_classes: classifier outputs.
        channels: C of the first stage (16 in the benchmark).
        cells_per_stage: N (5 in the benchmark).
        bn_track_running_stats: False makes BN always use batch statistics (the zero-cost
            proxy harness of AZ-NAS/VKDNW does this).
        in_channels: input channels (3; 1 for a grayscale task).
    """

    def __init__(
        self,
        ops: tuple[str, ...],
        num_classes: int,
        *,
        channels: int = 16,
        cells_per_stage: int = 5,
        bn_track_running_stats: bool = True,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        bn = {"affine": True, "track_running_stats": bn_track_running_stats}
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c, **bn))
        cells: list[nn.Module] = []
        c_prev = c
        for stage, c_curr in enumerate((c, 2 * c, 4 * c)):
            if stage > 0:
                cells.append(ResNetBasicBlock(c_prev, c_curr, bn))
            cells.extend(InferCell(ops, c_curr, bn) for _ in range(cells_per_stage))
            c_prev = c_curr
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev, **bn), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.lastact(h)
