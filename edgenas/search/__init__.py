"""Hardware-constrained multi-objective search.

``edgenas.search`` is both this package and a function: ``edgenas.search(targets=("jetson",),
max_latency_ms=5)`` calls :func:`run_search` (the brief's ``edgenas.search(...) -> SearchResult``).
Submodules import lazily; importing this package does not import torch or pymoo.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = [
    "Budgets",
    "Candidate",
    "SearchConfig",
    "SearchProgress",
    "SearchResult",
    "hypervolume_2d",
    "list_searchers",
    "load_config",
    "non_dominated_sort",
    "pareto_mask",
    "register_searcher",
    "run_search",
]

_LAZY = {
    "run_search": "run", "SearchConfig": "run", "SearchResult": "run", "SearchProgress": "run",
    "Candidate": "run", "SearchContext": "run", "load_config": "run", "Budgets": "problem",
    "non_dominated_sort": "pareto", "pareto_mask": "pareto", "hypervolume_2d": "pareto",
    "list_searchers": "searchers", "register_searcher": "searchers", "get_searcher": "searchers",
}


def __getattr__(name: str) -> Any:
    sub = _LAZY.get(name)
    if sub is None:
        raise AttributeError(f"module 'edgenas.search' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{sub}"), name)


class _CallableModule(types.ModuleType):
    """Module type whose instances can be called: ``edgenas.search(...)`` -> ``run_search(...)``."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .run import run_search

        return run_search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
