"""``shortcut``: the plain-depth penalty of :mod:`edgenas.proxies.depth` (see its docstring)."""

from __future__ import annotations

from .base import ProxyContext, register_proxy
from .depth import PLAIN_DEPTH_LIMIT, depths_of


@register_proxy(
    "shortcut",
    needs="arch",
    description=f"data-free: -(weighted layers on the shortest input-output path beyond {PLAIN_DEPTH_LIMIT})",
    reference="edgenas; the plain-network degradation of He et al. 2016",
)
def shortcut(ctx: ProxyContext) -> float:
    """``-max(0, shortest - PLAIN_DEPTH_LIMIT)``: 0 unless every path is a deep plain chain."""
    return -max(0.0, float(depths_of(ctx)[1]) - PLAIN_DEPTH_LIMIT)
