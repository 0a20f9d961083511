"""Shared computation of VKDNW (Tybl & Neumann, CVPR 2025): per-sample Jacobians and Fisher spectra.

theta = element 0 of each of the first 128 parameter tensors (``named_parameters`` order).
For every sample n: J_n = dz(x_n)/dtheta (C x P), computed for the whole batch with
``torch.func.vmap(jacrev(...))``; inside vmap every sample is its own batch, so BatchNorm
(batch statistics, no running stats) normalises each sample over its spatial positions, as
the reference code does. p_n = 0.95 softmax(z_n) + 0.05 / C; Sigma_n = diag(p_n) - p_n p_n^T
= L_n L_n^T with L_n the closed-form Cholesky factor of the multinomial covariance.

* ``vkdnw`` (reference code): F = mean_n (L_n J_n)^T (L_n J_n).
* ``vkdnw_textbook``: F = mean_n J_n^T Sigma_n J_n (the Fisher information proper).

Score = entropy of the spectrum's deciles: q_k = quantile(lambda, k/10), k = 1..9,
q~ = q / (sum |q| + 1e-10), VKDNW = -sum q~ log(q~ + 1e-10), in [0, log 9].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._common import shared_model
from .base import ProxyContext

#: parameter tensors sampled (the paper's params_grad_len)
N_TENSORS = 128
#: label smoothing of the predictive distribution
ALPHA = 0.05
#: largest VKDNW value (flat spectrum)
VKDNW_MAX = math.log(9.0)


def multinomial_cholesky(p):
    """Lower-triangular L (..., C, C) with L L^T = diag(p) - p p^T, closed form (Tanabe & Sagae 1992).

    Args:
        p: (..., C) probabilities summing to 1.
    """
    import torch

    c = p.shape[-1]
    q = (1.0 - torch.cumsum(p, dim=-1)).clamp_min(0.0)  # q_k = 1 - sum_{j<=k} p_j
    q_prev = torch.cat([torch.ones_like(q[..., :1]), q[..., :-1]], dim=-1)
    d = torch.sqrt(p * q / q_prev.clamp_min(1e-30))
    safe_q = torch.where(q > 0, q, torch.ones_like(q))
    a = -p[..., :, None] / safe_q[..., None, :]  # A_ik = -p_i / q_k
    lower = torch.tril(torch.ones(c, c, dtype=torch.bool, device=p.device), diagonal=-1)
    eye = torch.eye(c, dtype=p.dtype, device=p.device)
    a = torch.where(lower, a, eye.expand_as(a))
    return a * d[..., None, :]


def decile_entropy(eigenvalues) -> float:
    """VKDNW score of a spectrum (any length >= 1)."""
    import torch

    lam = eigenvalues.to(torch.float64).flatten()
    qs = torch.quantile(lam, torch.arange(1, 10, dtype=torch.float64, device=lam.device) / 10.0)
    qn = qs / (qs.abs().sum() + 1e-10)
    return float(-(qn * torch.log(qn + 1e-10)).sum())


def per_sample_jacobians(model, x, n_tensors: int = N_TENSORS):
    """(logits (B, C), J (B, C, P)) for element 0 of the first ``n_tensors`` parameter tensors."""
    import torch
    from torch.func import functional_call, jacrev, vmap

    named = dict(model.named_parameters())
    names = list(named)[:n_tensors]
    base = {k: v.detach() for k, v in named.items()}
    buffers = dict(model.named_buffers())
    onehots = []
    for n in names:
        e = torch.zeros_like(base[n]).flatten()
        e[0] = 1.0
        onehots.append(e.view_as(base[n]))

    def f(delta, xi):
        params = dict(base)
        for k, n in enumerate(names):
            params[n] = base[n] + delta[k] * onehots[k]
        out = functional_call(model, (params, buffers), (xi.unsqueeze(0),))
        return out.squeeze(0), out.squeeze(0)

    delta0 = torch.zeros(len(names), dtype=x.dtype, device=x.device)
    jac, logits = vmap(jacrev(f, has_aux=True), in_dims=(None, 0))(delta0, x)
    return logits.detach(), jac.detach()


@dataclass(frozen=True)
class VkdnwParts:
    logits: Any
    jac: Any
    n_param_tensors: int


def vkdnw_parts(ctx: ProxyContext) -> VkdnwParts:
    """Jacobians of the context's model and batch, cached in ctx.shared."""
    cached = ctx.shared.get("vkdnw")
    if cached is not None:
        return cached
    model = shared_model(ctx)
    was_training = model.training
    model.eval()  # as the reference; BN without running stats still uses batch statistics
    try:
        logits, jac = per_sample_jacobians(model, ctx.inputs)
    finally:
        model.train(was_training)
    out = VkdnwParts(logits, jac, sum(1 for _ in model.parameters()))
    ctx.shared["vkdnw"] = out
    return out


def fisher_spectrum(logits, jac, *, textbook: bool = False):
    """Singular values of the empirical FIM (P,) from logits (B, C) and J (B, C, P)."""
    import torch

    logits = logits.to(torch.float64)
    jac = jac.to(torch.float64)
    c = logits.shape[-1]
    p = (1.0 - ALPHA) * torch.softmax(logits, dim=-1) + ALPHA / c
    chol = multinomial_cholesky(p)  # (B, C, C)
    m = (chol.transpose(-1, -2) if textbook else chol) @ jac  # (B, C, P)
    fim = torch.einsum("bcp,bcq->pq", m, m) / jac.shape[0]
    return torch.linalg.svdvals(fim)
