"""Atomic file writes: the one way edgenas writes a file that something reads back.

The bytes go to a temporary file in the same folder, are flushed to disk, and replace the target
with one ``os.replace``: a kill at any moment leaves the old file or the new one, never half of
one. A target that exists and is not a regular file (``/dev/null``, a folder, a FIFO) is refused
rather than replaced.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .errors import ConfigError

__all__ = ["atomic_write_bytes", "atomic_write_text", "check_output_file", "hold_lock", "release_lock"]


def check_output_file(path: str | Path) -> Path:
    """Refuse an output path that exists and is not a regular file (check it before the work).

    Raises:
        ConfigError: naming the path.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise ConfigError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"output {str(path)!r} exists and is not a regular file; expected a file path")
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (creating its folder); returns the path.

    Raises:
        ConfigError: ``path`` exists and is not a regular file, or cannot be written.
    """
    path = check_output_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    except OSError as exc:
        raise ConfigError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    try:
        # mkstemp makes the file private (0600); outputs get the mode a plain open() would give
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ConfigError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def hold_lock(lock: Path, busy: Callable[[str], str],
              cannot: Callable[[OSError], Exception] | None = None) -> IO[str]:
    """An exclusive lock on ``lock`` for this process (flock: the kernel releases it when the process dies,
    so a kill -9 never leaves a stale lock); hand the result to :func:`release_lock`.

    Raises:
        ConfigError: ``busy(pid of the holder)``, when another live process holds it.
        ConfigError: the lock file cannot be written (or ``cannot(the OSError)``, e.g. a full disk).
    """
    import fcntl

    def failed(exc: OSError) -> Exception:
        if cannot is not None:
            return cannot(exc)
        return ConfigError(f"cannot write lock {str(lock)!r}: {exc.strerror or exc}")

    for _ in range(5):  # a holder that ends removes the file: lock the file that is at the path
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            fh = open(lock, "a+")  # noqa: SIM115 - held until release_lock
        except OSError as exc:
            raise failed(exc) from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise ConfigError(busy(holder)) from None
        try:
            if os.stat(lock).st_ino == os.fstat(fh.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        fh.close()  # locked a file an ending holder had just removed: try the one at the path now
    else:
        raise ConfigError(f"cannot take the lock {str(lock)!r}; expected one process at a time")
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
    except OSError as exc:  # e.g. a full disk: nothing of this process stays behind
        release_lock(fh)
        raise failed(exc) from None
    return fh


def release_lock(fh: IO[str]) -> None:
    """Remove the lock file, then release the lock (a holder that ends leaves no lock file behind)."""
    try:
        os.unlink(fh.name)
    except OSError:
        pass
    fh.close()  # closing the file releases the flock
