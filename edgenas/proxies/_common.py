"""Helpers shared by the model proxies: init, ReLU codes and the one shared forward pass.

torch is imported inside functions so that importing :mod:`edgenas.proxies` (the registry
listing) stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ProxyError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .base import ProxyContext

__all__ = [
    "SharedForward",
    "gaussian_init",
    "kaiming_init",
    "relu_kernel",
    "require_model",
    "shared_forward",
    "shared_logits",
    "shared_model",
]

#: ctx.shared key of the one forward pass reused by naswot, the AZ proxies and jacov
SHARED_FORWARD_KEY = "forward"


def _normal_init(model: torch.nn.Module, generator: torch.Generator, *, kaiming: bool) -> torch.nn.Module:
    """Normal Conv/Linear weights (std sqrt(2/fan_in) if ``kaiming`` else 1), zero biases,
    BatchNorm weight 1 / bias 0. Modules are visited in registration order, so a generator
    seeded the same way gives the same weights."""
    import torch
    from torch import nn

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
                std = (2.0 / m.weight[0].numel()) ** 0.5 if kaiming else 1.0  # ReLU gain, fan-in mode
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator, dtype=m.weight.dtype) * std)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.modules.batchnorm._NormBase) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()
    return model


def kaiming_init(model: torch.nn.Module, generator: torch.Generator) -> torch.nn.Module:
    """The AZ-NAS/VKDNW harness init: Kaiming-normal fan-in (ReLU gain) for Conv/Linear."""
    return _normal_init(model, generator, kaiming=True)


def gaussian_init(model: torch.nn.Module, generator: torch.Generator) -> torch.nn.Module:
    """Zen-NAS init: N(0, 1) Conv/Linear weights."""
    return _normal_init(model, generator, kaiming=False)


def require_model(ctx: ProxyContext) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """(fresh model, inputs, targets) of a model-proxy context; raises ProxyError if absent."""
    if ctx.make_model is None or ctx.inputs is None or ctx.targets is None:
        raise ProxyError("this proxy needs a model and an input batch (ctx.make_model / ctx.inputs missing)")
    return ctx.make_model(), ctx.inputs, ctx.targets


def shared_model(ctx: ProxyContext) -> torch.nn.Module:
    """One built model per arch and call, cached in ``ctx.shared["model"]``, for proxies that
    only read it (size counts) or run it without changing its weights."""
    model = ctx.shared.get("model")
    if model is None:
        model = require_model(ctx)[0]
        ctx.shared["model"] = model
    return model


def relu_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    """Every ReLU module of ``model`` in registration order."""
    from torch import nn

    return [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]


class ReluCodes:
    """Forward hooks accumulating the NASWOT kernel of ReLU sign patterns.

    ``K[i, j]`` = number of ReLU units on which samples i and j agree (both > 0 or both <= 0),
    summed over every ReLU of the model; ``n_units`` is the total number of units. Two samples
    have the same activation pattern exactly when ``K[i, j] == n_units``.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.kernel: torch.Tensor | None = None
        self.n_units = 0
        self._handles = [m.register_forward_hook(self._hook) for m in relu_modules(model)]

    def _hook(self, module: Any, inp: tuple, out: Any) -> None:
        import torch

        with torch.no_grad():
            c = (inp[0].detach().flatten(1) > 0).to(torch.float32)
            # agreements = c c^T + (1-c)(1-c)^T = n - |c_i| - |c_j| + 2 c c^T (one matmul)
            s = c.sum(1, dtype=torch.float64)
            cc = (c @ c.T).to(torch.float64)
            k = c.shape[1] - s[:, None] - s[None, :] + 2.0 * cc
            self.kernel = k if self.kernel is None else self.kernel + k
            self.n_units += c.shape[1]

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


@dataclass
class SharedForward:
    """One forward pass (train mode, grad enabled) reused by several proxies.

    Attributes:
        model: the model it ran on.
        features: [f_0 .. f_L] from ``model.forward_features`` (graph kept for AZ trainability).
        relu_kernel: (B, B) float64 NASWOT kernel, or None if the model has no ReLU (or if it
            was not asked for: see :func:`shared_forward`).
        n_relu_units: number of ReLU units per sample.
        inputs: the input batch as a leaf that requires grad (the graph reaches it, for jacov).
        has_relu_kernel: whether ``relu_kernel`` / ``n_relu_units`` were computed.
    """

    model: Any
    features: list
    relu_kernel: Any
    n_relu_units: int
    inputs: Any = None
    has_relu_kernel: bool = True


def shared_forward(ctx: ProxyContext, *, relu_codes: bool = True) -> SharedForward:
    """Run (once per arch and call) ``forward_features`` on the shared model; cached in ctx.shared.

    With ``relu_codes`` (naswot) the NASWOT kernel of ReLU sign patterns is
    accumulated during the pass. Callers that do not need it (AZ, jacov) pass False: the
    kernel's B x B matmul per ReLU costs about as much as the forward itself. If a later
    caller needs the kernel it is computed then by one extra no-grad forward of the same
    model and batch, which gives the same kernel.
    """
    cached = ctx.shared.get(SHARED_FORWARD_KEY)
    if cached is not None:
        if relu_codes and not cached.has_relu_kernel:
            kernel, n_units = _relu_kernel_or_none(cached.model, cached.inputs.detach())
            cached.relu_kernel, cached.n_relu_units = kernel, n_units
            cached.has_relu_kernel = True
        return cached
    import torch

    model = shared_model(ctx)
    if not hasattr(model, "forward_features"):
        raise ProxyError(
            f"model {type(model).__name__} has no forward_features (see SearchSpace.build_model)"
        )
    x = ctx.inputs.detach().clone().requires_grad_(True)
    codes = ReluCodes(model) if relu_codes else None
    try:
        with torch.enable_grad():
            feats = model.forward_features(x)
    finally:
        if codes is not None:
            codes.remove()
    out = SharedForward(
        model,
        list(feats),
        codes.kernel if codes is not None else None,
        codes.n_units if codes is not None else 0,
        x,
        relu_codes,
    )
    ctx.shared[SHARED_FORWARD_KEY] = out
    return out


def _relu_kernel_or_none(model: torch.nn.Module, x: torch.Tensor) -> tuple[Any, int]:
    """The kernel the shared forward would have accumulated (same ReLUs: ``forward_features``)."""
    import torch

    codes = ReluCodes(model)
    try:
        with torch.inference_mode():
            model.forward_features(x)
    finally:
        codes.remove()
    return codes.kernel, codes.n_units


def shared_logits(ctx: ProxyContext) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(logits, inputs) continuing the shared forward through the head and classifier, with
    the graph back to ``inputs`` (a leaf that requires grad); cached in ctx.shared.

    None if the model's ``forward`` is not the protocol's ``classifier(forward_pre_logits)``
    (then the caller runs its own forward).
    """
    cached = ctx.shared.get("logits")
    if cached is not None:
        return cached
    from ..spaces._protocol import FeatureNet

    model = shared_model(ctx)
    cls = type(model)
    if not (
        isinstance(model, FeatureNet)
        and all(getattr(cls, f) is getattr(FeatureNet, f)
                for f in ("forward", "forward_pre_logits", "forward_features"))
    ):
        return None
    import torch

    fw = shared_forward(ctx, relu_codes=False)
    with torch.enable_grad():
        h = model.global_pooling(model.head(fw.features[-1])).flatten(1)
        logits = model.classifier(h)
    out = (logits, fw.inputs)
    ctx.shared["logits"] = out
    return out


def relu_kernel(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(NASWOT kernel (B, B) float64, number of ReLU units) of one forward of ``model`` on ``x``."""
    import torch

    codes = ReluCodes(model)
    try:
        with torch.inference_mode():
            model(x)
    finally:
        codes.remove()
    if codes.kernel is None:
        raise ProxyError(f"model {type(model).__name__} has no ReLU modules")
    return codes.kernel, codes.n_units


def weight_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    """Conv and Linear modules (the layers SNIP/GraSP/SynFlow score), registration order."""
    from torch import nn

    return [m for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))]


@dataclass
class LossGrads:
    """Gradients of the cross-entropy of one batch w.r.t. every parameter of a fresh model."""

    model: Any
    grads: dict  # parameter name -> gradient tensor


def loss_grads(ctx: ProxyContext) -> LossGrads:
    """One forward + backward of CE(model(x), y) on a fresh model; cached in ctx.shared."""
    cached = ctx.shared.get("loss_grads")
    if cached is not None:
        return cached
    import torch
    import torch.nn.functional as F

    model, x, y = require_model(ctx)
    names, params = zip(*[(n, p) for n, p in model.named_parameters() if p.requires_grad])
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    out = LossGrads(
        model, {n: (torch.zeros_like(p) if g is None else g) for n, p, g in zip(names, params, grads)}
    )
    ctx.shared["loss_grads"] = out
    return out
