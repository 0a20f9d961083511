"""Every registered model proxy on real NB201 archs: finite float, deterministic, no warning."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")

from edgenas.proxies import get_proxy, list_proxies
from edgenas.proxies.engine import score_archs
from edgenas.spaces import get_space

SPACE = get_space("nb201")
MODEL_PROXIES = [n for n in list_proxies() if get_proxy(n).needs == "model"]
ARCHS = [
    "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|skip_connect~1|none~2|",
]


pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def scored():
    # each arch twice in one call: the second copy must reproduce the first exactly
    return score_archs(SPACE, [ARCHS[0], ARCHS[1], ARCHS[0]], "cifar10", MODEL_PROXIES, seed=0, batch_size=4)


def test_all_builtin_model_proxies_registered() -> None:
    expected = {
        "vkdnw",
        "vkdnw_textbook",
        "vkdnw_single",
        "n_layers",
        "params",
        "flops",
        "naswot",
        "synflow",
        "snip",
        "grasp",
        "grad_norm",
        "jacov",
        "fisher",
        "zen",
        "az_expressivity",
        "az_progressivity",
        "az_trainability",
        "ntk_cond",
        "linear_regions",
    }
    assert expected <= set(MODEL_PROXIES)


@pytest.mark.parametrize("name", MODEL_PROXIES)
def test_proxy_is_finite_and_deterministic(scored, name: str) -> None:
    first, second, again = scored
    for r in (first, second):
        assert isinstance(r.scores[name], float) and math.isfinite(r.scores[name])
        assert r.scores[name] > -1e29, f"{name} fell back to the worst score on {r.arch}"
    assert again.scores[name] == first.scores[name]


def test_size_proxies_known_values(scored) -> None:
    first = scored[0]
    # stem 3 + 5 conv edges... counted directly: 2 conv ops per cell x 15 cells x 3 tensors + fixed parts
    assert first.scores["n_layers"] == 3 + 15 * 2 * 3 + 2 * 7 + 2 + 2
    assert first.scores["vkdnw_single"] // 1 == first.scores["n_layers"]
