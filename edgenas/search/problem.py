"""The search problem: objectives, hard budgets (constraints g <= 0) and cheap per-arch costs.

Everything here is cheap (table lookups and sums), so candidates are filtered against the budgets
*before* any proxy runs. Internally every objective is minimised (a maximised proxy score is
negated), following pymoo's convention.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from .._limits import BUDGET_BOUNDS
from .._rng import derive_seed
from ..errors import ConfigError, InfeasibleError, MissingLatencyError
from ..hardware.size import SizeTable
from ..spaces import Arch, SearchSpace

__all__ = ["AdditiveSizeTable", "ArchCost", "Budgets", "CostEvaluator", "LatencyModel", "Objective", "check_feasible"]

#: random draws the feasibility check and each refill may spend before giving up
MAX_DRAWS = 20_000

log = logging.getLogger(__name__)


class LatencyModel(Protocol):
    """What the search needs from a hardware cost model (``edgenas.hardware.cost.CostModel``)."""

    def predict(self, arch: Arch) -> Any:  # -> object with ``latency_ms`` and ``source``
        ...


@dataclass(frozen=True)
class Budgets:
    """Hard limits; ``None`` = unconstrained. Each is a positive finite number up to its bound in
    :data:`edgenas._limits.BUDGET_BOUNDS` (1e6 ms, 1e6 M params, 1e6 M MACs).

    Attributes:
        max_latency_ms: per-image latency limit, milliseconds: one number for every target, or
            ``{target: ms}`` (targets not named are unconstrained).
        max_params_m: trainable parameters limit, millions.
        max_macs_m: multiply-accumulates per image limit, millions.
    """

    max_latency_ms: float | Mapping[str, float] | None = None
    max_params_m: float | None = None
    max_macs_m: float | None = None

    def __post_init__(self) -> None:
        lat = self.max_latency_ms
        checks = [(f"max_latency_ms[{t}]", v) for t, v in lat.items()] if isinstance(lat, Mapping) else \
            [("max_latency_ms", lat)]
        checks += [("max_params_m", self.max_params_m), ("max_macs_m", self.max_macs_m)]
        for name, v in checks:
            if v is None:
                continue
            hi, unit = BUDGET_BOUNDS[name.split("[")[0]]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= hi:
                raise ConfigError(f"budget {name}={v!r} is invalid; expected a positive finite number of {unit} "
                                  f"up to {hi:g}")

    def latency_limit(self, target: str) -> float | None:
        """The latency budget on ``target``, ms (``None`` = none)."""
        lat = self.max_latency_ms
        if isinstance(lat, Mapping):
            v = lat.get(target)
            return None if v is None else float(v)
        return None if lat is None else float(lat)

    def describe(self) -> str:
        """Human summary, e.g. ``latency <= 5 ms, params <= 1 M``."""
        parts = []
        lat = self.max_latency_ms
        if isinstance(lat, Mapping):
            parts += [f"{t} latency <= {v:g} ms" for t, v in sorted(lat.items())]
        elif lat is not None:
            parts.append(f"latency <= {lat:g} ms")
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
        for t in sorted(self.latency_ms):
            limit = budgets.latency_limit(t)
            if limit is not None:
                g.append(self.latency_ms[t] - limit)
        if budgets.max_params_m is not None:
            g.append(self.params_m - budgets.max_params_m)
        if budgets.max_macs_m is not None:
            g.append(self.macs_m - budgets.max_macs_m)
        return np.asarray(g, dtype=float)

    def feasible(self, budgets: Budgets) -> bool:
        """Every budget met and every target priced."""
        return not self.missing and bool(np.all(self.violations(budgets) <= 0.0))


#: the search's MACs/params table (a name of its own so tests can swap it for a fake)
AdditiveSizeTable = SizeTable


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


def check_feasible(space: SearchSpace, cost: CostEvaluator, budgets: Budgets, seed: int) -> int | None:
    """Raise :class:`InfeasibleError` if no arch meets the budgets; else the number of feasible
    isomorphism classes (degenerate ones excluded) of an enumerable space, ``None`` for a large one.

    Enumerates spaces of at most ``MAX_DRAWS`` archs (exact); otherwise draws ``MAX_DRAWS`` random
    archs. The message names the budgets and the best value seen for each, so the user knows how
    far off they are.
    """
    if space.size <= MAX_DRAWS:
        archs = space.enumerate()
        how = f"all {space.size:,} archs checked"
    else:
        rng = np.random.default_rng(derive_seed(seed, "feasibility"))
        # the extremes first: random draws of a 22-layer space almost never skip every layer, the
        # smallest network there is
        uniform = uniform_archs(space)
        archs = itertools.chain(uniform, (space.sample(rng) for _ in range(MAX_DRAWS)))
        how = f"{len(uniform)} one-block archs and {MAX_DRAWS:,} random archs checked"
    best_lat: dict[str, float] = {}
    best_params = best_macs = math.inf
    n_degenerate = 0
    enumerable = space.size <= MAX_DRAWS
    classes: set[str] = set()
    for a in archs:
        if space.is_degenerate(a):
            n_degenerate += 1
            continue
        c: ArchCost = cost(a)
        if c.feasible(budgets):
            if not enumerable:
                return None
            classes.add(space.iso_key(a))
            continue
        for t, v in c.latency_ms.items():
            best_lat[t] = min(best_lat.get(t, math.inf), v)
        best_params = min(best_params, c.params_m)
        best_macs = min(best_macs, c.macs_m)
    if classes:
        return len(classes)
    if n_degenerate:
        how += f", {n_degenerate:,} degenerate ones excluded"
    seen = [f"fastest on {t} {v:.3g} ms" for t, v in sorted(best_lat.items())]
    if budgets.max_params_m is not None:
        seen.append(f"smallest {best_params:.3g} M params")
    if budgets.max_macs_m is not None:
        seen.append(f"fewest {best_macs:.3g} M MACs")
    raise InfeasibleError(
        f"no {space.name} architecture meets the budgets ({budgets.describe()}; {how}: {', '.join(seen)}); "
        "expected budgets at least that large" + ("" if enumerable else " (a larger sample may find a smaller arch)"),
    )


def uniform_archs(space: SearchSpace) -> list[Arch]:
    """One arch per token of the space: that token at every position that offers it, the position's first
    choice elsewhere (the all-``skip`` arch among them: a chain space's smallest network)."""
    out: dict[tuple[str, ...], Arch] = {}
    for tok in sorted({t for c in space.choices for t in c}):
        tokens = tuple(tok if tok in c else c[0] for c in space.choices)
        if tokens not in out:
            out[tokens] = space.arch(tokens)
    return list(out.values())


#: random archs drawn to judge a budget of a space too large to enumerate
LOOSE_BUDGET_DRAWS = 1_000


def loose_budget_note(space: SearchSpace, cost: CostEvaluator, budgets: Budgets, seed: int,
                      targets: Sequence[str]) -> str | None:
    """One note naming every budget no arch exceeds (it excludes nothing: the search runs as without it),
    with the largest value the space reaches; ``None`` when every budget given binds.

    Enumerable spaces are checked whole (their costs are cached by :func:`check_feasible`); larger
    ones on :data:`LOOSE_BUDGET_DRAWS` random archs.
    """
    limits: dict[str, tuple[float, str]] = {}
    for t in targets:
        v = budgets.latency_limit(t)
        if v is not None:
            per = isinstance(budgets.max_latency_ms, Mapping)
            limits[f"latency:{t}"] = (v, f"--max-latency-ms {t}={v:g}" if per else f"--max-latency-ms {v:g} on {t}")
    if budgets.max_params_m is not None:
        limits["params"] = (budgets.max_params_m, f"--max-params-m {budgets.max_params_m:g}")
    if budgets.max_macs_m is not None:
        limits["macs"] = (budgets.max_macs_m, f"--max-macs-m {budgets.max_macs_m:g}")
    if not limits:
        return None
    if space.size <= MAX_DRAWS:
        archs: Any = space.enumerate()
        how = f"all {space.size:,} archs"
    else:
        rng = np.random.default_rng(derive_seed(seed, "loose-budgets"))
        archs = (space.sample(rng) for _ in range(LOOSE_BUDGET_DRAWS))
        how = f"{LOOSE_BUDGET_DRAWS:,} random archs"
    most = dict.fromkeys(limits, -math.inf)
    for a in archs:
        if space.is_degenerate(a):
            continue
        c = cost(a)
        for key in most:
            kind, _, t = key.partition(":")
            v = c.latency_ms.get(t, -math.inf) if kind == "latency" else c.params_m if kind == "params" else c.macs_m
            most[key] = max(most[key], v)
        if all(most[k] > limits[k][0] for k in most):
            return None  # every budget excludes something: stop early
    loose = [f"{limits[k][1]} (largest {most[k]:.3g})" for k in most if most[k] <= limits[k][0]]
    if not loose:
        return None
    return (f"{'this budget excludes' if len(loose) == 1 else 'these budgets exclude'} no arch of {how}: "
            f"{'; '.join(loose)}; the search ran as without {'it' if len(loose) == 1 else 'them'}")

