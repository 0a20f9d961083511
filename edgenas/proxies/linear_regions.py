"""``linear_regions``: number of distinct ReLU activation patterns over the input batch.

TE-NAS's expressivity term as run in the AZ-NAS/VKDNW harness (one batch at full
resolution on the real network). Samples i and j share a pattern exactly when they agree on
every ReLU unit, i.e. ``K[i, j] == n_units`` in the NASWOT kernel, so the count comes from
the same shared forward pass as :mod:`naswot`. TE-NAS's sum over samples of
``1 / #{j: pattern_j == pattern_i}`` is this number of distinct patterns.
"""

from __future__ import annotations

from ._common import shared_forward
from .base import ProxyContext, register_proxy


def count_patterns(kernel, n_units: int) -> int:
    """Number of distinct activation patterns given the (B, B) agreement kernel."""
    import torch

    same = kernel >= (n_units - 0.5)  # exact integer counts in float64
    return int(torch.sum(1.0 / same.sum(dim=1, dtype=torch.float64)).round())


@register_proxy(
    "linear_regions",
    description="distinct ReLU activation patterns over the batch (TE-NAS expressivity)",
    reference="Chen, Gong & Wang, ICLR 2021 (TE-NAS)",
)
def linear_regions(ctx: ProxyContext) -> float:
    """Distinct activation patterns of the batch, from the shared forward pass."""
    from ..errors import ProxyError

    fw = shared_forward(ctx)
    if fw.relu_kernel is None:
        raise ProxyError("model has no ReLU modules")
    return float(count_patterns(fw.relu_kernel, fw.n_relu_units))
