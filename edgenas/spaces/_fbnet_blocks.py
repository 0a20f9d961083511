"""FBNet block tokens and their hyper-parameters (shared by the space and its network builder)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["BLOCKS", "BLOCK_CONFIGS", "BlockConfig"]

#: the 9 block choices, in HW-NAS-Bench / HELP op-index order
BLOCKS = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")


class BlockConfig(NamedTuple):
    """Hyper-parameters of one conv block token (``skip`` has none)."""

    kernel: int
    expansion: int
    groups: int


#: token -> block config; ``skip`` is absent
BLOCK_CONFIGS: dict[str, BlockConfig] = {
    "k3_e1": BlockConfig(3, 1, 1),
    "k3_e1_g2": BlockConfig(3, 1, 2),
    "k3_e3": BlockConfig(3, 3, 1),
    "k3_e6": BlockConfig(3, 6, 1),
    "k5_e1": BlockConfig(5, 1, 1),
    "k5_e1_g2": BlockConfig(5, 1, 2),
    "k5_e3": BlockConfig(5, 3, 1),
    "k5_e6": BlockConfig(5, 6, 1),
}
