"""Lazy handling of optional dependencies."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import DependencyError

__all__ = ["require"]

_EXTRA_OF = {
    "tensorrt": "tensorrt",
    "matplotlib": "plot",
}


def require(module: str, *, purpose: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`DependencyError` with an install hint.

    Args:
        module: importable module name, e.g. ``"tensorrt"``.
        purpose: what it is needed for, e.g. ``"building a TensorRT engine"``.
        extra: edgenas extra that installs it (defaults to a known mapping).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = extra or _EXTRA_OF.get(module)
        how = f"pip install 'edgenas[{extra}]'" if extra else f"pip install {module}"
        raise DependencyError(
            f"{module} is not installed (needed for {purpose}): {exc}".rstrip(), hint=how
        ) from None
