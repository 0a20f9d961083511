"""Ensembles: rank aggregation of single proxies over a population.

An ensemble score is not a property of one arch: it is a rank within a population. The API makes
that explicit. Score the population with the single proxies first (the engine), then either

* :func:`aggregate` a whole table ``{proxy: (N,) scores}`` -> (N,) ensemble scores, ranks taken
  within those N archs (``edgenas proxies score`` and ``tools/bench_proxies.py`` do this); or
* :func:`ensemble_score` one candidate against a fixed **reference population** (the search does
  this, so a stored score never changes as the search goes on).

Ranks are ascending (worst = 1), ties get their average rank, and non-finite scores (a failed
proxy, NaN) are replaced by the column minimum before ranking, as in the VKDNW code.

Recipes (``list_ensembles()``):

* ``vkdnw_agg``: log rank(flops) + log rank(az_expressivity) + log rank(az_trainability)
  + log rank(jacov) + log rank(vkdnw_single) (Tybl & Neumann, CVPR 2025, Table 1).
* ``az_nas``: sum of log(rank / N) over az_expressivity, az_progressivity, az_trainability, flops
  (Lee & Ham, CVPR 2024).
* ``te_nas``: rank(ntk_cond) + rank(linear_regions) (Chen et al., ICLR 2021; ``ntk_cond`` is
  already negated so higher is better).
* ``edgenas_agg`` (ours): ``vkdnw_agg`` plus log rank(sed), the data-free topology proxy, as a
  sixth vote.
* ``edgenas_fast`` (ours): log ranks of flops, az_expressivity, az_trainability and sed: the
  cheap part of ``vkdnw_agg`` (one forward + backward) with sed in place of jacov/VKDNW, for CPU
  searches where the Jacobian-based proxies are too slow.
* ``edgenas_transfer`` (ours, the search default on NB201): not a rank aggregation but the space's
  linear accuracy prior (:mod:`edgenas.proxies.prior`): ``structure_prior`` (topology) plus
  weighted log FLOPs, log params, AZ expressivity and sed, weights fitted by
  ridge regression on 1,000 trained CIFAR-10 archs; the other datasets are held out
  (docs/benchmarks.md, "Search picks").
* ``edgenas_prior`` (ours, the default before a space has a prior): ``edgenas_fast`` plus log rank(params),
  with the data-free evidence weighted up: weights 1 (flops), 2 (params), 1, 1 (AZ expressivity,
  trainability), 2 (sed). Size and topology rank archs the same way on every dataset, while the
  init-statistics terms are noisy at the top of a budget-limited ranking; the weights were chosen
  together with the search's pick rule on CIFAR-10 only (docs/benchmarks.md, "Search picks"), the
  other datasets are held out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._registry import Registry
from ..errors import ProxyError

__all__ = [
    "ENSEMBLES",
    "EnsembleRecipe",
    "aggregate",
    "ensemble_components",
    "ensemble_score",
    "get_ensemble",
    "list_ensembles",
]

Aggregation = Literal["log_rank", "log_rank_over_n", "rank_sum", "linear"]


@dataclass(frozen=True)
class EnsembleRecipe:
    """A named rank aggregation.

    Attributes:
        name: registry name.
        components: single proxies whose ranks are combined (each higher = better).
        aggregation: ``log_rank`` (sum of log rank), ``log_rank_over_n`` (sum of log(rank/N)),
            or ``rank_sum`` (sum of ranks).
        description: one line for ``edgenas proxies list``.
        reference: where the recipe comes from.
        weights: one positive weight per component multiplying its term (empty = all 1).
        prior: ``linear`` only: the packaged prior file (``edgenas/spaces/data/``) whose terms
            weight the components; the first component is ``structure_prior``.
        pick_top_share: the search's pick rule for this recipe when the user gives none (``None`` =
            the search default, :data:`edgenas.search.config.DEFAULT_PICK_TOP_SHARE`).
    """

    name: str
    components: tuple[str, ...]
    aggregation: Aggregation
    description: str = ""
    reference: str = ""
    weights: tuple[float, ...] = ()
    prior: str | None = None
    pick_top_share: float | None = None

    def __post_init__(self) -> None:
        if (self.aggregation == "linear") != (self.prior is not None):
            raise ProxyError(f"ensemble {self.name!r}: a prior file goes with aggregation 'linear' only")
        if self.weights and (len(self.weights) != len(self.components) or min(self.weights) <= 0):
            raise ProxyError(f"ensemble {self.name!r}: expected one positive weight per component, "
                             f"got {self.weights!r} for {len(self.components)} components")

    @property
    def component_weights(self) -> np.ndarray:
        """(M,) weights of the components (ones when none are given)."""
        return np.asarray(self.weights or (1.0,) * len(self.components), dtype=np.float64)


ENSEMBLES: Registry[EnsembleRecipe] = Registry("ensemble")

for _r in (
    EnsembleRecipe(
        "vkdnw_agg", ("flops", "az_expressivity", "az_trainability", "jacov", "vkdnw_single"), "log_rank",
        "sum of log-ranks: FLOPs, AZ expressivity, AZ trainability, jacov, VKDNW_single",
        "Tybl & Neumann, CVPR 2025 (VKDNW Table 1)",
    ),
    EnsembleRecipe(
        "az_nas", ("az_expressivity", "az_progressivity", "az_trainability", "flops"), "log_rank_over_n",
        "sum of log(rank/N): AZ expressivity, progressivity, trainability, FLOPs",
        "Lee & Ham, CVPR 2024 (AZ-NAS)",
    ),
    EnsembleRecipe(
        "te_nas", ("ntk_cond", "linear_regions"), "rank_sum",
        "rank sum: NTK condition number (negated) + number of linear regions",
        "Chen, Gong & Wang, ICLR 2021 (TE-NAS)",
    ),
    EnsembleRecipe(
        "edgenas_agg",
        ("flops", "az_expressivity", "az_trainability", "jacov", "vkdnw_single", "sed"), "log_rank",
        "ours: vkdnw_agg plus the log-rank of the data-free sed topology proxy",
        "edgenas",
    ),
    EnsembleRecipe(
        "edgenas_fast", ("flops", "az_expressivity", "az_trainability", "sed"), "log_rank",
        "ours, CPU-cheap: log-ranks of FLOPs, AZ expressivity, AZ trainability and sed",
        "edgenas",
    ),
    EnsembleRecipe(
        "edgenas_prior", ("flops", "params", "az_expressivity", "az_trainability", "sed"), "log_rank",
        "ours, search default: edgenas_fast plus params, size and topology weighted 2x (weights 1,2,1,1,2)",
        "edgenas", weights=(1.0, 2.0, 1.0, 1.0, 2.0),
    ),
    EnsembleRecipe(
        "edgenas_paths", ("flops", "depth", "az_expressivity", "sed", "shortcut"), "log_rank",
        "ours, default of spaces without a prior: log-ranks of FLOPs, path depth, AZ expressivity, sed and "
        "the plain-depth penalty; pick = the best score",
        "edgenas (docs/benchmarks.md, \"Cross-space picks\")", pick_top_share=0.0,
    ),
    EnsembleRecipe(
        "edgenas_transfer",
        ("structure_prior", "flops", "params", "az_expressivity", "sed"), "linear",
        "ours, NB201 default: linear prior over topology and proxies, fitted on 1,000 trained CIFAR-10 archs",
        "edgenas (edgenas/spaces/data/nb201_prior.json)", prior="nb201_prior.json",
    ),
):
    ENSEMBLES.add(_r.name, _r)


def list_ensembles(pattern: str = "*") -> list[str]:
    """Registered ensemble names matching an fnmatch pattern."""
    return ENSEMBLES.names(pattern)


def get_ensemble(name: str) -> EnsembleRecipe:
    """The recipe registered as ``name`` (unknown names raise UnknownNameError)."""
    return ENSEMBLES.get(name)


def ensemble_components(name: str) -> tuple[str, ...]:
    """Single proxies the ensemble ``name`` needs."""
    return get_ensemble(name).components


def _clean_column(name: str, values: np.ndarray) -> np.ndarray:
    """Non-finite -> column minimum of the finite values (VKDNW rule); all non-finite -> zeros."""
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(v)
    if finite.all():
        return v
    floor = float(v[finite].min()) if finite.any() else 0.0
    return np.where(finite, v, floor)


def _linear(recipe: EnsembleRecipe, values: Mapping[str, float]) -> float:
    """A ``linear`` recipe's score of one arch: its structure_prior plus the prior's proxy terms
    (a failed structure_prior is the worst score)."""
    from .prior import load_prior

    base = float(values[recipe.components[0]])
    if not math.isfinite(base):
        return -math.inf
    return base + load_prior(recipe.prior).proxy_score({c: float(values[c]) for c in recipe.components[1:]})


def _combine(recipe: EnsembleRecipe, ranks: np.ndarray, n: float) -> np.ndarray:
    # ranks: (M components, N archs), ascending, in [1, n]
    w = recipe.component_weights[:, None]
    if recipe.aggregation == "log_rank":
        return (w * np.log(ranks)).sum(axis=0)
    if recipe.aggregation == "log_rank_over_n":
        return (w * np.log(ranks / n)).sum(axis=0)
    return (w * ranks).sum(axis=0)


def aggregate(name: str, table: Mapping[str, np.ndarray]) -> np.ndarray:
    """Ensemble scores of a population, ranks taken within it.

    Args:
        name: ensemble recipe.
        table: ``{component proxy: (N,) scores}`` for the same N archs in the same order
            (higher = better; NaN/inf allowed: they rank as the column minimum).

    Returns:
        (N,) float64 ensemble scores, higher = better. Only meaningful within this population.

    Raises:
        ProxyError: a component is missing or the columns differ in length.
    """
    from scipy.stats import rankdata

    recipe = get_ensemble(name)
    missing = [c for c in recipe.components if c not in table]
    if recipe.aggregation == "linear" and not missing:
        cols = [np.asarray(table[c], dtype=np.float64).ravel() for c in recipe.components]
        return np.array([_linear(recipe, dict(zip(recipe.components, row))) for row in zip(*cols)], dtype=np.float64)
    if missing:
        raise ProxyError(f"ensemble {name!r} needs scores for {', '.join(missing)}; "
                         f"expected columns {', '.join(recipe.components)}")
    cols = [_clean_column(c, table[c]) for c in recipe.components]
    n = {c.size for c in cols}
    if len(n) != 1:
        raise ProxyError(f"ensemble {name!r}: component columns differ in length ({sorted(n)})")
    size = n.pop()
    if size == 0:
        return np.zeros(0)
    ranks = np.vstack([rankdata(c, method="average") for c in cols])
    return _combine(recipe, ranks, float(size))


def ensemble_score(name: str, candidate: Mapping[str, float], reference: Mapping[str, np.ndarray]) -> float:
    """Ensemble score of one candidate ranked against a fixed reference population.

    Per component the candidate's rank is ``1 + #(reference below it) + 0.5 #(reference equal)``
    in ``1..R+1``, i.e. its average rank had it joined the R reference archs; the ranks are then
    combined as the recipe says (``N = R + 1``). Non-finite values (candidate or reference) count as
    the reference column's finite minimum. The score does not change when other candidates are
    scored, so it can be stored.

    Args:
        name: ensemble recipe.
        candidate: ``{component: score}`` of the candidate.
        reference: ``{component: (R,) scores}`` of the reference population.

    Returns:
        The candidate's ensemble score (higher = better).

    Raises:
        ProxyError: a component is missing from ``candidate`` or ``reference``.
    """
    recipe = get_ensemble(name)
    if recipe.aggregation == "linear":
        absent = [c for c in recipe.components if c not in candidate]
        if absent:
            raise ProxyError(f"ensemble {name!r}: candidate has no score for component {absent[0]!r}")
        return _linear(recipe, candidate)
    ranks = []
    size = None
    for c in recipe.components:
        if c not in candidate or c not in reference:
            where = "candidate" if c not in candidate else "reference"
            raise ProxyError(f"ensemble {name!r}: {where} has no score for component {c!r}")
        ref = _clean_column(c, reference[c])
        if size is None:
            size = ref.size
        elif ref.size != size:
            raise ProxyError(f"ensemble {name!r}: reference columns differ in length")
        v = float(candidate[c])
        if not math.isfinite(v):
            v = float(ref.min()) if ref.size else 0.0
        ranks.append(1.0 + float(np.sum(ref < v)) + 0.5 * float(np.sum(ref == v)))
    return float(_combine(recipe, np.array(ranks)[:, None], float((size or 0) + 1))[0])
