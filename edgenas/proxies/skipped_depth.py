"""``skipped_depth``: the weighted layers of the longest input-output path that the shortest path skips.

See :mod:`edgenas.proxies.depth` for the counting rules and for the term ``edgenas_paths`` derives
from it and ``depth``.
"""

from __future__ import annotations

from .base import ProxyContext, register_proxy
from .depth import depths_of


@register_proxy(
    "skipped_depth",
    needs="arch",
    description="data-free: weighted layers (conv, linear) on the longest input-output path that the shortest "
                "path skips (longest - shortest; 0 for a plain chain)",
    reference="edgenas; paths as in Veit et al. 2016, shortcuts against degradation: He et al. 2016",
)
def skipped_depth(ctx: ProxyContext) -> float:
    """``longest - shortest`` weighted layers of ``ctx.arch``."""
    longest, shortest = depths_of(ctx)
    return float(longest - shortest)
