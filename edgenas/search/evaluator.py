"""The evaluator: what a searcher sees (:class:`SearchContext`): feasibility, the cheapest member of
each isomorphism class, proxy scoring through the scorer's workers, the run store, and the front."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace

import numpy as np

from ..spaces import Arch, SearchSpace
from .config import SearchConfig
from .pareto import pareto_mask
from .problem import MAX_DRAWS, CostEvaluator, Objective
from .result import Candidate
from .scoring import RawScore, Scorer, combine_scores
from .store import CandidateStore, StoredScore

__all__ = ["SearchContext"]


class SearchContext:
    """What a searcher sees: the space, the RNG, feasibility, and ``evaluate``.

    Created by :func:`run_search`; searchers must not keep state elsewhere.
    """

    def __init__(
        self, *, space: SearchSpace, config: SearchConfig, cost: CostEvaluator, scorer: Scorer,
        store: CandidateStore | None, rng: np.random.Generator, device: str,
        on_candidate: Callable[[Candidate], None] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.space = space
        self.config = config
        self.budgets = config.budgets
        self.cost = cost
        self.scorer = scorer
        self.store = store
        self.rng = rng
        self.device = device
        self.population = min(config.population, config.evaluations)
        self.candidates: list[Candidate] = []
        self._raw: list[Mapping[str, float | None]] = []
        self._by_key: dict[str, Candidate] = {}
        self._reference: dict[str, np.ndarray] | None = None
        self._pending: list[tuple[Arch, str, RawScore, bool]] = []
        self._class_members: dict[str, list[Arch]] | None = None
        self._cheapest: dict[str, Arch | None] = {}
        #: iso keys of degenerate archs met (output independent of the input): skipped, reported once
        self.degenerate_keys: set[str] = set()
        self.n_reused = 0
        self.n_scored = 0
        self.on_candidate = on_candidate
        self.on_tick = on_tick
        self.objectives = (
            Objective("score", "max"),
            *(Objective(f"latency_ms[{t}]", "min") for t in sorted(cost.targets)),
            *(Objective(o, "min") for o in config.extra_objectives),
        )

    # -- what searchers use ---------------------------------------------------------------
    @property
    def remaining(self) -> int:
        """Proxy evaluations left in the budget."""
        return self.config.evaluations - len(self._by_key) - len(self._pending)

    def seen(self, iso_key: str) -> bool:
        """True if this isomorphism class was already evaluated in this run."""
        return iso_key in self._by_key

    def feasible(self, arch: Arch) -> bool:
        """True if ``arch`` or an isomorphic arch meets every budget on every target (cheap; no
        proxy). :meth:`evaluate` then scores and reports the cheapest such arch."""
        return self.cheapest(arch) is not None

    def cheapest(self, arch: Arch) -> Arch | None:
        """The cheapest arch that computes the same function as ``arch`` and meets the budgets.

        Isomorphic archs (NB201: equal ``iso_key``, e.g. a conv on an edge whose output never
        reaches the cell output) compute the same function but differ in cost: dead ops still run
        on the device, and the measured latencies differ. The user wants the cheapest, and the proxy
        scores the class once, so every class is represented by its feasible member with the lowest
        (summed latency over targets, MACs, params), found by enumerating the class in spaces of
        at most ``MAX_DRAWS`` archs; in larger spaces ``arch`` itself (if feasible). ``None`` if no
        member is feasible.
        """
        key = self.space.iso_key(arch)
        if key in self._cheapest:
            return self._cheapest[key]
        if self.space.is_degenerate(arch):
            # isomorphic archs are all degenerate or none is; never scored, never on a front
            self.degenerate_keys.add(key)
            self._cheapest[key] = None
            return None
        if self.space.size > MAX_DRAWS:
            best = arch if self.cost(arch).feasible(self.budgets) else None
        else:
            if self._class_members is None:
                members: dict[str, list[Arch]] = {}
                for a in self.space.enumerate():
                    members.setdefault(self.space.iso_key(a), []).append(a)
                self._class_members = members
            best, best_rank = None, None
            for m in self._class_members.get(key, [arch]):
                c = self.cost(m)
                if not c.feasible(self.budgets):
                    continue
                rank = (sum(c.latency_ms.values()), c.macs_m, c.params_m, self.space.format(m))
                if best_rank is None or rank < best_rank:
                    best, best_rank = m, rank
        self._cheapest[key] = best
        return best

    def sample_feasible(self, n: int, *, exclude: set[str] | None = None) -> list[Arch]:
        """Up to ``n`` uniformly drawn feasible archs of distinct, not yet evaluated iso classes.

        Rejection sampling capped at ``MAX_DRAWS`` draws; returns fewer (possibly none) when the
        cap is hit, e.g. because every feasible class was already evaluated.
        """
        out: list[Arch] = []
        keys = set(exclude or ())
        draws = 0
        while len(out) < n and draws < MAX_DRAWS:
            draws += 1
            a = self._new_feasible(self.space.sample(self.rng), keys)
            if a is not None:
                out.append(a)
        if len(out) < n and self.space.size > MAX_DRAWS:
            out += self._walk_feasible(n - len(out), keys, out)
        return out

    def _walk_feasible(self, n: int, keys: set[str], found: list[Arch]) -> list[Arch]:
        """Up to ``n`` more feasible archs of new classes by a random walk from feasible ones (those found,
        those scored, the space's one-block archs): in a space too large to enumerate, a budget near its
        small end admits too few archs for uniform draws to meet (an FBNet MACs budget that only archs
        skipping most layers fit). Its own seeded generator: the search's draws stay as they were."""
        from .._rng import derive_seed
        from .problem import uniform_archs

        rng = np.random.default_rng(derive_seed(self.config.seed, "walk", str(len(self._by_key))))
        pool = [*found, *(c for c in (self.cheapest(a) for a in uniform_archs(self.space)) if c is not None),
                *(self.space.parse(c.arch) for c in self.candidates)]
        out: list[Arch] = []
        choices = self.space.choices
        for _ in range(MAX_DRAWS if pool else 0):
            if len(out) >= n:
                break
            base = pool[int(rng.integers(len(pool)))]
            tokens = list(base.tokens)
            for p in rng.choice(len(choices), size=min(len(choices), int(rng.integers(1, 4))), replace=False):
                tokens[p] = choices[p][int(rng.integers(len(choices[p])))]
            a = self._new_feasible(self.space.arch(tuple(tokens)), keys)
            if a is not None:
                out.append(a)
                pool.append(a)
        return out

    def _new_feasible(self, arch: Arch, keys: set[str]) -> Arch | None:
        """The feasible representative of ``arch``'s class when that class is neither in ``keys`` nor
        evaluated (its key is then added to ``keys``), else ``None``."""
        k = self.space.iso_key(arch)
        if k in keys or k in self._by_key:
            return None
        a = self.cheapest(arch)
        if a is not None:
            keys.add(k)
        return a

    def evaluate(self, archs: Sequence[Arch]) -> list[Candidate]:
        """Score ``archs`` (feasible, in order) until the budget is used up.

        Each arch stands for its isomorphism class and is replaced by :meth:`cheapest`. An iso class
        already evaluated in this run is returned without a new evaluation; one found
        in the run store is reused (not rescored); otherwise the proxy runs and the result is
        committed before the next arch is scored. The first call fixes the ensemble reference
        population (its archs' raw scores).

        Returns:
            the candidates of the archs that were evaluated (or already were), in input order.
        """
        wanted: list[str] = []
        todo: list[tuple[Arch, str]] = []
        for a in archs:
            key = self.space.iso_key(a)
            rep = self.cheapest(a)
            if rep is None and self.space.is_degenerate(a):
                continue
            a = rep or a
            wanted.append(key)
            if key in self._by_key or any(key == p[1] for p in self._pending) or any(key == t[1] for t in todo):
                continue
            if self.remaining - len(todo) <= 0:
                break
            todo.append((a, key))
        for a, key, raw, reused in self._raw_scores(todo):
            self._pending.append((a, key, raw, reused))
            if self._reference is not None:
                self._flush()
            if self.on_tick is not None:
                self.on_tick()
        first = self._reference is None
        if first:
            # the first batch is the reference population: fixed by the seed, scored first
            self._reference = {
                c: np.asarray([_num(p[2].values.get(c)) for p in self._pending], dtype=float)
                for c in self.scorer.components
            }
        self._flush()
        if first and todo and self.on_tick is not None:
            self.on_tick()  # its ticks came while it was pending: the first with a front to show
        return [self._by_key[k] for k in dict.fromkeys(wanted) if k in self._by_key]

    def objective_matrix(self, cands: Sequence[Candidate]) -> np.ndarray:
        """F (N, M), every column minimised; a failed proxy (-inf) becomes the worst finite score."""
        scores = np.asarray([c.score for c in cands], dtype=float)
        finite = scores[np.isfinite(scores)]
        worst = (finite.min() - 1.0) if finite.size else 0.0
        scores = np.where(np.isfinite(scores), scores, worst)
        cols = [-scores]
        for t in sorted(self.cost.targets):
            cols.append(np.asarray([c.latency_ms[t] for c in cands], dtype=float))
        for o in self.config.extra_objectives:
            cols.append(np.asarray([getattr(c, o) for c in cands], dtype=float))
        return np.stack(cols, axis=1)

    # -- internals ------------------------------------------------------------------------
    def _raw_scores(self, todo: Sequence[tuple[Arch, str]]) -> Iterator[tuple[Arch, str, RawScore, bool]]:
        """(arch, key, raw score, reused from the store) for every item, in input order.

        Stored scores are reused; the rest are scored (in parallel if the scorer has workers)
        and each is committed to the store the moment it exists, whatever the order they finish
        in, so a kill loses at most the archs still being scored; they are handed back in input
        order so the run does not depend on which worker finished first.
        """
        done: dict[int, tuple[RawScore, bool]] = {}
        new: list[int] = []
        for i, (_, key) in enumerate(todo):
            hit = self.store.get(key) if self.store is not None else None
            if hit is not None:
                done[i] = (RawScore(dict(hit.raw_scores), hit.seconds, hit.n_warnings), True)
            else:
                new.append(i)
        score_iter = getattr(self.scorer, "score_iter", None)
        if score_iter is None:  # a plain Scorer: one arch at a time
            def score_iter(archs: Sequence[Arch]) -> Iterator[tuple[int, RawScore]]:
                for j, a in enumerate(archs):
                    yield j, self.scorer.score([a])[0]

        results = score_iter([todo[i][0] for i in new]) if new else iter(())
        for i in range(len(todo)):
            while i not in done:
                j, raw = next(results)
                arch, key = todo[new[j]]
                if self.store is not None:
                    self.store.put(StoredScore(self.space.format(arch), key, dict(raw.values), raw.seconds,
                                               raw.n_warnings), device=self.device)
                done[new[j]] = (raw, False)
            raw, reused = done.pop(i)
            yield todo[i][0], todo[i][1], raw, reused

    def _flush(self) -> None:
        for arch, key, raw, reused in self._pending:
            cost = self.cost(arch)
            cand = Candidate(
                arch=self.space.format(arch), index=self.space.index(arch), iso_key=key,
                score=combine_scores(self.scorer, raw.values, self._reference),
                # in the scorer's order: a store read back (resume) sorts keys, the output must not
                raw_scores={c: raw.values.get(c) for c in self.scorer.components},
                latency_ms=dict(cost.latency_ms), latency_source=dict(cost.latency_source),
                macs_m=cost.macs_m, params_m=cost.params_m, seconds=raw.seconds,
                order=len(self.candidates), reused=reused,
            )
            self.candidates.append(cand)
            self._by_key[key] = cand
            self.n_reused += int(reused)
            self.n_scored += int(not reused)
            if self.on_candidate is not None:
                self.on_candidate(cand)
        self._pending = []

    def final_candidates(self) -> list[Candidate]:
        """The candidates with ensemble scores ranked within **every candidate the run scored**.

        During the search an ensemble ranks each candidate against the reference population (the
        first ``population`` archs), which keeps stored scores fixed but saturates at the top: a
        candidate that beats all R reference archs on a component gets rank R + 1 however far
        ahead it is, so the best candidates tie on several components. The finished run ranks
        every candidate against all the others instead (exactly its average rank in the final
        population, failed components tied at the population's worst value, as
        :func:`edgenas.proxies.ensemble.aggregate`), which orders the top of the front; the
        reference score stays in ``search_score``. Single proxies are returned unchanged.
        """
        if not self.scorer.is_ensemble or len(self.candidates) < 2:
            return list(self.candidates)
        cols = {}
        for c in self.scorer.components:
            v = np.asarray([_num(x.raw_scores.get(c)) for x in self.candidates], dtype=float)
            fin = np.isfinite(v)
            # a failed component ranks as the population's worst value, tied with it (as aggregate())
            cols[c] = np.where(fin, v, v[fin].min() if fin.any() else 0.0)
        recipe = getattr(self.scorer, "recipe", None) or self.scorer.proxy
        from ..proxies.ensemble import aggregate, ensemble_components, list_ensembles

        if recipe in list_ensembles() and tuple(ensemble_components(recipe)) == tuple(self.scorer.components):
            # a candidate's rank against all the others is its average rank in the whole population
            scores = aggregate(recipe, cols)
        else:  # a scorer with its own combine rule (e.g. a table's ad-hoc columns)
            scores = np.array([combine_scores(self.scorer, {c: float(v[i]) for c, v in cols.items()},
                                              {c: np.delete(v, i) for c, v in cols.items()})
                               for i in range(len(self.candidates))])
        return [replace(cand, search_score=cand.score) if not math.isfinite(cand.score)
                else replace(cand, score=float(scores[i]), search_score=cand.score)
                for i, cand in enumerate(self.candidates)]

    def front(self, candidates: Sequence[Candidate] | None = None) -> list[Candidate]:
        """Pareto members over ``candidates`` (default: the candidates so far), best score first
        (ties: lower latency).

        Candidates whose proxy failed (score ``-inf``) are left out: a failed score says nothing
        about accuracy, and the fastest such arch would otherwise always sit on the front.
        """
        pool = self.candidates if candidates is None else candidates
        scored = [c for c in pool if math.isfinite(c.score)]
        if not scored:
            return []
        mask = pareto_mask(self.objective_matrix(scored))
        members = [c for c, m in zip(scored, mask) if m]
        return sorted(members, key=lambda c: (-_num(c.score), _cost_of(c), c.arch))


def _cost_of(c: Candidate) -> float:
    """The first target's latency; MACs in a MACs-only search (no target)."""
    return c.latency_ms[min(c.latency_ms)] if c.latency_ms else c.macs_m


def _num(v: float | None) -> float:
    return -math.inf if v is None else float(v)
