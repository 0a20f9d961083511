"""Macro (chain) spaces defined by data: a stem, stages of searchable layers, a head (``docs/spaces.md``).

A :class:`MacroSpace` is built from a validated :class:`~edgenas.spaces._macro_def.MacroSpaceDef`
(a YAML file: the shipped ``edgenas/spaces/definitions/*.yaml`` or the user's). Each searchable layer
picks one block (MBConv with expansion x kernel x squeeze-excite x activation, fused MBConv, or skip);
a stage whose ``channels`` lists several widths adds one width choice before its layers. The first
layer of a stage carries the stage stride and the width change, the others keep the shape (residual
add where a block keeps the shape).

Arch strings: ``arch_format: names`` joins the tokens (width, then block names, in forward order) with
``-`` (spaces and commas are accepted, and a choice's index in place of its name); ``arch_format: digits``
writes each position's choice index as one digit (NAS-Bench-Macro's ``"22212220"``).

Shapes follow conv arithmetic (padding k // 2, so a stride-2 layer maps H to ceil(H / 2)); any input
resolution at least the total stride works. MACs (fvcore convention: convs and the classifier, 1 per
input element of global pooling, BN / activations / adds 0) and parameters are closed forms of
:meth:`MacroSpace.layers`, equal to the built model's counts (tests/spaces/test_macro.py).
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArchError, ConfigError, DatasetError, did_you_mean
from ._macro_def import MacroSpaceDef, load_definition, parse_definition, se_channels
from .base import Arch, DatasetSpec, LayerSpec, SearchSpace, arch_tokens, strip_arch_text, summed_size_m

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["MacroSpace", "shipped_definition_names", "shipped_definition_path"]

_WIDTH_PREFIX = "c"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def shipped_definition_path(name: str) -> Path:
    """Path of the shipped definition ``edgenas/spaces/definitions/{name}.yaml``."""
    return Path(str(files("edgenas").joinpath("spaces", "definitions", f"{name}.yaml")))


def shipped_definition_names() -> list[str]:
    """Names of the shipped space definitions."""
    folder = Path(str(files("edgenas").joinpath("spaces", "definitions")))
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


class MacroSpace(SearchSpace):
    """A chain space built from a definition (see the module docstring).

    Args:
        definition: a validated definition, or a path to a YAML file.
    """

    def __init__(self, definition: MacroSpaceDef | str | Path) -> None:
        d = definition if isinstance(definition, MacroSpaceDef) else load_definition(definition)
        self.definition = d
        self.name = d.name
        self.description = d.description
        self.datasets = {x.name: DatasetSpec(x.name, x.num_classes, x.input_size, x.channels) for x in d.datasets}
        self._ds_defs = {x.name: x for x in d.datasets}
        self.default_proxy = d.default_proxy
        self.cpu_batch_size = d.cpu_batch_size
        self.cpu_proxy_resolution = dict(d.cpu_proxy_resolution)
        # positions: ("width", stage) or ("layer", stage, index-in-stage, global layer number)
        positions: list[tuple] = []
        choices: list[tuple[str, ...]] = []
        n = 0
        for si, st in enumerate(d.stages):
            if len(st.channels) > 1:
                positions.append(("width", si))
                choices.append(tuple(f"{_WIDTH_PREFIX}{c}" for c in st.channels))
            for li in range(st.layers):
                n += 1
                positions.append(("layer", si, li, n))
                choices.append(st.first_blocks if li == 0 else st.blocks)
        self._positions = tuple(positions)
        self._choices = tuple(choices)
        self.n_layers = n

    @classmethod
    def from_yaml_text(cls, text: str, *, where: str = "(text)") -> MacroSpace:
        """A space from the text of a YAML definition (``where`` names it in errors)."""
        from .._read import parse_yaml

        data = parse_yaml(text, where=where, what="space definition")
        try:
            return cls(parse_definition(data, source=text))
        except ConfigError as e:
            if where == "(text)":
                raise
            raise ConfigError(f"{where}: {e.message}") from None

    @classmethod
    def shipped(cls, name: str) -> MacroSpace:
        """The shipped definition ``name`` (``edgenas/spaces/definitions/{name}.yaml``)."""
        path = shipped_definition_path(name)
        if not path.is_file():
            close = did_you_mean(name, shipped_definition_names())
            raise ConfigError(f"no shipped space definition {name!r}"
                              + (f"; did you mean {close[0]!r}?" if close else
                                 f"; expected one of {', '.join(shipped_definition_names())}"))
        return cls(path)

    @property
    def choices(self) -> tuple[tuple[str, ...], ...]:
        return self._choices

    # -- strings -----------------------------------------------------------------------
    def parse(self, text: str) -> Arch:
        """Parse an arch string (see the module docstring).

        Raises:
            ArchError: naming the bad token and its position, or the wrong count.
        """
        if not isinstance(text, str):
            raise ArchError(f"{self.name} arch must be a string, got {type(text).__name__}")
        n = len(self._choices)
        if self.definition.arch_format == "digits":
            s = strip_arch_text(text)
            if len(s) != n or not s.isascii() or not s.isdigit():
                raise ArchError(f"{self.name} arch {text!r} is not {n} digits; expected one choice index per "
                                f"layer, e.g. {'0' * n!r}")
            tokens = []
            for pos, (ch, opts) in enumerate(zip(s, self._choices), start=1):
                if int(ch) >= len(opts):
                    raise ArchError(f"{self.name} arch {text!r}: digit {ch!r} at position {pos} is out of range; "
                                    f"expected 0-{len(opts) - 1}")
                tokens.append(opts[int(ch)])
            return Arch(self.name, tuple(tokens), s)
        parts = arch_tokens(text)
        if len(parts) != n:
            raise ArchError(f"{self.name} arch {text!r} has {len(parts)} tokens; expected {n} joined by '-', "
                            "spaces or commas")
        tokens = []
        for pos, (part, opts) in enumerate(zip(parts, self._choices), start=1):
            if part in opts:
                tokens.append(part)
            elif part.isascii() and part.isdigit() and int(part) < len(opts):
                tokens.append(opts[int(part)])
            else:
                close = did_you_mean(part, opts)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ArchError(f"unknown {self.name} choice {part!r} at position {pos} of {text!r}{hint}; "
                                f"expected one of {', '.join(opts)} or an index 0-{len(opts) - 1}")
        return Arch(self.name, tuple(tokens), "-".join(tokens))

    def format(self, arch: Arch) -> str:
        if len(arch.tokens) != len(self._choices) or any(t not in c for t, c in zip(arch.tokens, self._choices)):
            raise ArchError(f"not a {self.name} arch (expected {len(self._choices)} tokens, one per position "
                            f"from its choices): {arch.tokens!r}")
        if self.definition.arch_format == "digits":
            return "".join(str(c.index(t)) for t, c in zip(arch.tokens, self._choices))
        return "-".join(arch.tokens)

    def arch(self, tokens: tuple[str, ...] | list[str]) -> Arch:
        tokens = tuple(tokens)
        return Arch(self.name, tokens, self.format(Arch(self.name, tokens)))

    # -- datasets ----------------------------------------------------------------------
    def _dataset(self, dataset: Any) -> DatasetSpec:
        ds = dataset if isinstance(dataset, DatasetSpec) else self.dataset(dataset)
        if ds.channels < 1 or ds.num_classes < 1 or ds.input_size < 1:
            raise DatasetError(f"dataset {ds.name!r}: channels, num_classes and input_size must be >= 1; got "
                               f"{ds.channels}, {ds.num_classes}, {ds.input_size}")
        return ds

    def _setting(self, ds: DatasetSpec) -> tuple[int, tuple[int, ...], int]:
        """(stem stride, stage strides, head channels) for a dataset (its overrides, else the space's)."""
        d = self.definition
        own = self._ds_defs.get(ds.name)
        stem = d.stem.stride if own is None or own.stem_stride is None else own.stem_stride
        strides = tuple(s.stride for s in d.stages) if own is None or own.strides is None else own.strides
        head = d.head.channels if own is None or own.head_channels is None else own.head_channels
        total = stem
        for s in strides:
            total *= s
        if ds.input_size < total:
            raise DatasetError(f"input size {ds.input_size} px of dataset {ds.name!r} is below the total stride "
                               f"{total} of space {self.name!r}; expected an input of at least {total} px")
        return stem, strides, head

    # -- shapes ------------------------------------------------------------------------
    def layers(self, arch: Arch, dataset: Any) -> list[LayerSpec]:
        """Stem, one ``ConvBlock`` / ``Skip`` per searchable layer, header, pooling and classifier
        with (C, H, W) shapes. Op names and params are the vocabulary of ``docs/spaces.md`` (FBNet's
        LUT grammar; ``se``, ``act``, ``fused``, ``expand_conv`` only where not the default).
        Positions: ``stem``, ``layer01`` ..., ``header``, ``avgpool``, ``classifier``."""
        self.format(arch)
        ds = self._dataset(dataset)
        return list(_layers(self, tuple(arch.tokens), ds))

    def _block_layer(self, pos: str, token: str, stage: int, c_in: int, c_out: int, res: int, stride: int
                     ) -> LayerSpec:
        d = self.definition
        st = d.stages[stage]
        b = d.blocks[token]
        r_out = _ceil_div(res, stride)
        shapes = ((c_in, res, res), (c_out, r_out, r_out))
        if b.type == "skip":
            params: tuple = (("stride", stride),)
            if (c_in != c_out or stride != 1) and b.projection_act != "relu":
                params += (("act", b.projection_act),)
            return LayerSpec(pos, "Skip", *shapes, params)
        if c_in % b.groups or c_out % b.groups:
            raise ArchError(f"block {token!r} of space {self.name!r} has groups {b.groups}, which does not divide "
                            f"the {c_in} -> {c_out} channels of {pos}; expected channels divisible by the groups")
        se = b.se if b.se is not None else (st.se if st.se is not None else d.se)
        act = b.act or st.act or d.act
        params = (("exp", b.expansion), ("kernel", b.kernel), ("stride", stride), ("group", b.groups))
        if se > 0:
            params += (("se", se),)
        if act != "relu":
            params += (("act", act),)
        if b.type == "fused_mbconv":
            params += (("fused", 1),)
        elif b.expansion == 1 and not b.expand_conv_at_e1:
            params += (("expand_conv", 0),)
        return LayerSpec(pos, "ConvBlock", *shapes, params)

    def iso_key(self, arch: Arch) -> str:
        """Archs that differ only in where shape-keeping identity skips sit build the same network:
        the key is the layer keys with those identities dropped."""
        keys = [lay.key() for lay in self.layers(arch, next(iter(self.datasets)))
                if not (lay.op == "Skip" and lay.in_shape == lay.out_shape)]
        return "|".join(keys)

    # -- analytic size -----------------------------------------------------------------
    @staticmethod
    def layer_macs_m(layer: LayerSpec) -> float:
        """MACs (millions) of one layer in fvcore's convention (see the module docstring)."""
        return _layer_counts(layer)[0] / 1e6

    @staticmethod
    def layer_params_m(layer: LayerSpec) -> float:
        """Parameters (millions) of one layer: conv weights, BN weight + bias, SE and classifier biases."""
        return _layer_counts(layer)[1] / 1e6

    def analytic_size(self, arch: Arch, dataset: Any) -> tuple[float, float]:
        """(macs_m, params_m) from the per-layer closed forms, without building a model."""
        return summed_size_m(self.layers(arch, dataset), _layer_counts)

    def conv_linear_macs(self, arch: Arch, dataset: Any) -> int:
        """MACs of convs and linear layers only (no pooling): NAS-Bench-Macro's ``flops`` convention."""
        return sum(_layer_counts(lay)[0] for lay in self.layers(arch, dataset) if lay.op != "AvgP")

    # -- models ------------------------------------------------------------------------
    def layer_module(self, layer: LayerSpec, *, bn_track_running_stats: bool = True) -> torch.nn.Module:
        """A torch module computing one layer of :meth:`layers` alone (for per-op profiling).

        Raises:
            ArchError: for a layer op outside the macro-space vocabulary.
        """
        if layer.op not in ("ConvNorm", "ConvBlock", "Skip", "AvgP", "FC"):
            raise ArchError(f"not a {self.name} layer op {layer.op!r}; expected ConvNorm, ConvBlock, Skip, AvgP "
                            "or FC")
        from ._macro_net import layer_module

        return layer_module(layer, bn_track_running_stats=bn_track_running_stats)

    def build_model(self, arch: Arch, dataset: Any, **options: Any) -> torch.nn.Module:
        """The network of ``arch`` (PyTorch default init, train mode): a :class:`FeatureNet` whose
        ``blocks`` are the searchable layers, one block each.

        Options: ``bn_track_running_stats`` (default True).
        """
        from ._macro_net import MacroNetwork

        layers = self.layers(arch, dataset)
        by_pos = {lay.position: lay for lay in layers}
        blocks = [lay for lay in layers if lay.position.startswith("layer")]
        return MacroNetwork(by_pos["stem"], blocks, by_pos.get("header"), by_pos["classifier"],
                            bn_track_running_stats=options.get("bn_track_running_stats", True))


@lru_cache(maxsize=4096)
def _layers(space: MacroSpace, tokens: tuple[str, ...], ds: DatasetSpec) -> tuple[LayerSpec, ...]:
    # pure function of (space, arch, dataset); cached because search, sed and cost models call it per arch
    d = space.definition
    stem_stride, strides, head_ch = space._setting(ds)
    r0 = ds.input_size
    res = _ceil_div(r0, stem_stride)
    stem_params: tuple = (("kernel", d.stem.kernel), ("stride", stem_stride), ("group", 1))
    stem_act = d.stem.act or d.act
    if stem_act != "relu":
        stem_params += (("act", stem_act),)
    out = [LayerSpec("stem", "ConvNorm", (ds.channels, r0, r0), (d.stem.channels, res, res), stem_params)]
    c_prev = d.stem.channels
    width: int | None = None
    for pos, tok in zip(space._positions, tokens):
        if pos[0] == "width":
            width = int(tok[len(_WIDTH_PREFIX):])
            continue
        _, si, li, n = pos
        st = d.stages[si]
        if len(st.channels) == 1:
            width = st.channels[0]
        stride = strides[si] if li == 0 else 1
        lay = space._block_layer(f"layer{n:02d}", tok, si, c_prev, width, res, stride)
        out.append(lay)
        c_prev, res = width, lay.out_shape[1]
    c = c_prev
    if head_ch:
        head_params: tuple = (("kernel", 1), ("stride", 1), ("group", 1))
        head_act = d.head.act or d.act
        if head_act != "relu":
            head_params += (("act", head_act),)
        out.append(LayerSpec("header", "ConvNorm", (c, res, res), (head_ch, res, res), head_params))
        c = head_ch
    out.append(LayerSpec("avgpool", "AvgP", (c, res, res), (c, 1, 1), (("kernel", res), ("stride", 1))))
    out.append(LayerSpec("classifier", "FC", (c, 1, 1), (ds.num_classes, 1, 1)))
    return tuple(out)


def _layer_counts(layer: LayerSpec) -> tuple[int, int]:
    """(MACs, params) of one layer as integers (see :meth:`MacroSpace.layer_macs_m`)."""
    ci, hi, wi = layer.in_shape
    co, ho, wo = layer.out_shape
    p = dict(layer.params)
    if layer.op == "ConvNorm":
        k, g = p["kernel"], p.get("group", 1)
        return k * k * ci // g * co * ho * wo, k * k * ci // g * co + 2 * co
    if layer.op == "Skip":
        if layer.in_shape == layer.out_shape and p["stride"] == 1:
            return 0, 0
        return ci * co * ho * wo, ci * co + 2 * co
    if layer.op == "AvgP":
        return ci * hi * wi, 0
    if layer.op == "FC":
        return ci * co, ci * co + co
    if layer.op != "ConvBlock":
        raise ArchError(f"not a macro-space layer op {layer.op!r}; expected ConvNorm, ConvBlock, Skip, AvgP or FC")
    e, k, g, se = p["exp"], p["kernel"], p["group"], p.get("se", 0.0)
    mid = ci * e
    macs = params = 0
    if p.get("fused"):
        if e == 1:
            return k * k * ci * co * ho * wo, k * k * ci * co + 2 * co
        macs += k * k * ci * mid * ho * wo
        params += k * k * ci * mid + 2 * mid
    else:
        if e > 1 or p.get("expand_conv", 1):
            macs += ci // g * mid * hi * wi
            params += ci // g * mid + 2 * mid
        macs += k * k * mid * ho * wo
        params += k * k * mid + 2 * mid
    if se > 0:
        h = se_channels(mid, se)
        macs += mid * ho * wo + 2 * mid * h  # pooling (1 per input element) and the two 1x1 convs
        params += 2 * mid * h + h + mid
    macs += mid // g * co * ho * wo
    params += mid // g * co + 2 * co
    return macs, params
