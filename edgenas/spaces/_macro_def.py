"""Validated definition of a macro (chain) space, read from YAML (see ``docs/spaces.md``).

Every field is checked once, here, and a bad one raises :class:`~edgenas.errors.ConfigError` with one
line naming the field (``stages[1].blocks[2]``) and what is expected. The result is a tree of frozen
dataclasses that :class:`~edgenas.spaces.macro.MacroSpace` reads; nothing else parses YAML.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["ACTIVATIONS", "BlockDef", "DatasetDef", "HeadDef", "MacroSpaceDef", "StageDef", "StemDef", "make_divisible", "se_channels",
           "definition_hash", "load_definition", "parse_definition"]

#: activation names a definition may use (``none`` = no activation)
ACTIVATIONS = ("relu", "relu6", "hswish", "swish", "none")
BLOCK_TYPES = ("mbconv", "fused_mbconv", "skip")
ARCH_FORMATS = ("names", "digits")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_.]+$")
#: largest sensible values (a typo like 10000 layers is an error, not an hour of building)
_MAX_CHANNELS = 65536
_MAX_LAYERS = 256
_MAX_KERNEL = 15


@dataclass(frozen=True)
class BlockDef:
    """One block choice. ``act`` / ``se`` ``None`` inherit the stage's (then the space's) value."""

    name: str
    type: str
    kernel: int = 3
    expansion: int = 1
    groups: int = 1
    se: float | None = None
    act: str | None = None
    expand_conv_at_e1: bool = False
    projection_act: str = "relu"


@dataclass(frozen=True)
class StageDef:
    layers: int
    stride: int
    channels: tuple[int, ...]
    blocks: tuple[str, ...]
    first_blocks: tuple[str, ...]
    act: str | None = None
    se: float | None = None


@dataclass(frozen=True)
class StemDef:
    channels: int
    kernel: int = 3
    stride: int = 1
    act: str | None = None


@dataclass(frozen=True)
class HeadDef:
    """Optional 1x1 conv + BN + act before global pooling (``channels`` 0 = none)."""

    channels: int = 0
    act: str | None = None


@dataclass(frozen=True)
class DatasetDef:
    """A dataset the space ships settings for; ``stem_stride`` / ``strides`` / ``head_channels``
    override the space's (``None`` = the space's)."""

    name: str
    num_classes: int
    input_size: int
    channels: int = 3
    stem_stride: int | None = None
    strides: tuple[int, ...] | None = None
    head_channels: int | None = None


@dataclass(frozen=True)
class MacroSpaceDef:
    name: str
    description: str
    arch_format: str
    act: str
    se: float
    stem: StemDef
    blocks: dict[str, BlockDef]
    stages: tuple[StageDef, ...]
    head: HeadDef
    datasets: tuple[DatasetDef, ...]
    default_proxy: str | None = None
    cpu_batch_size: int | None = None
    cpu_proxy_resolution: tuple[tuple[str, int], ...] = ()
    source: str = ""


def _fail(field: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"space definition field {field}: expected {expected}, got {value!r}")


def _int(d: dict, key: str, field: str, *, default: Any = ..., lo: int = 1, hi: int | None = None) -> Any:
    if key not in d or d[key] is None:
        if default is ...:
            raise ConfigError(f"space definition field {field}.{key} is missing; expected an integer >= {lo}")
        return default
    v = d[key]
    rng = f"an integer {lo}..{hi}" if hi is not None else f"an integer >= {lo}"
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        raise _fail(f"{field}.{key}", rng, v)
    return v


def _act(d: dict, key: str, field: str, default: str | None = None) -> str | None:
    v = d.get(key, default)
    if v is None:
        return default
    if v is False:  # YAML "none" unquoted stays a string; `false` means no activation too
        return "none"
    if v not in ACTIVATIONS:
        raise _fail(f"{field}.{key}", f"one of {', '.join(ACTIVATIONS)}", v)
    return v


def _se(d: dict, key: str, field: str) -> float | None:
    v = d.get(key)
    if v is None:
        return None
    if v is False:
        return 0.0
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
        raise _fail(f"{field}.{key}", "a squeeze-excite ratio in [0, 1) (0 = none)", v)
    return float(v)


def _mapping(v: Any, field: str) -> dict:
    if not isinstance(v, dict):
        raise _fail(field, "a mapping", v)
    return v


def _check_keys(d: dict, allowed: tuple[str, ...], field: str) -> None:
    for k in d:
        if k not in allowed:
            raise ConfigError(f"space definition field {field}.{k} is unknown; expected one of {', '.join(allowed)}")


def _names(v: Any, field: str, blocks: dict[str, BlockDef]) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v:
        raise _fail(field, "a non-empty list of block names", v)
    out = []
    for i, name in enumerate(v):
        if name not in blocks:
            raise _fail(f"{field}[{i}]", f"a block defined under blocks ({', '.join(blocks)})", name)
        if name in out:
            raise _fail(f"{field}[{i}]", "each block once", name)
        out.append(name)
    return tuple(out)


def _block(name: str, d: Any) -> BlockDef:
    field = f"blocks.{name}"
    d = _mapping(d, field)
    _check_keys(d, ("type", "kernel", "expansion", "groups", "se", "act", "expand_conv_at_e1", "projection_act"),
                field)
    t = d.get("type")
    if t not in BLOCK_TYPES:
        raise _fail(f"{field}.type", f"one of {', '.join(BLOCK_TYPES)}", t)
    if t == "skip":
        extra = [k for k in d if k not in ("type", "projection_act")]
        if extra:
            raise ConfigError(f"space definition field {field}.{extra[0]} is not allowed for a skip block; "
                              "expected only type and projection_act")
        return BlockDef(name, t, projection_act=_act(d, "projection_act", field, "relu"))
    kernel = _int(d, "kernel", field, hi=_MAX_KERNEL)
    if kernel % 2 == 0:
        raise _fail(f"{field}.kernel", "an odd kernel size (padding keeps the map centred)", kernel)
    e1 = d.get("expand_conv_at_e1", False)
    if not isinstance(e1, bool):
        raise _fail(f"{field}.expand_conv_at_e1", "true or false", e1)
    groups = _int(d, "groups", field, default=1, hi=64)
    if t == "fused_mbconv" and groups != 1:
        raise _fail(f"{field}.groups", "1 for a fused_mbconv block", groups)
    return BlockDef(name, t, kernel=kernel, expansion=_int(d, "expansion", field, default=1, hi=64), groups=groups,
                    se=_se(d, "se", field), act=_act(d, "act", field), expand_conv_at_e1=e1)


def _channels(v: Any, field: str) -> tuple[int, ...]:
    vals = v if isinstance(v, list) else [v]
    if not vals:
        raise _fail(field, "a channel count or a non-empty list of them", v)
    for i, c in enumerate(vals):
        if isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= _MAX_CHANNELS:
            raise _fail(f"{field}[{i}]" if isinstance(v, list) else field, f"a channel count 1..{_MAX_CHANNELS}", c)
    if len(set(vals)) != len(vals):
        raise _fail(field, "distinct channel choices", v)
    return tuple(vals)


def _stride(v: Any, field: str) -> int:
    if v not in (1, 2) or isinstance(v, bool):
        raise _fail(field, "a stride of 1 or 2", v)
    return int(v)


def parse_definition(data: Any, *, source: str = "") -> MacroSpaceDef:
    """Validate a loaded YAML mapping into a :class:`MacroSpaceDef`.

    Raises:
        ConfigError: naming the first bad field and what is expected.
    """
    top = ("name", "description", "arch_format", "act", "se", "stem", "blocks", "stages", "head", "datasets",
           "default_proxy", "cpu")
    d = _mapping(data, "(top level)")
    _check_keys(d, top, "space")
    name = d.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > 64:
        raise _fail("name", "a lower-case name of letters, digits, '_' and '-' (e.g. my_space)", name)
    description = d.get("description", "")
    if not isinstance(description, str):
        raise _fail("description", "a string", description)
    arch_format = d.get("arch_format", "names")
    if arch_format not in ARCH_FORMATS:
        raise _fail("arch_format", f"one of {', '.join(ARCH_FORMATS)}", arch_format)
    act = _act(d, "act", "space", "relu")
    se = _se(d, "se", "space") or 0.0

    stem_d = _mapping(d.get("stem"), "stem")
    _check_keys(stem_d, ("channels", "kernel", "stride", "act"), "stem")
    stem = StemDef(_int(stem_d, "channels", "stem", hi=_MAX_CHANNELS), _int(stem_d, "kernel", "stem", default=3,
                                                                              hi=_MAX_KERNEL),
                   _stride(stem_d.get("stride", 1), "stem.stride"), _act(stem_d, "act", "stem"))
    if stem.kernel % 2 == 0:
        raise _fail("stem.kernel", "an odd kernel size", stem.kernel)

    blocks_d = _mapping(d.get("blocks"), "blocks")
    if not blocks_d:
        raise _fail("blocks", "at least one block", blocks_d)
    blocks: dict[str, BlockDef] = {}
    for bname, bd in blocks_d.items():
        if not isinstance(bname, str) or not _TOKEN_RE.match(bname):
            raise _fail(f"blocks.{bname}", "a block name of letters, digits, '_' or '.'", bname)
        blocks[bname] = _block(bname, bd)

    stages_v = d.get("stages")
    if not isinstance(stages_v, list) or not stages_v:
        raise _fail("stages", "a non-empty list of stages", stages_v)
    stages = []
    for i, sd in enumerate(stages_v):
        field = f"stages[{i}]"
        sd = _mapping(sd, field)
        _check_keys(sd, ("layers", "stride", "channels", "blocks", "first_blocks", "act", "se"), field)
        if "channels" not in sd:
            raise ConfigError(f"space definition field {field}.channels is missing; expected a channel count "
                              "or a list of choices")
        blk = _names(sd.get("blocks"), f"{field}.blocks", blocks)
        first = _names(sd["first_blocks"], f"{field}.first_blocks", blocks) if "first_blocks" in sd else blk
        stages.append(StageDef(_int(sd, "layers", field, hi=_MAX_LAYERS), _stride(sd.get("stride", 1),
                                                                                  f"{field}.stride"),
                               _channels(sd["channels"], f"{field}.channels"), blk, first,
                               _act(sd, "act", field), _se(sd, "se", field)))
    if sum(s.layers for s in stages) > _MAX_LAYERS:
        raise _fail("stages", f"at most {_MAX_LAYERS} layers in all", sum(s.layers for s in stages))

    head_v = d.get("head")
    if head_v is None:
        head = HeadDef()
    else:
        hd = _mapping(head_v, "head")
        _check_keys(hd, ("channels", "act"), "head")
        head = HeadDef(_int(hd, "channels", "head", default=0, lo=0, hi=_MAX_CHANNELS), _act(hd, "act", "head"))

    ds_d = _mapping(d.get("datasets"), "datasets")
    if not ds_d:
        raise _fail("datasets", "at least one dataset", ds_d)
    datasets = []
    for dname, dd in ds_d.items():
        field = f"datasets.{dname}"
        if not isinstance(dname, str) or not _NAME_RE.match(dname):
            raise _fail(field, "a lower-case dataset name", dname)
        dd = _mapping(dd, field)
        _check_keys(dd, ("num_classes", "input_size", "channels", "stem_stride", "strides", "head_channels"), field)
        strides = dd.get("strides")
        if strides is not None:
            if not isinstance(strides, list) or len(strides) != len(stages):
                raise _fail(f"{field}.strides", f"a list of {len(stages)} strides (one per stage)", strides)
            strides = tuple(_stride(s, f"{field}.strides[{j}]") for j, s in enumerate(strides))
        stem_stride = dd.get("stem_stride")
        if stem_stride is not None:
            stem_stride = _stride(stem_stride, f"{field}.stem_stride")
        # the limits a task is held to (SearchSpace.check_task), checked when the file is read
        ch = 3 if dd.get("channels") is None else dd["channels"]  # null = not given, as every field
        if ch not in (1, 3) or isinstance(ch, bool):
            raise _fail(f"{field}.channels", "1 or 3", ch)
        datasets.append(DatasetDef(dname, _int(dd, "num_classes", field, lo=2, hi=100_000),
                                   _int(dd, "input_size", field, lo=8, hi=1024), ch, stem_stride, strides,
                                   _int(dd, "head_channels", field, default=None, lo=0, hi=_MAX_CHANNELS)))

    default_proxy = d.get("default_proxy")
    if default_proxy is not None and not isinstance(default_proxy, str):
        raise _fail("default_proxy", "a proxy name", default_proxy)
    cpu_d = _mapping(d.get("cpu", {}) or {}, "cpu")
    _check_keys(cpu_d, ("batch_size", "proxy_resolution"), "cpu")
    batch = _int(cpu_d, "batch_size", "cpu", default=None, lo=2, hi=4096)
    res_d = _mapping(cpu_d.get("proxy_resolution", {}) or {}, "cpu.proxy_resolution")
    names = [x.name for x in datasets]
    res = []
    for k, v in res_d.items():
        if k not in names:
            raise _fail(f"cpu.proxy_resolution.{k}", f"a dataset of this space ({', '.join(names)})", k)
        res.append((k, _int(res_d, k, "cpu.proxy_resolution", lo=8, hi=1024)))

    _check_groups(stem.channels, stages, blocks)
    if arch_format == "digits":
        for i, s in enumerate(stages):
            if len(s.channels) > 1 or len(s.blocks) > 10 or len(s.first_blocks) > 10:
                raise _fail("arch_format", "names (digits needs one channel count and at most 10 blocks per "
                            f"layer; stages[{i}] has more)", arch_format)
    return MacroSpaceDef(name, description, arch_format, act, se, stem, blocks, tuple(stages), head,
                         tuple(datasets), default_proxy, batch, tuple(res), source)


def _check_groups(stem_channels: int, stages: Any, blocks: dict) -> None:
    """Every grouped block divides every width it can meet (its stage's widths, and the previous stage's
    at a stage's first layer), so no arch of the space fails to build."""
    widths_in: tuple[int, ...] = (stem_channels,)
    for i, st in enumerate(stages):
        at = ((st.first_blocks, widths_in),) + (((st.blocks, st.channels),) if st.layers > 1 else ())
        for names, c_ins in at:
            for name in names:
                g = blocks[name].groups
                bad = [c for c in (*c_ins, *st.channels) if blocks[name].type != "skip" and c % g]
                if bad:
                    raise _fail(f"blocks.{name}.groups", f"a divisor of every width it meets (stages[{i}] gives "
                                f"it {bad[0]} channels)", g)
        widths_in = st.channels


def load_definition(path: str | Path) -> MacroSpaceDef:
    """Read and validate a space definition YAML file.

    Raises:
        ConfigError: unreadable file, YAML syntax error, or a bad field.
    """
    from .._read import parse_yaml, read_text

    p = Path(path)
    text = read_text(p, what="space definition", max_bytes=16 * 2**20)
    data = parse_yaml(text, where=repr(str(p)), what="space definition")
    try:
        return parse_definition(data, source=text)
    except ConfigError as e:
        raise ConfigError(f"{p.name}: {e.message}", hint=e.hint) from None


def definition_hash(text: str) -> str:
    """Content hash (sha256 hex, first 16 characters) of a definition's text: recorded in run configs."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor`` (at least ``divisor``), never more than 10 %
    below it: the channel rounding of MobileNet-family networks."""
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if out < 0.9 * value:
        out += divisor
    return out


def se_channels(mid: int, ratio: float) -> int:
    """Squeeze-excite bottleneck width of a block with ``mid`` channels."""
    return make_divisible(mid * ratio, 8)
