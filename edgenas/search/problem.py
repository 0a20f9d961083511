"""The search problem: objectives, hard budgets (constraints g <= 0) and cheap per-arch costs.

Everything here is cheap (table lookups and sums), so candidates are filtered against the budgets
*before* any proxy runs. Internally every objective is minimised (a maximised proxy score is
negated), following pymoo's convention.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from ..errors import ConfigError, MissingLatencyError
from ..hardware.size import AdditiveTable
from ..spaces import Arch, SearchSpace

__all__ = ["AdditiveSizeTable", "ArchCost", "Budgets", "CostEvaluator", "LatencyModel", "Objective"]

log = logging.getLogger(__name__)


class LatencyModel(Protocol):
    """What the search needs from a hardware cost model (``edgenas.hardware.cost.CostModel``)."""

    def predict(self, arch: Arch) -> Any:  # -> object with ``latency_ms`` and ``source``
        ...


@dataclass(frozen=True)
class Budgets:
    """Hard limits; ``None`` = unconstrained. A latency budget applies to every target.

    Attributes:
        max_latency_ms: per-image latency limit on each target, milliseconds.
        max_params_m: trainable parameters limit, millions.
        max_macs_m: multiply-accumulates per image limit, millions.
    """

    max_latency_ms: float | None = None
    max_params_m: float | None = None
    max_macs_m: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_latency_ms", "max_params_m", "max_macs_m"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ConfigError(f"budget {name}={v!r} is invalid; expected a positive finite number")

    def describe(self) -> str:
        """Human summary, e.g. ``latency <= 5 ms, params <= 1 M``."""
        parts = []
        if self.max_latency_ms is not None:
            parts.append(f"latency <= {self.max_latency_ms:g} ms")
        if self.max_params_m is not None:
            parts.append(f"params <= {self.max_params_m:g} M")
        if self.max_macs_m is not None:
            parts.append(f"MACs <= {self.max_macs_m:g} M")
        return ", ".join(parts) or "no budgets"


@dataclass(frozen=True)
class Objective:
    """One objective column: ``name`` and whether larger values are better."""

    name: str
    direction: Literal["max", "min"]

    def minimised(self, value: float) -> float:
        """The value as pymoo minimises it."""
        return -value if self.direction == "max" else value


@dataclass(frozen=True)
class ArchCost:
    """Cheap costs of one arch.

    Attributes:
        latency_ms: {target name: predicted/measured latency, ms}.
        latency_source: {target name: where the number comes from ("measured", "predicted", ...)}.
        macs_m: multiply-accumulates per image, millions (fvcore convention, BN folded).
        params_m: trainable parameters, millions.
        missing: targets whose cost model had no entry (the arch is then infeasible).
    """

    latency_ms: Mapping[str, float]
    latency_source: Mapping[str, str]
    macs_m: float
    params_m: float
    missing: tuple[str, ...] = ()

    def violations(self, budgets: Budgets) -> np.ndarray:
        """Constraint values g (<= 0 is satisfied): one per target latency, then params, MACs."""
        g: list[float] = []
        if budgets.max_latency_ms is not None:
            for t in sorted(self.latency_ms):
                g.append(self.latency_ms[t] - budgets.max_latency_ms)
        if budgets.max_params_m is not None:
            g.append(self.params_m - budgets.max_params_m)
        if budgets.max_macs_m is not None:
            g.append(self.macs_m - budgets.max_macs_m)
        return np.asarray(g, dtype=float)

    def feasible(self, budgets: Budgets) -> bool:
        """Every budget met and every target priced."""
        return not self.missing and bool(np.all(self.violations(budgets) <= 0.0))


class AdditiveSizeTable(AdditiveTable):
    """MACs and params, ``(macs_m, params_m)``, of a space whose positions have fixed shapes.

    An :class:`~edgenas.hardware.size.AdditiveTable` of fvcore MACs (BN folded) and parameters
    measured on built models (or the space's closed form, FBNet): NB201's six edges share shapes,
    so 1 + 4 traces cover every (position, token) instead of ~0.1-1 s of tracing per candidate.
    """

    def __init__(self, space: SearchSpace, dataset: str, *, n_checks: int = 2, seed: int = 0) -> None:
        super().__init__(space, dataset, _size_of, n_checks=n_checks, seed=seed)


def _size_of(space: SearchSpace, arch: Arch, dataset: str) -> tuple[float, float]:
    analytic = getattr(space, "analytic_size", None)
    if analytic is not None:  # closed form (FBNet): no tracing
        return tuple(analytic(arch, dataset))
    from ..hardware.flops import count_macs, count_params

    model = space.build_model(arch, dataset)
    params_m, _ = count_params(model)
    macs_m, _ = count_macs(model, space.dataset(dataset).input_shape)
    return macs_m, params_m


@dataclass
class CostEvaluator:
    """Prices archs on every target plus MACs/params, with a per-arch cache.

    Args:
        space: the search space.
        targets: {target name: cost model with ``predict(arch)``}.
        size: callable arch -> (macs_m, params_m).
    """

    space: SearchSpace
    targets: Mapping[str, LatencyModel]
    size: Any
    _cache: dict[str, ArchCost] = field(default_factory=dict, repr=False)

    def __call__(self, arch: Arch) -> ArchCost:
        key = self.space.format(arch)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        lat: dict[str, float] = {}
        src: dict[str, str] = {}
        missing: list[str] = []
        for name, model in self.targets.items():
            try:
                pred = model.predict(arch)
            except MissingLatencyError:
                missing.append(name)
                continue
            lat[name] = float(pred.latency_ms)
            src[name] = str(pred.source)
        macs_m, params_m = self.size(arch)
        cost = ArchCost(lat, src, float(macs_m), float(params_m), tuple(missing))
        self._cache[key] = cost
        return cost

    def many(self, archs: Sequence[Arch]) -> list[ArchCost]:
        """Costs of several archs, in order."""
        return [self(a) for a in archs]
