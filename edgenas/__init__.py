"""edgenas: hardware-aware, training-free neural architecture search for edge devices.

``import edgenas`` is cheap: torch, onnx, onnxruntime, tensorrt and matplotlib are imported only
by the functions that need them. Public names are resolved lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "get_space": "edgenas.spaces",
    "list_spaces": "edgenas.spaces",
    "Arch": "edgenas.spaces",
    "SearchSpace": "edgenas.spaces",
    "EdgeNASError": "edgenas.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgenas' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
