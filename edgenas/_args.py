"""Python callers' arguments normalised at the door: names and paths, as the CLI's options give them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ConfigError

__all__ = ["names_arg", "path_arg"]


def names_arg(what: str, value: Any) -> tuple[Any, ...]:
    """A Python caller's names (a list, a tuple, or one bare string) as a tuple; each name is checked where
    it is used."""
    if isinstance(value, str):
        return (value,)
    if value is None or isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise ConfigError(f"{what}={value!r} is invalid; expected a list of names (or one name)")
    return tuple(value)


def path_arg(what: str, value: Any, *, required: bool = False) -> str | None:
    """A Python caller's path (str or os.PathLike; ``None`` = not given, unless ``required``) as a str."""
    if (value is None and not required) or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise ConfigError(f"{what}={value!r} is invalid; expected a path (a str or a pathlib.Path)")
