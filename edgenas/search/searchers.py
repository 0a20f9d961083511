"""Searchers: strategies that pick which archs to score. Registered by name.

A searcher is a function ``fn(ctx: SearchContext) -> None`` that proposes archs and calls
``ctx.evaluate`` until ``ctx.remaining == 0`` (or it has nothing new to propose). It draws all its
randomness from ``ctx.rng``, so a run with the same seed and config replays the same trajectory:
that is what makes ``--resume`` exact (already-scored archs come back from the store).

``nsga2`` uses pymoo for what pymoo does well (``RankAndCrowding``: fast non-dominated sorting and
crowding-distance survival) and edgenas' own operators for what pymoo cannot know: sampling,
uniform crossover and token mutation that honour ``space.choices``, the budgets (infeasible
children are never scored) and isomorphism (a child whose iso key was already scored is redrawn).
pymoo's own ``minimize`` loop was not used: it evaluates whole generations through its Problem
interface, which does not fit per-candidate durable scoring and replay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .._registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from .evaluator import SearchContext
    from .result import Candidate

__all__ = ["SEARCHERS", "get_searcher", "list_searchers", "register_searcher"]

Searcher = Callable[["SearchContext"], None]
SEARCHERS: Registry[Searcher] = Registry("searcher")


def register_searcher(name: str) -> Callable[[Searcher], Searcher]:
    """Decorator registering ``fn(ctx) -> None`` as searcher ``name``."""
    return SEARCHERS.register(name)


def get_searcher(name: str) -> Searcher:
    """The searcher registered as ``name``."""
    return SEARCHERS.get(name)


def list_searchers(pattern: str = "*") -> list[str]:
    """Registered searcher names."""
    return SEARCHERS.names(pattern)


@register_searcher("random")
def random_search(ctx: SearchContext) -> None:
    """Uniform random feasible archs (each isomorphism class at most once), in batches of
    ``population``. The baseline every other searcher must beat."""
    while ctx.remaining > 0:
        batch = ctx.sample_feasible(min(ctx.population, ctx.remaining))
        if not batch:
            return
        ctx.evaluate(batch)


@register_searcher("exhaustive")
def exhaustive_search(ctx: SearchContext) -> None:
    """Every feasible isomorphism class, in the space's enumeration order, until the budget is
    spent (spaces small enough to enumerate, e.g. NB201; raises ArchError otherwise). With
    ``evaluations`` at least the number of feasible classes it scores them all: the reference a
    searcher is measured against, and the right choice when scoring is cheap."""
    batch: list = []
    keys: set[str] = set()
    for arch in ctx.space.enumerate():
        if ctx.remaining - len(batch) <= 0:
            break
        key = ctx.space.iso_key(arch)
        if key in keys or ctx.seen(key) or not ctx.feasible(arch):
            continue
        keys.add(key)
        batch.append(arch)
        if len(batch) == ctx.population:
            ctx.evaluate(batch)
            batch = []
    if batch and ctx.remaining > 0:
        ctx.evaluate(batch)


def _rank_and_crowding(F: np.ndarray, n_survive: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pymoo's NSGA-II survival on ``F`` (N, M) (minimised): (survivor indices, rank, crowding)."""
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem
    from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

    pop = Population.new("F", F)
    problem = Problem(n_var=1, n_obj=F.shape[1])
    idx = RankAndCrowding().do(problem, pop, n_survive=n_survive, random_state=rng, return_indices=True)
    idx = np.asarray(idx, dtype=int)
    rank = np.asarray([pop[i].get("rank") for i in idx], dtype=float)
    crowd = np.asarray([pop[i].get("crowding") for i in idx], dtype=float)
    return idx, rank, crowd


def _tournament(rank: np.ndarray, crowd: np.ndarray, rng: np.random.Generator) -> int:
    """Binary tournament: lower rank wins, then larger crowding distance."""
    a, b = (int(x) for x in rng.integers(len(rank), size=2))
    if rank[a] != rank[b]:
        return a if rank[a] < rank[b] else b
    return a if crowd[a] >= crowd[b] else b


def _fresh_arch(ctx: SearchContext, genome: np.ndarray, taken: set[str]) -> tuple[str, Any] | None:
    """(iso key, arch) of ``genome`` if it is feasible and neither scored nor already ``taken``."""
    arch = ctx.space.decode(genome)
    key = ctx.space.iso_key(arch)
    if key in taken or ctx.seen(key) or not ctx.feasible(arch):
        return None
    return key, arch


def _local_search(ctx: SearchContext) -> None:
    """Steepest-ascent hill climbing on the proxy score from the best candidates, until the budget
    is spent: score every unseen feasible single-position change of the best not yet expanded
    candidate (its neighbourhood; each as its cheapest class member), then expand the next best.
    A better neighbour becomes the next best at once, so the climb follows improvements."""
    space = ctx.space
    choices = space.choices
    expanded: set[str] = set()
    while ctx.remaining > 0:
        todo = [c for c in ctx.candidates if c.iso_key not in expanded]
        if not todo:
            return
        best = max(todo, key=lambda c: (c.score, -c.order))
        expanded.add(best.iso_key)
        g = space.encode(space.parse(best.arch))
        neighbours, keys = [], set()
        for p in range(len(choices)):
            for t in range(len(choices[p])):
                if t == g[p]:
                    continue
                child = g.copy()
                child[p] = t
                fresh = _fresh_arch(ctx, child, keys)
                if fresh is not None:
                    keys.add(fresh[0])
                    neighbours.append(fresh[1])
        # the order of a neighbourhood is drawn from the run RNG: with a budget smaller than the
        # neighbourhood, which neighbours get scored is not biased to the first positions
        order = ctx.rng.permutation(len(neighbours))
        ctx.evaluate([neighbours[i] for i in order])


@register_searcher("nsga2")
def nsga2(ctx: SearchContext, *, crossover_prob: float = 0.9, max_tries_per_child: int = 50,
          init_pool: int = 5, local_share: float = 0.6) -> None:
    """NSGA-II (Deb et al. 2002) over the space's integer genome.

    Initial population (= the ensemble reference population): ``init_pool * population`` random
    feasible archs are drawn and the ``population`` archs at evenly spaced latency ranks (first
    target) are kept. Latency is free, so this seeds the whole latency range, including the fast
    extreme that a few generations of mutation rarely reach.

    Offspring: binary tournament on (rank, crowding), uniform crossover with probability
    ``crossover_prob``, then per-position token mutation with rate 1/n_positions (at least one
    position changes when the child would equal a parent). Children that break a budget or repeat an
    already-scored isomorphism class are redrawn; if ``max_tries_per_child * population`` draws do
    not fill the offspring, it is topped up with fresh random feasible archs.

    Last ``local_share`` of the evaluations: :func:`_local_search` from the best-scoring candidates
    (NSGA-II spreads its population along the whole latency range, so the top-score corner gets
    few children; the top pick is what most users take). The share is large because a pick the
    search never scored is lost for good, while the front's other members are cheap to cover
    (tools/bench_searcher_loss.py measures, without labels, how often the pick is the rule's
    exhaustive pick; docs/benchmarks.md).
    """
    space, rng, P = ctx.space, ctx.rng, ctx.population
    choices = space.choices
    n_pos = len(choices)
    # a position with one choice (a fixed stem block) never mutates; with none left mutation is off
    mutable = np.array([len(c) > 1 for c in choices], dtype=bool)
    movable = np.flatnonzero(mutable)
    n0 = min(P, ctx.remaining)
    pool = ctx.sample_feasible(init_pool * n0)
    first = min(ctx.cost.targets) if ctx.cost.targets else None  # None: a MACs-only search

    def _cost(a: Any) -> float:
        c = ctx.cost(a)
        return c.latency_ms[first] if first is not None else c.macs_m

    pool.sort(key=lambda a: (_cost(a), space.format(a)))
    picks = np.unique(np.linspace(0, len(pool) - 1, min(n0, len(pool))).round().astype(int))
    pop: list[Candidate] = ctx.evaluate([pool[i] for i in picks])
    n_local = int(round(local_share * ctx.config.evaluations))
    while ctx.remaining > n_local and pop:
        F = ctx.objective_matrix(pop)
        # survival returns indices in its own order; re-map rank/crowding to pop order
        order, rank_s, crowd_s = _rank_and_crowding(F, len(pop), rng)
        rank = np.empty(len(pop))
        crowd = np.empty(len(pop))
        rank[order] = rank_s
        crowd[order] = crowd_s
        genomes = [space.encode(space.parse(c.arch)) for c in pop]
        children: list = []
        child_keys: set[str] = set()
        tries = 0
        n_children = min(P, ctx.remaining - n_local)
        while len(children) < n_children and tries < max_tries_per_child * P:
            tries += 1
            g1 = genomes[_tournament(rank, crowd, rng)]
            g2 = genomes[_tournament(rank, crowd, rng)]
            if rng.random() < crossover_prob:
                child = np.where(rng.random(n_pos) < 0.5, g1, g2)
            else:
                child = g1.copy()
            flip = (rng.random(n_pos) < 1.0 / n_pos) & mutable
            if movable.size and (not flip.any() or np.array_equal(child, g1) or np.array_equal(child, g2)):
                flip[movable[int(rng.integers(movable.size))]] = True
            for p in np.flatnonzero(flip):
                k = len(choices[p])
                child[p] = (child[p] + 1 + int(rng.integers(k - 1))) % k  # a different token
            fresh = _fresh_arch(ctx, child, child_keys)
            if fresh is None:
                continue
            child_keys.add(fresh[0])
            children.append(fresh[1])
        if len(children) < n_children:
            children += ctx.sample_feasible(n_children - len(children), exclude=child_keys)
        if not children:
            return
        offspring = ctx.evaluate(children)
        merged = pop + offspring
        keep, _, _ = _rank_and_crowding(ctx.objective_matrix(merged), min(P, len(merged)), rng)
        pop = [merged[i] for i in keep]
    _local_search(ctx)
