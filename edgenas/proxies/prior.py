"""Linear accuracy priors: training-free proxies plus a space's topology, weighted by trained archs.

Training-free proxies rank a whole space well (Kendall tau ~0.6-0.75 on NB201) but poorly at the
top of a budget-limited ranking, which is what a pick needs. A space whose benchmark publishes
trained accuracies can ship a **prior**: a ridge-regression model, fitted once on a sample of
trained archs of *one* dataset, over

* the space's topology features (:meth:`SearchSpace.arch_features`, e.g. NB201's live ops per edge
  and conv depth along the cell's paths), and
* proxies computed live on the user's data and resolution (FLOPs, params, AZ-NAS expressivity,
  sed), so the score still depends on the dataset at hand.

The model file (``edgenas/spaces/data/<space>_prior.json``, made by ``tools/fit_space_prior.py``)
records what it was fitted on. Its score is
``intercept + sum_i weight_i * (t_i(x_i) - center_i) / scale_i`` with ``t`` the identity or the
natural log; a missing or non-finite proxy value contributes 0 (the training mean). It is split in
two for the engine: the registered data-free proxy ``structure_prior`` is the intercept plus the
topology terms, and the ensemble recipe ``edgenas_transfer`` adds the proxy terms to it
(aggregation ``linear``: a property of the arch, not a rank within a population).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any, Literal

from ..errors import ProxyError
from .base import ProxyContext, register_proxy

__all__ = ["LinearPrior", "LinearTerm", "load_prior", "load_prior_file", "prior_for_space"]

Transform = Literal["identity", "log"]
#: smallest value the ``log`` transform takes (a proxy that underflows to 0 stays finite)
LOG_FLOOR = 1e-30


@dataclass(frozen=True)
class LinearTerm:
    """One feature of a linear prior: ``weight * (transform(x) - center) / scale``."""

    feature: str
    source: Literal["proxy", "space"]
    transform: Transform
    center: float
    scale: float
    weight: float

    def value(self, x: float | None) -> float:
        if x is None or not math.isfinite(x):
            return 0.0
        if self.transform == "log":
            x = math.log(max(x, LOG_FLOOR))
        return self.weight * (x - self.center) / self.scale


@dataclass(frozen=True)
class LinearPrior:
    """A fitted linear accuracy prior of one space (see the module docstring)."""

    space: str
    ensemble: str
    intercept: float
    terms: tuple[LinearTerm, ...]
    target: str
    fitted_on: Mapping[str, Any]
    path: str

    @property
    def proxy_terms(self) -> tuple[LinearTerm, ...]:
        return tuple(t for t in self.terms if t.source == "proxy")

    @property
    def space_terms(self) -> tuple[LinearTerm, ...]:
        return tuple(t for t in self.terms if t.source == "space")

    def structure_score(self, features: Mapping[str, float]) -> float:
        """Intercept plus the topology terms of one arch's :meth:`SearchSpace.arch_features`."""
        missing = [t.feature for t in self.space_terms if t.feature not in features]
        if missing:
            raise ProxyError(f"{self.path}: the space gives no feature {missing[0]!r}; "
                             f"expected {', '.join(sorted(features))}")
        return self.intercept + sum(t.value(features[t.feature]) for t in self.space_terms)

    def proxy_score(self, values: Mapping[str, float | None]) -> float:
        """The proxy terms of one arch (missing / non-finite values contribute 0)."""
        return sum(t.value(values.get(t.feature)) for t in self.proxy_terms)


def _field(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    v = doc.get(key)
    if not isinstance(v, kind) or isinstance(v, bool):
        raise ProxyError(f"{where}: field {key!r} is {v!r}; expected {getattr(kind, '__name__', kind)}")
    return v


def load_prior_file(text: str, path: str) -> LinearPrior:
    """Parse and validate a prior JSON document (``path`` names it in errors)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProxyError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise ProxyError(f"{path}: expected a JSON object with schema_version 1")
    terms = []
    raw_terms = _field(doc, "terms", list, path)
    if not raw_terms:
        raise ProxyError(f"{path}: field 'terms' is empty; expected at least one term")
    for i, t in enumerate(raw_terms):
        where = f"{path}: terms[{i}]"
        if not isinstance(t, dict):
            raise ProxyError(f"{where} is {t!r}; expected an object")
        source, transform = t.get("source"), t.get("transform")
        if source not in ("proxy", "space"):
            raise ProxyError(f"{where}: source {source!r}; expected 'proxy' or 'space'")
        if transform not in ("identity", "log"):
            raise ProxyError(f"{where}: transform {transform!r}; expected 'identity' or 'log'")
        nums = {k: float(_field(t, k, (int, float), where)) for k in ("center", "scale", "weight")}
        if not all(math.isfinite(v) for v in nums.values()) or nums["scale"] <= 0:
            raise ProxyError(f"{where}: center/scale/weight {nums}; expected finite numbers, scale > 0")
        terms.append(LinearTerm(_field(t, "feature", str, where), source, transform, **nums))
    intercept = float(_field(doc, "intercept", (int, float), path))
    if not math.isfinite(intercept):
        raise ProxyError(f"{path}: field 'intercept' is {intercept!r}; expected a finite number")
    return LinearPrior(space=_field(doc, "space", str, path), ensemble=_field(doc, "ensemble", str, path),
                       intercept=intercept, terms=tuple(terms), target=_field(doc, "target", str, path),
                       fitted_on=_field(doc, "fitted_on", dict, path), path=path)


@lru_cache(maxsize=8)
def load_prior(filename: str) -> LinearPrior:
    """The packaged prior ``edgenas/spaces/data/<filename>``."""
    res = files("edgenas.spaces").joinpath("data", filename)
    try:
        text = res.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProxyError(f"accuracy prior {filename!r} cannot be read from edgenas/spaces/data ({exc})") from None
    return load_prior_file(text, f"edgenas/spaces/data/{filename}")


def prior_for_space(space: Any) -> LinearPrior:
    """The space's prior; ProxyError naming the space when it ships none."""
    name = getattr(space, "accuracy_prior", None)
    if not name:
        raise ProxyError(f"space {space.name!r} ships no accuracy prior (structure_prior / edgenas_transfer); "
                         "expected a space fitted with tools/fit_space_prior.py, such as nb201")
    prior = load_prior(name)
    if prior.space != space.name:
        raise ProxyError(f"{prior.path} is the prior of space {prior.space!r}, not {space.name!r}")
    return prior


@register_proxy(
    "structure_prior",
    needs="arch",
    description="data-free: the topology part of the space's linear accuracy prior (fitted on trained archs)",
    reference="edgenas (edgenas/spaces/data/<space>_prior.json)",
)
def structure_prior(ctx: ProxyContext) -> float:
    """Registered proxy: intercept + topology terms of the space's prior."""
    return prior_for_space(ctx.space).structure_score(ctx.space.arch_features(ctx.arch))
