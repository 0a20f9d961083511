"""`edgenas cost` JSON contract and errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from edgenas.cli import cli

ARCH0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_cost_json_contract(tmp_path):
    f = tmp_path / "archs.txt"
    f.write_text("# two archs\n1\n")
    res = run("cost", ARCH0, "--archs-file", str(f), "--target", "jetson", "--dataset", "cifar10", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert len(rows) == 2
    for r in rows:
        assert {"arch", "target", "latency_ms", "source", "macs_m", "params_m"} <= set(r)
        assert r["target"] == "jetson-tx2" and r["source"] == "lookup"
    assert rows[0]["arch"] == ARCH0
    assert abs(rows[0]["latency_ms"] - 5.807418537139893) < 1e-5  # HW-NAS-Bench edgegpu, arch 0
    assert abs(rows[1]["latency_ms"] - 6.547689437866211) < 1e-5
    assert rows[0]["macs_m"] > 0 and rows[0]["params_m"] > 0


def test_cost_unknown_target_one_line_exit_2():
    res = run("cost", ARCH0, "--target", "jetsn", "--json")
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0
    assert "unknown target 'jetsn'" in res.output and "jetson" in res.output


def test_cost_missing_measurement_exit_2():
    res = run("cost", "6", "--target", "edgetpu", "--json")  # arch 6 failed the Edge TPU compiler upstream
    assert res.exit_code == 2 and "no lookup latency" in res.output
    assert "[" not in res.output  # nothing half-printed


def test_cost_no_table_tells_how_to_profile():
    res = run("cost", "0", "--target", "jetson-orin-nano")
    assert res.exit_code == 2 and "edgenas profile --target my-orin --host" in res.output


def test_cost_prints_sizes_without_building_a_model(monkeypatch):
    """MACs and params come from the spaces' closed forms (equal to fvcore on the built model bit for
    bit: tests/spaces), so pricing never traces a network (that took ~0.7 s per arch)."""
    from edgenas.spaces import get_space

    def no_build(*args, **kwargs):
        raise AssertionError("edgenas cost built a model")

    cases = [("nb201", "cifar10", "jetson", ["6111", ARCH0]),
             ("fbnet", "cifar100", "pixel3", ["k3_e1-" * 21 + "k5_e6", "skip-" * 21 + "k5_e1_g2"])]
    for name, ds, target, archs in cases:
        space = get_space(name)
        monkeypatch.setattr(type(space), "build_model", no_build)
        res = run("cost", *archs, "--space", name, "--dataset", ds, "--target", target, "--json")
        assert res.exit_code == 0, res.output
        for r in json.loads(res.output):
            assert (r["macs_m"], r["params_m"]) == space.analytic_size(space.parse(r["arch"]), ds)


def test_cost_on_a_cpu_profile_of_a_space_the_cpu_target_file_does_not_list(tmp_path):
    """`edgenas profile --target cpu --space macro` writes macro_cifar10_cpu_ops.json into $EDGENAS_HOME;
    the cpu target prices macro from it at once (by lookup when it stores every arch's prediction)."""
    from edgenas._paths import user_latency_tables_dir
    from edgenas.hardware.tables import OpLatencyTable, arch_rank, save_op_table
    from edgenas.spaces import get_space

    space = get_space("macro")
    ms = [1.0 + i / 1000 for i in range(space.size)]
    pre = {"space": "macro", "order": "choices", "n": space.size, "units": "ms", "ms": ms}
    meta = {"space": "macro", "dataset": "cifar10", "source": "test", "license": "CC0"}
    table = OpLatencyTable(meta, {"x": 1.0}, "shape", 0.0, 1.0, {"entries": {"K": 1.0}, "space_ms": pre})
    assert "macro/cifar10" not in run("targets", "--json").output
    save_op_table(table, user_latency_tables_dir() / "macro_cifar10_cpu_ops.json")
    res = run("cost", "21100000", "02121122", "--space", "macro", "--target", "cpu", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["latency_ms"] for r in rows] == [ms[arch_rank(space, space.parse(r["arch"]))] for r in rows]
    assert "stored for every macro arch" in rows[0]["source_detail"]
    listed = {t["name"]: t for t in json.loads(run("targets", "--json").output)}
    assert any(x["space"] == "macro" for x in listed["cpu"]["tables"])
