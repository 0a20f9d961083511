"""Hardware-constrained multi-objective search.

Modules, in the order data flows: :mod:`.config` (what to search), :mod:`.problem` (costs and
budgets), :mod:`.scoring` and :mod:`.evaluator` (proxy scores, run store, front), :mod:`.searchers`,
:mod:`.picks`, :mod:`.result` and :mod:`.outputs`; :mod:`.run` ties them together. The package
imports lazily: importing it does not import torch or pymoo. ``edgenas.search(...)`` (the function)
is :func:`edgenas.api.search`.
"""

from __future__ import annotations

import importlib
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
    "resolve_config",
    "run_search",
]

_LAZY = {
    "run_search": "run", "SearchConfig": "config", "load_config": "config", "resolve_config": "config",
    "SearchResult": "result", "SearchProgress": "result", "Candidate": "result",
    "SearchContext": "evaluator", "Budgets": "problem",
    "non_dominated_sort": "pareto", "pareto_mask": "pareto", "hypervolume_2d": "pareto",
    "list_searchers": "searchers", "register_searcher": "searchers", "get_searcher": "searchers",
}


def __getattr__(name: str) -> Any:
    sub = _LAZY.get(name)
    if sub is None:
        raise AttributeError(f"module 'edgenas.search' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{sub}"), name)
