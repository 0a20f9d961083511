"""`edgenas proxies list|score` through the click runner."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from edgenas.proxies.base import PROXIES, ProxySpec
from edgenas.proxies.ensemble import ENSEMBLES, EnsembleRecipe

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def fake_ensemble():
    """A cheap arch-only ensemble (sed + number of skip edges), registered for one test."""
    PROXIES.add("test_n_skips", ProxySpec("test_n_skips", lambda ctx: float(ctx.arch.tokens.count("skip_connect")),
                                          "arch", "test only"))
    ENSEMBLES.add("test_agg", EnsembleRecipe("test_agg", ("sed", "test_n_skips"), "rank_sum", "test only"))
    yield "test_agg"
    ENSEMBLES.remove("test_agg")
    PROXIES.remove("test_n_skips")


def test_list_json():
    res = run("proxies", "list", "--json")
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.output)}
    assert rows["sed"]["kind"] == "single" and rows["sed"]["needs"] == "arch"
    assert rows["vkdnw_agg"]["kind"] == "ensemble" and rows["vkdnw_agg"]["needs"] == "population"
    assert "flops" in rows["vkdnw_agg"]["components"]


def test_score_json_contract(tmp_path):
    f = tmp_path / "archs.txt"
    f.write_text("# comment\n6111\n")
    res = run("proxies", "score", ALL_SKIP, "--archs-file", str(f), "--proxy", "sed", "--device", "cpu", "--json")
    assert res.exit_code == 0, res.output
    recs = json.loads(res.output)
    assert [r["arch"] for r in recs] == [ALL_SKIP, BEST]
    assert recs[0]["scores"]["sed"] == pytest.approx(15 * 0.5 * math.log(4))
    assert recs[1]["scores"]["sed"] > recs[0]["scores"]["sed"]
    assert all(r["seconds"]["sed"] >= 0 and "note" not in r for r in recs)


def test_score_ensemble_ranks_within_given_archs(fake_ensemble):
    res = run("proxies", "score", ALL_SKIP, BEST, "0", "--proxy", f"sed,{fake_ensemble}", "--device", "cpu", "--json")
    assert res.exit_code == 0, res.output
    recs = json.loads(res.output)
    sed = [r["scores"]["sed"] for r in recs]
    skips = [r["component_scores"]["test_n_skips"] for r in recs]
    from edgenas.spaces import get_space

    assert skips == [6.0, 1.0, float(get_space("nb201").parse("0").tokens.count("skip_connect"))]
    from scipy.stats import rankdata

    expected = rankdata(sed) + rankdata(skips)
    assert [r["scores"][fake_ensemble] for r in recs] == pytest.approx(expected.tolist())
    assert all("3 arch(s)" in r["note"] for r in recs)
    human = run("proxies", "score", ALL_SKIP, BEST, "--proxy", fake_ensemble, "--device", "cpu")
    assert human.exit_code == 0
    assert "ranks within the 2 arch(s)" in human.stderr


def test_unknown_proxy_and_bad_arch_exit_2():
    res = run("proxies", "score", "6111", "--proxy", "sed,nasw0t", "--json")
    assert res.exit_code == 2
    assert "nasw0t" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run("proxies", "score", "|bogus~0|", "--proxy", "sed")
    assert res.exit_code == 2 and "bogus" in res.stderr


@pytest.mark.parametrize("extra", [["--out", "x.csv"], ["--workers", "2"], ["--executor", "ray"]])
def test_options_of_all_are_refused_without_it(extra):
    res = CliRunner().invoke(cli, ["proxies", "score", "0", "--proxy", "flops", *extra])
    assert res.exit_code == 2 and f"{extra[0]} is read only with --all" in res.output
