"""The pick (the one arch a search recommends) and the init-seed spread of the best scores."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from .._rng import derive_seed
from .evaluator import SearchContext, _num
from .result import Candidate
from .scoring import RawScore, combine_scores
from .store import StoredScore

__all__ = ["NOISE_MEMBERS", "noise_std", "pick_candidate", "pick_in_noise_band", "score_spread"]

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
    return _largest(best)


def _largest(candidates: Sequence[Candidate]) -> Candidate:
    """The most MACs (ties: higher score, lower summed latency, arch string)."""
    return min(candidates, key=lambda c: (-c.macs_m, -c.score, sum(c.latency_ms.values()), c.arch))


def noise_std(members: Sequence[Candidate]) -> float | None:
    """Init-seed standard deviation of the score, pooled (root mean square) over the members that
    carry a ``score_spread``; ``None`` when none does."""
    stds = [float(m.score_spread["std"]) for m in members
            if m.score_spread and m.score_spread.get("std") is not None and math.isfinite(m.score_spread["std"])]
    return float(np.sqrt(np.mean(np.square(stds)))) if stds else None


def pick_in_noise_band(ctx: SearchContext, final: Sequence[Candidate], front: Sequence[Candidate],
                       pick: Candidate | None, *, z: float, n_seeds: int) -> Candidate | None:
    """The noise-band pick: the most MACs among the candidates whose score is within ``z`` pooled
    init-seed standard deviations (:func:`noise_std` of ``front``, as :func:`score_spread` left it)
    of the best score (ties: higher score, lower summed latency, arch string), carrying its own
    ``score_spread``. Their order within the band is what a reinitialisation could reverse, so the
    larger network is the better bet. ``pick`` (the ``pick_top_share`` rule's) is returned
    unchanged when no spread was measured (a scorer that cannot change its seed).
    """
    std = noise_std(front)
    scored = [c for c in final if math.isfinite(c.score)]
    if std is None or not scored:
        return pick
    best = max(c.score for c in scored)
    band = [c for c in scored if c.score >= best - z * std - 1e-12]
    chosen = _largest(band)
    known = {m.iso_key: m for m in (*front, *([pick] if pick is not None else []))}
    if chosen.iso_key in known and known[chosen.iso_key].score_spread:
        return known[chosen.iso_key]
    _, spread = score_spread(ctx, final, [chosen], chosen, n_seeds=n_seeds)
    return spread


def _seed_scores(ctx: SearchContext, members: Sequence[Candidate], seed: int) -> list[RawScore]:
    """Raw scores of ``members`` under init ``seed``: stored ones reused, the others scored and stored at once
    (a resumed or killed run never scores them twice)."""
    store = ctx.store
    hits = {m.iso_key: store.get(m.iso_key, seed=seed) for m in members} if store is not None else {}
    todo = [m for m in members if hits.get(m.iso_key) is None]
    fresh = ctx.scorer.score([ctx.space.parse(m.arch) for m in todo], seed=seed) if todo else []
    out = {m.iso_key: raw for m, raw in zip(todo, fresh)}
    if store is not None:
        for m, raw in zip(todo, fresh):
            store.put(StoredScore(m.arch, m.iso_key, dict(raw.values), raw.seconds, raw.n_warnings),
                      device=ctx.device, seed=seed)
    for key, hit in hits.items():
        if hit is not None:
            out[key] = RawScore(dict(hit.raw_scores), hit.seconds, hit.n_warnings)
    return [out[m.iso_key] for m in members]


def score_spread(ctx: SearchContext, final: Sequence[Candidate], front: Sequence[Candidate],
                 pick: Candidate | None, *, n_seeds: int) -> tuple[list[Candidate], Candidate | None]:
    """``front`` with the best :data:`NOISE_MEMBERS` members carrying their ``score_spread``, and
    ``pick`` with its own.

    Each member is scored again with ``n_seeds`` other init seeds; with each seed's raw values it
    is ranked against the other candidates exactly as its ``score`` was (their values unchanged),
    so the spread is in the units of the score and says how far the pick could move with the
    initialisation alone. Scorers that cannot change the seed (score tables) give no spread.
    """
    if not front or "seed" not in inspect.signature(ctx.scorer.score).parameters:
        return list(front), pick
    seeds = [derive_seed(ctx.config.seed, "noise", str(j)) % 2**31 for j in range(1, n_seeds + 1)]
    members = list(front[:NOISE_MEMBERS])
    if pick is not None and all(m.iso_key != pick.iso_key for m in members):
        members.append(pick)
    per_seed = [_seed_scores(ctx, members, s) for s in seeds]
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
