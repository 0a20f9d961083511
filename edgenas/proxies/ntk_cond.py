"""``ntk_cond``: negated condition number of the empirical NTK (TE-NAS trainability; Chen et al., ICLR 2021).

s_n = sum of sample n's logits, g_n = ds_n/dtheta over every parameter whose name contains
"weight" (per-sample gradients, vectorised with torch.func; see :func:`ntk_matrix` for the
BatchNorm caveat). Theta = G G^T (B x B, float64),
kappa = lambda_max / lambda_min; score = -kappa (lower kappa trains faster). A non-finite
kappa becomes 1e5, TE-NAS's own NaN replacement.
"""

from __future__ import annotations

import math

from ._common import require_model
from .base import ProxyContext, register_proxy

#: TE-NAS's condition number for a degenerate NTK
DEGENERATE_COND = 1e5


def ntk_matrix(model, x):
    """Empirical NTK (B, B) float64 of the summed logits w.r.t. the "weight" parameters.

    Per-sample gradients come from ``torch.func.vmap(grad(...))``: inside vmap each sample is
    its own batch, so BatchNorm (batch statistics) normalises a sample over its own spatial
    positions (as VKDNW's reference Jacobians do). Exact batch-coupled gradients would need
    B separate backward passes (~50x slower on CPU for B = 64).
    """
    import torch
    from torch.func import functional_call, grad, vmap

    named = {n: p.detach() for n, p in model.named_parameters()}
    wnames = [n for n in named if "weight" in n]
    others = {n: p for n, p in named.items() if n not in wnames}
    buffers = dict(model.named_buffers())

    def s(weights, xi):
        out = functional_call(model, ({**others, **weights}, buffers), (xi.unsqueeze(0),))
        return out.sum()

    weights = {n: named[n] for n in wnames}
    grads = vmap(grad(s), in_dims=(None, 0))(weights, x)
    b = x.shape[0]
    ntk = torch.zeros((b, b), dtype=torch.float64, device=x.device)
    for g in grads.values():
        gf = g.reshape(b, -1).to(torch.float64)
        ntk += gf @ gf.T
    return ntk


def condition_number(ntk) -> float:
    """lambda_max / lambda_min of a symmetric PSD matrix (DEGENERATE_COND if not finite/positive)."""
    import torch

    ev = torch.linalg.eigvalsh(ntk)
    lo, hi = float(ev[0]), float(ev[-1])
    cond = hi / lo if lo > 0 else math.inf
    return cond if math.isfinite(cond) else DEGENERATE_COND


@register_proxy(
    "ntk_cond",
    description="minus the condition number of the empirical NTK over the batch (TE-NAS)",
    reference="Chen, Gong & Wang, ICLR 2021 (TE-NAS)",
)
def ntk_cond(ctx: ProxyContext) -> float:
    """-kappa of a fresh model's NTK."""
    model, x, _ = require_model(ctx)
    return -condition_number(ntk_matrix(model, x))
