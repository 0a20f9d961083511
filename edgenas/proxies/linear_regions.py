"""``linear_regions``: linear regions of the ReLU network that a closed loop through the inputs crosses.

TE-NAS (Chen, Gong & Wang, ICLR 2021) measures expressivity as the number of linear regions of the
network at init: inputs that put every ReLU unit on the same side of its kink lie in one region
(the network is affine there), and the count is the number of distinct activation patterns among
its samples. That count cannot exceed the number of samples, so it only says something while
many samples share a region. TE-NAS arranges that with 3,000 one-channel 3x3 crops fed to a
one-channel, one-cell copy of the supernet, a network with few units. The real network at the
task's resolution has so many units that every sample of a batch gets a pattern of its own: the
count is the batch size for every arch. A one-channel twin is not something every space can
build, so the samples are placed instead where regions can be counted on the real network, along
a curve (Hanin & Rolnick, ICML 2019, count regions along lines through input space):

* the curve is the closed ellipse ``x(t) = cos(t) x_0 + sin(t) x_1`` through the first two inputs
  of the batch, sampled at ``T`` = the batch size equally spaced angles (for Gaussian inputs every
  point on it is again an N(0, I) input; its points sum to zero);
* a region boundary is where some unit's input crosses a kink (0 for ReLU; 0 and 6 for ReLU6), so
  the regions the loop passes through are the kink crossings along it. Between neighbouring
  points (the last and the first included) each unit contributes the number of kinks between its
  two inputs; the sum is the count (Raghu et al., ICML 2017, and Novak et al., ICLR 2018, call it
  the transitions along a trajectory). It has no ceiling at ``T``: one step may cross many
  boundaries. It is a lower bound (a unit that crosses a kink and back between two neighbours
  is missed) that grows towards the true count as ``T`` grows;
* units: every ``nn.ReLU`` / ``nn.ReLU6`` module of the full forward pass; the model runs in
  train mode as every model proxy does, so BatchNorm uses the statistics of the loop's points
  (TE-NAS also ran its networks in train mode on its sample batches).

Cost: one forward pass of ``T`` points without gradients.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import ProxyError
from ._common import relu_modules, shared_model
from .base import ProxyContext, register_proxy

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["count_loop_crossings", "loop_points"]

#: where a unit of each counted activation changes slope (its region boundaries)
_KINKS = {"ReLU": (0.0,), "ReLU6": (0.0, 6.0)}


def loop_points(x0: torch.Tensor, x1: torch.Tensor, n_points: int) -> torch.Tensor:
    """(n_points, *x0.shape) points ``cos(t) x0 + sin(t) x1`` at ``t = 2 pi k / n_points``."""
    import torch

    t = torch.arange(n_points, dtype=torch.float64) * (2.0 * math.pi / n_points)
    shape = (n_points,) + (1,) * x0.dim()
    cos, sin = torch.cos(t).to(x0.dtype).view(shape), torch.sin(t).to(x0.dtype).view(shape)
    return cos * x0.unsqueeze(0) + sin * x1.unsqueeze(0)


class _KinkCrossings:
    """Forward hooks summing, over the ReLU units, the kinks between cyclically neighbouring samples."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.crossings = 0
        self.n_units = 0
        self._handles = [m.register_forward_hook(self._hook) for m in relu_modules(model)]

    def _hook(self, module: Any, inp: tuple, out: Any) -> None:
        import torch

        v = inp[0].detach().flatten(1)
        level = torch.zeros(v.shape, dtype=torch.int16, device=v.device)
        for kink in _KINKS["ReLU6" if isinstance(module, torch.nn.ReLU6) else "ReLU"]:
            level += v > kink  # how many kinks lie below the unit's input
        self.crossings += int((level - level.roll(1, dims=0)).abs().sum(dtype=torch.int64))
        self.n_units += v.shape[1]

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


def count_loop_crossings(model: torch.nn.Module, points: torch.Tensor) -> tuple[int, int]:
    """(kink crossings along the closed loop through ``points`` in order, ReLU units per sample).

    Raises:
        ProxyError: the model has no ReLU / ReLU6 module.
    """
    import torch

    if not relu_modules(model):
        raise ProxyError("model has no ReLU modules")
    hooks = _KinkCrossings(model)
    try:
        with torch.inference_mode():
            model(points)
    finally:
        hooks.remove()
    return hooks.crossings, hooks.n_units


@register_proxy(
    "linear_regions",
    description="ReLU linear regions crossed by a closed loop through two inputs, sampled at batch-size "
                "points (TE-NAS expressivity)",
    reference="Chen, Gong & Wang, ICLR 2021 (TE-NAS); regions along a curve: Hanin & Rolnick, ICML 2019",
)
def linear_regions(ctx: ProxyContext) -> float:
    """Regions the loop through ``ctx.inputs[0]`` and ``ctx.inputs[1]`` enters (at least the one it is in)."""
    if ctx.inputs is None:
        raise ProxyError("this proxy needs a model and an input batch (ctx.make_model / ctx.inputs missing)")
    x = ctx.inputs.detach()
    crossings, _ = count_loop_crossings(shared_model(ctx), loop_points(x[0], x[1], ctx.batch_size))
    return float(max(crossings, 1))
