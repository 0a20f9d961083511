"""AZ-NAS components (Lee & Ham, CVPR 2024), computed once per arch from the shared forward.

Features f_0 = stem output, f_l = block l output (model protocol ``forward_features``).

* Expressivity E_l: reshape f_l (B, C, H, W) to (B*H*W, C), centre, covariance eigenvalues s,
  p = s / sum(s), E_l = -sum p log(p + 1e-8) (entropy of the normalised spectrum);
  expressivity = sum_l E_l, progressivity = min_l (E_l - E_{l-1}).
* Trainability: for each block l a Rademacher vector g_out shaped like f_l, g_in = VJP of
  f_l w.r.t. f_{l-1}; pixel-unshuffled when the spatial size halves; M = mean over the
  B*H*W positions of g_in g_out^T (C_in x C_out); sigma = largest singular value;
  t_l = -sigma - 1/(sigma + 1e-6) + 2 (max 0 at sigma = 1); trainability = mean_l t_l.
  A block whose output equals its input (or whose VJP is the identity) gets -inf in the
  reference; we return :data:`TRAINABILITY_FLOOR` for such archs (documented, no warning).
* No-op blocks: a block module that returns its input tensor object itself (FBNet's ``skip`` at a
  stride-1, same-width layer is ``nn.Identity``) is a searchable way of making the network
  shallower, not a degenerate block. Its feature is dropped (:func:`distinct_features`) before all
  three components, so the arch is scored as the shallower network it is; otherwise every FBNet
  arch with an identity skip would sit at the trainability floor, score progressivity <= 0 and get
  one extra copy of the previous entropy in its expressivity. NB201 cells always return a new
  tensor (a sum of edges), so NB201 scores do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._common import shared_forward
from .base import ProxyContext

#: trainability of an arch with an identity block (the reference's -inf)
TRAINABILITY_FLOOR = -1e30


def distinct_features(features: list) -> list:
    """``features`` without the outputs of no-op blocks (a block output that *is* its input)."""
    out = [features[0]]
    for f in features[1:]:
        if f is not out[-1]:
            out.append(f)
    return out


def spectrum_entropy(feat) -> float:
    """E of one feature map (B, C, ...) or (B, C)."""
    import torch

    x = feat.detach()
    x = x.transpose(0, 1).flatten(1).T if x.ndim > 2 else x  # (B*H*W, C)
    x = x.to(torch.float64)
    x = x - x.mean(0, keepdim=True)
    cov = x.T @ x / max(x.shape[0] - 1, 1)
    s = torch.linalg.eigvalsh(cov).clamp_min(0)
    p = s / s.sum()
    return float(-(p * torch.log(p + 1e-8)).sum())


def block_trainability(f_in, f_out, generator) -> float:
    """t_l of one block from the graph linking f_in to f_out (see module docstring)."""
    import torch
    import torch.nn.functional as F

    if f_in.shape == f_out.shape and torch.equal(f_in, f_out):
        return -float("inf")
    g_out = torch.randint(0, 2, f_out.shape, generator=generator, dtype=torch.int8).to(f_out) * 2 - 1
    (g_in,) = torch.autograd.grad(f_out, f_in, grad_outputs=g_out, retain_graph=True)
    if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
        return -float("inf")
    if g_in.ndim == 4 and g_in.shape[2] != g_out.shape[2]:
        # stride s with 'same' padding maps H to ceil(H / s): an odd map (FBNet at 112 px: 7 -> 4)
        # is zero-padded to s * H_out first, the padding the strided conv itself sees
        s = -(-g_in.shape[2] // g_out.shape[2])
        pad_h, pad_w = s * g_out.shape[2] - g_in.shape[2], s * g_out.shape[3] - g_in.shape[3]
        if pad_h or pad_w:
            g_in = F.pad(g_in, (0, pad_w, 0, pad_h))
        g_in = F.pixel_unshuffle(g_in, s)
    ci, co = g_in.shape[1], g_out.shape[1]
    a = g_in.transpose(0, 1).flatten(1).to(torch.float64)  # (C_in, N)
    b = g_out.transpose(0, 1).flatten(1).to(torch.float64)  # (C_out, N)
    m = a @ b.T / a.shape[1]  # (C_in, C_out) mean outer product over positions
    sigma = float(torch.linalg.matrix_norm(m, ord=2)) if ci and co else 0.0
    return -sigma - 1.0 / (sigma + 1e-6) + 2.0


@dataclass(frozen=True)
class AZComponents:
    entropies: tuple[float, ...]
    trainability: float | None


def az_components(ctx: ProxyContext, *, trainability: bool) -> AZComponents:
    """Entropies of every feature map, and trainability if asked; cached in ctx.shared."""
    import math

    import torch

    cached = ctx.shared.get("az")
    if cached is not None and (cached.trainability is not None or not trainability):
        return cached
    fw = shared_forward(ctx, relu_codes=False)
    feats = distinct_features(fw.features)
    ent = cached.entropies if cached is not None else tuple(spectrum_entropy(f) for f in feats)
    tr = None
    if trainability:
        gen = torch.Generator().manual_seed(ctx.seed)
        ts = []
        with torch.enable_grad():
            for l in range(len(feats) - 1, 0, -1):
                ts.append(block_trainability(feats[l - 1], feats[l], gen))
        tr = TRAINABILITY_FLOOR if any(math.isinf(t) for t in ts) else sum(ts) / len(ts)
    out = AZComponents(ent, tr)
    ctx.shared["az"] = out
    return out
