"""``az_trainability``: AZ-NAS trainability, mean over blocks of -sigma - 1/sigma + 2 for the
spectral norm sigma of each block's Rademacher-probed Jacobian (see :mod:`edgenas.proxies._az`).

Archs with an identity block score :data:`edgenas.proxies._az.TRAINABILITY_FLOOR` (-1e30).
"""

from __future__ import annotations

from ._az import az_components
from .base import ProxyContext, register_proxy


@register_proxy(
    "az_trainability",
    description="AZ-NAS trainability: block Jacobian spectral norms close to 1 (VJPs, Rademacher)",
    reference="Lee & Ham, CVPR 2024 (AZ-NAS)",
)
def az_trainability(ctx: ProxyContext) -> float:
    """Mean_l t_l."""
    return float(az_components(ctx, trainability=True).trainability)
