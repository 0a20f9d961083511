"""``n_layers``: number of parameter tensors (VKDNW's "No. of trainable layers", aleph)."""

from __future__ import annotations

from ._common import shared_model
from .base import ProxyContext, register_proxy


def count_param_tensors(model) -> int:
    """``len(list(model.parameters()))``: conv weights, BN weights/biases, classifier all count."""
    return sum(1 for _ in model.parameters())


@register_proxy(
    "n_layers",
    description="number of parameter tensors (VKDNW's aleph)",
    reference="Tybl & Neumann, CVPR 2025, Table 1",
)
def n_layers(ctx: ProxyContext) -> float:
    """Number of parameter tensors of the built model."""
    model = shared_model(ctx)
    return float(count_param_tensors(model))
