r"""``depth`` and ``skipped_depth``: data-free path-depth proxies of any space, read from ``layers()``.

A network is a graph of ops from input to output; every input-output path crosses some number of
*weighted layers* (convolutions and linear layers). The longest and the shortest path describe how
the network trains, in the sense of Veit et al. (NeurIPS 2016, residual networks behave like
ensembles of paths) and He et al. (CVPR 2016, plain networks degrade with depth while residual
ones do not):

* ``depth``: weighted layers on the **longest** path (the network's depth; deeper is more
  expressive at equal width).
* ``skipped_depth``: ``longest - shortest``, the weighted layers of the longest path that the
  **shortest** path skips: 0 for a plain chain, most of the depth for a residual network whose
  shortcuts bypass its blocks. Higher is better (the shortcuts keep a deep network trainable).

``edgenas_paths`` ranks neither count's shortest path directly but the *plain-depth penalty*
``-max(0, shortest - PLAIN_DEPTH_LIMIT)``, ``shortest = depth - skipped_depth`` (a derived term of
:mod:`edgenas.proxies.ensemble`): 0 for a network that some path crosses in at most 18 weighted
layers, negative for one whose every path is deeper. The limit 18 is He et al.'s: their 18-layer
plain network trains as well as its residual twin, the 34-layer plain one degrades. It was chosen
with NAS-Bench-201 in view (docs/benchmarks.md, "Cross-space picks"): in chain spaces whose stage
transitions alone put more than 18 layers on every path (FBNet-like definitions), the penalty
favours skips at the transitions, so those spaces keep another default. The shortest path alone is
not a proxy: spaces whose stage transitions cannot be skipped (the shipped MobileNet spaces) give it
the same value for every arch.

Both are closed-form functions of :meth:`SearchSpace.layers` (no model, no data; microseconds).
They are read through the op vocabulary every space uses (docs/spaces.md):

* cell spaces: positions ``<cell>.edge{t}<-{f}`` form a DAG per cell (node 0 = the cell input, the
  highest node its output); ``*conv*`` ops count 1, skips / pools 0, ``none`` / ``zero`` are no
  edge;
* chain ops: ``ConvNorm`` (1), ``FC`` / ``linear`` (1), ``AvgP`` / pooling heads (0), ``ConvBlock``
  (inverted residual: 1x1 expand unless ``expand_conv`` is 0, depthwise, 1x1 project: 3 or 2;
  ``fused``: one KxK expand conv plus the projection, 1 at expansion 1; squeeze-excite gates a path
  and adds no layer to it; the activation changes no count), ``Skip`` (0 when it keeps the shape, else its 1x1 conv: 1); a block that keeps its
  input shape adds its input (a residual: shortest 0 through it);
* NB201's fixed parts: ``stem_conv3x3_bn`` (1), ``resblock_s2`` (two convs beside a pooled 1x1
  shortcut: longest 2, shortest 1), ``bn_relu_gap`` (0).

An op these rules cannot read raises :class:`~edgenas.errors.ProxyError` naming it (never a silent
0): a new space adds its op here or maps its ops onto this vocabulary.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from ..errors import ProxyError
from .base import ProxyContext, register_proxy

__all__ = ["PLAIN_DEPTH_LIMIT", "depths_of", "op_depth", "path_depths", "plain_depth_penalty"]

#: weighted layers a shortcut-free path may have before the network counts as a degrading plain
#: net (He et al. 2016: plain-18 trains like ResNet-18, plain-34 degrades)
PLAIN_DEPTH_LIMIT = 18

_EDGE_RE = re.compile(r"^(?P<cell>.+)\.edge(?P<t>\d+)<-(?P<f>\d+)$")
_DEAD = frozenset({"none", "zero", "zeroize"})
_SKIP = frozenset({"skip_connect", "skip", "identity", "id"})
#: fixed ops of the built-in spaces: (longest, shortest) weighted layers
_FIXED = {
    "stem_conv3x3_bn": (1, 1),
    "resblock_s2": (2, 1),
    "bn_relu_gap": (0, 0),
    "linear": (1, 1),
    "FC": (1, 1),
    "ConvNorm": (1, 1),
    "AvgP": (0, 0),
}


def op_depth(op: str, in_shape: Sequence[int], out_shape: Sequence[int],
             params: Sequence[tuple[str, object]] = ()) -> tuple[float, float]:
    """(longest, shortest) weighted layers across one chain op (``-inf``-free; a dead op raises).

    Raises:
        ProxyError: an op these rules cannot read (the message names it).
    """
    keeps = tuple(in_shape) == tuple(out_shape)
    if op in _FIXED:
        return _FIXED[op]
    if op == "Skip" or op in _SKIP:
        return (0, 0) if keeps else (1, 1)
    if op == "ConvBlock":
        p = dict(params)
        if p.get("fused", 0):  # KxK expand conv + 1x1 projection (one KxK conv at expansion 1)
            n = 2 if float(p.get("exp", 1)) != 1 else 1
        else:  # 1x1 expand (absent where ``expand_conv`` is 0) + depthwise + 1x1 projection
            n = 2 if p.get("expand_conv", 1) == 0 else 3
        stride = int(p.get("stride", 1))
        return (n, 0) if keeps and stride == 1 else (n, n)
    if "conv" in op:  # cell-style conv ops (nor_conv_3x3, conv_1x1, ...)
        return (1, 1)
    if "pool" in op:
        return (0, 0)
    raise ProxyError(f"depth: no path-depth rule for op {op!r}; expected a *conv* / *pool* / skip / none cell op, "
                     f"or one of {', '.join(sorted([*_FIXED, 'ConvBlock', 'Skip']))}")


def _cell_depths(edges: Sequence[tuple[int, int, str]]) -> tuple[float, float]:
    """(longest, shortest) weighted layers from node 0 to the last node of one cell DAG."""
    longest: dict[int, float] = {0: 0.0}
    shortest: dict[int, float] = {0: 0.0}
    for t in sorted({e[0] for e in edges}):
        lo, sh = -math.inf, math.inf
        for tt, f, op in edges:
            if tt != t or op in _DEAD or f not in longest or not math.isfinite(longest[f]):
                continue
            if op in _SKIP or "pool" in op:
                w = 0.0
            elif "conv" in op:
                w = 1.0
            else:
                raise ProxyError(f"depth: no path-depth rule for cell op {op!r}; expected *conv*, *pool*, "
                                 "skip_connect or none")
            lo, sh = max(lo, longest[f] + w), min(sh, shortest[f] + w)
        longest[t], shortest[t] = lo, sh
    last = max(longest)
    return longest[last], shortest[last]


def path_depths(layers: Sequence[object]) -> tuple[float, float]:
    """(longest, shortest) weighted layers from input to output of a ``layers()`` list.

    Cells (positions ``<cell>.edge{t}<-{f}``) count as one block each, in the order they appear;
    the result is ``(-inf, inf)`` when some cell's output is unreachable (no signal).
    """
    longest = shortest = 0.0
    cells: dict[str, list[tuple[int, int, str]]] = {}
    order: list[object] = []  # chain ops and cell names in network order
    for spec in layers:
        m = _EDGE_RE.match(spec.position)  # type: ignore[attr-defined]
        if m:
            name = m.group("cell")
            if name not in cells:
                cells[name] = []
                order.append(name)
            cells[name].append((int(m.group("t")), int(m.group("f")), spec.op))  # type: ignore[attr-defined]
        else:
            order.append(spec)
    for item in order:
        if isinstance(item, str):
            lo, sh = _cell_depths(cells[item])
        else:
            lo, sh = op_depth(item.op, item.in_shape, item.out_shape, item.params)  # type: ignore[attr-defined]
        longest += lo
        shortest += sh
    return longest, shortest


def plain_depth_penalty(longest: np.ndarray, skipped: np.ndarray) -> np.ndarray:
    """``-max(0, shortest - PLAIN_DEPTH_LIMIT)`` per arch, ``shortest = longest - skipped`` (the
    ``depth`` and ``skipped_depth`` scores)."""
    shortest = np.asarray(longest, dtype=np.float64) - np.asarray(skipped, dtype=np.float64)
    return -np.maximum(0.0, shortest - PLAIN_DEPTH_LIMIT)


def depths_of(ctx: ProxyContext) -> tuple[float, float]:
    """(longest, shortest) of the context's arch, cached in ``ctx.shared`` (an unreachable output raises)."""
    cached = ctx.shared.get("path_depths")
    if cached is None:
        cached = path_depths(ctx.space.layers(ctx.arch, ctx.layers_dataset))
        ctx.shared["path_depths"] = cached
    if not math.isfinite(cached[0]):
        raise ProxyError(f"depth: no path carries signal to the output of {ctx.arch}")
    return cached


@register_proxy(
    "depth",
    needs="arch",
    description="data-free: weighted layers (conv, linear) on the longest input-output path",
    reference="edgenas; paths as in Veit et al. 2016",
)
def depth(ctx: ProxyContext) -> float:
    """Weighted layers on the longest input-output path of ``ctx.arch``."""
    return float(depths_of(ctx)[0])
