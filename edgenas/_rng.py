"""Explicit, order-independent randomness."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["as_rng", "derive_seed"]


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed or an existing Generator (``None`` -> seed 0, never entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(0 if seed is None else int(seed))


def derive_seed(seed: int, *parts: str) -> int:
    """A 63-bit seed derived from a run seed and string parts (e.g. a canonical arch key).

    Scores seeded this way do not depend on the order archs are evaluated in.
    """
    h = hashlib.sha256(str(int(seed)).encode())
    for p in parts:
        h.update(b"\x00" + p.encode())
    return int.from_bytes(h.digest()[:8], "little") & ((1 << 63) - 1)
