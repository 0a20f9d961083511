"""edgenas: hardware-aware, training-free neural architecture search for edge devices.

``import edgenas`` is cheap: torch, onnx, onnxruntime, tensorrt and matplotlib are imported only
by the functions that need them. Public names are resolved lazily.

    import edgenas
    result = edgenas.search(targets=["jetson"], max_latency_ms=5)   # = edgenas search --target jetson ...
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from ._version import __version__

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
    "SearchConfig": "edgenas.search.config",
    "SearchResult": "edgenas.search.result",
    "DatasetSpec": "edgenas.spaces",
    "TrainConfig": "edgenas.train.recipe",
    "run_search": "edgenas.search.run",
}

#: functions of the API that share their name with a subpackage (edgenas.search, edgenas.train, ...)
_API = ("search", "train", "export", "validate", "load_model")

__all__ = ["__version__", *_API, *_LAZY]  # noqa: PLE0604  (names resolved lazily by __getattr__)


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'edgenas' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


class _Package(types.ModuleType):
    """``edgenas.search`` / ``train`` / ``export`` stay the functions: importing the subpackage of the same
    name would otherwise bind the package over it (the subpackage is still ``sys.modules["edgenas.search"]``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
