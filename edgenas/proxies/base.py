"""Proxy framework: specs, context and the proxy registry.

A proxy is a pure function ``fn(ctx: ProxyContext) -> float`` (higher = better after any sign
flip the proxy documents). Model proxies receive a factory for a freshly built, Kaiming-normal
(fan-in) initialised model seeded from ``(run seed, canonical arch key)``; topology proxies
(``needs="arch"``) receive no model and no inputs. A proxy returns a finite float or raises
:class:`~edgenas.errors.ProxyError`; the engine turns failures and non-finite values into the
documented worst score (``-inf`` internally is never exported: see the engine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..spaces import Arch, DatasetSpec, SearchSpace

__all__ = ["PROXIES", "ProxyContext", "ProxySpec", "get_proxy", "list_proxies", "register_proxy"]

Needs = Literal["model", "arch"]

#: score the engine gives an arch whose proxy failed or was not finite (below any real score)
WORST_SCORE = -1e30


@dataclass(frozen=True)
class ProxyContext:
    """Everything a proxy may look at for one architecture.

    Attributes:
        space: the search space.
        arch: the architecture being scored.
        dataset: dataset spec (classes, input size).
        seed: per-arch seed derived from the run seed and the arch's canonical key.
        device: torch device string ("cpu" or "cuda[:i]").
        batch_size: B of ``inputs``.
        inputs: (B, C, H, W) float32 batch on ``device`` (Gaussian by default), or None for
            topology proxies.
        targets: (B,) int64 labels on ``device`` (random unless real data was given), or None.
        make_model: returns a fresh, initialised model on ``device`` (train mode) each call;
            None for topology proxies.
        shared: per-arch scratch dict the engine shares between proxies of one call, so
            proxies can reuse one forward pass (keys are documented by the writers).
    """

    space: SearchSpace
    arch: Arch
    dataset: DatasetSpec
    seed: int
    device: str = "cpu"
    batch_size: int = 64
    inputs: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    make_model: Callable[[], torch.nn.Module] | None = None
    shared: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def layers_dataset(self) -> Any:
        """What to pass as ``dataset`` to the space's ``layers`` / size tables: the benchmark dataset's name
        (its own setting, also at a reduced proxy resolution), or the task's spec for a task of the user's."""
        ds = self.dataset
        bench = self.space.datasets.get(ds.name)
        if bench is not None and bench.num_classes == ds.num_classes and bench.channels == ds.channels:
            return ds.name
        return ds


@dataclass(frozen=True)
class ProxySpec:
    """A registered proxy.

    Attributes:
        name: registry name (equals the module file name).
        fn: ``fn(ctx) -> float``.
        needs: "model" (built model + inputs) or "arch" (topology only, no model, no data).
        description: one line for ``edgenas proxies list``.
        reference: where the method comes from (paper / code).
    """

    name: str
    fn: Callable[[ProxyContext], float]
    needs: Needs = "model"
    description: str = ""
    reference: str = ""


PROXIES: Registry[ProxySpec] = Registry("proxy")


def register_proxy(
    name: str, *, needs: Needs = "model", description: str = "", reference: str = ""
) -> Callable[[Callable[[ProxyContext], float]], Callable[[ProxyContext], float]]:
    """Decorator registering ``fn(ctx) -> float`` as proxy ``name``."""

    def deco(fn: Callable[[ProxyContext], float]) -> Callable[[ProxyContext], float]:
        PROXIES.add(name, ProxySpec(name, fn, needs, description, reference))
        return fn

    return deco


def get_proxy(name: str) -> ProxySpec:
    """The proxy registered as ``name`` (unknown names raise with suggestions)."""
    return PROXIES.get(name)


def list_proxies(pattern: str = "*") -> list[str]:
    """Registered single-proxy names matching an fnmatch pattern."""
    return PROXIES.names(pattern)
