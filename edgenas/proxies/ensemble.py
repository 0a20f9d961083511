"""Ensembles: rank aggregation of single proxies over a population.

An ensemble score is not a property of one arch: it is a rank within a population. The API makes
that explicit. Score the population with the single proxies first (the engine), then either

* :func:`aggregate` a whole table ``{proxy: (N,) scores}`` -> (N,) ensemble scores, ranks taken
  within those N archs (``edgenas proxies score`` and ``tools/bench_proxies.py`` do this); or
* :func:`ensemble_score` one candidate against a fixed **reference population** (the search does
  this, so a stored score never changes as the search goes on).

Ranks are ascending (worst = 1), ties get their average rank, and non-finite scores (a failed
proxy, NaN) are replaced by the column minimum before ranking, as in the VKDNW code. A recipe ranks
its components or, where it names them in ``terms``, *derived terms* (:data:`TERMS`): a function of
several components' scores computed per arch before ranking.

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
* ``edgenas_paths`` (ours, the search default of spaces without a prior): log ranks of flops,
  depth, az_expressivity, sed and the derived term ``plain_depth_penalty`` (minus the weighted
  layers beyond 18 on the shortest input-output path, from depth and skipped_depth: only networks
  whose every path is a deep plain chain rank lower; :mod:`edgenas.proxies.depth`).
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._registry import Registry
from ..errors import ProxyError
from .base import WORST_SCORE
from .depth import PLAIN_DEPTH_LIMIT, plain_depth_penalty

__all__ = [
    "ENSEMBLES",
    "TERMS",
    "DerivedTerm",
    "EnsembleRecipe",
    "aggregate",
    "ensemble_components",
    "ensemble_score",
    "get_ensemble",
    "list_ensembles",
]

Aggregation = Literal["log_rank", "log_rank_over_n", "rank_sum", "linear"]


@dataclass(frozen=True)
class DerivedTerm:
    """A ranked term computed per arch from the scores of several components.

    Attributes:
        name: registry name (what a recipe's ``terms`` lists).
        inputs: the components it reads, in the order ``fn`` takes them.
        fn: ``fn(*columns) -> column``, (N,) float64 arrays of successful scores in, (N,) out
            (higher = better).
        description: one line.
    """

    name: str
    inputs: tuple[str, ...]
    fn: Callable[..., np.ndarray]
    description: str = ""

    def values(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The term of each arch; an arch whose input failed gets that failure: the engine's worst score
        if any input has it (it then ranks below every real value, as a failed component does), else NaN
        (the column minimum after cleaning)."""
        cols = [np.asarray(columns[c], dtype=np.float64).ravel() for c in self.inputs]
        worst = np.zeros(cols[0].shape, dtype=bool)
        bad = np.zeros(cols[0].shape, dtype=bool)
        for c in cols:
            finite = np.isfinite(c)
            worst |= finite & (c <= WORST_SCORE)
            bad |= ~finite
        ok = ~(worst | bad)
        out = np.full(cols[0].shape, np.nan)
        out[ok] = self.fn(*(c[ok] for c in cols))
        out[worst] = WORST_SCORE
        return out


TERMS: Registry[DerivedTerm] = Registry("ensemble term")
TERMS.add("plain_depth_penalty", DerivedTerm(
    "plain_depth_penalty", ("depth", "skipped_depth"), plain_depth_penalty,
    f"minus the weighted layers beyond {PLAIN_DEPTH_LIMIT} on the shortest input-output path "
    "(depth - skipped_depth): 0 unless every path is a deep plain chain",
))


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
        terms: rank aggregations only: what is ranked, each a component or a :data:`TERMS` name
            whose inputs are components (a component only read by a term is not ranked itself);
            empty = the components. ``weights`` then has one weight per term.
    """

    name: str
    components: tuple[str, ...]
    aggregation: Aggregation
    description: str = ""
    reference: str = ""
    weights: tuple[float, ...] = ()
    prior: str | None = None
    pick_top_share: float | None = None
    terms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.aggregation == "linear") != (self.prior is not None):
            raise ProxyError(f"ensemble {self.name!r}: a prior file goes with aggregation 'linear' only")
        if self.terms and self.aggregation == "linear":
            raise ProxyError(f"ensemble {self.name!r}: derived terms go with rank aggregations only")
        for t in self.terms:
            inputs = (t,) if t in self.components else TERMS.get(t).inputs
            if not set(inputs) <= set(self.components):
                raise ProxyError(f"ensemble {self.name!r}: term {t!r} reads {', '.join(inputs)}; expected "
                                 f"components among {', '.join(self.components)}")
        n, what = (len(self.terms), "ranked term") if self.terms else (len(self.components), "component")
        if self.weights and (len(self.weights) != n or min(self.weights) <= 0):
            raise ProxyError(f"ensemble {self.name!r}: expected one positive weight per {what}, "
                             f"got {self.weights!r} for {n} {what}s")

    @property
    def ranked(self) -> tuple[str, ...]:
        """What is ranked: ``terms``, or the components when there are none."""
        return self.terms or self.components

    @property
    def component_weights(self) -> np.ndarray:
        """(M,) weights of the ranked terms (ones when none are given)."""
        return np.asarray(self.weights or (1.0,) * len(self.ranked), dtype=np.float64)

    def term_values(self, term: str, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """(N,) values of ranked ``term`` from the component ``columns`` (not yet cleaned)."""
        if term in self.components:
            return np.asarray(columns[term], dtype=np.float64).ravel()
        return TERMS.get(term).values(columns)


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
        "edgenas_paths", ("flops", "depth", "az_expressivity", "sed", "skipped_depth"), "log_rank",
        "ours, default of spaces without a prior: log-ranks of FLOPs, path depth, AZ expressivity, sed and "
        "the plain-depth penalty (from depth and skipped_depth); pick = the best score",
        "edgenas (docs/benchmarks.md, \"Cross-space picks\")", pick_top_share=0.0,
        terms=("flops", "depth", "az_expressivity", "sed", "plain_depth_penalty"),
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
    # ranks: (M ranked terms, N archs), ascending, in [1, n]
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
    raw = {c: np.asarray(table[c], dtype=np.float64).ravel() for c in recipe.components}
    n = {c.size for c in raw.values()}
    if len(n) != 1:
        raise ProxyError(f"ensemble {name!r}: component columns differ in length ({sorted(n)})")
    size = n.pop()
    cols = [_clean_column(t, recipe.term_values(t, raw)) for t in recipe.ranked]
    if size == 0:
        return np.zeros(0)
    ranks = np.vstack([rankdata(c, method="average") for c in cols])
    return _combine(recipe, ranks, float(size))


def ensemble_score(name: str, candidate: Mapping[str, float], reference: Mapping[str, np.ndarray]) -> float:
    """Ensemble score of one candidate ranked against a fixed reference population.

    Per ranked term the candidate's rank is ``1 + #(reference below it) + 0.5 #(reference equal)``
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
    for c in recipe.components:
        if c not in candidate or c not in reference:
            where = "candidate" if c not in candidate else "reference"
            raise ProxyError(f"ensemble {name!r}: {where} has no score for component {c!r}")
    if len({np.asarray(reference[c]).size for c in recipe.components}) != 1:
        raise ProxyError(f"ensemble {name!r}: reference columns differ in length")
    one = {c: np.array([float(candidate[c])]) for c in recipe.components}
    ranks = []
    size = None
    for t in recipe.ranked:
        ref = _clean_column(t, recipe.term_values(t, reference))
        size = ref.size
        v = float(recipe.term_values(t, one)[0])
        if not math.isfinite(v):
            v = float(ref.min()) if ref.size else 0.0
        ranks.append(1.0 + float(np.sum(ref < v)) + 0.5 * float(np.sum(ref == v)))
    return float(_combine(recipe, np.array(ranks)[:, None], float((size or 0) + 1))[0])
