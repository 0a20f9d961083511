"""Search spaces: a registry of :class:`SearchSpace` instances.

Example:
    >>> from edgenas.spaces import get_space
    >>> space = get_space("nb201")
    >>> arch = space.parse("6111")
    >>> str(arch)
    '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|'
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .._registry import Registry
from ..errors import UnknownNameError
from .base import Arch, DatasetSpec, LayerSpec, SearchSpace

__all__ = ["Arch", "DatasetSpec", "FeatureNet", "LayerSpec", "SearchSpace", "get_space", "list_spaces", "register_space", "shipped_space_names"]

_FACTORIES: Registry[Callable[[], SearchSpace]] = Registry("space")
_INSTANCES: dict[str, SearchSpace] = {}
_USER_NAME = re.compile(r"^[a-z][a-z0-9_]*(-[a-z0-9_]+)*$")


def __getattr__(name: str) -> object:
    # FeatureNet needs torch; importing the registry does not
    if name == "FeatureNet":
        from ._protocol import FeatureNet

        return FeatureNet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_space(name: str) -> Callable[[Callable[[], SearchSpace]], Callable[[], SearchSpace]]:
    """Register a zero-argument factory (usually the class) under ``name``."""
    return _FACTORIES.register(name)


def get_space(name: str) -> SearchSpace:
    """The (stateless, cached) space ``name``: a registered (shipped) space, a space the user added
    (``$EDGENAS_HOME/spaces/{name}.yaml``), or a definition file ``*.yaml`` (validated and added to the
    user's spaces under the name it defines, see :mod:`edgenas.spaces.user`).

    Raises:
        UnknownNameError: for an unknown name, with close matches.
        ConfigError: a bad definition file, or one whose name is taken.
    """
    if not isinstance(name, str):
        raise UnknownNameError("space", name, list_spaces())
    if name in _INSTANCES:
        return _INSTANCES[name]
    if name in _FACTORIES:
        _INSTANCES[name] = _FACTORIES.get(name)()
        return _INSTANCES[name]
    from .user import add_space_file, is_space_file, load_user_space

    if is_space_file(name):
        name = add_space_file(name, taken=frozenset(_FACTORIES))
    if isinstance(name, str) and _USER_NAME.match(name):
        space = load_user_space(name)
        if space is not None:
            return space
    return _FACTORIES.get(str(name))  # raises UnknownNameError with close matches


def shipped_space_names() -> list[str]:
    """Names of the spaces that ship with edgenas (registered in code or shipped as definitions)."""
    return _FACTORIES.names()


def list_spaces(pattern: str = "*") -> list[str]:
    """Names of the shipped spaces and the user's (``$EDGENAS_HOME/spaces``) matching an fnmatch pattern."""
    import fnmatch

    from .user import user_space_names

    user = [n for n in user_space_names() if n not in _FACTORIES and fnmatch.fnmatch(n, pattern)]
    return sorted([*_FACTORIES.names(pattern), *user])


def _register_builtin() -> None:
    from functools import partial

    from .macro import MacroSpace
    from .nb201 import NB201Space

    _FACTORIES.add("nb201", NB201Space)
    # macro spaces shipped as YAML definitions (edgenas/spaces/definitions/); fbnet.yaml is the FBNet
    # space as data, but the registered ``fbnet`` stays FBNetSpace (HW-NAS-Bench LUT helpers, op indices)
    for name in ("macro", "mobilenetv2", "mobilenetv3"):
        _FACTORIES.add(name, partial(MacroSpace.shipped, name))
    try:
        from .fbnet import FBNetSpace
    except ImportError:  # the FBNet space module is optional during development
        return
    _FACTORIES.add("fbnet", FBNetSpace)


_register_builtin()
