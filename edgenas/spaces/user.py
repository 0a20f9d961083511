"""Space definitions the user brings: a YAML file (``--space FILE.yaml``) or one added to
``$EDGENAS_HOME/spaces`` (``edgenas spaces add``), found by name from then on.

A file given by path is validated and added to the user's spaces under the name it defines (as
``edgenas spaces add`` does), so a run's ``config.json`` names it and ``--resume``, ``export`` and
``train`` of that run find it later, in this process or any other; runs also record the definition's
content hash, so a definition changed under a run is refused on resume. A name of a shipped space is
refused, and so is a different definition under a name already added (one name, one definition).
"""

from __future__ import annotations

from pathlib import Path

from .._io import atomic_write_text
from .._paths import user_spaces_dir
from ..errors import ConfigError, did_you_mean
from ._macro_def import definition_hash, load_definition
from .macro import MacroSpace

__all__ = ["add_space_file", "is_space_file", "load_user_space", "user_space_names"]

#: parsed user spaces by content hash (a definition is parsed once per process, read each time)
_PARSED: dict[str, MacroSpace] = {}


def is_space_file(text: str) -> bool:
    """True when a ``--space`` value names a definition file rather than a space."""
    return isinstance(text, str) and text.lower().endswith((".yaml", ".yml"))


def user_space_names() -> list[str]:
    """Names of the spaces in ``$EDGENAS_HOME/spaces``."""
    folder = user_spaces_dir()
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_user_space(name: str) -> MacroSpace | None:
    """The user's space ``name`` (``$EDGENAS_HOME/spaces/{name}.yaml``), ``None`` if there is none."""
    path = user_spaces_dir() / f"{name}.yaml"
    if not path.is_file():
        return None
    from .._read import read_text

    text = read_text(path, what="space definition", max_bytes=16 * 2**20)
    key = definition_hash(text)
    if key not in _PARSED:
        space = MacroSpace.from_yaml_text(text, where=str(path))
        if space.name != name:
            raise ConfigError(f"space definition {str(path)!r} defines name {space.name!r}; expected {name!r} "
                              "(the file name)")
        _PARSED[key] = space
    return _PARSED[key]


def add_space_file(path: str | Path, *, taken: set[str] | frozenset[str] = frozenset(), replace: bool = False,
                   proxies: set[str] | frozenset[str] | None = None) -> str:
    """Validate the definition at ``path`` and add it to ``$EDGENAS_HOME/spaces``; its name.

    Args:
        taken: names of shipped/registered spaces (refused).
        replace: overwrite a different definition already added under the name.
        proxies: the proxy and ensemble names ``default_proxy`` may take (``None``: not checked).

    Raises:
        ConfigError: a bad definition, a shipped name, or another definition under the name.
    """
    d = load_definition(path)
    MacroSpace(d)  # builds its choices: a definition that cannot make a space fails here
    if proxies is not None and d.default_proxy is not None and d.default_proxy not in proxies:
        close = did_you_mean(d.default_proxy, proxies)
        raise ConfigError(f"space definition field default_proxy of {str(path)!r}: unknown proxy {d.default_proxy!r}; "
                          + (f"did you mean {close[0]!r}?" if close else "expected a name of `edgenas proxies list`"))
    if d.name in taken:
        raise ConfigError(f"space name {d.name!r} of {str(path)!r} is a shipped space; expected another name "
                          "(set name: in the file)")
    dest = user_spaces_dir() / f"{d.name}.yaml"
    if dest.is_file() and not replace:
        old = dest.read_text(encoding="utf-8")
        if definition_hash(old) == definition_hash(d.source):
            return d.name
        raise ConfigError(f"space {d.name!r} already exists in {str(dest)!r} with another definition; expected a "
                          f"new name in {str(path)!r}, or `edgenas spaces add --replace {path}`")
    atomic_write_text(dest, d.source)
    return d.name


def user_definition_hash(space: object) -> str | None:
    """Content hash of a user's space definition (``None`` for a shipped or Python-defined space): recorded
    by runs and by the tables measured on the space, which a changed definition no longer matches."""
    from .macro import shipped_definition_names

    d = getattr(space, "definition", None)
    source = getattr(d, "source", None)
    name = getattr(space, "name", None)
    return None if not isinstance(source, str) or name in shipped_definition_names() else definition_hash(source)
