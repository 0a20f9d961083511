"""Checked reads: the one way edgenas reads a file it wrote earlier or was given.

Every read goes through :func:`read_bytes`: the path must be a regular file (a FIFO, a device or a
folder is refused *before* anything blocks on it: the file is opened non-blocking and checked with
``fstat``), no larger than a cap, and readable. On top of it: :func:`read_text` (UTF-8, a leading
BOM dropped, bad bytes named by offset), :func:`parse_json` / :func:`load_json` (nesting depth
capped, ``NaN`` / ``Infinity`` refused unless asked for), :func:`load_yaml` (a safe loader: no
tags, no anchors, duplicate keys refused in linear time, nesting depth capped), :func:`csv_rows`
(the csv module's field limit and its errors become one message) and :func:`gunzip` (a corrupt or
oversized deflate stream is one message). Each failure is one error of the caller's class
(``ConfigError`` by default) naming the file and what was expected.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import ConfigError, EdgeNASError

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "check_depth", "check_input_path", "csv_rows", "decode_text", "gunzip", "load_json", "load_yaml",
           "parse_json", "parse_yaml", "read_bytes", "read_first_line", "read_text", "yaml_loader"]

#: no file edgenas reads is near this (the largest shipped table is ~3 MB, a whole-space score table
#: of NB201 ~1 MB): a larger one is a wrong path, not an input
MAX_FILE_BYTES = 256 * 2**20
#: nesting of JSON / YAML documents: edgenas's own files nest at most ~6 levels
MAX_DEPTH = 64

Err = Callable[[str], EdgeNASError]


def _name(path: str | Path) -> str:
    return repr(str(path))


def read_bytes(path: str | Path, *, what: str = "file", max_bytes: int = MAX_FILE_BYTES,
               error: Err = ConfigError, head: bool = False) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``; with ``head``, its first
    ``max_bytes`` bytes however large it is).

    Raises:
        ``error``: missing, not a regular file (FIFO, device, folder), too large, or unreadable;
            naming ``what`` and the path.
    """
    try:
        fd = os.open(str(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{what} {_name(path)} not found; expected an existing file") from None
    except OSError as exc:
        raise error(f"cannot read {what} {_name(path)}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file")
            raise error(f"{what} {_name(path)} is {kind}; expected a regular file")
        if st.st_size > max_bytes and not head:
            raise error(f"{what} {_name(path)} is {st.st_size:,} bytes; expected at most {max_bytes:,}")
        chunks, n = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            n += len(chunk)
            if n > max_bytes and head:
                chunks.append(chunk[:max_bytes - n])
                break
            if n > max_bytes:  # it grew while being read
                raise error(f"{what} {_name(path)} is over {max_bytes:,} bytes; expected at most {max_bytes:,}")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"cannot read {what} {_name(path)}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_first_line(path: str | Path, *, what: str = "file", max_bytes: int = 1 << 20,
                    error: Err = ConfigError) -> str:
    """The first line of the regular UTF-8 file ``path`` (read no further than ``max_bytes``)."""
    data = read_bytes(path, what=what, max_bytes=max_bytes, error=error, head=True)
    return decode_text(data.split(b"\n", 1)[0], where=_name(path), what=what, error=error)


def check_input_path(path: str | Path, *, what: str = "file", folder_ok: bool = True,
                     error: Err = ConfigError) -> Path:
    """``path`` if it is an existing, readable regular file (or folder, with ``folder_ok``): checked
    at the door, before any output or store is made, so a typo costs nothing."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{what} {_name(path)} not found; expected an existing file{' or folder' if folder_ok else ''}") \
            from None
    except (OSError, ValueError) as exc:
        raise error(f"cannot read {what} {_name(path)}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(st.st_mode) and folder_ok:
        if not os.access(p, os.R_OK | os.X_OK):
            raise error(f"cannot read {what} {_name(path)}: permission denied; expected a readable folder")
        return p
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {_name(path)} is not a regular file{' or a folder' if folder_ok else ''}; expected "
                    f"a file{' or a folder' if folder_ok else ''}")
    if not os.access(p, os.R_OK):
        raise error(f"cannot read {what} {_name(path)}: permission denied; expected a readable file")
    return p


def decode_text(data: bytes, *, where: str, what: str = "file", error: Err = ConfigError) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} {where} is not UTF-8 text (byte {exc.start}); expected a UTF-8 file") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path: str | Path, *, what: str = "file", max_bytes: int = MAX_FILE_BYTES,
              error: Err = ConfigError) -> str:
    """:func:`read_bytes` decoded as UTF-8 (a leading BOM dropped)."""
    return decode_text(read_bytes(path, what=what, max_bytes=max_bytes, error=error), where=_name(path), what=what,
                       error=error)


def check_depth(obj: Any, *, where: str, what: str = "file", max_depth: int = MAX_DEPTH,
                error: Err = ConfigError) -> Any:
    """``obj`` unchanged if its lists / dicts nest at most ``max_depth`` deep (checked without recursion)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise error(f"{what} {where} nests deeper than {max_depth} levels; expected a flat document")
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def parse_json(text: str, *, where: str, what: str = "file", max_depth: int = MAX_DEPTH,
               allow_nan: bool = False, error: Err = ConfigError) -> Any:
    """One JSON document; non-finite numbers (``NaN``, ``Infinity``, ``1e999``) refused unless ``allow_nan``."""
    try:
        obj = json.loads(text, parse_constant=None if allow_nan else _no_constant)
    except json.JSONDecodeError as exc:
        raise error(f"{what} {where} is not JSON ({exc.msg}, line {exc.lineno}); expected a JSON "
                    "document") from None
    except RecursionError:
        raise error(f"{what} {where} nests deeper than {max_depth} levels; expected a flat document") from None
    except ValueError as exc:
        raise error(f"{what} {where} holds the number {exc}; expected finite numbers") from None
    if not allow_nan:
        _check_finite(obj, where=where, what=what, error=error)
    return check_depth(obj, where=where, what=what, max_depth=max_depth, error=error)


def _check_finite(obj: Any, *, where: str, what: str, error: Err) -> None:
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, float):
            if not math.isfinite(node):  # 1e999 parses to inf without passing parse_constant
                raise error(f"{what} {where} holds the number {node!r}; expected finite numbers")
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def load_json(path: str | Path, *, what: str = "file", max_bytes: int = MAX_FILE_BYTES, max_depth: int = MAX_DEPTH,
              allow_nan: bool = False, error: Err = ConfigError) -> Any:
    """The JSON document in the regular file ``path`` (see :func:`parse_json`)."""
    return parse_json(read_text(path, what=what, max_bytes=max_bytes, error=error), where=_name(path), what=what,
                      max_depth=max_depth, allow_nan=allow_nan, error=error)


def yaml_loader(max_depth: int = MAX_DEPTH) -> type:
    """``yaml.SafeLoader`` that refuses anchors / aliases (a few lines of them expand to billions of
    nodes), duplicate keys (checked with a set: linear in the number of keys) and nesting deeper
    than ``max_depth``."""
    import yaml

    class Loader(yaml.SafeLoader):
        _depth = 0

        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
                raise yaml.YAMLError("anchors and aliases (&name, *name) are not allowed")
            self._depth += 1
            try:
                if self._depth > max_depth:
                    raise yaml.YAMLError(f"nests deeper than {max_depth} levels")
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in seen:
                        raise yaml.YAMLError(f"duplicate key {key!r}")
                    seen.add(key)
                except TypeError:  # an unhashable key: SafeLoader refuses it below
                    pass
            return super().construct_mapping(node, deep)

    return Loader


def parse_yaml(text: str, *, where: str, what: str = "file", max_depth: int = MAX_DEPTH,
               error: Err = ConfigError) -> Any:
    """One YAML document through :func:`yaml_loader` (no tags, anchors, duplicate keys or deep nesting)."""
    import yaml

    try:
        return yaml.load(text, Loader=yaml_loader(max_depth))  # noqa: S506 (a SafeLoader)
    except RecursionError:
        raise error(f"{what} {where} nests deeper than {max_depth} levels; expected a flat document") from None
    except (yaml.YAMLError, TypeError, ValueError) as exc:
        raise error(f"{what} {where} is not valid YAML: {' '.join(str(exc).split())[:300]}") from None


def load_yaml(path: str | Path, *, what: str = "file", max_bytes: int = 16 * 2**20, max_depth: int = MAX_DEPTH,
              error: Err = ConfigError) -> Any:
    """The YAML document in the regular file ``path``, through :func:`yaml_loader`."""
    text = read_text(path, what=what, max_bytes=max_bytes, error=error)
    return parse_yaml(text, where=_name(path), what=what, max_depth=max_depth, error=error)


def gunzip(data: bytes, *, where: str, what: str = "file", max_bytes: int = MAX_FILE_BYTES,
           error: Err = ConfigError) -> bytes:
    """The decompressed bytes of gzip ``data`` (at most ``max_bytes``: a small bomb stays small)."""
    import gzip
    import zlib

    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise error(f"{what} {where} is not a valid gzip file ({exc}); expected a .gz written by gzip") from None
    if len(out) > max_bytes:
        raise error(f"{what} {where} decompresses to over {max_bytes:,} bytes; expected at most {max_bytes:,}")
    return out


def csv_rows(lines: Iterable[str], *, where: str, what: str = "file", error: Err = ConfigError) -> list[list[str]]:
    """CSV rows of ``lines``; a cell over the csv module's field limit (128 KiB) or a malformed line
    is one error naming the line."""
    reader = csv.reader(lines)
    try:
        return list(reader)
    except csv.Error as exc:
        raise error(f"{what} {where} line {reader.line_num}: {exc}; expected comma-separated cells") from None
