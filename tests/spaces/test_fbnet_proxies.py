"""Proxies on the FBNet space: finite scores, AZ on identity skips, reduced-resolution plumbing.

Everything runs at 16 px and batch 4 (the reduced mode itself) so the file stays fast on CPU.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from edgenas.cli.proxies_cmd import load_proxies
from edgenas.errors import ConfigError
from edgenas.proxies.base import PROXIES, ProxySpec
from edgenas.proxies.engine import WORST_SCORE, score_archs
from edgenas.spaces import get_space

SPACE = get_space("fbnet")
ALL_SKIP = "-".join(["skip"] * 22)
# every proxy that makes sense on a feed-forward chain network; the vkdnw family runs too but takes
# minutes per arch on this space (one VJP per class and sample), so it is left to tools/
FBNET_PROXIES = ["naswot", "synflow", "snip", "grad_norm", "jacov", "fisher", "grasp", "zen", "az_expressivity",
                 "az_progressivity", "az_trainability", "flops", "params", "n_layers", "linear_regions", "sed"]


@pytest.fixture(scope="module", autouse=True)
def _proxies() -> None:
    load_proxies()


def _archs() -> list:
    rng = np.random.default_rng(0)
    return [SPACE.parse(ALL_SKIP), SPACE.sample(rng), SPACE.sample(rng)]


# the default-search components plus naswot/jacov: one shared forward and a few backward passes
FAST_PROXIES = ["sed", "flops", "params", "naswot", "jacov", "az_expressivity", "az_progressivity", "az_trainability"]


@pytest.mark.parametrize("names", [pytest.param(FAST_PROXIES, id="fast"),
                                   pytest.param(FBNET_PROXIES, id="all", marks=pytest.mark.slow)])
def test_sensible_proxies_are_finite_on_fbnet(names):
    out = score_archs(SPACE, _archs()[1:2], "cifar100", names, batch_size=4, resolution=16)
    for r in out:
        assert r.n_warnings == 0, r
        for name in names:
            v = r.scores[name]
            assert math.isfinite(v) and v > WORST_SCORE / 2, (name, r.arch, v)


def test_az_on_identity_skips_is_not_the_floor():
    from edgenas.proxies._az import TRAINABILITY_FLOOR

    archs = _archs()
    out = score_archs(SPACE, archs, "imagenet", ["az_expressivity", "az_progressivity", "az_trainability"],
                      batch_size=4, resolution=32)
    tr = [r.scores["az_trainability"] for r in out]
    assert all(t > TRAINABILITY_FLOOR / 2 and t <= 0.0 for t in tr)  # t_l <= 0, max at sigma = 1
    assert len(set(tr)) == 3  # archs differ: no shared floor any more
    # all-skip is the stem + 6 projection skips: fewer blocks, less expressivity than a real arch
    assert out[0].scores["az_expressivity"] < min(r.scores["az_expressivity"] for r in out[1:])


def test_identity_blocks_are_dropped_from_the_feature_list():
    from edgenas.proxies._az import distinct_features

    model = SPACE.build_model(SPACE.parse(ALL_SKIP), "cifar100")
    import torch

    feats = model.forward_features(torch.randn(2, 3, 16, 16))
    kept = distinct_features(feats)
    assert len(feats) == 23 and len(kept) == 7  # stem + the 6 stage-changing projection skips
    a, b = torch.ones(1), torch.ones(1)
    assert distinct_features([a, a, b, b]) == [a, b]  # a repeated object is one feature
    assert len(distinct_features([a, b, a])) == 3  # equal values are kept; only the same object goes


@pytest.fixture
def probe_proxy():
    """A proxy that reports the input size it was given (ctx.dataset and ctx.inputs)."""
    seen: list[tuple[int, tuple]] = []

    def fn(ctx):
        seen.append((ctx.dataset.input_size, tuple(ctx.inputs.shape)))
        return float(ctx.dataset.input_size)

    PROXIES.add("test_input_size", ProxySpec("test_input_size", fn, "model", "test only"))
    yield seen
    PROXIES.remove("test_input_size")


def test_engine_resolution_reaches_the_proxy(probe_proxy):
    a = _archs()[1]
    score_archs(SPACE, [a], "imagenet", ["test_input_size"], batch_size=3, resolution=40)
    score_archs(SPACE, [a], "cifar100", ["test_input_size"], batch_size=2)
    assert probe_proxy == [(40, (3, 3, 40, 40)), (32, (2, 3, 32, 32))]


@pytest.mark.parametrize("bad", [4, 0, -16, 7.5, True])
def test_engine_rejects_bad_resolution(bad):
    with pytest.raises(ConfigError, match="proxy resolution"):
        score_archs(SPACE, [_archs()[1]], "cifar100", ["sed"], resolution=bad)


def test_cli_score_records_reduced_setting(probe_proxy):
    a = str(_archs()[1])
    res = CliRunner().invoke(cli, ["proxies", "score", a, "--space", "fbnet", "--dataset", "imagenet",
                                   "--proxy", "test_input_size,sed", "--proxy-resolution", "48",
                                   "--batch-size", "2", "--json"])
    assert res.exit_code == 0, res.output
    (rec,) = json.loads(res.output)
    assert rec["proxy_resolution"] == 48 and rec["batch_size"] == 2
    assert rec["scores"]["test_input_size"] == 48.0 and math.isfinite(rec["scores"]["sed"])
    bad = CliRunner().invoke(cli, ["proxies", "score", a, "--space", "fbnet", "--proxy", "sed",
                                   "--proxy-resolution", "4"])
    assert bad.exit_code == 2 and "proxy resolution 4" in bad.output and bad.output.count("\n") == 1


def test_search_records_proxy_resolution(tmp_path: Path):
    from edgenas.search import run_search
    from edgenas.search.scoring import ProxyScorer
    from tests.search._fakes import fakes

    r = run_search(targets=("fake",), out=str(tmp_path / "r"), evaluations=30, population=10,
                   max_latency_ms=6.0, proxy_resolution=64, **fakes())
    assert json.loads((r.run_dir / "config.json").read_text())["proxy_resolution"] == 64
    with pytest.raises(ConfigError, match="proxy resolution 3"):
        run_search(targets=("fake",), out=str(tmp_path / "bad"), proxy_resolution=3, **fakes())
    assert not (tmp_path / "bad").exists()
    # the store key of the real scorer includes the setting only when it is used
    reduced = ProxyScorer(space=SPACE, dataset="imagenet", proxy="sed", seed=0, batch_size=8, resolution=64)
    plain = ProxyScorer(space=SPACE, dataset="imagenet", proxy="sed", seed=0, batch_size=8)
    assert reduced.config["resolution"] == 64 and "resolution" not in plain.config


def test_trainability_of_a_stride2_block_on_an_odd_map():
    # FBNet at 112 px downsamples 7 -> 4 in its last stride-2 stage; that used to fail (worst score)
    import torch

    from edgenas.proxies._az import block_trainability

    block = SPACE.layer_module(SPACE.layers(_archs()[1], "imagenet")[18])  # layer18: stride 2, 112 -> 184
    assert dict(SPACE.layers(_archs()[1], "imagenet")[18].params)["stride"] == 2
    f_in = torch.randn(2, 112, 7, 7, requires_grad=True)
    f_out = block(f_in)
    assert f_out.shape[2:] == (4, 4)
    t = block_trainability(f_in, f_out, torch.Generator().manual_seed(0))
    assert math.isfinite(t) and t <= 0.0


@pytest.mark.parametrize("kw, proxy, batch, resolution", [
    ({"dataset": "imagenet"}, "edgenas_fast", 8, 64),
    ({"dataset": "cifar100"}, "edgenas_fast", 8, None),
    ({"dataset": "imagenet", "proxy": "naswot", "batch_size": 4, "proxy_resolution": 224}, "naswot", 4, 224),
])
def test_fbnet_cpu_defaults_resolved_in_one_place(kw, proxy, batch, resolution):
    from edgenas.search.config import SearchConfig, resolve_config

    cfg = resolve_config(SearchConfig(targets=("cpu",), space="fbnet", device="cpu", **kw), canonical_targets=("cpu",))
    assert (cfg.proxy, cfg.batch_size, cfg.proxy_resolution) == (proxy, batch, resolution)
