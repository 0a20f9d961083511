"""``snip``: connection sensitivity sum |theta * dL/dtheta| over Conv/Linear weights (Lee et al., ICLR 2019).

Equal to the gradient of the loss w.r.t. multiplicative masks m = 1 on the weights, as the
zero-cost harness computes it; cross-entropy of one batch (random labels unless real data).
"""

from __future__ import annotations

from ._common import loss_grads, weight_modules
from .base import ProxyContext, register_proxy


@register_proxy(
    "snip",
    description="sum |w * dL/dw| over Conv/Linear weights (connection sensitivity)",
    reference="Lee et al., ICLR 2019; Abdelfattah et al., ICLR 2021",
)
def snip(ctx: ProxyContext) -> float:
    """SNIP saliency summed over the network."""
    import torch

    lg = loss_grads(ctx)
    names = {id(p): n for n, p in lg.model.named_parameters()}
    total = torch.zeros((), dtype=torch.float64)
    for m in weight_modules(lg.model):
        g = lg.grads[names[id(m.weight)]]
        total += (m.weight.detach() * g).abs().sum(dtype=torch.float64)
    return float(total)
