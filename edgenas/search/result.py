"""What a search returns: :class:`Candidate`, :class:`SearchProgress`, :class:`SearchResult`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .config import SearchConfig, config_dict
from .outputs import SCHEMA_VERSION, read_run, write_outputs

__all__ = ["SCHEMA_VERSION", "Candidate", "SearchProgress", "SearchResult"]



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
        latency_estimates: {target: how its latencies were estimated} for targets whose table was measured
            at another shape than the task's (``latency_source`` ``estimate``); empty when all are measured.
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
    latency_estimates: Mapping[str, str] = field(default_factory=dict)

    def save(self, run_dir: str | Path | None = None) -> dict[str, Path]:
        """Write ``pareto.json``, ``candidates.csv``, ``config.json`` and ``pareto.png`` (with
        matplotlib) to ``run_dir`` (default: the result's own); returns {name: path}."""
        files, _ = write_outputs(self if run_dir is None else replace(self, run_dir=Path(run_dir)))
        return files

    @classmethod
    def load(cls, run_dir: str | Path) -> SearchResult:
        """The result of a finished run folder (``config.json``, ``candidates.csv``, ``pareto.json``).

        Raises:
            ConfigError: a file missing or malformed, naming the file and the field.
        """
        from .._args import path_arg

        run_dir = Path(path_arg("run_dir", run_dir, required=True))
        parsed = read_run(run_dir)
        by_key = {c["iso_key"]: Candidate(**c) for c in parsed.candidates}

        def member(key: str, spread: Any) -> Candidate:
            c = by_key[key]
            return c if spread is None else replace(c, score_spread=spread)

        return cls(parsed.config, tuple(member(k, s) for k, s in parsed.front), tuple(by_key.values()), run_dir,
                   0, len(by_key), 0.0, files=parsed.files,
                   pick=member(*parsed.pick) if parsed.pick is not None else None)

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
            **({"latency_estimates": dict(self.latency_estimates)} if self.latency_estimates else {}),
        }
