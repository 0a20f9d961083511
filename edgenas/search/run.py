"""``run_search``: the hardware-constrained multi-objective search, end to end.

Flow: validate the config -> price archs with the targets' cost models (cheap) -> refuse budgets
nothing satisfies (before any file is written) -> open/resume the run store -> the searcher proposes
feasible archs -> each new isomorphism class, represented by its cheapest feasible member, is scored by
the proxy and committed to SQLite at once
-> the Pareto front of (proxy score up, latency on every target down) over all scored candidates
-> ``pareto.json``, ``candidates.csv``, ``config.json``, ``pareto.png`` in the run folder.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._rng import derive_seed
from ..errors import ConfigError, InfeasibleError
from ..spaces import Arch, SearchSpace, get_space
from .pareto import pareto_mask
from .problem import ArchCost, Budgets, CostEvaluator, LatencyModel, Objective
from .scoring import ProxyScorer, RawScore, Scorer, combine_scores, proxy_key
from .searchers import get_searcher, list_searchers
from .store import CandidateStore, StoredScore, check_writable

__all__ = ["Candidate", "SearchConfig", "SearchContext", "SearchProgress", "SearchResult", "load_config", "run_search"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STORE_NAME = "candidates.sqlite"
#: random draws the feasibility check and each refill may spend before giving up
MAX_DRAWS = 20_000


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search (``config.json`` is this, resolved).

    Attributes:
        targets: device names or aliases (``"jetson"``); an arch must meet the budgets on all.
        space: search-space name.
        dataset: dataset of the space (``None`` = the space's first).
        max_latency_ms: latency budget on every target, ms (``None`` = none).
        max_params_m: parameter budget, millions.
        max_macs_m: MACs budget, millions.
        proxy: single proxy or ensemble name (objective, higher is better).
        evaluations: proxy evaluations (distinct isomorphism classes scored).
        population: NSGA-II population size = random-search batch = ensemble reference size.
        searcher: ``"nsga2"`` or ``"random"``.
        seed: run seed (search operators and per-arch proxy seeds).
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:i]"`` for the proxies (not part of the
            resume check; scores from another device are reused).
        batch_size: proxy input batch size.
        workers: proxy worker processes on CPU (``0`` = one per CPU core, at most 8; 1 = score in
            this process; GPU runs use 1). Not part of the resume check: it changes speed, not
            scores.
        proxy_resolution: reduced-resolution mode: proxy inputs of H = W = this many pixels
            instead of the dataset's (``None`` = the dataset's; see ``score_archs``).
        data: proxy input data (``None`` = Gaussian noise).
        cost_source: cost-model source passed to ``get_cost_model``.
        extra_objectives: also minimise ``"macs_m"`` and/or ``"params_m"``.
        noise_seeds: the best front members are scored again with this many other init seeds
            and carry the spread of their score (``score_spread`` in pareto.json; 0 = off).
            Not part of the resume check: it adds information, it does not change the search.
        pick_top_share: the pick is the candidate with the most MACs among the best-scoring
            ``ceil(share * candidates)`` (8 of 300 by default; ``0`` = the best score). The
            proxy's top candidates differ by less than its init-seed noise, and among them the
            larger network is the better bet; chosen on NB201 CIFAR-10 (docs/benchmarks.md).
            Not part of the resume check: it reads the stored scores, it does not change them.
        out: run folder (``None`` = ``runs/<space>-<dataset>-<targets>-<proxy>-s<seed>``).
    """

    targets: tuple[str, ...] = ("jetson",)
    space: str = "nb201"
    dataset: str | None = None
    max_latency_ms: float | None = None
    max_params_m: float | None = None
    max_macs_m: float | None = None
    proxy: str = "edgenas_prior"
    evaluations: int = 300
    population: int = 50
    searcher: str = "nsga2"
    seed: int = 0
    device: str = "auto"
    batch_size: int = 64
    workers: int = 1
    proxy_resolution: int | None = None
    data: str | None = None
    cost_source: str = "auto"
    extra_objectives: tuple[str, ...] = ()
    noise_seeds: int = 2
    pick_top_share: float = 0.025
    out: str | None = None

    @property
    def budgets(self) -> Budgets:
        return Budgets(self.max_latency_ms, self.max_params_m, self.max_macs_m)

    def validate(self) -> None:
        """Raise :class:`ConfigError` on the first bad value (budgets, counts, names)."""
        self.budgets  # noqa: B018  (validates the budgets)
        if not self.targets:
            raise ConfigError("no target given; expected at least one --target (e.g. jetson)")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise ConfigError(f"workers={self.workers!r} is invalid; expected 0 (one per core) or a positive integer")
        if isinstance(self.noise_seeds, bool) or not isinstance(self.noise_seeds, int) or not 0 <= self.noise_seeds <= 10:
            raise ConfigError(f"noise_seeds={self.noise_seeds!r} is invalid; expected an integer 0..10")
        share = self.pick_top_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
            raise ConfigError(f"pick_top_share={share!r} is invalid; expected a number in 0..1")
        for name in ("evaluations", "population", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name}={v!r} is invalid; expected a positive integer")
        if self.proxy_resolution is not None:
            from ..proxies.engine import check_resolution

            check_resolution(self.proxy_resolution)
        if self.population < 2:
            raise ConfigError(f"population={self.population} is invalid; expected at least 2")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed={self.seed!r} is invalid; expected a non-negative integer")
        if self.searcher not in list_searchers():
            from ..errors import UnknownNameError

            raise UnknownNameError("searcher", self.searcher, list_searchers())
        for o in self.extra_objectives:
            if o not in ("macs_m", "params_m"):
                raise ConfigError(f"extra objective {o!r} is unknown; expected macs_m or params_m")


@dataclass(frozen=True)
class Candidate:
    """One scored, feasible arch.

    Attributes:
        arch: canonical arch string.
        index: benchmark index (``None`` if the space has none).
        iso_key: isomorphism-class key (archs with the same key are scored once).
        score: objective proxy score, higher is better (``-inf`` if the proxy failed). For an
            ensemble in a finished search's result: the rank within every candidate the run scored
            (see :meth:`SearchContext.final_candidates`).
        raw_scores: raw values of the proxy/ensemble components (``None`` = failed).
        latency_ms: {target: ms}. latency_source: {target: source}.
        macs_m: MACs per image, millions. params_m: parameters, millions.
        seconds: proxy wall time when it was scored. order: 0-based evaluation order in the run.
        reused: True if the scores came from the run store (resume) rather than the proxy.
        search_score: ensembles, finished search: the score against the reference population
            that guided the search (``None`` otherwise).
        score_spread: best front members: ``{"seeds", "scores", "std", "range"}``, the score with
            the run's init seed and with ``noise_seeds`` others, each ranked as ``score`` is
            (``None`` when not measured).
    """

    arch: str
    index: int | None
    iso_key: str
    score: float
    raw_scores: Mapping[str, float | None]
    latency_ms: Mapping[str, float]
    latency_source: Mapping[str, str]
    macs_m: float
    params_m: float
    seconds: float
    order: int
    reused: bool = False
    search_score: float | None = None
    score_spread: Mapping[str, Any] | None = None

    def record(self, proxy: str) -> dict[str, Any]:
        """The ``pareto.json`` member object."""
        scores = {proxy: (self.score if math.isfinite(self.score) else None)}
        for k, v in self.raw_scores.items():
            scores.setdefault(k, v)
        out = {
            "arch": self.arch, "index": self.index, "iso_key": self.iso_key, "scores": scores,
            "latency_ms": dict(self.latency_ms), "latency_source": dict(self.latency_source),
            "macs_m": round(self.macs_m, 6), "params_m": round(self.params_m, 6),
        }
        if self.search_score is not None:
            out["search_score"] = self.search_score if math.isfinite(self.search_score) else None
        if self.score_spread is not None:
            out["score_spread"] = dict(self.score_spread)
        return out


@dataclass(frozen=True)
class SearchProgress:
    """Progress after each candidate: ``n_evaluated`` of ``n_budget`` (``n_reused`` from the
    store), current front size, elapsed seconds."""

    n_evaluated: int
    n_budget: int
    n_reused: int
    front_size: int
    elapsed_s: float
    best_score: float | None


@dataclass(frozen=True)
class SearchResult:
    """What ``run_search`` returns.

    Attributes:
        config: the resolved config (targets as canonical names, dataset filled in).
        front: Pareto members, best proxy score first.
        candidates: every scored candidate, in evaluation order.
        pick: the recommended arch (:func:`pick_candidate`): the largest of the best-scoring
            candidates; on the front or, when a best-scoring candidate is faster, just behind it.
        run_dir: the run folder with the output files.
        n_scored: candidates scored by the proxy in this call; n_reused: taken from the store.
        wall_s: wall time of the call, seconds.
        files: output files written ({name: path}); ``pareto.png`` is absent without matplotlib.
        notes: one-line remarks (e.g. plot skipped).
    """

    config: SearchConfig
    front: tuple[Candidate, ...]
    candidates: tuple[Candidate, ...]
    run_dir: Path
    n_scored: int
    n_reused: int
    wall_s: float
    files: Mapping[str, Path] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    pick: Candidate | None = None

    def to_json(self) -> dict[str, Any]:
        """Machine output of ``edgenas search --json``."""
        return {
            "schema_version": SCHEMA_VERSION,
            "run_dir": str(self.run_dir),
            "config": config_dict(self.config),
            "n_candidates": len(self.candidates), "n_scored": self.n_scored, "n_reused": self.n_reused,
            "wall_s": round(self.wall_s, 3),
            "members": [c.record(self.config.proxy) for c in self.front],
            "pick": self.pick.record(self.config.proxy) if self.pick is not None else None,
            "files": {k: str(v) for k, v in self.files.items()},
            "notes": list(self.notes),
        }


def load_config(path: str | Path) -> SearchConfig:
    """The :class:`SearchConfig` of a run's ``config.json`` (to re-run or resume it).

    Raises:
        ConfigError: unreadable file or unknown fields.
    """
    import json

    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read search config {str(path)!r}: {exc}") from None
    doc = {k: v for k, v in doc.items() if k not in ("schema_version", "edgenas_version")}
    known = set(SearchConfig.__dataclass_fields__)
    extra = sorted(set(doc) - known)
    if extra:
        raise ConfigError(f"search config {str(path)!r} has unknown field {extra[0]!r}; expected {', '.join(sorted(known))}")
    doc["targets"] = tuple(doc.get("targets", ()))
    doc["extra_objectives"] = tuple(doc.get("extra_objectives", ()))
    return SearchConfig(**doc)


def config_dict(config: SearchConfig) -> dict[str, Any]:
    """JSON-able dict of a config."""
    d = asdict(config)
    d["targets"] = list(config.targets)
    d["extra_objectives"] = list(config.extra_objectives)
    return d


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
            a = self.space.sample(self.rng)
            k = self.space.iso_key(a)
            if k in keys or k in self._by_key:
                continue
            a = self.cheapest(a)
            if a is None:
                continue
            keys.add(k)
            out.append(a)
        return out

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
        if self._reference is None:
            # the first batch is the reference population: fixed by the seed, scored first
            self._reference = {
                c: np.asarray([_num(p[2].values.get(c)) for p in self._pending], dtype=float)
                for c in self.scorer.components
            }
        self._flush()
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
                score=combine_scores(self.scorer, raw.values, self._reference), raw_scores=dict(raw.values),
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
        t0 = min(self.cost.targets)
        return sorted(members, key=lambda c: (-_num(c.score), c.latency_ms[t0], c.arch))


def _num(v: float | None) -> float:
    return -math.inf if v is None else float(v)


def _resolve_targets(
    config: SearchConfig, space: SearchSpace, dataset: str, cost_models: Mapping[str, LatencyModel] | None
) -> dict[str, LatencyModel]:
    if cost_models is not None:
        return dict(cost_models)
    from ..hardware.cost import get_cost_model
    from ..hardware.targets import load_target

    out: dict[str, LatencyModel] = {}
    for name in config.targets:
        target = load_target(name)
        out[target.name] = get_cost_model(target, space, dataset, source=config.cost_source)
    return out


def _resolve_device(device: str) -> str:
    if device != "auto":
        if not (device == "cpu" or device.startswith("cuda")):
            raise ConfigError(f"device {device!r} is invalid; expected auto, cpu or cuda[:i]")
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_workers(workers: int, device: str) -> int:
    """Worker processes for the proxies: ``0`` = one per CPU core available to this process
    (at most 8); always 1 on a GPU (one device, one process)."""
    import os

    if str(device).startswith("cuda"):
        return 1
    if workers == 0:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, min(8, cores))
    return workers


def check_feasible(space: SearchSpace, cost: CostEvaluator, budgets: Budgets, seed: int) -> None:
    """Raise :class:`InfeasibleError` if no arch meets the budgets.

    Enumerates spaces of at most ``MAX_DRAWS`` archs (exact); otherwise draws ``MAX_DRAWS`` random
    archs. The message names the budgets and the best value seen for each, so the user knows how
    far off they are.
    """
    if space.size <= MAX_DRAWS:
        archs = space.enumerate()
        how = f"all {space.size:,} archs checked"
    else:
        rng = np.random.default_rng(derive_seed(seed, "feasibility"))
        archs = (space.sample(rng) for _ in range(MAX_DRAWS))
        how = f"{MAX_DRAWS:,} random archs checked"
    best_lat: dict[str, float] = {}
    best_params = best_macs = math.inf
    n_degenerate = 0
    for a in archs:
        if space.is_degenerate(a):
            n_degenerate += 1
            continue
        c: ArchCost = cost(a)
        if c.feasible(budgets):
            return
        for t, v in c.latency_ms.items():
            best_lat[t] = min(best_lat.get(t, math.inf), v)
        best_params = min(best_params, c.params_m)
        best_macs = min(best_macs, c.macs_m)
    if n_degenerate:
        how += f", {n_degenerate:,} degenerate ones excluded"
    seen = [f"fastest on {t} {v:.3g} ms" for t, v in sorted(best_lat.items())]
    if budgets.max_params_m is not None:
        seen.append(f"smallest {best_params:.3g} M params")
    if budgets.max_macs_m is not None:
        seen.append(f"fewest {best_macs:.3g} M MACs")
    raise InfeasibleError(
        f"no {space.name} architecture meets the budgets ({budgets.describe()}; {how}: {', '.join(seen)}); "
        "expected budgets at least that large",
    )


def default_run_dir(config: SearchConfig, dataset: str, target_names: Sequence[str], *, resume: bool) -> Path:
    """``runs/<space>-<dataset>-<targets>-<proxy>-s<seed>``; a fresh run gets ``-2``, ``-3``... if
    the folder exists (a resume uses the base name)."""
    base = Path("runs") / f"{config.space}-{dataset}-{'+'.join(target_names)}-{config.proxy}-s{config.seed}"
    if resume or not base.exists():
        return base
    i = 2
    while Path(f"{base}-{i}").exists():
        i += 1
    return Path(f"{base}-{i}")


def run_search(
    config: SearchConfig | None = None,
    *,
    resume: bool = False,
    on_progress: Callable[[SearchProgress], None] | None = None,
    on_candidate: Callable[[Candidate], None] | None = None,
    scorer: Scorer | None = None,
    cost_models: Mapping[str, LatencyModel] | None = None,
    size: Callable[[Arch], tuple[float, float]] | None = None,
    write_outputs: bool = True,
    **overrides: Any,
) -> SearchResult:
    """Search ``config.space`` for the Pareto front of proxy score vs latency under the budgets.

    Args:
        config: the search definition; keyword ``overrides`` replace its fields
            (``run_search(targets=("jetson",), max_latency_ms=5)``).
        resume: continue the run in ``config.out``: stored candidates are reused, not rescored.
            Without it, an existing run folder with a store is refused.
        on_progress: called after every candidate with a :class:`SearchProgress`.
        on_candidate: called with every :class:`Candidate` as it is evaluated.
        scorer: replaces the proxy scorer (tests, precomputed score tables).
        cost_models: {target name: model with ``predict(arch)``}; default: the targets' cost models.
        size: arch -> (macs_m, params_m); default: an :class:`AdditiveSizeTable` of the space.
        write_outputs: write the run folder (store + files); False keeps everything in memory.

    Returns:
        a :class:`SearchResult`.

    Raises:
        ConfigError, UnknownNameError: bad options (nothing is written).
        InfeasibleError: no arch meets the budgets (nothing is written).
    """
    t_start = time.perf_counter()
    config = replace(config or SearchConfig(), **overrides)
    if isinstance(config.targets, str):
        config = replace(config, targets=(config.targets,))
    config = replace(config, targets=tuple(config.targets), extra_objectives=tuple(config.extra_objectives))
    config.validate()
    space = get_space(config.space)
    dataset = config.dataset or next(iter(space.datasets))
    space.dataset(dataset)
    targets = _resolve_targets(config, space, dataset, cost_models)
    config = replace(config, dataset=dataset, targets=tuple(targets))
    device = _resolve_device(config.device) if scorer is None else config.device
    if scorer is not None:
        config = replace(config, proxy=scorer.proxy)
    else:
        config = replace(config, workers=resolve_workers(config.workers, device))
        scorer = ProxyScorer(space=space, dataset=dataset, proxy=config.proxy, seed=config.seed,
                             device=device, batch_size=config.batch_size, data=config.data,
                             resolution=config.proxy_resolution, workers=config.workers)
    warm = getattr(scorer, "warm", None)
    if warm is not None:
        warm()  # worker start-up overlaps with pricing the space below
    try:
        if size is None:
            from .problem import AdditiveSizeTable

            size = AdditiveSizeTable(space, dataset)
        cost = CostEvaluator(space, targets, size)
        check_feasible(space, cost, config.budgets, config.seed)

        store = None
        run_dir = Path(config.out) if config.out else default_run_dir(config, dataset, list(targets), resume=resume)
        config = replace(config, out=str(run_dir))
        if write_outputs:
            store_path = run_dir / STORE_NAME
            if resume and not store_path.exists():
                raise ConfigError(f"nothing to resume in {str(run_dir)!r}: no {STORE_NAME}; drop --resume to start")
            if not resume and store_path.exists():
                raise ConfigError(
                    f"run folder {str(run_dir)!r} already holds a search; pass --resume to continue it or another --out"
                )
            check_writable(run_dir)
            pkey = proxy_key(scorer.config)
            store = CandidateStore(store_path, key=(space.name, dataset, pkey, config.seed, str(config.data or "gaussian")))
            # proxy_resolution only when set, so runs stored before the option existed still resume
            fingerprint = {k: v for k, v in config_dict(config).items()
                           if k not in ("device", "out", "workers", "noise_seeds", "pick_top_share")
                           and not (k == "proxy_resolution" and v is None)}
            fingerprint["proxy_config"] = dict(scorer.config)
            try:
                store.check_config(fingerprint)
            except ConfigError:
                store.close()
                raise

        rng = np.random.default_rng(derive_seed(config.seed, "search", config.searcher))
        progress_state = {"t0": time.perf_counter()}

        def _on_tick() -> None:
            if on_progress is None:
                return
            # the finished run's rule (ensembles ranked within every candidate), so "best" is the
            # score the final table shows for the same candidates
            front = ctx.front(ctx.final_candidates())
            on_progress(SearchProgress(
                n_evaluated=config.evaluations - ctx.remaining, n_budget=config.evaluations,
                n_reused=ctx.n_reused + sum(p[3] for p in ctx._pending), front_size=len(front),
                elapsed_s=time.perf_counter() - progress_state["t0"],
                best_score=front[0].score if front and math.isfinite(front[0].score) else None,
            ))
    except BaseException:
        close = getattr(scorer, "close", None)
        if close is not None:
            close()
        raise

    ctx = SearchContext(space=space, config=config, cost=cost, scorer=scorer, store=store, rng=rng,
                        device=device, on_candidate=on_candidate, on_tick=_on_tick)
    try:
        get_searcher(config.searcher)(ctx)
        final = ctx.final_candidates()
        front = ctx.front(final)
        pick = pick_candidate(final, config.pick_top_share)
        if config.noise_seeds:
            front, pick = score_spread(ctx, final, front, pick, n_seeds=config.noise_seeds)
    finally:
        close = getattr(scorer, "close", None)
        if close is not None:
            close()
        if store is not None:
            store.close()
    files: dict[str, Path] = {}
    notes: list[str] = []
    result = SearchResult(config, tuple(front), tuple(final), run_dir, ctx.n_scored, ctx.n_reused,
                          time.perf_counter() - t_start, pick=pick)
    if write_outputs:
        from .outputs import write_outputs as _write

        files, notes = _write(result, ctx)
    notes = [*_coverage_notes(targets, space), *_degenerate_notes(ctx), *_pick_notes(front, pick, config.pick_top_share, len(final)), *notes]
    return replace(result, files=files, notes=tuple(notes), wall_s=time.perf_counter() - t_start)


#: front members (best first) whose score spread across init seeds is measured
NOISE_MEMBERS = 5


def pick_candidate(candidates: Sequence[Candidate], share: float) -> Candidate | None:
    """The recommended arch: the most MACs among the ``ceil(share * n)`` best-scoring candidates
    (at least one; ties: higher score, then lower summed latency, then arch string).

    The proxy's best few candidates are separated by less than its init-seed noise (``score_spread``),
    so their order says little; among them the larger network is the better bet. ``share = 0`` is
    the best score.
    """
    scored = [c for c in candidates if math.isfinite(c.score)]
    if not scored:
        return None
    k = max(1, math.ceil(share * len(scored) - 1e-9))
    best = sorted(scored, key=lambda c: (-c.score, sum(c.latency_ms.values()), c.arch))[:k]
    return min(best, key=lambda c: (-c.macs_m, -c.score, sum(c.latency_ms.values()), c.arch))


def score_spread(ctx: SearchContext, final: Sequence[Candidate], front: Sequence[Candidate],
                 pick: Candidate | None, *, n_seeds: int) -> tuple[list[Candidate], Candidate | None]:
    """``front`` with the best :data:`NOISE_MEMBERS` members carrying their ``score_spread``, and
    ``pick`` with its own.

    Each member is scored again with ``n_seeds`` other init seeds; with each seed's raw values it
    is ranked against the other candidates exactly as its ``score`` was (their values unchanged),
    so the spread is in the units of the score and says how far the pick could move with the
    initialisation alone. Scorers that cannot change the seed (score tables) give no spread.
    """
    import inspect

    if not front or "seed" not in inspect.signature(ctx.scorer.score).parameters:
        return list(front), pick
    seeds = [derive_seed(ctx.config.seed, "noise", str(j)) % 2**31 for j in range(1, n_seeds + 1)]
    members = list(front[:NOISE_MEMBERS])
    if pick is not None and all(m.iso_key != pick.iso_key for m in members):
        members.append(pick)
    archs = [ctx.space.parse(m.arch) for m in members]
    per_seed = [ctx.scorer.score(archs, seed=s) for s in seeds]
    pos = {c.iso_key: i for i, c in enumerate(final)}
    out = []
    for k, m in enumerate(members):
        scores = [m.score]
        for raws in per_seed:
            scores.append(_rescored(ctx, final, pos[m.iso_key], raws[k].values))
        fin = [v for v in scores if math.isfinite(v)]
        spread = {"seeds": [ctx.config.seed, *seeds], "scores": [v if math.isfinite(v) else None for v in scores],
                  "std": float(np.std(fin, ddof=1)) if len(fin) > 1 else None,
                  "range": float(max(fin) - min(fin)) if fin else None}
        out.append(replace(m, score_spread=spread))
    by_key = {m.iso_key: m for m in out}
    if pick is not None:
        pick = by_key[pick.iso_key]
    return [by_key.get(m.iso_key, m) for m in front], pick


def _rescored(ctx: SearchContext, final: Sequence[Candidate], i: int, raw: Mapping[str, float | None]) -> float:
    """Score of candidate ``i`` had its raw values been ``raw``, ranked against the others as
    :meth:`SearchContext.final_candidates` ranks it (single proxies: the raw value)."""
    if not ctx.scorer.is_ensemble:
        return combine_scores(ctx.scorer, raw, None)
    others = {}
    for c in ctx.scorer.components:
        v = np.asarray([_num(x.raw_scores.get(c)) for j, x in enumerate(final) if j != i], dtype=float)
        fin = np.isfinite(v)
        others[c] = np.where(fin, v, v[fin].min() if fin.any() else 0.0)
    return combine_scores(ctx.scorer, raw, others)


def _pick_notes(front: Sequence[Candidate], pick: Candidate | None, share: float, n: int) -> list[str]:
    """One note when the pick is not the best-scoring front member: what it is and why."""
    if pick is None or not front or pick.iso_key == front[0].iso_key:
        return []
    k = max(1, math.ceil(share * n - 1e-9))
    std = (front[0].score_spread or {}).get("std")
    noise = f"; the best score's spread across init seeds is {std:.3g}" if std is not None else ""
    where = "on the front" if any(m.iso_key == pick.iso_key for m in front) else "not on the front"
    return [(f"pick (index {pick.index}): the largest ({pick.macs_m:.1f} M MACs) of the {k} best-scoring "
             f"candidates, score {pick.score:.4g} vs best {front[0].score:.4g}{noise}; {where} (pick in pareto.json)")]


def _degenerate_notes(ctx: SearchContext) -> list[str]:
    """One note when the search met degenerate archs (they were skipped, not scored)."""
    n = len(ctx.degenerate_keys)
    if not n:
        return []
    return [(f"skipped {n} degenerate {ctx.space.name} arch class{'es' if n > 1 else ''} (no live path from "
             "input to output: the output cannot depend on the input); never scored, never on the front")]


def _coverage_notes(targets: Mapping[str, LatencyModel], space: SearchSpace) -> list[str]:
    """One note per target priced by a measured table that does not cover the whole space."""
    out = []
    for name, model in targets.items():
        column = getattr(model, "column", None)
        if getattr(model, "source", None) != "lookup" or column is None:
            continue
        n = int(np.isfinite(column).sum())
        if n < space.size:
            out.append(f"{name}: measured latency for {n:,} of {space.size:,} {space.name} archs; the others count "
                       "as infeasible (--latency-source lut prices them with a per-op model fitted on the measured)")
    return out
