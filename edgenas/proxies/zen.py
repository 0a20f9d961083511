"""``zen``: Zen-score (Lin et al., ICCV 2021).

Weights re-drawn N(0, 1) (Zen-NAS init, seeded by the per-arch seed), model in train mode.
Delta = mean_b sum |f(x) - f(x + 0.01 x')| of the last feature map ``forward_features(x)[-1]``
(the pre-pooling features), x, x' Gaussian; score = log Delta + sum over BatchNorm layers of
log sqrt(mean channel variance of the BN input). Zen-NAS reads that variance from BN running
statistics; the harness network keeps none (``track_running_stats=False``), so we take the
batch variance of the perturbed forward, which is what one running-stat update with
momentum 1 would hold.
"""

from __future__ import annotations

import math

from ._common import gaussian_init, require_model
from .base import ProxyContext, register_proxy


def zen_score(model, x, x_mix, *, mix_alpha: float = 0.01) -> float:
    """Zen-score of ``model`` (already Gaussian-initialised) for Gaussian batches x, x_mix."""
    import torch
    from torch import nn

    bn_log = []

    def bn_hook(module, inp, out):
        v = inp[0].detach().transpose(0, 1).flatten(1).var(dim=1)
        bn_log.append(0.5 * math.log(float(v.mean()) + 1e-12))

    with torch.inference_mode():
        f = model.forward_features(x)[-1]
        handles = [
            m.register_forward_hook(bn_hook)
            for m in model.modules()
            if isinstance(m, nn.modules.batchnorm._NormBase)
        ]
        try:
            f_mix = model.forward_features(x + mix_alpha * x_mix)[-1]
        finally:
            for h in handles:
                h.remove()
        delta = (f - f_mix).abs().flatten(1).sum(1).mean()
    return math.log(float(delta)) + sum(bn_log)


@register_proxy(
    "zen",
    description="log of the feature response to a 1% input perturbation plus BN variance terms",
    reference="Lin et al., ICCV 2021 (Zen-NAS)",
)
def zen(ctx: ProxyContext) -> float:
    """Zen-score on a fresh, Gaussian-initialised model."""
    import torch

    model, x, _ = require_model(ctx)
    gen = torch.Generator().manual_seed(ctx.seed)
    gaussian_init(model.cpu(), gen)
    model.to(x.device)
    x_mix = torch.randn(x.shape, generator=gen).to(x.device)
    return zen_score(model, x, x_mix)
