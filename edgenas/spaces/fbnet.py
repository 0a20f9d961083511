"""FBNet macro space as defined by HW-NAS-Bench (Li et al., ICLR 2021) and used by HELP.

22 searchable layers in 7 stages of ``[1, 4, 4, 4, 4, 4, 1]`` layers with output channels
``[16, 24, 32, 64, 112, 184, 352]``; each layer is one of 9 blocks (``BLOCKS``): an inverted
residual block ``k{kernel}_e{expansion}[_g{groups}]`` (1x1 group conv -> kxk depthwise ->
1x1 group conv, residual when shape is kept) or ``skip`` (identity, or 1x1 conv+BN+ReLU when the
layer changes stride or width). Fixed parts: a 3x3 conv+BN+ReLU stem to 16 channels, a 1x1
conv+BN+ReLU header, global average pooling and a linear classifier.

========== ===== ====== ===================== ====== =============
dataset    input stem   stage strides         header classes
========== ===== ====== ===================== ====== =============
cifar100   32    s1     1, 1, 2, 2, 1, 2, 1   1504   100
imagenet   224   s2     1, 2, 2, 2, 1, 2, 1   1984   1000
========== ===== ====== ===================== ====== =============

A task of the user's (:class:`~edgenas.spaces.DatasetSpec`: any class count, 1 or 3 channels, any
resolution of 8..1024 px) gets the CIFAR setting below 96 px and the ImageNet setting from 96 px
(total stride 8 vs 32: at 96 px the ImageNet setting ends on 3 x 3 maps, the CIFAR one on 12 x 12 at
9x its MACs); a benchmark dataset keeps its own setting at any proxy resolution.

The first layer of each stage carries the stage stride and the width change; the other layers
are stride 1 at the stage width. Arch strings are the 22 block names in layer order, joined by
``-`` (canonical), spaces or commas; op indices 0..8 (HW-NAS-Bench ``op_idx_list``, HELP
``op_indices``) are accepted in place of names. There is no benchmark index. Every token gives
a different function (``skip`` at a stride-1, same-width layer is the identity, but no other
block is), so the iso key is the canonical arch string.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ArchError, did_you_mean
from ._fbnet_blocks import BLOCK_CONFIGS, BLOCKS, BlockConfig
from .base import Arch, DatasetSpec, LayerSpec, SearchSpace, arch_tokens, summed_size_m

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["BLOCKS", "BlockConfig", "FBNetSpace", "LayerSlot", "hwnasbench_key"]

N_LAYERS = 22
STAGE_LAYERS = (1, 4, 4, 4, 4, 4, 1)
STAGE_CHANNELS = (16, 24, 32, 64, 112, 184, 352)
STEM_CHANNELS = 16


class _Setting(NamedTuple):
    stem_stride: int
    stage_strides: tuple[int, ...]
    header_channels: int


# HW-NAS-Bench's CIFAR setting (their "unofficial CIFAR" strides) and the FBNet v1 ImageNet setting
_SETTINGS = {
    "cifar100": _Setting(1, (1, 1, 2, 2, 1, 2, 1), 1504),
    "imagenet": _Setting(2, (1, 2, 2, 2, 1, 2, 1), 1984),
}


class LayerSlot(NamedTuple):
    """Shape of one searchable layer: channels in/out, input resolution, stride (1-based ``layer``)."""

    layer: int
    stage: int
    c_in: int
    c_out: int
    resolution: int
    stride: int


#: a task's resolution from which it gets the ImageNet setting (module docstring)
IMAGENET_SETTING_FROM_PX = 96


def setting_name(ds: DatasetSpec) -> str:
    """``cifar100`` or ``imagenet``: the stem/stride/header setting of a dataset or task."""
    if ds.name in _SETTINGS and FBNetSpace.datasets[ds.name].num_classes == ds.num_classes:
        return ds.name
    return "imagenet" if ds.input_size >= IMAGENET_SETTING_FROM_PX else "cifar100"


@lru_cache(maxsize=8)
def _slots(setting_key: str, input_size: int) -> tuple[LayerSlot, ...]:
    # pure function of the setting; cached because sed and the cost models call it per arch
    setting = _SETTINGS[setting_key]
    res = input_size // setting.stem_stride
    c_prev = STEM_CHANNELS
    out: list[LayerSlot] = []
    for stage, (n, c, s) in enumerate(zip(STAGE_LAYERS, STAGE_CHANNELS, setting.stage_strides)):
        for i in range(n):
            stride = s if i == 0 else 1
            out.append(LayerSlot(len(out) + 1, stage, c_prev if i == 0 else c, c, res, stride))
            res //= stride
        c_prev = c
    return tuple(out)


class FBNetSpace(SearchSpace):
    """The HW-NAS-Bench FBNet space (9^22 archs) for ``cifar100`` (32 px) and ``imagenet`` (224 px)."""

    # search defaults on CPU: vkdnw-type proxies take minutes per FBNet arch there, so the
    # one-forward edgenas_fast ensemble, batch 8, and for the 224-px setting 64-px proxy inputs
    # (rankings measured against 224 px, docs/benchmarks.md)
    default_proxy = "edgenas_fast"
    cpu_batch_size = 8
    cpu_proxy_resolution = {"imagenet": 64}  # noqa: RUF012  (read-only class data)

    name = "fbnet"
    description = "FBNet macro space (HW-NAS-Bench/HELP): 22 layers x 9 blocks, no index"
    datasets = {
        "cifar100": DatasetSpec("cifar100", 100, 32),
        "imagenet": DatasetSpec("imagenet", 1000, 224),
    }

    @property
    def choices(self) -> tuple[tuple[str, ...], ...]:
        return (BLOCKS,) * N_LAYERS

    # -- strings -----------------------------------------------------------------------
    def parse(self, text: str) -> Arch:
        """Parse 22 block names (or op indices 0..8) separated by ``-``, spaces or commas.

        Raises:
            ArchError: naming the bad token and its layer, or the wrong token count.
        """
        if not isinstance(text, str):
            raise ArchError(f"FBNet arch must be a string, got {type(text).__name__}")
        parts = arch_tokens(text)
        tokens: list[str] = []
        for pos, part in enumerate(parts, start=1):
            if part in BLOCKS:
                tokens.append(part)
            elif part.isascii() and part.isdigit() and int(part) < len(BLOCKS):
                tokens.append(BLOCKS[int(part)])
            else:
                close = did_you_mean(part, BLOCKS)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ArchError(
                    f"unknown FBNet block {part!r} at layer {pos} of {text!r}{hint}; "
                    f"expected one of {', '.join(BLOCKS)} or an op index 0-{len(BLOCKS) - 1}"
                )
        if len(tokens) != N_LAYERS:
            raise ArchError(
                f"FBNet arch {text!r} has {len(tokens)} blocks; expected {N_LAYERS} "
                f"joined by '-', spaces or commas"
            )
        return Arch(self.name, tuple(tokens), "-".join(tokens))

    def format(self, arch: Arch) -> str:
        if len(arch.tokens) != N_LAYERS or any(t not in BLOCKS for t in arch.tokens):
            raise ArchError(f"not an FBNet arch (expected {N_LAYERS} tokens from {', '.join(BLOCKS)}): {arch.tokens!r}")
        return "-".join(arch.tokens)

    def arch(self, tokens: tuple[str, ...] | list[str]) -> Arch:
        tokens = tuple(tokens)
        return Arch(self.name, tokens, self.format(Arch(self.name, tokens)))

    def is_degenerate(self, arch: Arch) -> bool:
        """Always False: every FBNet block, ``skip`` included, passes its input on (identity or a
        1x1 conv), so every arch has a live path from input to output."""
        return False

    def op_indices(self, arch: Arch) -> list[int]:
        """HW-NAS-Bench ``op_idx_list`` / HELP ``op_indices`` of ``arch``."""
        return [BLOCKS.index(t) for t in arch.tokens]

    # -- shapes ------------------------------------------------------------------------
    def slots(self, dataset: str | DatasetSpec) -> list[LayerSlot]:
        """Shape of each of the 22 searchable layers for ``dataset`` (independent of the arch)."""
        ds = self.dataset(dataset)
        return list(_slots(setting_name(ds), ds.input_size))

    def layers(self, arch: Arch, dataset: str | DatasetSpec) -> list[LayerSpec]:
        """Stem, the 22 blocks, header, pooling and classifier with (C, H, W) shapes.

        Op names and params mirror the HW-NAS-Bench LUT key grammar (``ConvNorm``,
        ``ConvBlock`` with exp/kernel/stride/group, ``Skip`` with stride, ``AvgP``, ``FC``), so
        ``LayerSpec.key()`` depends only on the block and its shape: layers of one stage that
        share a shape share a key, as in the HW-NAS-Bench LUTs. Positions are ``stem``,
        ``layer01`` .. ``layer22``, ``header``, ``avgpool``, ``classifier``.
        """
        self.format(arch)
        ds = self.dataset(dataset)
        setting = _SETTINGS[setting_name(ds)]
        r0 = ds.input_size
        r1 = r0 // setting.stem_stride
        out = [
            LayerSpec("stem", "ConvNorm", (ds.channels, r0, r0), (STEM_CHANNELS, r1, r1),
                      (("kernel", 3), ("stride", setting.stem_stride), ("group", 1)))
        ]
        for slot, token in zip(self.slots(dataset), arch.tokens):
            r_out = slot.resolution // slot.stride
            shapes = ((slot.c_in, slot.resolution, slot.resolution), (slot.c_out, r_out, r_out))
            pos = f"layer{slot.layer:02d}"
            if token == "skip":
                out.append(LayerSpec(pos, "Skip", *shapes, (("stride", slot.stride),)))
            else:
                b = BLOCK_CONFIGS[token]
                params = (("exp", b.expansion), ("kernel", b.kernel), ("stride", slot.stride), ("group", b.groups))
                out.append(LayerSpec(pos, "ConvBlock", *shapes, params))
        c, r, h = STAGE_CHANNELS[-1], out[-1].out_shape[1], setting.header_channels
        out.append(LayerSpec("header", "ConvNorm", (c, r, r), (h, r, r), (("kernel", 1), ("stride", 1), ("group", 1))))
        out.append(LayerSpec("avgpool", "AvgP", (h, r, r), (h, 1, 1), (("kernel", r), ("stride", 1))))
        out.append(LayerSpec("classifier", "FC", (h, 1, 1), (ds.num_classes, 1, 1)))
        return out

    # -- per-layer cost helpers (profilers, analytic cost models) ----------------------
    def layer_macs_m(self, layer: LayerSpec) -> float:
        """Analytic MACs (millions) of one layer of :meth:`layers`, fvcore's convention.

        Convs count k*k*C_in/groups per output element, BN/ReLU/residual adds count 0, global
        average pooling counts 1 per input element, the classifier C_in*C_out (no bias).
        The sum over an arch's layers equals ``model_size(...).macs_m`` of the built model.

        Raises:
            ArchError: for a layer that is not an FBNet-space layer.
        """
        return _layer_counts(layer)[0] / 1e6

    def layer_params_m(self, layer: LayerSpec) -> float:
        """Analytic parameters (millions) of one layer of :meth:`layers`: conv weights (no bias),
        BN weight + bias, classifier weight + bias. The sum over an arch's layers equals the
        built model's parameter count.

        Raises:
            ArchError: for a layer that is not an FBNet-space layer.
        """
        return _layer_counts(layer)[1] / 1e6

    def analytic_size(self, arch: Arch, dataset: str | DatasetSpec) -> tuple[float, float]:
        """(macs_m, params_m) of ``arch`` from the per-layer formulas, without building a model
        (the search prices thousands of archs; an fvcore trace of one FBNet model takes seconds).
        Equal to the traced values bit for bit (:func:`~edgenas.spaces.base.summed_size_m`)."""
        return summed_size_m(self.layers(arch, dataset), _layer_counts)

    def layer_module(self, layer: LayerSpec, *, bn_track_running_stats: bool = True) -> torch.nn.Module:
        """A torch module computing one layer of :meth:`layers` alone (for per-op profiling).

        Input is (B, *layer.in_shape), except ``FC`` which takes (B, C). An identity ``Skip``
        is an ``nn.Identity``.

        Raises:
            ArchError: for a layer that is not an FBNet-space layer.
        """
        from torch import nn

        from ._fbnet_net import ConvBlock, ConvNormReLU, SkipBlock

        bn = {"affine": True, "track_running_stats": bn_track_running_stats}
        ci, co = layer.in_shape[0], layer.out_shape[0]
        p = dict(layer.params)
        if layer.op == "ConvNorm":
            return ConvNormReLU(ci, co, p["kernel"], p["stride"], bn)
        if layer.op == "ConvBlock":
            return ConvBlock(ci, co, kernel=p["kernel"], expansion=p["exp"], groups=p["group"], stride=p["stride"],
                             bn=bn)
        if layer.op == "Skip":
            if layer.in_shape == layer.out_shape:
                from torch import nn

                return nn.Identity()
            return SkipBlock(ci, co, stride=p["stride"], bn=bn)
        if layer.op == "AvgP":
            return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        if layer.op == "FC":
            return nn.Linear(ci, co)
        raise ArchError(f"not an FBNet layer op {layer.op!r}; expected ConvNorm, ConvBlock, Skip, AvgP or FC")

    # -- models ------------------------------------------------------------------------
    def build_model(self, arch: Arch, dataset: str | DatasetSpec, **options: Any) -> torch.nn.Module:
        """The FBNet network of ``arch`` (PyTorch default init, train mode).

        Options: ``bn_track_running_stats`` (default True).
        """
        from ._fbnet_net import FBNetNetwork

        self.format(arch)
        ds = self.dataset(dataset)
        setting = _SETTINGS[setting_name(ds)]
        return FBNetNetwork(
            arch.tokens,
            [(s.c_in, s.c_out, s.stride) for s in self.slots(dataset)],
            num_classes=ds.num_classes,
            stem_stride=setting.stem_stride,
            header_channels=setting.header_channels,
            bn_track_running_stats=options.get("bn_track_running_stats", True),
            in_channels=ds.channels,
        )


def hwnasbench_key(layer: LayerSpec) -> str:
    """The HW-NAS-Bench FBNet LUT key of one layer (``H``/``W`` are the *input* resolution).

    E.g. ``ConvBlock_H32_W32_Cin16_Cout24_exp6_kernel3_stride1_group1``; the classifier is
    ``FC_Cin1504_Cout100``.
    """
    ci, h, w = layer.in_shape
    co = layer.out_shape[0]
    params = "".join(f"_{k}{v}" for k, v in layer.params)
    if layer.op == "FC":
        return f"FC_Cin{ci}_Cout{co}"
    return f"{layer.op}_H{h}_W{w}_Cin{ci}_Cout{co}{params}"


def _layer_counts(layer: LayerSpec) -> tuple[int, int]:
    """(MACs, params) of one FBNet layer as integers (see :meth:`FBNetSpace.layer_macs_m`)."""
    ci, hi, wi = layer.in_shape
    co, ho, wo = layer.out_shape
    p = dict(layer.params)
    if layer.op == "ConvNorm":
        w = p["kernel"] ** 2 * ci // p["group"] * co
        return w * ho * wo, w + 2 * co
    if layer.op == "ConvBlock":
        mid, k, g = ci * p["exp"], p["kernel"], p["group"]
        return (ci // g * mid * hi * wi + k * k * mid * ho * wo + mid // g * co * ho * wo,
                ci // g * mid + 2 * mid + k * k * mid + 2 * mid + mid // g * co + 2 * co)
    if layer.op == "Skip":
        return (0, 0) if (ci == co and p["stride"] == 1) else (ci * co * ho * wo, ci * co + 2 * co)
    if layer.op == "AvgP":
        return ci * hi * wi, 0
    if layer.op == "FC":
        return ci * co, ci * co + co
    raise ArchError(f"not an FBNet layer op {layer.op!r}; expected ConvNorm, ConvBlock, Skip, AvgP or FC")
