"""``az_expressivity``: AZ-NAS expressivity, sum over feature maps of the entropy of the
normalised feature-covariance spectrum (see :mod:`edgenas.proxies._az`)."""

from __future__ import annotations

from ._az import az_components
from .base import ProxyContext, register_proxy


@register_proxy(
    "az_expressivity",
    description="AZ-NAS expressivity: sum of feature-spectrum entropies of stem and blocks",
    reference="Lee & Ham, CVPR 2024 (AZ-NAS)",
)
def az_expressivity(ctx: ProxyContext) -> float:
    """Sum_l E_l."""
    return float(sum(az_components(ctx, trainability=False).entropies))
