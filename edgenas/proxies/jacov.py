"""``jacov``: Jacobian covariance of Mellor et al. (v1), as in the zero-cost harness.

J_n = d(sum_c z_n,c)/dx_n per sample (one backward of the summed logits; BN in batch mode
couples samples exactly as in the harness), C = corrcoef of the flattened J rows,
score = -sum_i [log(v_i + 1e-5) + 1/(v_i + 1e-5)] over the eigenvalues v of C.
"""

from __future__ import annotations

from ._common import require_model, shared_logits
from .base import ProxyContext, register_proxy

_EPS = 1e-5


def jacov_from_jacobian(jac) -> float:
    """Score of a (B, D) input-Jacobian matrix."""
    import torch

    corr = torch.corrcoef(jac.to(torch.float64))
    v = torch.linalg.eigvalsh(corr)
    return float(-torch.sum(torch.log(v + _EPS) + 1.0 / (v + _EPS)))


@register_proxy(
    "jacov",
    description="eigen-spectrum score of the correlation of input Jacobians",
    reference="Mellor et al., 2020 (NASWOT v1); Abdelfattah et al., ICLR 2021",
)
def jacov(ctx: ProxyContext) -> float:
    """Jacobian covariance score (train-mode forward, batch-statistics BN).

    Reuses the shared forward of the AZ proxies when the model follows the feature protocol
    (same weights, same batch, same ops, so the same value as a forward of its own)."""
    import torch

    shared = shared_logits(ctx)
    if shared is not None:
        logits, x = shared
        with torch.enable_grad():
            (jac,) = torch.autograd.grad(logits.sum(), x, retain_graph=True)
    else:
        model, x, _ = require_model(ctx)
        x = x.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            (jac,) = torch.autograd.grad(model(x).sum(), x)
    return jacov_from_jacobian(jac.flatten(1))
