"""Whole-space score tables: every isomorphism class of an enumerable space scored once, on any
executor, resumable, written as the CSV(.gz) that :class:`~edgenas.search.scoring.TableScorer`
reads, so later searches price proxies by lookup (``edgenas search --score-table FILE``).

Each class is scored on one member (the first in the space's order), with the engine's per-arch
seed, and the row is written for every member; raw component values are stored, never ranks. Each
score is appended to a journal (``FILE.journal.jsonl``) the moment it exists: after Ctrl-C,
kill -9 or a lost cluster, the same command scores only what is missing.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write_bytes
from .._version import __version__
from ..errors import ConfigError
from ..spaces import SearchSpace
from .executors import get_executor

__all__ = ["ScoreTableResult", "score_space"]


@dataclass(frozen=True)
class ScoreTableResult:
    """What :func:`score_space` did: ``out`` (the table), ``n_classes``, ``n_scored`` in this call,
    ``n_reused`` from the journal, ``n_rows`` (archs in the table)."""

    out: Path
    n_classes: int
    n_scored: int
    n_reused: int
    n_rows: int


def _journal_key(space: SearchSpace, dataset: str, components: Sequence[str], job: Mapping[str, Any]) -> dict:
    return {"space": space.name, "dataset": dataset, "components": list(components), "seed": job["seed"],
            "batch_size": job["batch_size"], "resolution": job["resolution"], "data": job["data"] or "gaussian"}


def _read_journal(path: Path, key: dict) -> dict[str, dict[str, float | None]]:
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    if not lines:
        return {}
    try:
        head = json.loads(lines[0])
    except ValueError:
        raise ConfigError(f"journal {str(path)!r} is corrupt (line 1); expected the JSON header "
                          "(delete it to start over)") from None
    if head.get("journal_key") != key:
        raise ConfigError(f"journal {str(path)!r} was written for another configuration "
                          f"({head.get('journal_key')}); expected {key}: use another --out or delete it")
    done: dict[str, dict[str, float | None]] = {}
    for n, line in enumerate(lines[1:], start=2):
        try:
            rec = json.loads(line)
            done[str(rec["iso_key"])] = {c: rec["scores"].get(c) for c in key["components"]}
        except (ValueError, KeyError, TypeError, AttributeError):
            if n == len(lines):  # a kill mid-write leaves at most a torn last line
                break
            raise ConfigError(f"journal {str(path)!r} is corrupt at line {n}; expected one JSON object per line") from None
    return done


def score_space(
    space: SearchSpace, dataset: str, components: Sequence[str], out: str | Path, *, seed: int = 0,
    device: str = "cpu", batch_size: int = 16, data: str | None = None, resolution: int | None = None,
    executor: str = "local", workers: int = 1, ray_address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScoreTableResult:
    """Score every isomorphism class of ``space`` with the single proxies ``components`` and write
    the table to ``out`` (``.gz``: gzip). Resumable through ``<out>.journal.jsonl``.

    Raises:
        ConfigError: the space cannot be enumerated, the journal belongs to another configuration.
    """
    out = Path(out)
    try:
        archs = list(space.enumerate())
    except Exception as exc:  # noqa: BLE001 - spaces raise ArchError for too many archs
        raise ConfigError(f"--all needs an enumerable space; {space.name!r}: {exc}") from None
    classes: dict[str, Any] = {}
    for a in archs:
        if not space.is_degenerate(a):
            classes.setdefault(space.iso_key(a), a)
    job = {"space": space.name, "dataset": dataset, "components": list(components), "seed": int(seed),
           "device": device, "batch_size": int(batch_size), "data": data, "resolution": resolution}
    key = _journal_key(space, dataset, components, job)
    journal = out.with_name(out.name + ".journal.jsonl")
    done = _read_journal(journal, key)
    todo = [k for k in classes if k not in done]
    n_reused = len(classes) - len(todo)
    out.parent.mkdir(parents=True, exist_ok=True)
    ex = get_executor(executor, workers=workers, address=ray_address)
    try:
        with journal.open("a") as fh:
            if not journal.stat().st_size:
                fh.write(json.dumps({"journal_key": key, "edgenas_version": __version__}) + "\n")
                fh.flush()
            for i, raw in ex.map_unordered(job, [space.format(classes[k]) for k in todo]):
                rec = {"iso_key": todo[i], "arch": space.format(classes[todo[i]]), "scores": dict(raw.values)}
                fh.write(json.dumps(rec) + "\n")
                fh.flush()  # committed before the next score: a kill loses at most the ones in flight
                done[todo[i]] = dict(raw.values)
                if progress is not None:
                    progress(len(done), len(classes))
    finally:
        ex.close()
    buf = io.StringIO()
    buf.write(f"# edgenas {__version__} score table: raw proxy values (higher = better; empty = failed), "
              f"one row per arch; degenerate archs left out\n")
    buf.write("# " + json.dumps({"kind": "score_table", **key}) + "\n")
    buf.write(",".join(["index" if space.index(archs[0]) is not None else "arch", *components]) + "\n")
    n_rows = 0
    for a in archs:
        k = space.iso_key(a)
        if k not in done:
            continue
        ident = space.index(a)
        cells = [("" if (v := done[k].get(c)) is None or not math.isfinite(v) else repr(float(v))) for c in components]
        buf.write(",".join([space.format(a) if ident is None else str(ident), *cells]) + "\n")
        n_rows += 1
    data_bytes = buf.getvalue().encode()
    atomic_write_bytes(out, gzip.compress(data_bytes, mtime=0) if out.suffix == ".gz" else data_bytes)
    return ScoreTableResult(out, len(classes), len(todo), n_reused, n_rows)
