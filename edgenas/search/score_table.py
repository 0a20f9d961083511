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
import logging
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

log = logging.getLogger(__name__)


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
    """The scores already journaled at ``path`` (written for ``key``), checked line by line.

    A kill or a full disk mid-write leaves at most a torn last line (no newline): it is dropped and
    cut from the file, so the next append never continues a fragment.

    Raises:
        ConfigError: the journal belongs to another configuration, or a complete line is not a
            score record (naming the line).
    """
    from .._read import decode_text, parse_json, read_bytes

    if not path.exists() and not path.is_symlink():
        return {}
    where = repr(str(path))
    raw = read_bytes(path, what="score journal")
    good = raw.rfind(b"\n") + 1  # a last line without its newline was being written: drop it
    if good < len(raw):
        log.warning("%s: dropped a torn last line (interrupted write)", path)
        try:
            with open(path, "r+b") as f:
                f.truncate(good)
        except OSError as exc:
            raise ConfigError(f"cannot repair score journal {where}: {exc.strerror}") from None
    lines = decode_text(raw[:good], where=where, what="score journal").splitlines()
    if not lines:
        return {}

    def corrupt(n: int, why: str) -> ConfigError:
        return ConfigError(f"score journal {where} is corrupt at line {n}: {why}; expected "
                           f"{'the JSON header' if n == 1 else 'one score record per line'} (delete it to start over)")

    def record(n: int, line: str) -> Any:
        try:
            return parse_json(line, where=f"{where} line {n}", what="score journal")
        except ConfigError as exc:
            raise corrupt(n, exc.message) from None

    head = record(1, lines[0])
    if not isinstance(head, dict) or not isinstance(head.get("journal_key"), dict):
        raise corrupt(1, "no 'journal_key' object")
    if head["journal_key"] != key:
        raise ConfigError(f"journal {where} was written for another configuration "
                          f"({head['journal_key']}); expected {key}: use another --out or delete it")
    done: dict[str, dict[str, float | None]] = {}
    for n, line in enumerate(lines[1:], start=2):
        rec = record(n, line)
        scores = rec.get("scores") if isinstance(rec, dict) else None
        if not isinstance(rec, dict) or not isinstance(rec.get("iso_key"), str) or not isinstance(scores, dict):
            raise corrupt(n, "fields 'iso_key' (a string) and 'scores' (an object) expected")
        row: dict[str, float | None] = {}
        for c in key["components"]:
            v = scores.get(c)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise corrupt(n, f"scores[{c!r}] is {v!r}, not a number or null")
            row[c] = None if v is None else float(v)
        done[rec["iso_key"]] = row
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
    ex = get_executor(executor, workers=workers, address=ray_address)
    fh = None
    try:
        for i, raw in ex.map_unordered(job, [space.format(classes[k]) for k in todo]):
            if fh is None:  # opened at the first score: a run that fails to start leaves no journal
                out.parent.mkdir(parents=True, exist_ok=True)
                fh = journal.open("a")
                if not journal.stat().st_size:
                    fh.write(json.dumps({"journal_key": key, "edgenas_version": __version__}) + "\n")
            rec = {"iso_key": todo[i], "arch": space.format(classes[todo[i]]), "scores": dict(raw.values)}
            fh.write(json.dumps(rec, allow_nan=False) + "\n")
            fh.flush()  # committed before the next score: a kill loses at most the ones in flight
            done[todo[i]] = dict(raw.values)
            if progress is not None:
                progress(len(done), len(classes))
    finally:
        if fh is not None:
            fh.close()
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
