"""Per-arch measures that add up over a space's positions, measured once per token change.

For spaces whose positions have fixed input/output shapes (NB201's cell edges, FBNet's per-layer
blocks) each position contributes an amount that depends only on its own token, so
``measure(arch) = base + sum_p delta[p][token_p]``. :class:`AdditiveTable` measures a delta on a
built model once per distinct change of the layer list (``space.layers``), checks additivity on
random archs, and falls back to measuring every arch (cached) when the check fails.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ..spaces import Arch, SearchSpace

__all__ = ["AdditiveTable", "SizeTable", "arch_size", "arch_sizes", "size_table"]

log = logging.getLogger(__name__)

Measure = Callable[[SearchSpace, Arch, str], tuple[float, ...]]


class AdditiveTable:
    """``measure(space, arch, dataset)`` (a tuple of floats) of any arch, from few measurements.

    Args:
        space, dataset: what is measured.
        measure: the exact measurement of one arch.
        n_checks: random archs on which the sum must equal the measurement (relative 1e-6).
        seed: seed of those archs.

    ``additive`` tells whether the sums are used; sums of integer counts (e.g. FLOPs in units, not
    millions) are exact, so they equal the measurement bit for bit.
    """

    def __init__(self, space: SearchSpace, dataset: str, measure: Measure, *, n_checks: int = 2,
                 seed: int = 0) -> None:
        self.space = space
        self.dataset = dataset
        self._measure_fn = measure
        self._cache: dict[str, tuple[float, ...]] = {}
        base_tokens = tuple(c[0] for c in space.choices)
        base_arch = space.arch(base_tokens)
        self._base = self._measure(base_arch)
        base_keys = [(lay.op, lay.in_shape, lay.out_shape, lay.params) for lay in space.layers(base_arch, dataset)]
        by_change: dict[tuple, tuple[float, ...]] = {}
        zero = tuple(0.0 for _ in self._base)
        self._delta: list[dict[str, tuple[float, ...]]] = []
        for p, options in enumerate(space.choices):
            d: dict[str, tuple[float, ...]] = {options[0]: zero}
            for tok in options[1:]:
                tokens = list(base_tokens)
                tokens[p] = tok
                variant = space.arch(tuple(tokens))
                keys = [(lay.op, lay.in_shape, lay.out_shape, lay.params) for lay in space.layers(variant, dataset)]
                # what the token change does to the network, wherever it happens
                change = (tuple(sorted(_multiset_diff(keys, base_keys))),
                          tuple(sorted(_multiset_diff(base_keys, keys))))
                if change not in by_change:
                    m = self._measure(variant)
                    by_change[change] = tuple(x - y for x, y in zip(m, self._base))
                d[tok] = by_change[change]
            self._delta.append(d)
        rng = np.random.default_rng(seed)
        self.additive = True
        for _ in range(n_checks):
            a = space.sample(rng)
            direct = self._measure(a)
            pred = self._sum(a)
            if any(abs(x - y) > 1e-6 * max(1.0, abs(x)) for x, y in zip(direct, pred)):
                log.info("space %s is not additive in %s; measuring every arch", space.name,
                         getattr(measure, "__name__", "the measure"))
                self.additive = False
                break

    def _measure(self, arch: Arch) -> tuple[float, ...]:
        key = self.space.format(arch)
        if key not in self._cache:
            self._cache[key] = tuple(float(x) for x in self._measure_fn(self.space, arch, self.dataset))
        return self._cache[key]

    def _sum(self, arch: Arch) -> tuple[float, ...]:
        total = list(self._base)
        for d, tok in zip(self._delta, arch.tokens):
            for k, v in enumerate(d[tok]):
                total[k] += v
        return tuple(total)

    def __call__(self, arch: Arch) -> tuple[float, ...]:
        """The measure of ``arch``."""
        return self._sum(arch) if self.additive else self._measure(arch)


def _multiset_diff(a: list, b: list) -> list:
    """``repr`` of the elements of ``a`` not matched one-to-one in ``b`` (multiset difference)."""
    return list((Counter(map(repr, a)) - Counter(map(repr, b))).elements())


class SizeTable(AdditiveTable):
    """MACs and params, ``(macs_m, params_m)``, of a space whose positions have fixed shapes.

    An :class:`~edgenas.hardware.size.AdditiveTable` of fvcore MACs (BN folded) and parameters
    measured on built models (or the space's closed form, FBNet): NB201's six edges share shapes,
    so 1 + 4 traces cover every (position, token) instead of ~0.1-1 s of tracing per candidate.
    """

    def __init__(self, space: SearchSpace, dataset: str, *, n_checks: int = 2, seed: int = 0) -> None:
        super().__init__(space, dataset, _size_of, n_checks=n_checks, seed=seed)


def arch_size(space: SearchSpace, arch: Arch, dataset: str) -> tuple[float, float]:
    """``(macs_m, params_m)`` of one arch at the dataset's resolution: the space's closed form
    (``analytic_size``) where it has one, else fvcore on the built model."""
    return _size_of(space, arch, dataset)


def arch_sizes(space: SearchSpace, archs: list[Arch], dataset: str) -> list[tuple[float, float]]:
    """``(macs_m, params_m)`` of many archs: the closed form per arch where the space has one (every
    shipped space), else the space's :class:`SizeTable` (a few traces, then sums; what a search shows)
    rather than one fvcore trace per arch."""
    if getattr(space, "analytic_size", None) is not None:
        return [_size_of(space, a, dataset) for a in archs]
    table = size_table(space, dataset)
    return [table(a) for a in archs]


def _size_of(space: SearchSpace, arch: Arch, dataset: str) -> tuple[float, float]:
    analytic = getattr(space, "analytic_size", None)
    if analytic is not None:  # closed form (FBNet): no tracing
        return tuple(analytic(arch, dataset))
    from .flops import count_macs, count_params

    model = space.build_model(arch, dataset)
    params_m, _ = count_params(model)
    macs_m, _ = count_macs(model, space.dataset(dataset).input_shape)
    return macs_m, params_m


@lru_cache(maxsize=16)
def size_table(space: SearchSpace, dataset: str) -> SizeTable:
    """The (cached) :class:`SizeTable` of a space and dataset (spaces are stateless singletons)."""
    return SizeTable(space, dataset)
