"""``vkdnw``: entropy of the deciles of the Fisher-information spectrum (Tybl & Neumann, CVPR 2025).

Reproduces the reference code's choice F = mean (L J)^T (L J) (see :mod:`edgenas.proxies._vkdnw`
for the whole algorithm). Values lie in [0, log 9]; log 9 = a flat spectrum.
"""

from __future__ import annotations

from ._vkdnw import decile_entropy, parts_spectrum, vkdnw_parts
from .base import ProxyContext, register_proxy


@register_proxy(
    "vkdnw",
    description="entropy of the deciles of the Fisher spectrum of 128 sampled weights (reference L*J form)",
    reference="Tybl & Neumann, CVPR 2025 (github.com/ondratybl/VKDNW)",
)
def vkdnw(ctx: ProxyContext) -> float:
    """VKDNW score, reference-code Fisher."""
    parts = vkdnw_parts(ctx)
    return decile_entropy(parts_spectrum(parts))
