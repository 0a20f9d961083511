"""``params``: number of trainable parameters (millions); bigger networks train to higher accuracy."""

from __future__ import annotations

from ._common import shared_model
from .base import ProxyContext, register_proxy


@register_proxy(
    "params",
    description="trainable parameters, millions (BN affine included)",
    reference="NAS-Bench-Suite-Zero baseline",
)
def params(ctx: ProxyContext) -> float:
    """Parameter count of the built model in millions."""
    model = shared_model(ctx)
    return sum(p.numel() for p in model.parameters()) / 1e6
