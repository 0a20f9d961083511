"""Deterministic stand-ins for the proxy engine and the cost models (no torch, milliseconds).

Used by the search tests so they do not depend on the proxies/hardware packages or their speed.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgenas.errors import MissingLatencyError
from edgenas.search.scoring import RawScore
from edgenas.spaces import Arch

# per-op cost weights (made up, monotone in work done)
_LAT = {"none": 0.0, "skip_connect": 0.05, "nor_conv_1x1": 0.45, "nor_conv_3x3": 1.0, "avg_pool_3x3": 0.25}
_MACS = {"none": 0.0, "skip_connect": 0.0, "nor_conv_1x1": 2.4, "nor_conv_3x3": 19.0, "avg_pool_3x3": 0.0}
_PARAMS = {"none": 0.0, "skip_connect": 0.0, "nor_conv_1x1": 0.016, "nor_conv_3x3": 0.14, "avg_pool_3x3": 0.0}


def _noise(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") / 2**32


@dataclass(frozen=True)
class FakePrediction:
    latency_ms: float
    source: str


class FakeLatency:
    """Latency = 2 ms + per-edge op weights (edge 0 counts double: it feeds every later node)."""

    def __init__(self, scale: float = 1.0, missing: set[str] | None = None) -> None:
        self.scale = scale
        self.missing = missing or set()

    def predict(self, arch: Arch) -> FakePrediction:
        if str(arch) in self.missing:
            raise MissingLatencyError(f"no latency for {arch}")
        t = sum(_LAT[op] * (2.0 if i == 0 else 1.0) for i, op in enumerate(arch.tokens))
        return FakePrediction(self.scale * (2.0 + t), "fake-measured")


def fake_size(arch: Arch) -> tuple[float, float]:
    """(macs_m, params_m): additive per-edge constants plus a fixed base."""
    return (10.0 + sum(_MACS[t] for t in arch.tokens), 0.07 + sum(_PARAMS[t] for t in arch.tokens))


class FakeScorer:
    """A proxy that likes convolutions, with arch-hash noise; optionally slow and logging calls.

    Args:
        proxy: objective name.
        ensemble: if True the objective is the mean rank of two components against the reference.
        delay_s: sleep per scored arch (so a kill lands mid-run).
        log_path: append one line per scored arch (to count rescoring across processes).
    """

    def __init__(self, proxy: str = "fake", *, ensemble: bool = False, delay_s: float = 0.0,
                 log_path: str | Path | None = None, space: Any = None) -> None:
        self.proxy = proxy
        self.is_ensemble = ensemble
        self.components = ("fake_a", "fake_b") if ensemble else (proxy,)
        self.config = {"proxy": proxy, "components": list(self.components), "fake": 1}
        self.delay_s = delay_s
        self.log_path = Path(log_path) if log_path else None
        self.calls: list[str] = []

    def _value(self, arch: Arch, comp: str) -> float:
        convs = sum(t.startswith("nor_conv") for t in arch.tokens)
        return convs + 0.8 * _noise(comp + str(arch))

    def score(self, archs: Sequence[Arch]) -> list[RawScore]:
        out = []
        for a in archs:
            if self.delay_s:
                time.sleep(self.delay_s)
            self.calls.append(str(a))
            if self.log_path is not None:
                with open(self.log_path, "a") as f:
                    f.write(f"{a}\n")
            out.append(RawScore({c: self._value(a, c) for c in self.components}, self.delay_s))
        return out

    def combine(self, raw: Mapping[str, float | None], reference: Mapping[str, np.ndarray]) -> float:
        ranks = []
        for c in self.components:
            v = -math.inf if raw.get(c) is None else float(raw[c])
            ranks.append(float(np.mean(reference[c] < v)))
        return float(np.mean(ranks))


def fakes(**scorer_kwargs: Any) -> dict[str, Any]:
    """Keyword arguments for ``run_search`` that replace proxies, cost models and sizes."""
    return {"scorer": FakeScorer(**scorer_kwargs), "cost_models": {"fake-tx2": FakeLatency()}, "size": fake_size}


class ShuffledFakeScorer(FakeScorer):
    """A FakeScorer whose batches finish in reverse order, as parallel workers may."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_sizes: list[int] = []

    def score_iter(self, archs: Sequence[Arch]):
        self.batch_sizes.append(len(archs))
        results = self.score(archs)
        for i in reversed(range(len(archs))):
            yield i, results[i]


FAKE_TARGETS = {"jetson": "jetson-tx2", "jetson-tx2": "jetson-tx2", "raspi4": "raspi4"}


def install_fakes(monkeypatch: Any) -> None:
    """Make ``run_search`` (hence the CLI and ``edgenas.search``) use the fakes: targets jetson(-tx2)
    and raspi4 (1.5x slower), proxies vkdnw_agg, edgenas_fast, edgenas_prior, edgenas_paths, edgenas_transfer (ensembles) and params."""
    from edgenas.errors import UnknownNameError
    from edgenas.search import problem, run

    def resolve(config: Any, space: Any, dataset: str) -> dict[str, FakeLatency]:
        out = {}
        for name in config.targets:
            if name not in FAKE_TARGETS:
                raise UnknownNameError("target", name, FAKE_TARGETS)
            canon = FAKE_TARGETS[name]
            out[canon] = FakeLatency(scale=1.0 if canon == "jetson-tx2" else 1.5)
        return out

    def scorer(*, proxy: str, **kw: Any) -> FakeScorer:
        known = ["vkdnw_agg", "edgenas_fast", "edgenas_prior", "edgenas_paths", "edgenas_transfer", "params"]
        if proxy not in known:
            raise UnknownNameError("proxy", proxy, known)
        return FakeScorer(proxy, ensemble=proxy != "params")

    monkeypatch.setattr(run, "_resolve_targets", resolve)
    monkeypatch.setattr(run, "ProxyScorer", scorer)
    monkeypatch.setattr(problem, "AdditiveSizeTable", lambda space, dataset: fake_size)
