"""Durable record of scored candidates: one SQLite file (WAL) per run folder.

Each scored candidate is committed as soon as its proxy scores exist, so a Ctrl-C or ``kill -9``
loses at most the candidate being scored. Rows are keyed by (space, dataset, proxy key, seed, data,
iso key): the proxy key is a digest of the proxy configuration, so a store never serves scores of
another configuration. The whole resolved run configuration is kept in ``meta`` and a resume with a
different one is refused.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import hold_lock, release_lock
from ..errors import ConfigError, EdgeNASError

__all__ = ["CandidateStore", "StoredScore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    space TEXT NOT NULL,
    dataset TEXT NOT NULL,
    proxy_key TEXT NOT NULL,
    seed INTEGER NOT NULL,
    data TEXT NOT NULL,
    iso_key TEXT NOT NULL,
    arch TEXT NOT NULL,
    raw_scores TEXT NOT NULL,
    seconds REAL NOT NULL,
    n_warnings INTEGER NOT NULL,
    device TEXT NOT NULL,
    scored_at REAL NOT NULL,
    PRIMARY KEY (space, dataset, proxy_key, seed, data, iso_key)
);
"""
#: the columns of each table, as a store written by this schema has them
_COLUMNS = {"meta": ("key", "value"),
            "scores": ("space", "dataset", "proxy_key", "seed", "data", "iso_key", "arch", "raw_scores", "seconds",
                       "n_warnings", "device", "scored_at")}


@dataclass(frozen=True)
class StoredScore:
    """Raw proxy values of one isomorphism class, as scored (JSON floats; ``None`` = failed)."""

    arch: str
    iso_key: str
    raw_scores: Mapping[str, float]
    seconds: float
    n_warnings: int


class CandidateStore:
    """SQLite store of a run folder.

    Args:
        path: the ``.sqlite`` file (created if missing).
        key: (space, dataset, proxy_key, seed, data) that every row of this run carries.
    """

    def __init__(self, path: Path, *, key: tuple[str, str, str, int, str]) -> None:
        self.path = Path(path)
        self.key = key
        self._lock = _lock_run(self.path)
        self._db: sqlite3.Connection | None = None
        try:
            with self._sqlite():
                # isolation_level=None: autocommit; every insert is its own durable transaction
                self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives process kills
                self._db.executescript(_SCHEMA)
                self._check_schema()
        except BaseException:
            self.close()
            raise

    @contextmanager
    def _sqlite(self) -> Iterator[None]:
        """SQLite errors as one ConfigError naming the store file (a full disk, a corrupt file)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            where = str(self.path)
            code = getattr(exc, "sqlite_errorname", "")  # Python >= 3.11; the message otherwise
            text = str(exc)
            if code == "SQLITE_FULL" or "disk is full" in text:
                raise ConfigError(f"cannot write run store {where!r}: database or disk is full; expected free "
                                  "disk space (free some, then rerun with --resume: scored candidates are kept)"
                                  ) from None
            if code.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_BUSY")) \
                    or any(s in text for s in ("disk I/O error", "unable to open", "readonly", "locked")):
                raise ConfigError(f"cannot use run store {where!r}: {text}") from None
            raise ConfigError(f"run store {where!r} is not a readable edgenas store ({text}); expected the "
                              f"{self.path.name} of an edgenas search (move it away to start a new run)") from None

    def _check_schema(self) -> None:
        assert self._db is not None
        for table, want in _COLUMNS.items():
            got = tuple(r[1] for r in self._db.execute(f"PRAGMA table_info({table})"))
            if got != want:
                raise ConfigError(f"run store {str(self.path)!r}: table {table!r} has columns {', '.join(got)}; "
                                  f"expected {', '.join(want)} (not a store of this edgenas version; move it away "
                                  "to start a new run)")

    def _bad(self, what: str, value: Any, expected: str) -> ConfigError:
        text = repr(value)
        text = text if len(text) <= 60 else text[:57] + "..."
        return ConfigError(f"run store {str(self.path)!r}: {what} is {text}; expected {expected} (a corrupt store: "
                           "move it away to start a new run)")

    def _json(self, raw: Any, what: str, expected: str) -> Any:
        """A JSON cell of the store, checked (text, nesting depth) through edgenas._read.parse_json."""
        from .._read import parse_json

        if not isinstance(raw, str):
            raise self._bad(what, raw, expected)
        try:
            return parse_json(raw, where=what, allow_nan=True)
        except EdgeNASError:
            raise self._bad(what, raw, expected) from None

    # -- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any | None:
        with self._sqlite():
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return self._json(row[0], f"meta {key!r}", "JSON text")

    def set_meta(self, key: str, value: Any) -> None:
        with self._sqlite():
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value, sort_keys=True))
            )

    def check_config(self, config: Mapping[str, Any]) -> bool:
        """Record ``config`` on first use; on a resume, refuse a different one.

        Returns:
            True if the store already held this configuration (a resume).

        Raises:
            ConfigError: naming the first differing field.
        """
        old = self.get_meta("config")
        new = json.loads(json.dumps(dict(config), sort_keys=True))
        if old is not None and not isinstance(old, dict):
            raise self._bad("meta 'config'", old, "a JSON object")
        if old is None:
            self.set_meta("config", new)
            return False
        if old != new:
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            k = diff[0]
            raise ConfigError(
                f"run folder {str(self.path.parent)!r} holds a different search config "
                f"({k}: stored {old.get(k)!r}, given {new.get(k)!r}); use another --out or the same options",
            )
        return True

    # -- scores -------------------------------------------------------------------------
    def stored_data_spelling(self, data: str | None) -> str | None:
        """``data`` as the stored run spelled it when both name the same path from here (``./DATA``, ``DATA/``
        and its absolute path are one --data), else ``data``; the rows are then keyed by that spelling."""
        try:
            stored = self.get_meta("config")
        except ConfigError:
            return data  # check_config reports the damaged meta
        old = stored.get("data") if isinstance(stored, dict) else None
        if isinstance(old, str) and data is not None and old != data and Path(old).resolve() == Path(data).resolve():
            self.key = (*self.key[:4], old)
            return old
        return data

    def _key(self, seed: int | None) -> tuple[Any, ...]:
        """The row key of this run, or of its scores under another init ``seed`` (the noise re-scoring)."""
        return self.key if seed is None else (*self.key[:3], int(seed), self.key[4])

    def get(self, iso_key: str, *, seed: int | None = None) -> StoredScore | None:
        """The stored scores of ``iso_key`` (``None`` if not scored yet), checked field by field; ``seed``:
        its scores under that other init seed.

        Raises:
            ConfigError: a row that is not what :meth:`put` writes, naming the store, class and field.
        """
        with self._sqlite():
            row = self._db.execute(
                "SELECT arch, iso_key, raw_scores, seconds, n_warnings FROM scores WHERE space=? AND dataset=? "
                "AND proxy_key=? AND seed=? AND data=? AND iso_key=?",
                (*self._key(seed), iso_key),
            ).fetchone()
        if row is None:
            return None
        arch, key, raw, seconds, n_warn = row
        what = f"row {iso_key!r}"
        if not isinstance(arch, str) or not arch:
            raise self._bad(f"{what} arch", arch, "an arch string")
        scores = self._json(raw, f"{what} raw_scores", "a JSON object {proxy: score or null}")
        if not isinstance(scores, dict) or not all(
                v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in scores.values()):
            raise self._bad(f"{what} raw_scores", raw, "a JSON object {proxy: score or null}")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
                or seconds < 0:
            raise self._bad(f"{what} seconds", seconds, "a finite number >= 0")
        if isinstance(n_warn, bool) or not isinstance(n_warn, int) or n_warn < 0:
            raise self._bad(f"{what} n_warnings", n_warn, "an integer >= 0")
        return StoredScore(arch, key, scores, float(seconds), int(n_warn))

    def put(self, rec: StoredScore, *, device: str, seed: int | None = None) -> None:
        """Insert one scored candidate and commit it (an existing row is kept); ``seed``: its scores under
        that other init seed.

        Raises:
            ConfigError: the disk is full or the store cannot be written (the store stays as it was).
        """
        with self._sqlite():
            self._db.execute(
                "INSERT OR IGNORE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*self._key(seed), rec.iso_key, rec.arch, json.dumps(dict(rec.raw_scores), sort_keys=True),
                 float(rec.seconds), int(rec.n_warnings), device, time.time()),
            )

    def count(self) -> int:
        with self._sqlite():
            return int(self._db.execute(
                "SELECT COUNT(*) FROM scores WHERE space=? AND dataset=? AND proxy_key=? AND seed=? AND data=?",
                self.key).fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:  # pragma: no cover - a busy checkpoint (or a full disk) is harmless
                pass
            self._db.close()
            self._db = None
        if self._lock is not None:
            release_lock(self._lock)
            self._lock = None


def _lock_run(store: Path) -> Any:
    """An exclusive lock on the run folder for this process (``<store>.lock``; :func:`edgenas._io.hold_lock`).

    Raises:
        ConfigError: another live process holds the run (naming its pid).
    """
    return hold_lock(store.with_name(store.name + ".lock"), lambda holder: (
        f"run folder {str(store.parent)!r} is in use by another edgenas process (pid {holder}); expected one "
        "search per folder: wait for it, stop it, or use another --out"))


def check_writable(folder: Path) -> None:
    """Create ``folder`` (and parents) and prove a file can be written there.

    Raises:
        ConfigError: the folder cannot be created or written.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".edgenas_write_probe"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"cannot write run folder {str(folder)!r}: {exc.strerror or exc}; expected a writable directory"
        ) from None
