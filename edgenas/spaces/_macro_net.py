"""Torch modules of macro spaces: one module per :class:`~edgenas.spaces.base.LayerSpec` of
:meth:`MacroSpace.layers`, and the chain network made of them (see ``docs/spaces.md``).

No conv has a bias except the squeeze-excite convs; activations are never in-place so forward hooks of
proxies see unmodified tensors.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._macro_def import se_channels
from ._protocol import FeatureNet
from .base import LayerSpec

__all__ = ["MacroNetwork", "layer_module"]


class HardSigmoid(nn.Module):
    """``relu6(x + 3) / 6`` from differentiable parts: torch's fused hardsigmoid / hardswish have no
    second derivative, which GraSP (Hessian-gradient product) needs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.relu6(x + 3.0) / 6.0


class HardSwish(HardSigmoid):
    """``x * relu6(x + 3) / 6`` (see :class:`HardSigmoid`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * super().forward(x)


def activation(name: str) -> nn.Module:
    """A fresh (not in-place) activation module; ``none`` is the identity."""
    if name == "relu":
        return nn.ReLU()
    if name == "relu6":
        return nn.ReLU6()
    if name == "hswish":
        return HardSwish()
    if name == "swish":
        return nn.SiLU()
    return nn.Identity()


class ConvNormAct(nn.Sequential):
    """Conv (no bias, padding k // 2) -> BN -> activation."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bn: dict, act: str = "relu",
                 groups: int = 1) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out, **bn),
        ]
        if act != "none":
            layers.append(activation(act))
        super().__init__(*layers)


class ChannelShuffle(nn.Module):
    """Interleave ``groups`` channel groups (after a grouped 1x1 conv)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return x.view(b, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class SqueezeExcite(nn.Module):
    """Global average pool -> 1x1 conv (bias) -> ReLU -> 1x1 conv (bias) -> hard sigmoid, times the input."""

    def __init__(self, channels: int, ratio: float) -> None:
        super().__init__()
        hidden = se_channels(channels, ratio)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(hidden, channels, 1)
        self.gate = HardSigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


class ConvBlock(nn.Module):
    """Inverted residual (MBConv) or fused MBConv, residual when the shape is kept.

    MBConv: [1x1 group conv -> BN -> act (-> channel shuffle)] -> kxk depthwise (stride) -> BN -> act
    [-> SE] -> 1x1 group conv -> BN. The expand conv is absent at expansion 1 unless ``expand_conv``.
    Fused: kxk conv (stride) -> BN -> act [-> SE] -> 1x1 conv -> BN; at expansion 1 only the kxk conv
    (to the output width) -> BN -> act.
    """

    def __init__(self, c_in: int, c_out: int, *, kernel: int, expansion: int, stride: int, groups: int = 1,
                 se: float = 0.0, act: str = "relu", fused: bool = False, expand_conv: bool = True,
                 bn: dict) -> None:
        super().__init__()
        mid = c_in * expansion
        self.residual = c_in == c_out and stride == 1
        parts: list[nn.Module] = []
        if fused:
            if expansion == 1:
                parts.append(ConvNormAct(c_in, c_out, kernel, stride, bn, act))
            else:
                parts.append(ConvNormAct(c_in, mid, kernel, stride, bn, act))
                if se > 0:
                    parts.append(SqueezeExcite(mid, se))
                parts += [nn.Conv2d(mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out, **bn)]
        else:
            if expansion > 1 or expand_conv:
                parts += [nn.Conv2d(c_in, mid, 1, groups=groups, bias=False), nn.BatchNorm2d(mid, **bn),
                          activation(act)]
                if groups > 1:
                    parts.append(ChannelShuffle(groups))
            parts += [nn.Conv2d(mid, mid, kernel, stride=stride, padding=kernel // 2, groups=mid, bias=False),
                      nn.BatchNorm2d(mid, **bn), activation(act)]
            if se > 0:
                parts.append(SqueezeExcite(mid, se))
            parts += [nn.Conv2d(mid, c_out, 1, groups=groups, bias=False), nn.BatchNorm2d(c_out, **bn)]
        self.body = nn.Sequential(*parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y + x if self.residual else y


def layer_module(layer: LayerSpec, *, bn_track_running_stats: bool = True) -> nn.Module:
    """The module of one layer of a macro space (input (B, *in_shape); ``FC`` takes (B, C))."""
    bn = {"affine": True, "track_running_stats": bn_track_running_stats}
    ci, co = layer.in_shape[0], layer.out_shape[0]
    p = dict(layer.params)
    if layer.op == "ConvNorm":
        return ConvNormAct(ci, co, p["kernel"], p["stride"], bn, p.get("act", "relu"), p.get("group", 1))
    if layer.op == "ConvBlock":
        return ConvBlock(ci, co, kernel=p["kernel"], expansion=p["exp"], stride=p["stride"], groups=p["group"],
                         se=p.get("se", 0.0), act=p.get("act", "relu"), fused=bool(p.get("fused", 0)),
                         expand_conv=bool(p.get("expand_conv", 1)), bn=bn)
    if layer.op == "Skip":
        if layer.in_shape == layer.out_shape and p["stride"] == 1:
            return nn.Identity()
        return ConvNormAct(ci, co, 1, p["stride"], bn, p.get("act", "relu"))
    if layer.op == "AvgP":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if layer.op == "FC":
        return nn.Linear(ci, co)
    raise ValueError(f"not a macro-space layer op {layer.op!r}")


class MacroNetwork(FeatureNet):
    """Stem, one block per searchable layer, optional 1x1 header, global average pooling, linear classifier."""

    def __init__(self, stem: LayerSpec, blocks: Sequence[LayerSpec], header: LayerSpec | None, classifier: LayerSpec,
                 *, bn_track_running_stats: bool = True) -> None:
        super().__init__()
        opt = {"bn_track_running_stats": bn_track_running_stats}
        self.stem = layer_module(stem, **opt)
        self.cells = nn.ModuleList(layer_module(b, **opt) for b in blocks)
        self.header = layer_module(header, **opt) if header is not None else nn.Identity()
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = layer_module(classifier, **opt)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.header(h)
