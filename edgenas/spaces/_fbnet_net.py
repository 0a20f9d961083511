"""FBNet-space network (HW-NAS-Bench ``FBNet_Infer`` structure), written from its description.

Block structure (HW-NAS-Bench ``ConvBlock``): 1x1 conv (groups g) -> BN -> ReLU -> channel
shuffle (g > 1) -> kxk depthwise conv (stride s, padding keeps H/s) -> BN -> ReLU -> 1x1 conv
(groups g) -> BN, plus the input when C_in == C_out and s == 1. ``skip`` is the identity, or
1x1 conv (stride s) -> BN -> ReLU where the layer changes stride or width. No conv has a bias.
ReLUs are not in-place so forward hooks of proxies see unmodified tensors.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._fbnet_blocks import BLOCK_CONFIGS
from ._macro_net import ChannelShuffle
from ._protocol import FeatureNet

__all__ = ["ConvBlock", "FBNetNetwork", "SkipBlock", "make_block"]


class ConvNormReLU(nn.Sequential):
    """Conv (no bias, 'same'-style padding) -> BN -> ReLU: the stem and the header."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bn: dict) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, **bn),
            nn.ReLU(),
        )


class ConvBlock(nn.Module):
    """Inverted-residual block ``k{kernel}_e{expansion}[_g{groups}]`` (see module docstring)."""

    def __init__(self, c_in: int, c_out: int, *, kernel: int, expansion: int, groups: int, stride: int,
                 bn: dict) -> None:
        super().__init__()
        mid = c_in * expansion
        self.residual = c_in == c_out and stride == 1
        self.conv1 = nn.Conv2d(c_in, mid, 1, groups=groups, bias=False)
        self.bn1 = nn.BatchNorm2d(mid, **bn)
        self.shuffle = ChannelShuffle(groups) if groups > 1 else nn.Identity()
        # padding k // 2 gives H_out = ceil(H / stride) for k in {3, 5}, as HW-NAS-Bench's formula
        self.conv2 = nn.Conv2d(mid, mid, kernel, stride=stride, padding=kernel // 2, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid, **bn)
        self.conv3 = nn.Conv2d(mid, c_out, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out, **bn)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.shuffle(self.act(self.bn1(self.conv1(x))))
        y = self.act(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return y + x if self.residual else y


class SkipBlock(nn.Module):
    """``skip``: identity, or 1x1 conv -> BN -> ReLU when stride or width changes."""

    def __init__(self, c_in: int, c_out: int, *, stride: int, bn: dict) -> None:
        super().__init__()
        self.proj = (
            ConvNormReLU(c_in, c_out, 1, stride, bn) if stride != 1 or c_in != c_out else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


def make_block(token: str, c_in: int, c_out: int, stride: int, *, bn_track_running_stats: bool = True) -> nn.Module:
    """One searchable block (``token`` from :data:`edgenas.spaces.fbnet.BLOCKS`) at a layer's shape."""
    bn = {"affine": True, "track_running_stats": bn_track_running_stats}
    if token == "skip":
        return SkipBlock(c_in, c_out, stride=stride, bn=bn)
    cfg = BLOCK_CONFIGS[token]
    return ConvBlock(c_in, c_out, kernel=cfg.kernel, expansion=cfg.expansion, groups=cfg.groups, stride=stride,
                     bn=bn)


class FBNetNetwork(FeatureNet):
    """Stem, 22 searchable blocks, 1x1 header, global average pooling, linear classifier.

    Args:
        tokens: the 22 block names.
        slots: (c_in, c_out, stride) of each layer.
        num_classes: classifier outputs.
        stem_stride: 1 (CIFAR) or 2 (ImageNet).
        header_channels: 1504 (CIFAR) or 1984 (ImageNet).
        bn_track_running_stats: False makes BN always use batch statistics.
        in_channels: input channels (3; 1 for a grayscale task).
    """

    def __init__(self, tokens: Sequence[str], slots: Sequence[tuple[int, int, int]], *, num_classes: int,
                 stem_stride: int, header_channels: int, bn_track_running_stats: bool = True,
                 in_channels: int = 3) -> None:
        super().__init__()
        bn = {"affine": True, "track_running_stats": bn_track_running_stats}
        self.stem = ConvNormReLU(in_channels, slots[0][0], 3, stem_stride, bn)
        self.cells = nn.ModuleList(
            make_block(t, ci, co, s, bn_track_running_stats=bn_track_running_stats) for t, (ci, co, s) in zip(tokens, slots)
        )
        self.header = ConvNormReLU(slots[-1][1], header_channels, 1, 1, bn)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(header_channels, num_classes)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.header(h)
