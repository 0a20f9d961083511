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
    "score_archs": "edgenas.proxies.engine",
    "list_proxies": "edgenas.proxies",
    "load_target": "edgenas.hardware.targets",
    "list_targets": "edgenas.hardware.targets",
    "get_cost_model": "edgenas.hardware.cost",
    "run_search": "edgenas.search",
}

__all__ = ["__version__", "search", *_LAZY]


def __getattr__(name: str) -> Any:
    if name == "search":  # a callable module: edgenas.search(...) -> SearchResult
        return importlib.import_module("edgenas.search")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgenas' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
