"""Shared computation of VKDNW (Tybl & Neumann, CVPR 2025): per-sample Jacobians and Fisher spectra.

theta = element 0 of each of the first 128 parameter tensors (``named_parameters`` order).
For every sample n: J_n = dz(x_n)/dtheta (C x P). The reference computes it with
``torch.func.vmap(jacrev(...))``; inside vmap every sample is its own batch, so BatchNorm
(batch statistics, no running stats) normalises each sample over its spatial positions. We
compute the same J from one batched forward (BatchNorm switched to per-sample statistics)
and one backward per class, forming each sampled weight's per-sample gradient from the
layer's input and output-gradient channels (1.7x less CPU time than vmap at equal results;
see :func:`per_sample_jacobians`, which keeps vmap as the reference and the fallback).
p_n = 0.95 softmax(z_n) + 0.05 / C; Sigma_n = diag(p_n) - p_n p_n^T
= L_n L_n^T with L_n the closed-form Cholesky factor of the multinomial covariance.

* ``vkdnw`` (reference code): F = mean_n (L_n J_n)^T (L_n J_n).
* ``vkdnw_textbook``: F = mean_n J_n^T Sigma_n J_n (the Fisher information proper).

Score = entropy of the spectrum's deciles: q_k = quantile(lambda, k/10), k = 1..9,
q~ = q / (sum |q| + 1e-10), VKDNW = -sum q~ log(q~ + 1e-10), in [0, log 9].
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from ..errors import ProxyError
from ._common import shared_model
from .base import ProxyContext

log = logging.getLogger(__name__)

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


def per_sample_jacobians(model, x, n_tensors: int = N_TENSORS, *, method: str = "auto"):
    """(logits (B, C), J (B, C, P)) for element 0 of the first ``n_tensors`` parameter tensors.

    Every sample is its own batch (BatchNorm with batch statistics normalises each sample over
    its own positions), as under the reference's ``vmap``.

    Args:
        method: ``"vmap"`` (the reference formulation, ``vmap(jacrev)``), ``"hooks"`` (one
            batched forward and C backward passes, per-sample gradients formed from
            activations and output gradients; raises ProxyError for models it does not cover)
            or ``"auto"`` (hooks, with the algorithm checked in float64 on the first two
            samples against plain autograd of sample 0 alone; vmap if the model is not covered
            or the check fails). All three agree to float32 rounding.
    """
    if method == "vmap":
        return _jacobians_by_vmap(model, x, n_tensors)
    if method == "hooks":
        return _jacobians_by_hooks(model, x, n_tensors)
    if method != "auto":
        raise ProxyError(f"unknown per-sample Jacobian method {method!r}; expected 'auto', 'hooks' or 'vmap'")
    try:
        logits, jac = _jacobians_by_hooks(model, x, n_tensors)
    except ProxyError as e:
        log.debug("per-sample Jacobians by hooks not available (%s); using vmap", e)
        return _jacobians_by_vmap(model, x, n_tensors)
    if _matches_single_sample(model, x, n_tensors, logits, jac):
        return logits, jac
    log.warning("per-sample Jacobians by hooks disagree with plain autograd on sample 0 for %s; using vmap",
                type(model).__name__)
    return _jacobians_by_vmap(model, x, n_tensors)


def _matches_single_sample(model, x, n_tensors: int, logits, jac) -> bool:
    """Cheap guard for the hooks path, run on a float64 copy of the model: the hooks Jacobian of
    the first two samples must equal, for sample 0, the logits and class-0 row of J that plain
    autograd gives for sample 0 alone (a batch of one, so BatchNorm uses that sample's own
    statistics). Catches any layer that mixes samples or uses a weight outside its module.

    float64 because float32 is not a usable yardstick here: on some NB201 archs a batched
    float32 backward (plain autograd or vmap alike) is 0.1 % off float64 norm-wise (2 % on the
    stem's gradients, from cancellation through the BatchNorm backwards) while a batch of one
    happens to be 1e-5 off; the algorithm is checked exactly, the float32 result is as accurate
    as float32 allows. ``logits`` and ``jac`` (the float32 result) are only shape-checked."""
    import copy

    import torch

    if logits.ndim != 2 or jac.shape[:2] != logits.shape:
        return False
    model64 = copy.deepcopy(model).to(torch.float64)
    x64 = x[:2].to(torch.float64)
    try:
        logits_h, jac_h = _jacobians_by_hooks(model64, x64, n_tensors, n_rows=1)
    except ProxyError:
        return False
    z0, row0 = _single_sample_row(model64, x64, n_tensors, torch.float64)
    return _rel_err(logits_h[:1], z0) <= 1e-7 and _rel_err(jac_h[0, 0], row0) <= 1e-5


def _single_sample_row(model, x, n_tensors: int, dtype):
    """(logits of sample 0 alone (1, C), d logit_0 / d element 0 of each sampled tensor (P,)),
    by plain autograd in ``dtype``."""
    import torch
    from torch.func import functional_call

    names = [n for n, _ in model.named_parameters()]
    params = {n: p.detach().to(dtype).requires_grad_(k < n_tensors)
              for k, (n, p) in enumerate(model.named_parameters())}
    buffers = {n: b.to(dtype) if b.is_floating_point() else b for n, b in model.named_buffers()}
    with torch.enable_grad():
        z0 = functional_call(model, (params, buffers), (x[:1].to(dtype),))
        grads = torch.autograd.grad(z0[0, 0], [params[n] for n in names[:n_tensors]], allow_unused=True)
    row = torch.stack([g.flatten()[0] if g is not None else z0.new_zeros(()) for g in grads])
    return z0.detach(), row


def _rel_err(a, b) -> float:
    """Norm-wise relative difference of ``a`` from ``b`` (computed in float64)."""
    import torch

    a, b = a.to(torch.float64), b.to(torch.float64)
    return float(torch.linalg.vector_norm(a - b) / (torch.linalg.vector_norm(b) + 1e-12))


def _jacobians_by_vmap(model, x, n_tensors: int):
    """Reference formulation: ``vmap`` over samples of ``jacrev`` w.r.t. the sampled scalars."""
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


def _uses_batch_stats(bn) -> bool:
    """Whether ``bn`` normalises with batch statistics (nn.BatchNorm's own rule)."""
    return bn.training or (bn.running_mean is None and bn.running_var is None)


def _per_sample_batch_norm(bn):
    """A forward for ``bn`` that treats every sample as its own batch (what ``batch_norm``
    computes on a batch of one), with BN's affine parameters: native batch_norm over the
    (1, B*C, H, W) view (for B = 1 bit-identical to the module's own forward)."""
    import torch.nn.functional as F

    def forward(x):
        b, c = x.shape[:2]
        weight = bn.weight.repeat(b) if bn.weight is not None else None
        bias = bn.bias.repeat(b) if bn.bias is not None else None
        y = F.batch_norm(x.reshape(1, b * c, *x.shape[2:]), None, None, weight, bias, training=True,
                         momentum=0.0, eps=bn.eps)
        return y.reshape(x.shape)

    return forward


def _target_kind(module, attr: str) -> str:
    """How the per-sample gradient of element 0 of ``module.<attr>`` is formed."""
    from torch import nn

    if (isinstance(module, nn.Conv2d) and module.padding_mode == "zeros"
            and not isinstance(module.padding, str)):
        return "conv_weight" if attr == "weight" else "sum"
    if isinstance(module, nn.Linear):
        return "linear_weight" if attr == "weight" else "sum"
    if isinstance(module, nn.BatchNorm2d):
        return "bn_weight" if attr == "weight" else "sum"
    raise ProxyError(f"no per-sample gradient rule for {type(module).__name__}.{attr}")


def _jacobians_by_hooks(model, x, n_tensors: int, n_rows: int | None = None, cotangents=None):
    """Per-sample Jacobians from one batched forward and one backward per class (the first
    ``n_rows`` classes only if given: their rows of J; the other rows stay 0).

    BatchNorm layers that use batch statistics are switched, for this forward only, to
    per-sample statistics, so samples are independent and the backward of logit c over the
    batch gives every sample's own output gradients. For element 0 of a weight the
    per-sample gradient is then a product of one input channel and one output-gradient
    channel summed over positions: conv W[0,0,0,0] pairs output channel 0 with the
    (strided, zero-padded) input channel 0; linear W[0,0] pairs output 0 with input 0;
    BN weight[0] pairs output channel 0 with the normalised input channel 0; any bias[0] is
    the sum of output channel 0. No weight gradients are formed at all.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    named = list(model.named_parameters())[:n_tensors]
    owners: dict[int, list] = {}
    for mod_name, mod in model.named_modules(remove_duplicate=False):
        for attr, prm in mod._parameters.items():
            if prm is not None:
                owners.setdefault(id(prm), []).append((mod_name, mod, attr))
    targets = []  # (module, kind)
    for name, prm in named:
        own = {(id(m), a) for _, m, a in owners.get(id(prm), [])}
        if len(own) != 1:
            raise ProxyError(f"parameter {name} is shared by several modules")
        ((_, mod, attr),) = owners[id(prm)][:1]
        if attr not in ("weight", "bias"):
            raise ProxyError(f"parameter {name} is not a weight or bias")
        targets.append((mod, _target_kind(mod, attr)))

    records: dict[int, list] = {}  # id(module) -> per call: (output, extra, output version)

    def hook(mod, inp, out):
        with torch.no_grad():
            xin = inp[0].detach()
            extra = {}
            if isinstance(mod, nn.Conv2d):
                (ph, pw), (sh, sw) = mod.padding, mod.stride
                xp = F.pad(xin[:, 0], (pw, pw, ph, ph))  # input channel 0, zero-padded
                ho, wo = out.shape[2], out.shape[3]
                extra["conv_weight"] = xp[:, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw]
            elif isinstance(mod, nn.Linear):
                extra["linear_weight"] = xin[..., 0]
            elif isinstance(mod, nn.BatchNorm2d):
                x0 = xin[:, 0].to(torch.float32)
                if _uses_batch_stats(mod):
                    mean = x0.mean(dim=(1, 2), keepdim=True)
                    var = x0.var(dim=(1, 2), unbiased=False, keepdim=True)
                else:
                    mean, var = mod.running_mean[0], mod.running_var[0]
                extra["bn_weight"] = (x0 - mean) / torch.sqrt(var + mod.eps)
        records.setdefault(id(mod), []).append((out, extra, out._version))

    mods = {id(m): m for m, _ in targets}
    handles = [m.register_forward_hook(hook) for m in mods.values()]
    patched = [
        m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and _uses_batch_stats(m)
    ]
    for m in patched:
        if not isinstance(m, nn.BatchNorm2d):
            raise ProxyError(f"no per-sample rule for {type(m).__name__}")
    try:
        for m in patched:
            m.forward = _per_sample_batch_norm(m)
        with torch.enable_grad():
            logits = model(x)
    finally:
        for m in patched:
            del m.forward
        for h in handles:
            h.remove()
    if logits.ndim != 2:
        raise ProxyError(f"model output has shape {tuple(logits.shape)}; expected (B, classes)")
    slot: dict[int, list[int]] = {}  # id(module) -> indices into outs, one per call
    outs = []
    for mod, _ in targets:
        if id(mod) in slot:
            continue
        slot[id(mod)] = []
        for out, _, version in records.get(id(mod), []):
            if out._version != version:
                raise ProxyError(f"output of {type(mod).__name__} is modified in place")
            slot[id(mod)].append(len(outs))
            outs.append(out)
    b, n_classes = logits.shape
    rows = None if cotangents is None else cotangents(logits.detach())  # (R, B, C) projections
    n_out = n_classes if rows is None else rows.shape[0]
    jac = torch.zeros(b, n_out, len(targets), dtype=x.dtype, device=x.device)
    if outs:
        # one backward per class (batching the C cotangents with is_grads_batched was not faster on CPU),
        # or one per given cotangent row (row c of the result is then u_c^T J per sample)
        cot = torch.zeros_like(logits)
        n_rows = n_out if n_rows is None else min(n_rows, n_out)
        for c in range(n_rows):
            if rows is None:
                cot.zero_()
                cot[:, c] = 1.0
            else:
                cot = rows[c].to(logits.dtype)
            grads = torch.autograd.grad(logits, outs, grad_outputs=cot, retain_graph=c < n_rows - 1,
                                        allow_unused=True)
            for k, (mod, kind) in enumerate(targets):
                for j, (_, extra, _) in zip(slot[id(mod)], records[id(mod)]):
                    g = grads[j]
                    if g is None:
                        continue
                    g0 = g[..., 0] if isinstance(mod, nn.Linear) else g[:, 0]  # output channel 0
                    if kind != "sum":
                        g0 = g0 * extra[kind]
                    jac[:, c, k] += g0.reshape(b, -1).sum(1)
    return logits.detach(), jac


#: class counts up to which the Fisher is exact (one backward pass per class, as the reference);
#: above it, MC_PASSES backward passes of random projections estimate it (see :func:`mc_cotangents`)
EXACT_MAX_CLASSES = 128
#: backward passes of the Monte-Carlo Fisher: half for the reference form, half for the textbook one
MC_PASSES = 32


@dataclass(frozen=True)
class VkdnwParts:
    """Logits and Jacobian rows of one arch. Exact (``mc`` False): ``jac`` (B, C, P) = J. Monte Carlo
    (more than :data:`EXACT_MAX_CLASSES` classes): ``jac`` (B, MC_PASSES, P), the first half
    ``(L^T e)^T J`` and the second ``(L e)^T J`` with ``e ~ N(0, I_C)`` per sample and pass, so that
    ``E[g g^T]`` is the reference Fisher ``J^T L^T L J`` and the textbook ``J^T Sigma J`` respectively."""

    logits: Any
    jac: Any
    n_param_tensors: int
    mc: bool = False


def mc_cotangents(logits, seed: int, passes: int = MC_PASSES):
    """(passes, B, C) cotangents of the Monte-Carlo Fisher: ``L_n^T e`` then ``L_n e``, ``e ~ N(0, I)``.

    ``L = A diag(d)`` is the closed-form factor of ``diag(p) - p p^T`` (:func:`multinomial_cholesky`);
    both products are formed in O(C) per sample without the C x C factor: ``(A^T e)_k = e_k -
    (1/q_k) sum_{i>k} p_i e_i`` and ``(A v)_i = v_i - p_i sum_{k<i} v_k / q_k``.
    """
    import torch

    p64 = (1.0 - ALPHA) * torch.softmax(logits.to(torch.float64), dim=-1) + ALPHA / logits.shape[-1]
    q = (1.0 - torch.cumsum(p64, dim=-1)).clamp_min(0.0)
    q_prev = torch.cat([torch.ones_like(q[..., :1]), q[..., :-1]], dim=-1)
    d = torch.sqrt(p64 * q / q_prev.clamp_min(1e-30))
    inv_q = torch.where(q > 0, 1.0 / q.clamp_min(1e-300), torch.zeros_like(q))
    gen = torch.Generator(device="cpu").manual_seed(int(seed) % 2**63)
    half = passes // 2
    eps = torch.randn((passes, *logits.shape), generator=gen, dtype=torch.float64)
    e1 = eps[:half]
    # L^T e = diag(d) A^T e; (A^T e)_k = e_k - inv_q_k * sum_{i>k} p_i e_i
    tail = torch.flip(torch.cumsum(torch.flip(p64 * e1, [-1]), -1), [-1]) - p64 * e1  # sum_{i>k}
    ref = d * (e1 - inv_q * tail)
    # L e = A (d e); (A v)_i = v_i - p_i * sum_{k<i} v_k * inv_q_k
    v = d * eps[half:]
    head = torch.cumsum(v * inv_q, -1) - v * inv_q  # sum_{k<i}
    textbook = v - p64 * head
    return torch.cat([ref, textbook]).to(logits.dtype)


def vkdnw_parts(ctx: ProxyContext) -> VkdnwParts:
    """Jacobians of the context's model and batch, cached in ctx.shared."""
    cached = ctx.shared.get("vkdnw")
    if cached is not None:
        return cached
    model = shared_model(ctx)
    was_training = model.training
    model.eval()  # as the reference; BN without running stats still uses batch statistics
    mc = ctx.dataset.num_classes > EXACT_MAX_CLASSES
    try:
        if mc:  # a fixed number of backward passes at any class count (hooks only: vmap is C passes)
            logits, jac = _jacobians_by_hooks(model, ctx.inputs, N_TENSORS,
                                              cotangents=lambda z: mc_cotangents(z, ctx.seed))
        else:
            logits, jac = per_sample_jacobians(model, ctx.inputs)
    finally:
        model.train(was_training)
    out = VkdnwParts(logits, jac, sum(1 for _ in model.parameters()), mc)
    ctx.shared["vkdnw"] = out
    return out


def parts_spectrum(parts: VkdnwParts, *, textbook: bool = False):
    """Singular values of the (exact or Monte-Carlo) empirical FIM of ``parts``."""
    if not parts.mc:
        return fisher_spectrum(parts.logits, parts.jac, textbook=textbook)
    import torch

    half = parts.jac.shape[1] // 2
    rows = (parts.jac[:, half:] if textbook else parts.jac[:, :half]).to(torch.float64)
    fim = torch.einsum("bkp,bkq->pq", rows, rows) / (rows.shape[0] * rows.shape[1])
    return torch.linalg.svdvals(fim)


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
