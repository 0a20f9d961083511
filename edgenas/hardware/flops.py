"""Multiply-accumulates and parameters of built models.

Two counting conventions are offered because they answer different questions:

* :func:`count_macs` wraps fvcore's ``FlopCountAnalysis``. fvcore counts one fused
  multiply-add as one "flop", so its numbers are **MACs** and edgenas names them so
  (``macs_m``). BatchNorm is *not* counted (it folds into the preceding conv at inference);
  ops fvcore does not know (ReLU, add, avg_pool2d, ...) count 0 and are reported in
  ``unsupported_ops``.
* :func:`count_flops_nb201` reproduces the convention of the published NAS-Bench-201 ``flops``
  values (as shipped by NAS-Bench-Suite-Zero; measured in ``tools/check_nb201_space.py``):
  conv MACs, 2 per element for affine BatchNorm, 1 per element for ReLU, ``k*k`` per output
  element of an AvgPool/MaxPool, 1 per input element of adaptive pooling, and linear MACs
  without bias. It matches the benchmark to a constant 0.001088 M (32 px) / 0.000576 M (16 px)
  per network that we could not attribute to any layer (< 0.02 % of the smallest network).

Both return millions.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["ModelSize", "count_flops_nb201", "count_macs", "count_params", "flops_nb201_units", "model_size"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSize:
    """Size of one built model for one input shape.

    Attributes:
        params_m: trainable parameters, millions (BN affine parameters included).
        macs_m: multiply-accumulates per image, millions (fvcore, BN excluded).
        n_param_tensors: number of parameter tensors (VKDNW's "No. of trainable layers").
        flops_m_nb201: NAS-Bench-201 API convention (None if not asked for).
        unsupported_ops: aten ops fvcore counted as 0, with their call counts.
    """

    params_m: float
    macs_m: float
    n_param_tensors: int
    flops_m_nb201: float | None = None
    unsupported_ops: tuple[tuple[str, int], ...] = ()


def count_params(model: torch.nn.Module) -> tuple[float, int]:
    """(parameters in millions, number of parameter tensors)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params) / 1e6, len(params)


def count_macs(model: torch.nn.Module, input_shape: tuple[int, ...]) -> tuple[float, dict[str, int]]:
    """MACs (millions) for one input of ``input_shape`` (C, H, W) with fvcore; and the ops it skipped."""
    import torch
    from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        x = torch.zeros((1, *input_shape))
        analysis = FlopCountAnalysis(model, x)
        # BN folds into the preceding conv at inference. fvcore's documented way to drop it
        # (a None handle) does not override its default handle in 0.1.5, so count it as zero.
        analysis.set_op_handle("aten::batch_norm", lambda inputs, outputs: 0)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit tracing deprecation noise from fvcore
            total = analysis.total()
        skipped = dict(analysis.unsupported_ops())
    finally:
        model.train(was_training)
    return total / 1e6, skipped


def count_flops_nb201(model: torch.nn.Module, input_shape: tuple[int, ...]) -> float:
    """FLOPs (millions) by the published NAS-Bench-201 convention (see module docstring)."""
    return flops_nb201_units(model, input_shape) / 1e6


def flops_nb201_units(model: torch.nn.Module, input_shape: tuple[int, ...]) -> float:
    """:func:`count_flops_nb201` in FLOPs, not millions: an integer-valued float, so sums of
    such counts are exact."""
    import torch
    from torch import nn

    total = 0.0

    def hook(m: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        x = inp[0]
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total += kh * kw * m.in_channels * m.out_channels / m.groups * out.shape[0] * out.shape[2] * out.shape[3]
        elif isinstance(m, nn.Linear):
            total += x.shape[0] * m.in_features * m.out_features
        elif isinstance(m, nn.BatchNorm2d):
            total += x.numel() * (2 if m.affine else 1)
        elif isinstance(m, (nn.ReLU, nn.ReLU6)):
            total += out.numel()
        elif isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            total += out.numel() * k * k
        elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            total += x.numel()

    leaf_types = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.AvgPool2d, nn.MaxPool2d,
                  nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, leaf_types)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def model_size(model: torch.nn.Module, input_shape: tuple[int, ...], *, nb201_flops: bool = False) -> ModelSize:
    """All size measures of ``model`` for one input of ``input_shape`` (C, H, W)."""
    params_m, n_tensors = count_params(model)
    macs_m, skipped = count_macs(model, input_shape)
    return ModelSize(
        params_m=params_m,
        macs_m=macs_m,
        n_param_tensors=n_tensors,
        flops_m_nb201=count_flops_nb201(model, input_shape) if nb201_flops else None,
        unsupported_ops=tuple(sorted(skipped.items())),
    )
