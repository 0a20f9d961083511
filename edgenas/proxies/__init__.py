"""Training-free accuracy proxies: a registry of single proxies and the scoring engine.

Importing this package registers every built-in proxy without importing torch (proxy
modules import it inside their functions). Score archs with
:func:`edgenas.proxies.engine.score_archs`; rank populations with the ensemble recipes.
"""

from __future__ import annotations

import importlib
import importlib.util

from .base import PROXIES, ProxyContext, ProxySpec, get_proxy, list_proxies, register_proxy

__all__ = ["PROXIES", "ProxyContext", "ProxySpec", "get_proxy", "list_proxies", "register_proxy"]

#: built-in proxy modules, one proxy per module (module name = proxy name)
_BUILTIN = (
    "az_expressivity",
    "az_progressivity",
    "az_trainability",
    "depth",
    "fisher",
    "flops",
    "grad_norm",
    "grasp",
    "jacov",
    "linear_regions",
    "n_layers",
    "naswot",
    "ntk_cond",
    "params",
    "prior",
    "sed",
    "skipped_depth",
    "snip",
    "synflow",
    "vkdnw",
    "vkdnw_single",
    "vkdnw_textbook",
    "zen",
)


def _register_builtin() -> None:
    for name in _BUILTIN:
        if importlib.util.find_spec(f"{__name__}.{name}") is None:
            continue  # sed lands separately; every other module ships with the package
        importlib.import_module(f"{__name__}.{name}")


_register_builtin()
