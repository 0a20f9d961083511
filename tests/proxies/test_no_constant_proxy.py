"""No proxy gives every arch of a shipped space the same value (a silent constant would drop the proxy
from every ensemble that uses it without anyone noticing)."""

from __future__ import annotations

import numpy as np
import pytest

from edgenas.proxies import list_proxies
from edgenas.proxies.engine import WORST_SCORE, score_archs
from edgenas.proxies.ensemble import ensemble_components
from edgenas.search.config import DEFAULT_PROXY
from edgenas.spaces import get_space, shipped_space_names

#: the smallest dataset of each shipped space (proxies scale with classes and pixels)
_DATASET = {"nb201": "cifar10", "fbnet": "cifar100", "macro": "cifar10", "mobilenetv2": "cifar10",
            "mobilenetv3": "cifar10"}


pytestmark = pytest.mark.usefixtures("one_thread_module")


def _archs(space, n: int = 4) -> list:  # noqa: ANN001
    """``n`` different live networks: every position at its first, middle and last choice (the space's
    structural extremes: a quantity that varies at all varies across them), then random archs."""
    rng = np.random.default_rng(0)
    uniform = [space.arch([c[k(len(c))] for c in space.choices])
               for k in (lambda m: 0, lambda m: m // 2, lambda m: m - 1)]
    archs: list = []
    for a in [*uniform, *(space.sample(rng) for _ in range(1000))]:
        if len(archs) == n:
            break
        if not space.is_degenerate(a) and space.iso_key(a) not in {space.iso_key(b) for b in archs}:
            archs.append(a)
    return archs


def _check(space_name: str, proxies: list[str]) -> None:
    space = get_space(space_name)
    if not space.accuracy_prior:
        proxies = [p for p in proxies if p != "structure_prior"]  # refused up front where no prior ships
    results = score_archs(space, _archs(space), _DATASET[space_name], proxies, batch_size=8)
    bad = {}
    for p in proxies:
        values = [r.scores[p] for r in results]
        if not all(v > WORST_SCORE for v in values) or len(set(values)) == 1:  # a failure or a constant
            bad[p] = values
    assert not bad, (space_name, bad)


def test_the_shipped_spaces_are_the_ones_checked() -> None:
    assert set(shipped_space_names()) == set(_DATASET)


def test_default_proxy_components_vary_on_macro() -> None:
    _check("macro", list(ensemble_components(DEFAULT_PROXY)))


@pytest.mark.slow
@pytest.mark.parametrize("space_name", sorted(_DATASET))
def test_no_proxy_is_constant_on_a_shipped_space(space_name: str) -> None:
    _check(space_name, list_proxies())
