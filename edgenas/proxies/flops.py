"""``flops``: FLOPs per image (millions), NAS-Bench-201 API convention.

Uses :func:`edgenas.hardware.flops.count_flops_nb201` (conv/linear MACs plus BN, ReLU and
pooling elements), which matches the published NB201 ``flops`` up to a constant; ranking by
it therefore equals ranking by the benchmark's FLOPs (the VKDNW_agg complexity term).

The count adds up over a space's positions, so it is measured once per token change per process
(:class:`~edgenas.hardware.size.AdditiveTable`, in integer FLOPs: the sums are exact, equal to
counting the arch's own model bit for bit) instead of one traced forward per arch.
"""

from __future__ import annotations

from functools import lru_cache

from ..hardware.size import AdditiveTable
from ._common import shared_model
from .base import ProxyContext, register_proxy


def _flops_units(space, arch, dataset: str, input_shape: tuple[int, int, int]) -> tuple[float]:
    from ..hardware.flops import flops_nb201_units

    return (flops_nb201_units(space.build_model(arch, dataset), input_shape),)


@lru_cache(maxsize=16)
def _flops_table(space_name: str, dataset: str, input_shape: tuple[int, int, int]) -> AdditiveTable:
    from ..spaces import get_space

    return AdditiveTable(get_space(space_name), dataset,
                         lambda sp, a, ds: _flops_units(sp, a, ds, input_shape), n_checks=3)


@register_proxy(
    "flops",
    description="FLOPs per image, millions (NAS-Bench-201 convention)",
    reference="Dong & Yang, ICLR 2020 (benchmark API counts)",
)
def flops(ctx: ProxyContext) -> float:
    """FLOPs (millions) of one image at the dataset resolution."""
    shape = tuple(ctx.dataset.input_shape)
    table = _flops_table(ctx.space.name, ctx.layers_dataset, shape)
    if table.additive:
        return table(ctx.arch)[0] / 1e6
    from ..hardware.flops import count_flops_nb201

    return count_flops_nb201(shared_model(ctx), shape)
