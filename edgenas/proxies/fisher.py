"""``fisher``: Fisher pruning saliency summed over channels (Theis et al. 2018; Abdelfattah et al., ICLR 2021).

For every Conv/Linear output activation a (B, C, ...) with loss gradient g: per sample and
channel s = sum over spatial positions of a * g; saliency_c = 0.5 * mean_b s^2. The zero-cost
harness (Abdelfattah et al., used by NAS-Bench-Suite-Zero) hands each channel's saliency to
every weight of that output channel and sums over weights, so a layer counts
``weight[0].numel()`` (fan-in x kernel elements) times: score = sum over layers of fan-in *
sum_c saliency_c. Without that weighting the score ranked NB201 archs at KT 0.07 (176 C10
archs) against NAS-Bench-Suite-Zero's 0.40. Cross-entropy of one batch.
"""

from __future__ import annotations

from ._common import require_model, weight_modules
from .base import ProxyContext, register_proxy


def fisher_score(model, x, y) -> float:
    """Fisher saliency of ``model`` on one batch."""
    import torch
    import torch.nn.functional as F

    total = torch.zeros((), dtype=torch.float64)

    def fwd_hook(module, inp, out):
        act = out.detach()
        weights_per_channel = module.weight[0].numel()

        def grad_hook(grad):
            nonlocal total
            prod = act * grad
            s = prod.sum(dim=tuple(range(2, prod.ndim))) if prod.ndim > 2 else prod
            total = total + weights_per_channel * 0.5 * s.pow(2).mean(0).sum(dtype=torch.float64)

        out.register_hook(grad_hook)

    handles = [m.register_forward_hook(fwd_hook) for m in weight_modules(model)]
    try:
        with torch.enable_grad():
            loss = F.cross_entropy(model(x), y)
            params = [p for p in model.parameters() if p.requires_grad]
            torch.autograd.grad(loss, params, allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    return float(total)


@register_proxy(
    "fisher",
    description="sum over Conv/Linear output channels of fan-in * 0.5 * mean_b (sum_hw a * dL/da)^2",
    reference="Theis et al., 2018; Abdelfattah et al., ICLR 2021",
)
def fisher(ctx: ProxyContext) -> float:
    """Fisher saliency on a fresh model and the context batch."""
    model, x, y = require_model(ctx)
    return fisher_score(model, x, y)
