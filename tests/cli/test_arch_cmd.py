"""`edgenas arch show` and `edgenas spaces` through the click runner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from edgenas.cli import cli

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_version_and_help():
    assert run("--version").exit_code == 0
    res = run("--help")
    assert res.exit_code == 0 and "arch" in res.output


def test_spaces_json():
    res = run("spaces", "--json")
    assert res.exit_code == 0
    names = [s["name"] for s in json.loads(res.output)]
    assert "nb201" in names


def test_arch_show_json_contract(tmp_path):
    f = tmp_path / "archs.txt"
    f.write_text("# comment\n6111\n\n")
    res = run("arch", "show", "0", "--archs-file", str(f), "--space", "nb201", "--dataset", "cifar100", "--json")
    assert res.exit_code == 0, res.output
    recs = json.loads(res.output)
    assert [r["index"] for r in recs] == [0, 6111]
    best = recs[1]
    assert best["arch"] == BEST
    assert best["params_m"] == 1.073466 + (100 - 10) * 65 / 1e6 - 0 or abs(best["params_m"] - (1.073466 + 90 * 65 / 1e6)) < 1e-6
    assert isinstance(best["macs_m"], float) and best["macs_m"] > 100
    assert best["n_param_tensors"] == 246
    assert isinstance(best["iso_key"], str)


def test_arch_show_human_output():
    res = run("arch", "show", "6111")
    assert res.exit_code == 0 and "6111" in res.output


def test_errors_are_one_line_exit_2():
    cases = [
        ("arch", "show", "|bad~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
        ("arch", "show", "1", "--dataset", "cifar11"),
        ("arch", "show", "1", "--space", "nb999"),
        ("arch", "show"),
        ("arch", "show", "1", "--archs-file", "/nonexistent/file.txt"),
        ("nosuchcommand",),
        ("arch", "show", "1", "--no-such-option"),
    ]
    for args in cases:
        res = CliRunner().invoke(cli, list(args))
        assert res.exit_code == 2, (args, res.output)
        err = res.stderr if hasattr(res, "stderr") else res.output
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
