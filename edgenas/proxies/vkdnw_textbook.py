"""``vkdnw_textbook``: VKDNW with the textbook Fisher information F = mean J^T Sigma J.

The reference code multiplies L J (giving J^T L^T L J); the Fisher information of the
multinomial likelihood is J^T L L^T J = J^T Sigma J. Same sampling, spectrum and entropy.
"""

from __future__ import annotations

from ._vkdnw import decile_entropy, parts_spectrum, vkdnw_parts
from .base import ProxyContext, register_proxy


@register_proxy(
    "vkdnw_textbook",
    description="VKDNW with the textbook Fisher J^T Sigma J",
    reference="Tybl & Neumann, CVPR 2025 (variant)",
)
def vkdnw_textbook(ctx: ProxyContext) -> float:
    """VKDNW score, textbook Fisher."""
    parts = vkdnw_parts(ctx)
    return decile_entropy(parts_spectrum(parts, textbook=True))
