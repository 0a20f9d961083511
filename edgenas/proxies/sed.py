r"""``sed``: a data-free, run-free topology proxy in the spirit of SED (Wu et al., arXiv 2411.06236).

SED argues that some topologies (large pooling, small kernels, too many skip connections) decrease
the local entropy of feature maps. The paper's formula is not available to us, so this module
derives one from first principles and was measured on NAS-Bench-201 (numbers below). No model is
built and no data is touched: the score is a closed-form function of the arch's op list
(:meth:`SearchSpace.layers`), so it costs microseconds.

Derivation
----------
Model every feature value as a Gaussian. Its differential entropy is
``h = 0.5 * log(2 * pi * e * var)``, so only *changes* of ``0.5 * log(var)`` matter and the constant
is dropped. Each op maps the entropy ``h_in`` of its input to ``h_in + g(op)``:

* **conv k x k with C input channels** (ReLU-conv-BN, Kaiming fan-in init): an output value is a
  weighted sum of ``n = k^2 C`` input values. With i.i.d. inputs of variance ``v`` and weights of
  variance ``1/n`` the sum keeps variance ``v`` but it is built from ``n`` independent sources:
  measured against the variance one source contributes (``v/n``) the entropy of the output is
  ``0.5 * log(n)`` higher. Gain ``g = 0.5 * log(k^2 C)``: small kernels gain less.
* **average pooling k x k**: the mean of ``n = k^2`` neighbours with pairwise correlation ``rho``
  has variance ``v * (1 + (n - 1) rho) / n``, an entropy change ``0.5 * log((1 + (n-1) rho) / n) <= 0``
  (local entropy *decrease*; larger pools decrease more). We take ``rho = 0`` (i.i.d. Gaussian
  input, the assumption used everywhere else here), so ``g = -0.5 * log(k^2)``.
* **skip / identity**: ``g = 0``: entropy passes unchanged (no gain: a cell made of skips adds
  nothing, so "too many skips" scores low).
* **none / zero**: the path carries no signal (``g = -inf``).
* **inverted residual (FBNet-style ``k{K}_e{E}`` tokens)**: three mixing stages, 1x1 expand
  (``C`` sources), depthwise ``K x K`` (``K^2``), 1x1 project (``E C``): ``g = 0.5 * log(K^2 E C^2)``;
  with a residual connection the block output is the sum of the identity and the block (below).
  See "MobileNet / FBNet blocks" for group convs, strides and projection skips.

A node that sums several incoming edges is a **sum of independent Gaussians**: variances add, so
``h_node = 0.5 * log(sum_i exp(2 (h_i + g_i)))`` (log-sum-exp over incoming paths; a dead edge adds
nothing, a node with only dead inputs is dead). Entropy therefore grows with both the depth of
conv chains (gains add along a path) and the number of parallel informative paths. With the cell
input at ``h = 0``, a cell's entropy change is ``h`` of its output node. The network score is the
**sum over all cells** (each cell starts from a BN-renormalised input, so the changes add), with
each cell using its own stage's channel count. A network whose cell output is unreachable carries
no information: ``sed_score`` returns ``-inf`` and the registered proxy raises
:class:`~edgenas.errors.ProxyError`, which the engine turns into the worst score with a warning.
Fixed parts (stem, reduction blocks, head) are the same for every arch of a space and are ignored.

Constants and tuning (honest account)
-------------------------------------
No fitted constants: ``k``, ``C`` and ``E`` come from the arch, ``rho = 0`` from the i.i.d.
assumption. The one choice made by looking at ground truth was ``rho``: we evaluated ``rho`` in
{0, 0.5, 0.9} on NB201 CIFAR-10 (9,445 ``graf_valid`` archs) and kept the first-principles value 0,
which was also the best (Kendall tau 0.596 vs 0.573 / 0.571). Nothing else was tried.

Measured (``tools/bench_proxies.py``, 200-epoch test accuracy, ``graf_valid`` 9,445 archs):
Kendall tau 0.596 (CIFAR-10), 0.585 (CIFAR-100), 0.571 (ImageNet16-120); all 15,625 archs
CIFAR-10: 0.635 (dead archs ranked last). Median cost 0.2 ms/arch on the 2-core CI CPU, including
``space.layers()``. NB201 uses the same channels for every dataset, so the score does not depend
on the dataset there.

MobileNet / FBNet blocks (``--space fbnet``)
--------------------------------------------
The FBNet space is a chain: ``layers()`` gives each of the 22 searchable layers as a ``ConvBlock``
(params ``exp`` E, ``kernel`` K, ``group`` g, ``stride``) or a ``Skip``. The same source-counting
argument gives each layer's gain from its input channels ``C`` (BN after every conv keeps the
per-value variance at 1, so only the number of independent sources per output value counts):

* **expansion 1x1 conv, groups g**: an output value mixes the ``C / g`` channels of its group:
  ``0.5 * log(C / g)``. The channel shuffle after it only permutes channels (gain 0).
* **depthwise K x K** (one input channel per output, stride 1 or 2): ``K^2`` sources,
  ``0.5 * log(K^2)``; a stride samples fewer positions but does not change the sources per value.
* **projection 1x1 conv, groups g**: ``E C / g`` sources: ``0.5 * log(E C / g)``.
* block total: ``g_block = 0.5 * log(K^2 E C^2 / g^2)`` (for g = 1 the ``k{K}_e{E}`` rule above);
  without an expansion conv (``expand_conv`` 0, MBConv at E = 1) ``0.5 * log(K^2 C / g)``; fused
  (``fused`` 1: a KxK expansion conv, then the projection) the same product as the unfused block,
  ``0.5 * log(K^2 C / g)`` at E = 1; squeeze-excite (``se``) and the activation (``act``) add no
  sources.
* **residual** (``C_in == C_out`` and stride 1, exactly when the built block adds its input): the
  output is identity + block, two independent Gaussians: ``0.5 * log(1 + exp(2 g_block))``.
* **skip**: the identity (gain 0) at a stride-1, same-width layer; where the layer changes stride or
  width it is a 1x1 conv + BN + ReLU, ``0.5 * log(C)``.
* ReLUs halve every block's variance alike, and the stem, 1x1 header, pooling and classifier are
  the same for every arch, so they are left out.

The score is the sum of the 22 layer gains (the chain rule above: each layer starts from a
BN-renormalised input). Channels are the same for ``cifar100`` and ``imagenet`` and strides do not
enter, so an arch scores the same on both datasets. ``k5_e6`` at a 184-channel layer gains
``0.5 * log(25 * 6 * 184^2) = 7.71``, a projection skip into it ``0.5 * log(112) = 2.36``, an
identity skip 0: deeper, wider, larger-kernel and ungrouped archs score higher. There is no FBNet
accuracy ground truth here, so what was measured is only its agreement with params and MACs
(``tools/bench_fbnet_proxies.py``, README "FBNet space"). Cost: no model, no data; median
0.13 ms per arch (2,000 random archs, ``layers()`` included, loaded 2-core CPU).

Adding a space: cell spaces whose :meth:`~SearchSpace.layers` positions end in ``.edge{t}<-{f}``
work as they are (cells grouped by the position prefix); chain spaces work when their ops are the
macro-space vocabulary (``ConvBlock``, ``Skip``, ``ConvNorm``, ``AvgP``, ``FC``; docs/spaces.md) or op
names :func:`op_entropy_gain` knows (``k3_e6``, ``skip``, ``conv_3x3``, ``avg_pool_3x3``, ...), and a
residual is assumed wherever an op keeps its input shape. Any other op raises ``ProxyError`` naming it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache

from ..errors import ProxyError
from .base import ProxyContext, register_proxy

__all__ = ["chain_block_gain", "op_entropy_gain", "sed_from_layers", "sed_score"]

_EDGE_RE = re.compile(r"^(?P<cell>.+)\.edge(?P<t>\d+)<-(?P<f>\d+)$")
_CONV_RE = re.compile(r"conv_(\d+)x(\d+)")
_POOL_RE = re.compile(r"pool_(\d+)x(\d+)")
_MB_RE = re.compile(r"^k(\d+)_e(\d+)$")
_SKIP = frozenset({"skip_connect", "skip", "identity", "id"})
_DEAD = frozenset({"none", "zero", "zeroize"})

#: fixed parts of the built-in spaces' layers() (stem, reduction blocks, head, pooling, classifier): the
#: same for every arch of a space, so they add nothing to a ranking; any other op must be modelled
FIXED_OPS = frozenset({"stem_conv3x3_bn", "resblock_s2", "bn_relu_gap", "linear", "ConvNorm", "AvgP", "FC"})
#: pairwise correlation of pooled neighbours (i.i.d. Gaussian input; see module docstring)
POOL_NEIGHBOUR_CORRELATION = 0.0


@lru_cache(maxsize=4096)
def op_entropy_gain(op: str, channels: int) -> float:
    """Entropy change ``g`` (nats, ``0.5 * log`` of a variance ratio) of one op.

    Args:
        op: op token, e.g. ``nor_conv_3x3``, ``avg_pool_3x3``, ``skip_connect``, ``none``, ``k5_e6``.
        channels: input channels C of the op.

    Returns:
        The gain; ``-inf`` for ops that carry no signal.

    Raises:
        ProxyError: for an op name this model does not know.
    """
    if op in _DEAD:
        return -math.inf
    if op in _SKIP:
        return 0.0
    m = _MB_RE.match(op)
    if m:
        k, e = int(m.group(1)), int(m.group(2))
        return 0.5 * math.log(k * k * e * channels * channels)
    m = _CONV_RE.search(op)
    if m:
        return 0.5 * math.log(int(m.group(1)) * int(m.group(2)) * channels)
    m = _POOL_RE.search(op)
    if m:
        n = int(m.group(1)) * int(m.group(2))
        return 0.5 * math.log((1.0 + (n - 1) * POOL_NEIGHBOUR_CORRELATION) / n)
    raise ProxyError(
        f"sed has no entropy model for op {op!r}; expected conv_KxK, *pool_KxK, k{{K}}_e{{E}}, "
        "skip_connect/skip or none"
    )


def chain_block_gain(spec: object) -> float:
    """Gain of one FBNet-style chain layer (``ConvBlock`` / ``Skip`` LayerSpec), residual included.

    See "MobileNet / FBNet blocks" in the module docstring.

    Raises:
        ProxyError: for a LayerSpec that is neither ``ConvBlock`` nor ``Skip``.
    """
    return _chain_block_gain(spec.op, spec.in_shape, spec.out_shape, spec.params)  # type: ignore[attr-defined]


@lru_cache(maxsize=4096)
def _chain_block_gain(op: str, in_shape: tuple, out_shape: tuple, params: tuple) -> float:
    c_in, keeps_shape, p = in_shape[0], in_shape == out_shape, dict(params)
    if op == "Skip":
        return 0.0 if keeps_shape else 0.5 * math.log(c_in)
    if op != "ConvBlock":
        raise ProxyError(f"sed: {op!r} is not a chain block; expected ConvBlock or Skip")
    k, e, g = int(p["kernel"]), float(p["exp"]), int(p.get("group", 1))
    if p.get("fused", 0):
        # KxK expand conv (K^2 C / g sources) then the 1x1 projection (E C / g); one KxK conv at E = 1
        gain = 0.5 * math.log(k * k * e * c_in * c_in / (g * g)) if e != 1 else 0.5 * math.log(k * k * c_in / g)
    elif p.get("expand_conv", 1) == 0:
        # no expansion conv (MBConv at E = 1): depthwise K^2, projection C / g
        gain = 0.5 * math.log(k * k * c_in / g)
    else:
        gain = 0.5 * math.log(k * k * e * c_in * c_in / (g * g))
    # squeeze-excite scales channels and the activation shapes values: neither adds sources
    return _log_sum_exp2([0.0, gain]) if keeps_shape else gain


def _log_sum_exp2(terms: Sequence[float]) -> float:
    # 0.5 * log(sum exp(2 t)): entropy of a sum of independent Gaussians with entropies t
    live = [t for t in terms if t != -math.inf]
    if not live:
        return -math.inf
    top = max(live)
    return top + 0.5 * math.log(sum(math.exp(2.0 * (t - top)) for t in live))


def _cell_entropy(edges: Sequence[tuple[int, int, str, int]]) -> float:
    """Entropy change of one DAG cell: edges (target, source, op, channels); node 0 is the input."""
    h: dict[int, float] = {0: 0.0}
    # nodes in increasing order: in a cell DAG every source precedes its targets
    for t in sorted({e[0] for e in edges}):
        h[t] = _log_sum_exp2([h.get(f, -math.inf) + op_entropy_gain(op, c) for tt, f, op, c in edges if tt == t])
    return h[max(h)]


def sed_from_layers(layers: Sequence[object]) -> float:
    """SED score from a :meth:`SearchSpace.layers` list (LayerSpec objects), higher = better.

    Cell edges (positions ``<cell>.edge{t}<-{f}``) are grouped per cell; ``ConvBlock`` / ``Skip``
    and every other op whose name the entropy model knows are chain blocks (residual if they keep
    their shape). The fixed parts in :data:`FIXED_OPS` are skipped; any other op raises
    :class:`~edgenas.errors.ProxyError` naming it (never a silent 0).
    """
    cells: dict[str, list[tuple[int, int, str, int]]] = {}
    total = 0.0
    for spec in layers:
        m = _EDGE_RE.match(spec.position)  # type: ignore[attr-defined]
        if m:
            cells.setdefault(m.group("cell"), []).append(
                (int(m.group("t")), int(m.group("f")), spec.op, spec.in_shape[0])  # type: ignore[attr-defined]
            )
            continue
        if spec.op in ("ConvBlock", "Skip"):  # type: ignore[attr-defined]
            total += chain_block_gain(spec)
            continue
        if spec.op in FIXED_OPS:  # type: ignore[attr-defined]
            continue  # stem, reduction, head: the same for every arch of the space
        g = op_entropy_gain(spec.op, spec.in_shape[0])  # type: ignore[attr-defined]  (unknown op: ProxyError)
        if spec.op not in _SKIP and spec.in_shape == spec.out_shape:  # type: ignore[attr-defined]
            g = _log_sum_exp2([0.0, g])  # residual: identity + block (a skip block is the identity)
        total += g
    for edges in cells.values():
        total += _cell_entropy(edges)
    return total


def sed_score(space: object, arch: object, dataset: str) -> float:
    """SED score of ``arch`` in ``space`` for ``dataset`` (``-inf`` when no signal reaches the output)."""
    return sed_from_layers(space.layers(arch, dataset))  # type: ignore[attr-defined]


@register_proxy(
    "sed",
    needs="arch",
    description="data-free topology proxy: Gaussian entropy gain along the cell's paths (no model)",
    reference="in the spirit of Wu et al. 2024 (arXiv 2411.06236); formula derived in edgenas",
)
def sed(ctx: ProxyContext) -> float:
    """Registered proxy: :func:`sed_score`; an unreachable output raises ProxyError (worst score)."""
    value = sed_score(ctx.space, ctx.arch, ctx.layers_dataset)
    if not math.isfinite(value):
        raise ProxyError(f"sed: no path carries signal to the output of {ctx.arch}")
    return value
