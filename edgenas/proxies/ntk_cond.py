"""``ntk_cond``: negated condition number of the empirical NTK (TE-NAS trainability; Chen et al., ICLR 2021).

One forward of the batch (train mode, so BN couples samples exactly as in TE-NAS), s_n = sum
of sample n's logits, g_n = ds_n/dtheta over every parameter whose name contains "weight"
(all n at once: batched VJPs with one-hot grad outputs). Theta = G G^T (B x B, float64),
kappa = lambda_max / lambda_min; score = -kappa (lower kappa trains faster). A non-finite
kappa becomes 1e5, TE-NAS's own NaN replacement.
"""

from __future__ import annotations

import math

from .base import ProxyContext, register_proxy
from ._common import require_model

#: TE-NAS's condition number for a degenerate NTK
DEGENERATE_COND = 1e5


def ntk_matrix(model, x):
    """Empirical NTK (B, B) float64 of the summed logits w.r.t. the "weight" parameters."""
    import torch

    params = [p for n, p in model.named_parameters() if "weight" in n and p.requires_grad]
    b = x.shape[0]
    with torch.enable_grad():
        s = model(x).sum(dim=1)
        eye = torch.eye(b, dtype=s.dtype, device=s.device)
        try:
            grads = torch.autograd.grad(s, params, grad_outputs=eye, is_grads_batched=True, allow_unused=True)
        except RuntimeError:  # an op without a batching rule: fall back to one backward per sample
            rows = [torch.autograd.grad(s[i], params, retain_graph=True, allow_unused=True) for i in range(b)]
            grads = [torch.stack([r[k] if r[k] is not None else torch.zeros_like(params[k]) for r in rows])
                     for k in range(len(params))]
    ntk = torch.zeros((b, b), dtype=torch.float64, device=x.device)
    for g in grads:
        if g is not None:
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
