"""``ntk_cond``: negated condition number of the empirical NTK (TE-NAS trainability; Chen et al., ICLR 2021).

s_n = sum of sample n's logits, g_n = ds_n/dtheta over every parameter whose name contains
"weight", taken through the forward pass of the whole batch (train-mode BatchNorm couples the
samples, as in TE-NAS and the AZ-NAS/VKDNW harness). Theta = G G^T (B x B, float64),
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

    g_n is the gradient of sample n's summed logits through one forward of the whole batch, so
    train-mode BatchNorm statistics couple the samples exactly as TE-NAS's per-sample
    ``backward`` loop does. The B backward passes run as one batched backward
    (``is_grads_batched``, one-hot cotangents). A per-sample ``vmap(grad)`` would instead
    normalise every sample by its own statistics, which changed kappa by factors of 2-5 on
    NB201 cells.
    """
    import torch

    weights = [p for n, p in model.named_parameters() if "weight" in n and p.requires_grad]
    b = x.shape[0]
    with torch.enable_grad():
        out = model(x)
        sums = out.reshape(b, -1).sum(dim=1)
        eye = torch.eye(b, dtype=sums.dtype, device=sums.device)
        grads = torch.autograd.grad(sums, weights, grad_outputs=eye, is_grads_batched=True, allow_unused=True)
    ntk = torch.zeros((b, b), dtype=torch.float64, device=x.device)
    for g in grads:
        if g is not None:  # a weight the output does not reach adds nothing
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
