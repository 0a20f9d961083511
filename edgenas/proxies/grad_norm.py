"""``grad_norm``: Euclidean norm of the loss gradient over all parameters (Abdelfattah et al., ICLR 2021)."""

from __future__ import annotations

from ._common import loss_grads
from .base import ProxyContext, register_proxy


@register_proxy(
    "grad_norm",
    description="||dL/dtheta||_2 over all parameters, one batch",
    reference="Abdelfattah et al., ICLR 2021",
)
def grad_norm(ctx: ProxyContext) -> float:
    """Global L2 norm of the cross-entropy gradient."""
    import torch

    lg = loss_grads(ctx)
    sq = sum(g.pow(2).sum(dtype=torch.float64) for g in lg.grads.values())
    return float(torch.sqrt(torch.as_tensor(sq)))
