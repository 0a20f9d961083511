"""resolve_config: the one place defaults that depend on the machine, space and proxy are fixed."""

from __future__ import annotations

import logging
import os

import pytest

from edgenas.search.config import DEFAULT_PICK_TOP_SHARE, SearchConfig, resolve_config


def _resolve(**kw):
    return resolve_config(SearchConfig(targets=("jetson-tx2",), device="cpu", **kw))


def test_workers_beyond_the_usable_cores_are_capped_with_one_warning(caplog) -> None:
    cores = len(os.sched_getaffinity(0))
    with caplog.at_level(logging.WARNING, logger="edgenas.search"):
        cfg = _resolve(workers=cores + 14)
    assert cfg.workers == cores
    assert [r.getMessage() for r in caplog.records] == [
        f"workers={cores + 14} is more than the {cores} CPU core(s) this process may use; using {cores}"]
    assert _resolve(workers=1).workers == 1 and _resolve(workers=0).workers == min(8, cores)


@pytest.mark.parametrize("proxy, share", [(None, 0.0), ("edgenas_transfer", 0.0),
                                          ("edgenas_prior", DEFAULT_PICK_TOP_SHARE), ("vkdnw_agg", DEFAULT_PICK_TOP_SHARE)])
def test_pick_rule_follows_the_proxy(proxy, share) -> None:
    cfg = _resolve(proxy=proxy)
    assert cfg.pick_top_share == share
    assert cfg.proxy == (proxy or "edgenas_transfer")
    assert _resolve(proxy=proxy, pick_top_share=0.1).pick_top_share == 0.1  # given = kept


def test_a_space_without_its_own_proxy_gets_the_training_free_default() -> None:
    from edgenas.search.config import DEFAULT_PROXY, default_proxy

    assert DEFAULT_PROXY == "edgenas_paths"
    assert default_proxy("macro") == "edgenas_paths"  # no accuracy prior of its own
    assert default_proxy("nb201") == "edgenas_transfer" and default_proxy("fbnet") == "edgenas_fast"
    cfg = resolve_config(SearchConfig(targets=("jetson",), space="macro"), canonical_targets=("jetson-tx2",))
    assert cfg.proxy == "edgenas_paths" and cfg.pick_top_share == 0.0


def test_an_objective_given_twice_is_one_objective() -> None:
    assert SearchConfig(extra_objectives=("macs_m", "macs_m", "params_m")).extra_objectives == ("macs_m", "params_m")
