"""``sed`` on the FBNet chain space: hand-computed block gains, residual rule, cost, no model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgenas.errors import ProxyError
from edgenas.proxies.sed import chain_block_gain, sed_score
from edgenas.spaces import LayerSpec, get_space

SPACE = get_space("fbnet")
# (c_in, c_out, stride) of the 22 layers, HW-NAS-Bench FBNet widths (stride irrelevant to sed)
WIDTHS = [16] + [24] * 4 + [32] * 4 + [64] * 4 + [112] * 4 + [184] * 4 + [352]
C_IN = [16] + [16, 24, 24, 24] + [24, 32, 32, 32] + [32, 64, 64, 64] + [64, 112, 112, 112] \
    + [112, 184, 184, 184] + [184]


def fb(*tokens: str):
    return SPACE.arch(tokens)


def lse(a: float, b: float) -> float:
    return 0.5 * math.log(math.exp(2 * a) + math.exp(2 * b))


def expected(tokens: list[str]) -> float:
    """Hand-computed sed of an FBNet arch: sum of the documented per-layer gains."""
    from edgenas.spaces.fbnet import BLOCK_CONFIGS

    total = 0.0
    for tok, ci, co in zip(tokens, C_IN, WIDTHS):
        if tok == "skip":
            total += 0.0 if ci == co else 0.5 * math.log(ci)
            continue
        b = BLOCK_CONFIGS[tok]
        g = 0.5 * math.log(b.kernel ** 2 * b.expansion * ci * ci / b.groups ** 2)
        total += g if ci != co else lse(0.0, g)
    return total


def test_block_gains_by_hand():
    same = ((64, 8, 8), (64, 8, 8))
    blk = LayerSpec("layer12", "ConvBlock", *same, (("exp", 6), ("kernel", 5), ("stride", 1), ("group", 1)))
    g = 0.5 * math.log(25 * 6 * 64 * 64)
    assert chain_block_gain(blk) == pytest.approx(lse(0.0, g), abs=1e-12)  # residual
    down = LayerSpec("layer10", "ConvBlock", (32, 16, 16), (64, 8, 8),
                     (("exp", 1), ("kernel", 3), ("stride", 2), ("group", 2)))
    assert chain_block_gain(down) == pytest.approx(0.5 * math.log(9 * 1 * 32 * 32 / 4), abs=1e-12)
    assert chain_block_gain(LayerSpec("layer11", "Skip", *same, (("stride", 1),))) == 0.0
    proj = LayerSpec("layer10", "Skip", (32, 16, 16), (64, 8, 8), (("stride", 2),))
    assert chain_block_gain(proj) == pytest.approx(0.5 * math.log(32), abs=1e-12)
    with pytest.raises(ProxyError, match="ConvNorm"):
        chain_block_gain(LayerSpec("stem", "ConvNorm", (3, 32, 32), (16, 32, 32)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_arch_matches_hand_computation(seed: int):
    tokens = list(SPACE.sample(np.random.default_rng(seed)).tokens)
    for dataset in ("cifar100", "imagenet"):  # same channels: same score on both datasets
        assert sed_score(SPACE, fb(*tokens), dataset) == pytest.approx(expected(tokens), abs=1e-9)


def test_all_skip_is_projection_gains_only():
    # identity skips add 0; the first layer of each stage that changes width is a 1x1 projection
    s = sed_score(SPACE, fb(*["skip"] * 22), "cifar100")
    assert s == pytest.approx(sum(0.5 * math.log(c) for c in (16, 24, 32, 64, 112, 184)), abs=1e-12)
    assert s > 0


def test_ordering_and_spread():
    s = {t: sed_score(SPACE, fb(*[t] * 22), "imagenet") for t in
         ("k5_e6", "k3_e6", "k5_e3", "k3_e3", "k3_e1", "k3_e1_g2", "skip")}
    assert s["k5_e6"] > s["k3_e6"] > s["k3_e3"] > s["k3_e1"] > s["k3_e1_g2"] > s["skip"]
    assert s["k5_e6"] > s["k5_e3"] > s["k3_e3"]
    rng = np.random.default_rng(0)
    values = {round(sed_score(SPACE, SPACE.sample(rng), "imagenet"), 9) for _ in range(200)}
    assert len(values) > 190  # not a constant (it used to be 0.0 for every FBNet arch)


def test_engine_builds_no_model(monkeypatch):
    from edgenas.proxies.engine import score_archs

    def no_model(*args, **kwargs):
        raise AssertionError("sed built a model")

    monkeypatch.setattr(type(SPACE), "build_model", no_model)
    rng = np.random.default_rng(1)
    archs = [SPACE.sample(rng) for _ in range(200)]
    out = score_archs(SPACE, archs, "imagenet", ["sed"])
    assert all(r.n_warnings == 0 and math.isfinite(r.scores["sed"]) for r in out)
