"""Budgets and resource options are bounded before any work: one ``error:`` line, exit 2, nothing written.

The bounds live in ``edgenas.search.config`` (budgets, seed, batch, workers, evaluations) and
``edgenas.proxies.engine`` (proxy resolution); the CLI and the Python API refuse the same values.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import edgenas
from edgenas.cli import cli
from edgenas.errors import ConfigError
from edgenas.search.config import MAX_LATENCY_MS, MAX_MACS_M, MAX_PARAMS_M, SearchConfig
from edgenas.search.problem import Budgets


def _one_clear_error(args: list[str], needle: str, out: Path | None = None) -> str:
    r = CliRunner().invoke(cli, args)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert needle in r.stderr, r.stderr
    if out is not None:
        assert not out.exists()
    return r.stderr


@pytest.mark.parametrize("args, needle", [
    (["--max-latency-ms", "4.2e16"], "--max-latency-ms '4.2e16' is invalid; expected a positive number of ms up to 1e+06"),
    (["--max-latency-ms", "1000001"], "up to 1e+06"),
    (["--max-latency-ms", "jetson=2e6"], "--max-latency-ms 'jetson=2e6' is invalid"),
    (["--max-latency-ms", "5", "--max-latency-ms", "jetson=1e300"], "'jetson=1e300' is invalid"),
    (["--max-params-m", "1.26e278"], "budget max_params_m=1.26e+278 is invalid; expected a positive finite number of M params up to 1e+06"),
    (["--max-macs-m", "1e7"], "budget max_macs_m=10000000.0 is invalid; expected a positive finite number of M MACs up to 1e+06"),
    (["--max-macs-m", "nan"], "max_macs_m=nan is invalid"),
    (["--evaluations", "1000001"], "evaluations=1000001 is invalid; expected an integer 1..1,000,000"),
    (["--population", "1"], "population=1 is invalid"),
    (["--seed", "-1"], "seed=-1 is invalid"),
    (["--seed", str(2**63)], f"seed={2**63} is invalid"),
    (["--workers", "257"], "workers=257 is invalid; expected 0 (one per core) or an integer 1..256"),
    (["--batch-size", "4097"], "batch_size=4097 is invalid; expected an integer 2..4,096"),
    (["--batch-size", "1"], "batch_size=1 is invalid"),
    (["--noise-seeds", "11"], "noise_seeds=11 is invalid"),
    (["--pick-within-noise", "-0.5"], "pick_within_noise=-0.5 is invalid; expected a number of standard deviations"),
    (["--pick-within-noise", "nan"], "pick_within_noise=nan is invalid"),
    (["--pick-within-noise", "1", "--noise-seeds", "0"], "needs noise_seeds >= 1"),
    (["--proxy-resolution", "1025"], "proxy resolution 1025 is invalid; expected an integer 8..1024 (pixels)"),
    (["--proxy-resolution", "7"], "proxy resolution 7 is invalid"),
])
def test_search_bounds_are_checked_before_any_work(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "run"
    _one_clear_error(["search", "--target", "jetson", "--workers", "1", *args, "--out", str(out)]
                     if "--workers" not in args else ["search", "--target", "jetson", *args, "--out", str(out)],
                     needle, out)


@pytest.mark.parametrize("kw, needle", [
    ({"max_latency_ms": 4.2e16}, "max_latency_ms=4.2e+16 is invalid"),
    ({"max_latency_ms": {"jetson": 5, "raspi4": 2e6}}, "max_latency_ms[raspi4]=2000000.0 is invalid"),
    ({"max_params_m": MAX_PARAMS_M * 2}, "max_params_m=2000000.0 is invalid"),
    ({"max_macs_m": 10**7}, "max_macs_m=10000000.0 is invalid"),
    ({"proxy_resolution": 4096}, "proxy resolution 4096 is invalid"),
    ({"batch_size": 10**6}, "batch_size=1000000 is invalid"),
])
def test_python_api_refuses_what_the_cli_refuses(tmp_path: Path, kw: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        edgenas.search(targets=["jetson"], workers=1, out=str(tmp_path / "run"), **kw)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "run").exists()


def test_budget_bounds_are_inclusive_and_one_source() -> None:
    b = Budgets(max_latency_ms=MAX_LATENCY_MS, max_params_m=MAX_PARAMS_M, max_macs_m=MAX_MACS_M)
    assert b.latency_limit("any") == MAX_LATENCY_MS
    SearchConfig(targets=("jetson",), max_latency_ms={"jetson": MAX_LATENCY_MS}).validate()
    for name, hi in (("max_latency_ms", MAX_LATENCY_MS), ("max_params_m", MAX_PARAMS_M), ("max_macs_m", MAX_MACS_M)):
        with pytest.raises(ConfigError, match=f"{name}=.* is invalid; expected a positive finite number of .* up to 1e\\+06"):
            Budgets(**{name: hi * (1 + 1e-9)})


@pytest.mark.parametrize("args, needle", [
    (["proxies", "score", "0", "--proxy", "sed", "--seed", "-1"], "Invalid value for '--seed': -1 is not in the range"),
    (["proxies", "score", "0", "--proxy", "sed", "--seed", str(10**40)], "Invalid value for '--seed'"),
    (["proxies", "score", "0", "--proxy", "sed", "--batch-size", "4097"], "Invalid value for '--batch-size'"),
    (["proxies", "score", "0", "--proxy", "sed", "--proxy-resolution", str(10**9)], "proxy resolution 1000000000 is invalid"),
    (["proxies", "score", "--all", "--proxy", "sed", "--workers", "257", "--out", "{d}/t.csv"], "Invalid value for '--workers'"),
    (["export", "0", "--batch", "4097", "--out", "{d}/e"], "Invalid value for '--batch'"),
    (["export", "0", "--seed", "-1", "--out", "{d}/e"], "Invalid value for '--seed'"),
    (["export", "0", "--seed", str(10**40), "--out", "{d}/e"], "Invalid value for '--seed'"),
    (["export", "0", "--opset", "100000", "--out", "{d}/e"], "--opset 100000 is unsupported; expected 7.."),
    (["validate", "{d}/m.onnx", "--target", "cpu", "--runs", str(10**12)], "Invalid value for '--runs'"),
    (["validate", "{d}/m.onnx", "--target", "cpu", "--warmup", str(10**7)], "Invalid value for '--warmup'"),
    (["validate", "{d}/m.onnx", "--target", "cpu", "--threads", "5000"], "Invalid value for '--threads'"),
    (["validate", "{d}/m.onnx", "--target", "cpu", "--timeout", "nan"], "Invalid value for '--timeout'"),
    (["validate", "{d}/m.onnx", "--target", "cpu", "--timeout", "inf"], "Invalid value for '--timeout'"),
    (["validate", "{d}/m.onnx", "--target", "cpu", "--seed", "-3"], "Invalid value for '--seed'"),
    (["fit", "--measurements", "{d}/m.csv", "--target", "mine", "--seed", "-1"], "Invalid value for '--seed'"),
])
def test_resource_options_of_other_commands_are_bounded(tmp_path: Path, monkeypatch, args: list[str],
                                                        needle: str) -> None:
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path / "home"))
    _one_clear_error([a.replace("{d}", str(tmp_path)) for a in args], needle)
    assert not (tmp_path / "e").exists() and not (tmp_path / "t.csv").exists() and not (tmp_path / "home").exists()


def test_export_api_refuses_bad_seed_and_batch(tmp_path: Path) -> None:
    from edgenas.export.bundle import export_bundle
    from edgenas.export.sources import resolve_candidates
    from edgenas.spaces import get_space

    space = get_space("nb201")
    cands = resolve_candidates("0", space=space, dataset="cifar10")
    ds = "cifar10"
    for kw, needle in (({"seed": -1}, "seed=-1"), ({"batch_size": 0}, "batch_size=0"), ({"opset": 3}, "--opset 3")):
        with pytest.raises(edgenas.errors.EdgeNASError, match=needle):
            export_bundle(cands, space=space, dataset=ds, out_dir=tmp_path / "e", **kw)
        assert not (tmp_path / "e").exists()
