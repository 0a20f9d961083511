"""``grasp``: gradient-signal preservation, -sum theta * (H g) over Conv/Linear weights (Wang et al., ICLR 2020).

Zero-cost form of Abdelfattah et al.: g = dL/dtheta (no graph), then the Hessian-gradient
product H g = d(g_graph . g)/dtheta by double backprop; score = -sum theta * Hg (higher =
removing weights hurts gradient flow more, i.e. better).
"""

from __future__ import annotations

from ._common import require_model, weight_modules
from .base import ProxyContext, register_proxy


def grasp_score(model, x, y) -> float:
    """GraSP saliency of ``model`` on one batch (x, y)."""
    import torch
    import torch.nn.functional as F

    weights = [m.weight for m in weight_modules(model)]
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y)
        g = torch.autograd.grad(loss, weights, retain_graph=True, create_graph=True)
        z = sum((gi * gi.detach()).sum() for gi in g)
        hg = torch.autograd.grad(z, weights)
    total = sum((-w.detach() * h).sum(dtype=torch.float64) for w, h in zip(weights, hg))
    return float(total)


@register_proxy(
    "grasp",
    description="-sum w * (H g) over Conv/Linear weights (gradient signal preservation)",
    reference="Wang et al., ICLR 2020; Abdelfattah et al., ICLR 2021",
)
def grasp(ctx: ProxyContext) -> float:
    """GraSP on a fresh model and the context batch."""
    model, x, y = require_model(ctx)
    return grasp_score(model, x, y)
