"""``naswot``: log|det K| of the ReLU activation-pattern kernel (Mellor et al., ICML 2021).

``K[i, j]`` counts the ReLU units on which inputs i and j fall on the same side of zero,
summed over every ReLU; networks that separate inputs well have a well-conditioned K.
"""

from __future__ import annotations

from ._common import shared_forward
from .base import ProxyContext, register_proxy


def naswot_from_kernel(kernel) -> float:
    """log|det K| (slogdet, float64) of a (B, B) kernel."""
    import torch

    _, logabsdet = torch.linalg.slogdet(kernel.to(torch.float64))
    return float(logabsdet)


@register_proxy(
    "naswot",
    description="log|det| of the ReLU activation-pattern kernel over the batch",
    reference="Mellor et al., ICML 2021",
)
def naswot(ctx: ProxyContext) -> float:
    """NASWOT score from the shared forward pass."""
    from ..errors import ProxyError

    fw = shared_forward(ctx)
    if fw.relu_kernel is None:
        raise ProxyError("model has no ReLU modules")
    return naswot_from_kernel(fw.relu_kernel)
