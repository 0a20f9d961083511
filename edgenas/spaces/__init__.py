"""Search spaces: a registry of :class:`SearchSpace` instances.

Example:
    >>> from edgenas.spaces import get_space
    >>> space = get_space("nb201")
    >>> arch = space.parse("6111")
    >>> str(arch)
    '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|'
"""

from __future__ import annotations

from collections.abc import Callable

from .._registry import Registry
from .base import Arch, DatasetSpec, LayerSpec, SearchSpace

__all__ = ["Arch", "DatasetSpec", "FeatureNet", "LayerSpec", "SearchSpace", "get_space", "list_spaces", "register_space"]

_FACTORIES: Registry[Callable[[], SearchSpace]] = Registry("space")
_INSTANCES: dict[str, SearchSpace] = {}


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
    """The (stateless, cached) space registered as ``name``.

    Raises:
        UnknownNameError: for an unknown name, with close matches.
    """
    if name not in _INSTANCES:
        _INSTANCES[name] = _FACTORIES.get(name)()
    return _INSTANCES[name]


def list_spaces(pattern: str = "*") -> list[str]:
    """Names of registered spaces matching an fnmatch pattern."""
    return _FACTORIES.names(pattern)


def _register_builtin() -> None:
    from functools import partial

    from .macro import MacroSpace
    from .nb201 import NB201Space

    _FACTORIES.add("nb201", NB201Space)
    # macro spaces shipped as YAML definitions (edgenas/spaces/definitions/); fbnet.yaml is the FBNet
    # space as data, but the registered ``fbnet`` stays FBNetSpace (HW-NAS-Bench LUT helpers, op indices)
    _FACTORIES.add("macro", partial(MacroSpace.shipped, "macro"))
    try:
        from .fbnet import FBNetSpace
    except ImportError:  # the FBNet space module is optional during development
        return
    _FACTORIES.add("fbnet", FBNetSpace)


_register_builtin()
