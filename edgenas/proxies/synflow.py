"""``synflow``: synaptic flow (Tanaka et al., NeurIPS 2020) in float64, as in the zero-cost harness.

BatchNorm bypassed (replaced by identity), every parameter and buffer replaced by its absolute
value, input = one all-ones image; R = sum of logits; score = sum over Conv/Linear weights of
|theta * dR/dtheta|. The model is a copy, so the caller's model is untouched.
"""

from __future__ import annotations

import copy

from ._common import require_model, weight_modules
from .base import ProxyContext, register_proxy


def _bypass_bn(model) -> None:
    from torch import nn

    for name, child in list(model.named_children()):
        if isinstance(child, nn.modules.batchnorm._NormBase):
            setattr(model, name, nn.Identity())
        else:
            _bypass_bn(child)


def synflow_score(model, input_shape: tuple[int, ...]) -> float:
    """SynFlow of ``model`` for one all-ones input of shape (C, H, W) (or (D,) for MLPs)."""
    import torch

    net = copy.deepcopy(model)
    _bypass_bn(net)
    net = net.double()
    with torch.no_grad():
        for t in list(net.parameters()) + list(net.buffers()):
            t.abs_()
    weights = [m.weight for m in weight_modules(net)]
    x = torch.ones((1, *input_shape), dtype=torch.float64, device=weights[0].device)
    with torch.enable_grad():
        grads = torch.autograd.grad(net(x).sum(), weights)
    return float(sum((w.detach() * g).abs().sum() for w, g in zip(weights, grads)))


@register_proxy(
    "synflow",
    description="synaptic flow, float64, BN bypassed, |weights|, all-ones input",
    reference="Tanaka et al., NeurIPS 2020; Abdelfattah et al., ICLR 2021",
)
def synflow(ctx: ProxyContext) -> float:
    """SynFlow of a fresh model."""
    model, _, _ = require_model(ctx)
    return synflow_score(model, ctx.dataset.input_shape)
