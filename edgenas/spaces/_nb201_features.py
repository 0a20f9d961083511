"""Topology features of an NB201 cell: what a linear accuracy prior sees of an arch.

Only the *live* part of the cell counts (edges on some input->output path of non-``none`` ops):
a dead edge is computed but cannot change the output, so it is written as ``none`` here.

* ``live.e{t}<-{f}.{op}``: one-hot of the live op on each edge (``none`` is the zero vector);
* ``paths``: number of live input->output paths;
* ``min_conv_depth`` / ``max_conv_depth``: fewest / most convolutions along a live path (0 = the
  cell has an identity shortcut, as in a residual block);
* ``mean_conv_depth``: conv depth averaged over the output's variance: every ReLU-conv-BN output
  has unit variance whatever its input, a skip passes its input's variance on, a 3x3 average pool
  divides it by 9 (i.i.d. neighbours); the mass that arrives at the output carries the depth of
  the convs it went through;
* ``identity_share``: share of the output variance that went through no convolution;
* ``live_conv3x3``, ``live_conv1x1``, ``live_pool``, ``live_skip``: live op counts.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["FEATURE_NAMES", "cell_features"]

EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
LIVE_OPS = ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_CONV = frozenset({"nor_conv_1x1", "nor_conv_3x3"})
_POOL_VARIANCE = 1.0 / 9.0

FEATURE_NAMES: tuple[str, ...] = (
    *(f"live.e{t}<-{f}.{op}" for t, f in EDGES for op in LIVE_OPS),
    "paths", "min_conv_depth", "max_conv_depth", "mean_conv_depth", "identity_share",
    "live_conv3x3", "live_conv1x1", "live_pool", "live_skip",
)


def _paths(ops: dict[tuple[int, int], str]) -> list[list[tuple[int, int]]]:
    out: list[list[tuple[int, int]]] = []

    def walk(node: int, path: list[tuple[int, int]]) -> None:
        if node == 3:
            out.append(path)
            return
        for t in range(node + 1, 4):
            if ops[(t, node)] != "none":
                walk(t, [*path, (t, node)])

    walk(0, [])
    return out


def _variance_depth(ops: dict[tuple[int, int], str]) -> tuple[float, float]:
    """(variance-weighted mean conv depth, identity share) of the output node."""
    mass: dict[int, dict[float, float]] = {0: {0.0: 1.0}}
    for t in (1, 2, 3):
        here: dict[float, float] = {}
        for f in range(t):
            op, src = ops[(t, f)], mass.get(f, {})
            if op == "none" or not src:
                continue
            total = sum(src.values())
            if op in _CONV:  # BN renormalises: unit variance, one conv deeper than the mean input
                d = 1.0 + sum(k * v for k, v in src.items()) / total
                here[d] = here.get(d, 0.0) + 1.0
            else:
                scale = 1.0 if op == "skip_connect" else _POOL_VARIANCE
                for k, v in src.items():
                    here[k] = here.get(k, 0.0) + v * scale
        mass[t] = here
    out = mass[3]
    total = sum(out.values())
    return sum(k * v for k, v in out.items()) / total, out.get(0.0, 0.0) / total


def cell_features(tokens: Sequence[str]) -> dict[str, float]:
    """Features of a live cell (tokens in NB201 edge order); raises ValueError for a dead one."""
    ops = {e: op for e, op in zip(EDGES, tokens)}
    paths = _paths(ops)
    if not paths:
        raise ValueError("the cell has no live input->output path")
    live = {e for p in paths for e in p}
    feats = {f"live.e{t}<-{f}.{op}": float((t, f) in live and ops[(t, f)] == op) for t, f in EDGES for op in LIVE_OPS}
    depth = [sum(ops[e] in _CONV for e in p) for p in paths]
    mean_depth, identity = _variance_depth(ops)
    live_ops = [ops[e] for e in live]
    feats.update({
        "paths": float(len(paths)), "min_conv_depth": float(min(depth)), "max_conv_depth": float(max(depth)),
        "mean_conv_depth": mean_depth, "identity_share": identity,
        "live_conv3x3": float(live_ops.count("nor_conv_3x3")), "live_conv1x1": float(live_ops.count("nor_conv_1x1")),
        "live_pool": float(live_ops.count("avg_pool_3x3")), "live_skip": float(live_ops.count("skip_connect")),
    })
    return feats
