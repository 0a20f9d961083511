"""Accuracy side of the search: turning archs into proxy scores.

A :class:`Scorer` returns *raw* values per arch (the single proxy, or every component of an
ensemble); the search then derives the one objective score:

* a single proxy: its raw value;
* an ensemble (e.g. ``vkdnw_agg``): ``ensemble_score(name, components, reference)``, a rank of the
  candidate's components against a **reference population**. The reference population is the
  search's initial population: ``R = population`` distinct feasible archs fixed by the run seed and
  the budgets (``random``: uniform draws; ``nsga2``: evenly spaced latency ranks among ``5R``
  uniform draws), scored before anything else and kept in the run store. Every later candidate is
  ranked against this fixed set, so a stored score never changes as the search goes on and a
  resumed run derives the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigError, ProxyError, UnknownNameError
from ..spaces import Arch, SearchSpace
from .executors import RawScore, _finite, _score_one, get_executor

__all__ = ["ProxyScorer", "RawScore", "Scorer", "combine_scores", "known_proxies", "proxy_key"]

log = logging.getLogger(__name__)


class Scorer(Protocol):
    """Scores archs with a proxy configuration.

    Attributes:
        proxy: the objective's name (a single proxy or an ensemble).
        components: raw value names every result carries (``[proxy]`` for a single proxy).
        is_ensemble: True if the objective is a rank against the reference population.
        config: JSON-able description that identifies the scores (goes into the store key).
    """

    proxy: str
    components: tuple[str, ...]
    is_ensemble: bool
    config: Mapping[str, Any]

    def score(self, archs: Sequence[Arch]) -> list[RawScore]:
        ...

    def combine(self, raw: Mapping[str, float | None], reference: Mapping[str, np.ndarray]) -> float:
        ...


def known_proxies() -> tuple[list[str], list[str]]:
    """(single proxies, ensembles) currently registered.

    Raises:
        ProxyError: the proxy engine is not importable.
    """
    try:
        from ..proxies.engine import score_archs  # noqa: F401  (importing the engine registers proxies)
    except ImportError as exc:
        raise ProxyError(f"the proxy engine edgenas.proxies.engine cannot be imported ({exc})") from None
    try:
        from ..proxies import list_proxies  # the package registers the built-in proxies
    except ImportError:  # pragma: no cover - package __init__ not written yet
        from ..proxies.base import list_proxies

    try:
        from ..proxies.ensemble import list_ensembles
    except ImportError:  # pragma: no cover - ensembles are optional during development
        return list_proxies(), []
    return list_proxies(), list_ensembles()


def proxy_key(config: Mapping[str, Any]) -> str:
    """Short stable digest of a proxy configuration."""
    text = json.dumps(dict(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def combine_scores(
    scorer: Scorer, raw: Mapping[str, float | None], reference: Mapping[str, np.ndarray] | None
) -> float:
    """Objective score of one arch (higher = better); failed proxies give ``-inf``."""
    if not scorer.is_ensemble:
        v = raw.get(scorer.proxy)
        return -math.inf if v is None else float(v)
    if reference is None:
        raise RuntimeError("ensemble score requested before the reference population was scored")
    return float(scorer.combine(raw, reference))


class ProxyScorer:
    """Scores with ``edgenas.proxies``: a single registered proxy or a registered ensemble.

    Args:
        space: search space.
        dataset: dataset name of the space, or the task's :class:`~edgenas.spaces.DatasetSpec`.
        proxy: single proxy or ensemble name.
        seed: run seed (the engine derives per-arch seeds from it and the canonical arch).
        device: torch device string.
        batch_size: B of the proxy inputs.
        data: proxy input data spec (``None`` = Gaussian inputs).
        resolution: proxy input resolution (``None`` = the dataset's).
        workers: score this many archs at once in worker processes of one torch thread each
            (CPU only; 1 = in this process). Small convolutions use two intra-op threads
            poorly, so two single-thread processes score 1.1-1.4x more archs per second than one
            two-thread process on a 2-core CPU (README); the scores do not depend on it beyond
            float rounding (each arch is seeded from the run seed and its own key).

    Raises:
        UnknownNameError: ``proxy`` is neither a registered proxy nor an ensemble.
        ConfigError: ``workers`` is not a positive integer.
    """

    def __init__(
        self, *, space: SearchSpace, dataset: Any, proxy: str, seed: int, device: str = "cpu",
        batch_size: int = 64, data: str | None = None, resolution: int | None = None, workers: int = 1,
        executor: str = "local", ray_address: str | None = None,
    ) -> None:
        singles, ensembles = known_proxies()
        if proxy in ensembles:
            from ..proxies.ensemble import ensemble_components

            self.components = tuple(ensemble_components(proxy))
            self.is_ensemble = True
        elif proxy in singles:
            self.components = (proxy,)
            self.is_ensemble = False
        else:
            raise UnknownNameError("proxy", proxy, [*singles, *ensembles])
        self.space = space
        self.dataset = dataset
        self.proxy = proxy
        self.seed = int(seed)
        self.device = device
        self.batch_size = int(batch_size)
        self.data = data
        self.resolution = resolution
        self.config = {
            "proxy": proxy, "components": list(self.components), "batch_size": self.batch_size,
            "data": data or "gaussian",
        }
        if resolution is not None:  # absent otherwise: store keys of earlier runs stay valid
            self.config["resolution"] = int(resolution)
        if not isinstance(dataset, str) and not space.benchmark_dataset(dataset):
            from dataclasses import asdict

            self.config["task"] = asdict(space.dataset(dataset))
        least = 1 if executor == "local" else 0  # Ray: 0 = as many tasks as the cluster has CPUs
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < least:
            raise ConfigError(f"workers={workers!r} is invalid; expected an integer >= {least}")
        self.workers = workers if not str(device).startswith("cuda") or executor != "local" else 1
        self.executor_name = executor
        self._executor = get_executor(executor, workers=self.workers, address=ray_address)

    def _job(self) -> dict[str, Any]:
        """What a worker needs to score archs exactly as this scorer does (picklable)."""
        return {"space": self.space.name, "dataset": self.dataset, "components": list(self.components),
                "seed": self.seed, "device": self.device, "batch_size": self.batch_size, "data": self.data,
                "resolution": self.resolution}

    def score(self, archs: Sequence[Arch], *, seed: int | None = None) -> list[RawScore]:
        """Raw scores of ``archs`` (``seed``: another init seed than the scorer's, e.g. to measure
        how much the scores move with the initialisation)."""
        by_position = dict(self.score_iter(archs, seed=seed))
        return [by_position[i] for i in range(len(archs))]

    def score_iter(self, archs: Sequence[Arch], *, seed: int | None = None) -> Iterator[tuple[int, RawScore]]:
        """(position in ``archs``, raw score) of every arch, in the order they finish (input
        order with one worker), so a caller can commit each result as soon as it exists."""
        job = self._job()
        if seed is not None:
            job["seed"] = int(seed)
        if self.executor_name == "local" and (self.workers == 1 or len(archs) < 2):
            for i, a in enumerate(archs):  # in this process, no string round trip
                yield i, _score_one(job, a, space=self.space)
            return
        yield from self._executor.map_unordered(job, [self.space.format(a) for a in archs])

    def warm(self) -> None:
        """Start the workers now (and let them import the proxy engine), so that start-up overlaps
        with whatever the caller does before the first score (pricing the space)."""
        self._executor.warm()

    def close(self) -> None:
        """Stop the workers (if any); the scorer can still be used afterwards."""
        self._executor.close()

    def combine(self, raw: Mapping[str, float | None], reference: Mapping[str, np.ndarray]) -> float:
        from ..proxies.ensemble import ensemble_score

        cand = {c: (-math.inf if raw.get(c) is None else float(raw[c])) for c in self.components}
        return float(ensemble_score(self.proxy, cand, reference))


def _arch_only(name: str) -> bool:
    """True if ``name`` is a registered data-free proxy (``needs="arch"``)."""
    from ..proxies.base import PROXIES

    return name in PROXIES.names() and PROXIES.get(name).needs == "arch"


def _check_table_header(lines: Sequence[str], where: str, space: SearchSpace, dataset: str | None) -> None:
    """Refuse a score table whose ``# {json}`` header (``proxies score --all`` writes one) names
    another space or dataset than the search's."""
    from .._read import parse_json
    from ..errors import ConfigError

    for line in lines:
        if not line.startswith("#"):
            return
        body = line[1:].strip()
        if not body.startswith("{"):
            continue
        head = parse_json(body, where=f"{where} header", what="score table")
        if not isinstance(head, dict) or head.get("kind") != "score_table":
            continue
        for key, want in (("space", space.name), ("dataset", dataset)):
            got = head.get(key)
            if want is not None and got is not None and got != want:
                raise ConfigError(f"score table {where} was scored for {key} {got!r}; expected {key} {want!r} "
                                  "(score the search's space and dataset with 'edgenas proxies score --all')")


class TableScorer:
    """Scores looked up in a precomputed table (CSV with ``#`` header lines, or JSONL).

    The file may be gzip-compressed (``.gz``). Rows are keyed by ``index`` (benchmark index) or
    ``arch`` / ``arch_str`` (canonical string);
    every other numeric column is a proxy. With one proxy column the objective is its value. With
    ``ensemble`` (a registered recipe, e.g. ``"edgenas_fast"``) the columns are its components and
    the objective is exactly what :class:`ProxyScorer` computes for it (``ensemble_score`` against
    the reference population). With several columns and no recipe (``columns=("flops", "jacov")``)
    the objective is ranked against the reference population and aggregated VKDNW_agg-style: the
    sum over columns of ``log(rank / (R + 1))``, rank = 1 + reference archs beaten (ties half).
    Archs missing from the table score ``-inf`` unless the caller keeps them out (see :meth:`covers`).
    A data-free proxy (``needs="arch"``, e.g. ``structure_prior``) that the table lacks is computed
    live: it costs microseconds and needs no model.

    Args:
        space: search space (to format archs and look up indices).
        path: the table.
        columns: proxy columns to use (ignored with ``ensemble``).
        name: objective name (default: the recipe, the column, or ``"rank(a+b)"``).
        ensemble: registered ensemble recipe to combine the columns with.
    """

    def __init__(self, *, space: SearchSpace, path: str, columns: Sequence[str] = (), name: str | None = None,
                 ensemble: str | None = None, dataset: str | None = None) -> None:
        from pathlib import Path

        from ..errors import ConfigError, EdgeNASError

        self.recipe = ensemble
        if ensemble is not None:
            from ..proxies.ensemble import ensemble_components

            columns = ensemble_components(ensemble)
        if not columns:
            raise ConfigError("no score column given; expected at least one proxy column or an ensemble")
        from .._read import csv_rows, decode_text, gunzip, parse_json, read_bytes

        p = Path(path)
        where_file = repr(str(path))
        data = read_bytes(p, what="score table")
        if p.suffix == ".gz":
            data = gunzip(data, where=where_file, what="score table")
        text = decode_text(data, where=where_file, what="score table")
        self.path = str(p)
        rows: list[dict[str, Any]]
        is_csv = not p.name.endswith((".jsonl", ".jsonl.gz"))
        if not is_csv:
            # tools/bench_proxies.py caches: a {"cache_key": ...} header, then rows with "scores"
            rows = []
            for n, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                r = parse_json(line, where=f"{where_file} line {n}", what="score table", allow_nan=True)
                if not isinstance(r, dict) or not isinstance(r.get("scores", {}), dict):
                    raise ConfigError(f"score table {path!r} line {n} is {_short(r)}; expected a JSON object "
                                      "with 'index' or 'arch' and 'scores'")
                if "index" not in r and "arch" not in r:
                    continue
                rows.append({**{k: v for k, v in r.items() if k != "scores"}, **r.get("scores", {})})
        else:
            lines = text.splitlines()
            _check_table_header(lines, where_file, space, dataset)
            table = csv_rows([ln for ln in lines if not ln.startswith("#")], where=where_file, what="score table")
            head = [c.strip() for c in table[0]] if table else []
            if len(set(head)) != len(head):
                raise ConfigError(f"score table {path!r}: a column is named twice in the header {','.join(head)}; "
                                  "expected distinct column names")
            rows = []
            for n, cells in enumerate(table[1:], start=1):
                if not cells:
                    continue
                if len(cells) != len(head):
                    raise ConfigError(f"score table {path!r} row {n} has another number of cells than the header's "
                                      f"{len(head)} columns ({len(cells)}); expected one cell per column")
                rows.append(dict(zip(head, cells)))
        if not rows:
            raise ConfigError(f"score table {path!r} has no rows")
        self._live = tuple(c for c in columns if c not in rows[0] and _arch_only(c))
        for c in columns:
            if c not in rows[0] and c not in self._live:
                raise ConfigError(f"score table {path!r} has no column {c!r}; expected one of {', '.join(rows[0])}")
        self.space = space
        self._by_key: dict[str, dict[str, float | None]] = {}
        from ..proxies.engine import WORST_SCORE

        size = getattr(space, "size", None)
        first_row: dict[str, int] = {}

        def put(key: str, vals: dict[str, float | None], n: int, what: str) -> None:
            if key in first_row:
                raise ConfigError(f"score table {path!r} row {n}: {what} is also on row {first_row[key]}; expected "
                                  "each arch once")
            first_row[key] = n
            self._by_key[key] = vals

        for n, r in enumerate(rows, start=1):
            where = f"score table {path!r} row {n}"
            for c in columns:
                v = r.get(c)
                if c not in self._live and v not in (None, "") and (
                        isinstance(v, bool) or not isinstance(v, (int, float, str)) or _number(v) is None):
                    raise ConfigError(f"{where}: {c} is {_short(v)}; expected a number (empty = the proxy failed)")
            # the engine's WORST_SCORE marks a failed proxy: keep it a failure (None)
            vals = {c: (None if (v := _finite(r.get(c))) is None or v <= WORST_SCORE else v)
                    for c in columns if c not in self._live}
            text_arch = r.get("arch") or r.get("arch_str")
            if r.get("index") in (None, "") and not text_arch:
                raise ConfigError(f"{where} has neither an index nor an arch; expected one of them")
            if r.get("index") not in (None, ""):
                idx = r["index"]
                ok = (isinstance(idx, int) and not isinstance(idx, bool)) or (isinstance(idx, str) and idx.isascii()
                                                                             and idx.isdigit())
                if not ok or int(idx) < 0 or (isinstance(size, int) and int(idx) >= size):
                    raise ConfigError(f"{where}: index {_short(idx)} is invalid; expected an arch index "
                                      f"0..{size - 1 if isinstance(size, int) else 'N'} of space {space.name}")
                put(f"i{int(idx)}", vals, n, f"index {int(idx)}")
            if text_arch:
                try:
                    key = space.format(space.parse(str(text_arch)))
                except EdgeNASError as exc:
                    raise ConfigError(f"{where}: arch: {exc.message}") from None
                put(key, vals, n, f"arch {key}")
        for c in columns:
            if c not in self._live and not any(v.get(c) is not None for v in self._by_key.values()):
                raise ConfigError(f"score table {path!r}: column {c!r} holds no score in any of its {len(rows):,} "
                                  "rows (all empty or failed); expected raw proxy values")
        n_archs = len({k for k in self._by_key if k.startswith("i")}) or len(self._by_key)
        #: what the caller should tell the user (a table covering part of the space)
        self.notes: tuple[str, ...] = ()
        if isinstance(size, int) and n_archs < size:
            self.notes = (f"score table {p.name} has scores for {n_archs:,} of {size:,} {space.name} archs; the others "
                          "score as failed and cannot reach the front (score the whole space with "
                          "'edgenas proxies score --all')",)
        self.components = tuple(columns)
        self.is_ensemble = len(columns) > 1
        self.proxy = name or ensemble or (columns[0] if len(columns) == 1 else f"rank({'+'.join(columns)})")
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        self.config = {"proxy": self.proxy, "components": list(columns), "table": p.name, "table_sha256": digest}
        if ensemble is not None:
            self.config["ensemble"] = ensemble

    def _row(self, arch: Arch) -> dict[str, float | None] | None:
        row = self._by_key.get(self.space.format(arch))
        if row is None:
            idx = self.space.index(arch)
            row = self._by_key.get(f"i{idx}") if idx is not None else None
        return row

    def covers(self, arch: Arch) -> bool:
        """True if the table has a row for ``arch``."""
        return self._row(arch) is not None

    def score(self, archs: Sequence[Arch]) -> list[RawScore]:
        out = []
        for a in archs:
            found = self._row(a)
            row = dict(found or {})
            if self._live and found is not None:
                from ..proxies.engine import WORST_SCORE, score_archs

                live = score_archs(self.space, [a], next(iter(self.space.datasets)), self._live)[0].scores
                row.update({c: (None if v <= WORST_SCORE else v) for c, v in live.items()})
            out.append(RawScore({c: row.get(c) for c in self.components}, 0.0))
        return out

    def combine(self, raw: Mapping[str, float | None], reference: Mapping[str, np.ndarray]) -> float:
        if self.recipe is not None:  # the product's rule, as ProxyScorer.combine
            from ..proxies.ensemble import ensemble_score

            cand = {c: (-math.inf if raw.get(c) is None else float(raw[c])) for c in self.components}
            return float(ensemble_score(self.recipe, cand, reference))
        # VKDNW_agg-style aggregation: sum over components of log(rank / (R + 1)), where rank is
        # 1 + the number of the R reference archs the candidate beats (ties count half)
        total = 0.0
        for c in self.components:
            v = raw.get(c)
            ref = reference[c]  # failed reference archs are -inf: beaten by every finite value
            if v is None:
                rank = 1.0
            else:
                rank = 1.0 + float(np.sum(ref < v)) + 0.5 * float(np.sum(ref == v))
            total += math.log(rank / (len(ref) + 1.0))
        return total


def _number(v: Any) -> float | None:
    """``float(v)`` (nan and inf included), or None when ``v`` is no number."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
