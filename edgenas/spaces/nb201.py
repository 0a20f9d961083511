"""NAS-Bench-201 (Dong & Yang, ICLR 2020): a 4-node cell with 6 edges x 5 ops = 15,625 archs.

Arch strings look like ``|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``:
three groups (nodes 1..3) separated by ``+``; node i lists one ``op~j`` per input node j < i.
Archs can also be given by their official benchmark index (``"6111"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..errors import ArchError, did_you_mean
from .base import Arch, DatasetSpec, LayerSpec, SearchSpace, strip_arch_text, summed_size_m

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["NB201_OPS", "NB201Space"]

#: op vocabulary in the benchmark's order
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (target node, source node) of each token, in arch-string order
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
N_ARCHS = 15625

_NODE_RE = re.compile(r"^\|(?:[^|~+]*~[^|~+]*\|)+$")


class NB201Space(SearchSpace):
    """The exact NAS-Bench-201 space (C=16, N=5) for CIFAR-10, CIFAR-100 and ImageNet16-120."""

    name = "nb201"
    description = "NAS-Bench-201 cell space: 6 edges x 5 ops, 15,625 archs, official index order"
    datasets = {
        "cifar10": DatasetSpec("cifar10", 10, 32),
        "cifar100": DatasetSpec("cifar100", 100, 32),
        "ImageNet16-120": DatasetSpec("ImageNet16-120", 120, 16),
    }
    channels = 16
    cells_per_stage = 5
    benchmark_flops = True
    accuracy_prior = "nb201_prior.json"
    default_proxy = "edgenas_transfer"
    # two stride-2 reduction blocks whose conv (ceil) and pooling (floor) branches must agree
    resolution_multiple = 4

    @property
    def choices(self) -> tuple[tuple[str, ...], ...]:
        return (NB201_OPS,) * 6

    # -- strings -----------------------------------------------------------------------
    def parse(self, text: str) -> Arch:
        if not isinstance(text, str):
            raise ArchError(f"arch must be a string, got {type(text).__name__}")
        s = strip_arch_text(text)
        if s.isascii() and s.isdigit():
            return self.from_index(int(s))
        groups = s.split("+")
        if len(groups) != 3:
            raise ArchError(
                f"malformed NB201 arch {text!r}: expected 3 node groups joined by '+' "
                f"(|op~0|+|op~0|op~1|+|op~0|op~1|op~2|), got {len(groups)}"
            )
        tokens: list[str] = []
        for node, group in enumerate(groups, start=1):
            if not _NODE_RE.match(group):
                raise ArchError(f"malformed NB201 node {node} {group!r} in {text!r}: expected |op~j|...|")
            edges = group.strip("|").split("|")
            if len(edges) != node:
                raise ArchError(
                    f"NB201 node {node} in {text!r} has {len(edges)} inputs; expected {node} (one per earlier node)"
                )
            for j, edge in enumerate(edges):
                op, _, src = edge.partition("~")
                if op not in NB201_OPS:
                    close = did_you_mean(op, NB201_OPS)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ArchError(
                        f"unknown NB201 op {op!r} in {text!r}{hint}; expected one of {', '.join(NB201_OPS)}"
                    )
                if src != str(j):
                    raise ArchError(f"NB201 edge {edge!r} of node {node} in {text!r}: expected input ~{j}")
                tokens.append(op)
        return Arch(self.name, tuple(tokens), self._text(tokens))

    @staticmethod
    def _text(tokens: list[str] | tuple[str, ...]) -> str:
        t = tokens
        return f"|{t[0]}~0|+|{t[1]}~0|{t[2]}~1|+|{t[3]}~0|{t[4]}~1|{t[5]}~2|"

    def format(self, arch: Arch) -> str:
        if len(arch.tokens) != 6 or any(t not in NB201_OPS for t in arch.tokens):
            raise ArchError(f"not an NB201 arch: {arch.tokens!r}")
        return self._text(arch.tokens)

    def arch(self, tokens: tuple[str, ...] | list[str]) -> Arch:
        tokens = tuple(tokens)
        return Arch(self.name, tokens, self.format(Arch(self.name, tokens)))

    # -- index -------------------------------------------------------------------------
    @cached_property
    def _index_table(self) -> tuple[tuple[str, ...], dict[str, int]]:
        codes: list[str] = [""] * N_ARCHS
        text = resources.files("edgenas.spaces").joinpath("data/nb201_index.csv").read_text()
        for line in text.splitlines():
            if not line or line.startswith("#") or line.startswith("index"):
                continue
            i, code = line.split(",")
            codes[int(i)] = code
        return tuple(codes), {c: i for i, c in enumerate(codes)}

    def _code(self, arch: Arch) -> str:
        return "".join(str(NB201_OPS.index(t)) for t in arch.tokens)

    def index(self, arch: Arch) -> int | None:
        return self._index_table[1][self._code(arch)]

    def from_index(self, index: int) -> Arch:
        """The arch with official benchmark index ``index`` (0..15624)."""
        if not 0 <= index < N_ARCHS:
            raise ArchError(f"NB201 index {index} out of range; expected 0..{N_ARCHS - 1}")
        code = self._index_table[0][index]
        return self.arch(tuple(NB201_OPS[int(c)] for c in code))

    def enumerate(self, *, limit: int = 1_000_000) -> Iterator[Arch]:
        """All 15,625 archs in official index order."""
        for i in range(N_ARCHS):
            yield self.from_index(i)

    # -- isomorphism -------------------------------------------------------------------
    def iso_key(self, arch: Arch) -> str:
        """NATS-Bench's unique string (zero-aware): equal for isomorphic cells.

        Each node is described by the sorted '+'-join of its inputs' descriptions;
        ``skip_connect`` passes the input description through, ``none`` (or an input that
        is already zero) gives ``#``, other ops wrap it as ``(input)@op``.
        """
        nodes = {0: "0"}
        k = 0
        for target in (1, 2, 3):
            parts = []
            for src in range(target):
                op = arch.tokens[k]
                k += 1
                if op == "none" or nodes[src] == "#":
                    parts.append("#")
                elif op == "skip_connect":
                    parts.append(nodes[src])
                else:
                    parts.append(f"({nodes[src]})@{op}")
            nodes[target] = "+".join(sorted(parts))
        return nodes[3]

    def arch_features(self, arch: Arch) -> dict[str, float]:
        """Topology features of the live cell (:mod:`edgenas.spaces._nb201_features`)."""
        from ._nb201_features import cell_features

        if self.is_degenerate(arch):
            raise ArchError(f"{self.format(arch)} is degenerate (no live path): it has no features")
        return cell_features(arch.tokens)

    def is_degenerate(self, arch: Arch) -> bool:
        """True if no path of non-``none`` ops joins the cell input to its output:
        every cell then outputs zeros, so the logits are constant whatever the input
        (e.g. ``|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|``). The iso key
        does not tell: it writes a node with only dead inputs as ``#+#``, not ``#``."""
        live = [True, False, False, False]
        for (target, src), op in zip(EDGES, arch.tokens):
            if op != "none" and live[src]:
                live[target] = True
        return not live[3]

    # -- layers and models -------------------------------------------------------------
    def layers(self, arch: Arch, dataset: str | DatasetSpec) -> list[LayerSpec]:
        """Every op with shapes (C, H, W), forward order. Cell edges appear as ``op`` with
        their position ``stage{s}.cell{c}.edge{t}<-{f}``; ``none`` and ``skip_connect``
        edges are listed too (they cost ~0 but exist in the graph)."""
        ds = self.dataset(dataset)
        c, r = self.channels, ds.input_size
        out: list[LayerSpec] = [LayerSpec("stem", "stem_conv3x3_bn", (ds.channels, r, r), (c, r, r))]
        for stage in range(3):
            cs = c * 2**stage
            rs = r // 2**stage
            if stage > 0:
                cp, rp = cs // 2, rs * 2
                out.append(LayerSpec(f"stage{stage}.reduce", "resblock_s2", (cp, rp, rp), (cs, rs, rs)))
            for cell in range(self.cells_per_stage):
                for (t, f), op in zip(EDGES, arch.tokens):
                    out.append(LayerSpec(f"stage{stage}.cell{cell}.edge{t}<-{f}", op, (cs, rs, rs), (cs, rs, rs)))
        cl, rl = 4 * c, r // 4
        out.append(LayerSpec("head", "bn_relu_gap", (cl, rl, rl), (cl, 1, 1)))
        out.append(LayerSpec("classifier", "linear", (cl, 1, 1), (ds.num_classes, 1, 1)))
        return out

    def analytic_size(self, arch: Arch, dataset: str | DatasetSpec) -> tuple[float, float]:
        """(macs_m, params_m) of ``arch`` from :meth:`layers` in closed form, equal to fvcore on the
        built model (:func:`edgenas.hardware.flops.model_size`: conv and linear MACs without bias,
        BN folded, adaptive pooling one per input element; params with BN affine and classifier bias).

        Why: tracing one NB201 network with fvcore takes ~0.4-0.7 s, and pricing prints sizes for every arch.
        """
        return summed_size_m(self.layers(arch, dataset), _nb201_layer_counts)

    def compiled_layers(self, arch: Arch, dataset: str | DatasetSpec, *, node_ops: bool = False,
                        reads: bool = False) -> list[LayerSpec]:
        """:meth:`layers` minus the edges a compiler removes (dead branches; none at all when the
        output is constant), plus one ``sum{k}`` layer per node adding k >= 2 inputs (see
        :func:`edgenas.spaces._nb201_layers.compiled_layers`)."""
        from ._nb201_layers import compiled_layers

        return compiled_layers(self.layers(arch, dataset), arch, node_ops=node_ops, reads=reads)

    def layer_module(self, layer: LayerSpec, *, bn_track_running_stats: bool = True) -> torch.nn.Module:
        """One op of :meth:`layers` alone (stem, reduction block, cell edge op, head, classifier)."""
        from torch import nn

        from ._nb201_net import ResNetBasicBlock, make_op

        bn = {"track_running_stats": bn_track_running_stats}
        ci, co = layer.in_shape[0], layer.out_shape[0]
        if layer.op == "stem_conv3x3_bn":
            return nn.Sequential(nn.Conv2d(ci, co, 3, padding=1, bias=False), nn.BatchNorm2d(co))
        if layer.op == "resblock_s2":
            return ResNetBasicBlock(ci, co, bn)
        if layer.op == "bn_relu_gap":
            return nn.Sequential(nn.BatchNorm2d(ci), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        if layer.op == "linear":
            return nn.Linear(ci, co)
        if layer.op == "skip_connect":
            return nn.Identity()
        return make_op(layer.op, ci, bn)

    def onnx_bytes(self, arch: Arch, dataset: str | DatasetSpec) -> bytes:
        """The network at batch 1 as ONNX, written directly (milliseconds; same onnxruntime kernels
        as exporting :meth:`build_model`, random weights): for kernel detection, not deployment."""
        from ._nb201_onnx import nb201_onnx_bytes

        ds = self.dataset(dataset)
        return nb201_onnx_bytes(arch.tokens, ds.num_classes, tuple(ds.input_shape), channels=self.channels,
                                cells_per_stage=self.cells_per_stage)

    def build_model(self, arch: Arch, dataset: str | DatasetSpec, **options: Any) -> torch.nn.Module:
        """The benchmark network for any task (classes, 1 or 3 channels, a resolution multiple of 4); options: ``bn_track_running_stats`` (default True),
        ``channels`` (16), ``cells_per_stage`` (5)."""
        from ._nb201_net import NB201Network

        ds = self.dataset(dataset)
        return NB201Network(
            arch.tokens,
            ds.num_classes,
            in_channels=ds.channels,
            channels=options.get("channels", self.channels),
            cells_per_stage=options.get("cells_per_stage", self.cells_per_stage),
            bn_track_running_stats=options.get("bn_track_running_stats", True),
        )


def _nb201_layer_counts(layer: LayerSpec) -> tuple[int, int]:
    """(MACs, params) of one layer of :meth:`NB201Space.layers` in fvcore's convention (see
    :meth:`NB201Space.analytic_size`); ``none``, ``skip_connect`` and ``avg_pool_3x3`` count 0."""
    ci, hi, wi = layer.in_shape
    co, ho, wo = layer.out_shape
    if layer.op == "stem_conv3x3_bn":  # conv 3x3 (no bias) + BN
        return 9 * ci * co * ho * wo, 9 * ci * co + 2 * co
    if layer.op == "resblock_s2":  # ReLU-conv3x3/2-BN, ReLU-conv3x3-BN, AvgPool(2) + conv 1x1 shortcut
        return ((9 * ci * co + 9 * co * co + ci * co) * ho * wo,
                9 * ci * co + 2 * co + 9 * co * co + 2 * co + ci * co)
    if layer.op in ("nor_conv_1x1", "nor_conv_3x3"):  # ReLU-conv-BN at stride 1
        k2 = 1 if layer.op == "nor_conv_1x1" else 9
        return k2 * ci * co * ho * wo, k2 * ci * co + 2 * co
    if layer.op in ("none", "skip_connect", "avg_pool_3x3"):
        return 0, 0
    if layer.op == "bn_relu_gap":  # BN (folded), ReLU, adaptive average pooling over every input element
        return ci * hi * wi, 2 * ci
    if layer.op == "linear":
        return ci * co, ci * co + co
    raise ArchError(f"not an NB201 layer op {layer.op!r}")
