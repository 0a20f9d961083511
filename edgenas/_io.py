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
from pathlib import Path

from .errors import ConfigError

__all__ = ["atomic_write_bytes", "atomic_write_text", "check_output_file"]


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
