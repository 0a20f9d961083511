"""Where an arch sits in a whole-space list (``kernels.space_ms`` of a latency table).

Shared by the table reader and the kernel counter, which write and read such lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..spaces import SearchSpace

__all__ = ["ORDER_CHOICES", "ORDER_INDEX", "arch_at_rank", "arch_rank", "space_order"]

#: ``kernels.space_ms`` orders: by the space's benchmark index (NB201), or by :func:`arch_rank`
ORDER_INDEX = "space index"
ORDER_CHOICES = "choices"


def space_order(space: SearchSpace) -> str:
    """How a whole-space list of ``space`` is ordered: its benchmark index where it has one (NB201),
    else :func:`arch_rank` (the macro spaces, which have arch strings only)."""
    from ..errors import EdgeNASError

    try:
        return ORDER_INDEX if space.index(space.from_index(0)) == 0 else ORDER_CHOICES
    except EdgeNASError:
        return ORDER_CHOICES


def arch_rank(space: SearchSpace, arch: Any) -> int:
    """Position of ``arch`` among all archs of ``space`` counted in mixed radix over
    :attr:`~edgenas.spaces.SearchSpace.choices` (first position most significant; the order of
    the base class's ``enumerate``), from its tokens alone."""
    rank = 0
    for options, tok in zip(space.choices, arch.tokens):
        rank = rank * len(options) + options.index(tok)
    return rank


def arch_at_rank(space: SearchSpace, rank: int) -> Any:
    """Inverse of :func:`arch_rank`."""
    tokens = []
    for options in reversed(space.choices):
        rank, digit = divmod(rank, len(options))
        tokens.append(options[digit])
    return space.arch(tuple(reversed(tokens)))
