"""``vkdnw_single``: rank by the number of parameter tensors, ties broken by VKDNW (paper's Table 1).

The paper's VKDNW_single is the dense rank of the tuple (aleph, VKDNW). As a scalar with the
same order: aleph + 0.999 * VKDNW / log 9, since VKDNW lies in [0, log 9] the fraction never
reaches the next integer, so sorting this value sorts lexicographically by (aleph, VKDNW).
"""

from __future__ import annotations

from ._vkdnw import VKDNW_MAX, decile_entropy, parts_spectrum, vkdnw_parts
from .base import ProxyContext, register_proxy


def vkdnw_single_value(n_param_tensors: int, vkdnw: float) -> float:
    """Scalar ordered like the tuple (n_param_tensors, vkdnw)."""
    return float(n_param_tensors) + 0.999 * min(max(vkdnw, 0.0), VKDNW_MAX) / (VKDNW_MAX + 1e-9)


@register_proxy(
    "vkdnw_single",
    description="number of parameter tensors, ties broken by vkdnw (lexicographic, one scalar)",
    reference="Tybl & Neumann, CVPR 2025, Table 1",
)
def vkdnw_single(ctx: ProxyContext) -> float:
    """aleph + 0.999 * vkdnw / log 9."""
    parts = vkdnw_parts(ctx)
    return vkdnw_single_value(parts.n_param_tensors, decile_entropy(parts_spectrum(parts)))
