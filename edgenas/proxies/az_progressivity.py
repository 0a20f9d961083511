"""``az_progressivity``: AZ-NAS progressivity, min over blocks of the entropy increase
E_l - E_{l-1} (see :mod:`edgenas.proxies._az`)."""

from __future__ import annotations

from ._az import az_components
from .base import ProxyContext, register_proxy


@register_proxy(
    "az_progressivity",
    description="AZ-NAS progressivity: smallest block-to-block feature-entropy increase",
    reference="Lee & Ham, CVPR 2024 (AZ-NAS)",
)
def az_progressivity(ctx: ProxyContext) -> float:
    """min_l (E_l - E_{l-1})."""
    from itertools import pairwise

    from ..errors import ProxyError

    e = az_components(ctx, trainability=False).entropies
    if len(e) < 2:
        raise ProxyError("progressivity needs at least one block after the stem")
    return float(min(b - a for a, b in pairwise(e)))
