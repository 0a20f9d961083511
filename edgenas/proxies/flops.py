"""``flops``: FLOPs per image (millions), NAS-Bench-201 API convention.

Uses :func:`edgenas.hardware.flops.count_flops_nb201` (conv/linear MACs plus BN, ReLU and
pooling elements), which matches the published NB201 ``flops`` up to a constant; ranking by
it therefore equals ranking by the benchmark's FLOPs (the VKDNW_agg complexity term).
"""

from __future__ import annotations

from ._common import shared_model
from .base import ProxyContext, register_proxy


@register_proxy(
    "flops",
    description="FLOPs per image, millions (NAS-Bench-201 convention)",
    reference="Dong & Yang, ICLR 2020 (benchmark API counts)",
)
def flops(ctx: ProxyContext) -> float:
    """FLOPs (millions) of one image at the dataset resolution."""
    from ..hardware.flops import count_flops_nb201

    model = shared_model(ctx)
    return count_flops_nb201(model, ctx.dataset.input_shape)
