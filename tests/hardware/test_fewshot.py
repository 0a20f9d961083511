"""`edgenas fit`: measured archs -> a user target chosen by cross-validation, usable at once."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from edgenas.hardware.targets import load_target
from edgenas.spaces import get_space


def _measure(tmp_path, n=30, seed=0):
    """A made-up device: 0.3 ms + 0.02 ms per M MACs, +-2 % noise (so the MACs model should win)."""
    from edgenas.hardware.size import size_table

    space = get_space("nb201")
    sizes = size_table(space, "cifar10")
    rng = np.random.default_rng(seed)
    archs = [a for a in (space.from_index(int(i)) for i in rng.choice(space.size, 2 * n, replace=False))
             if not space.is_degenerate(a)][:n]
    path = tmp_path / "timings.csv"
    path.write_text("arch,latency_ms\n" + "".join(
        f"{space.format(a) if i % 2 else space.index(a)},{(0.3 + 0.02 * sizes(a)[0]) * rng.uniform(0.98, 1.02):.5f}\n"
        for i, a in enumerate(archs)))
    return path, sizes


def test_fit_makes_a_target_that_prices_the_space(tmp_path):
    path, sizes = _measure(tmp_path)
    r = CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "myboard", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["method"] == "macs" and doc["cv"]["macs"]["within_10"] >= 0.9 and doc["n_measured"] == 30
    target = load_target("myboard")  # found in $EDGENAS_HOME beside the shipped targets
    assert target.path.parent.name == "targets" and "edgenas_home" in str(target.path)
    space = get_space("nb201")
    arch = space.from_index(6111)
    out = CliRunner().invoke(cli, ["cost", "6111", "--target", "myboard", "--json"])
    assert out.exit_code == 0, out.output
    ms = json.loads(out.stdout)[0]["latency_ms"]
    assert ms == pytest.approx(0.3 + 0.02 * sizes(arch)[0], rel=0.05)
    listed = json.loads(CliRunner().invoke(cli, ["targets", "--json"]).stdout)
    (mine,) = [t for t in listed if t["name"] == "myboard"]
    assert mine["tables"][0]["fit"]["method"] == "macs" and mine["tables"][0]["fit"]["within_10"] >= 0.9
    assert "op-prior" in doc["cv"]  # NB201 ships per-arch tables: the prior is a candidate
    text = CliRunner().invoke(cli, ["targets"])
    assert text.exit_code == 0 and "held-out" in text.output, text.output  # the stored CV error is shown
    again = CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "myboard"])
    assert again.exit_code == 2 and "--force" in again.output
    assert CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "myboard", "--force"]).exit_code == 0


@pytest.mark.parametrize("content, expect", [
    ("arch,ms\n1,2\n", "columns arch,latency_ms"),
    ("arch,latency_ms\n1,-2\n", "line 2: latency_ms '-2'"),
    ("arch,latency_ms\n1,2\n99999,3\n", "line 3"),
    ("arch,latency_ms\n1,2\n1,3\n", "measured twice"),
    ("arch,latency_ms\n1,2\n2,3\n", "at least 5"),
    ("arch,latency_ms\n1,2,9\n2,3\n", "line 2: 3 cells; expected 2"),
    ("arch,latency_ms\n" + "".join(f"{i},2.5\n" for i in range(1, 8)), "every measured latency is 2.5 ms"),
])
def test_bad_measurements_are_one_line_errors(tmp_path, content, expect):
    path = tmp_path / "m.csv"
    path.write_text(content)
    r = CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "x1"])
    assert r.exit_code == 2 and expect in r.output and r.output.count("\n") == 1, r.output


def test_shipped_target_names_are_never_replaced(tmp_path):
    path, _ = _measure(tmp_path, n=8)
    r = CliRunner().invoke(cli, ["fit", "--measurements", str(path), "--target", "jetson-tx2"])
    assert r.exit_code == 2 and "shipped target" in r.output


def _shipped_column(name: str) -> np.ndarray:
    """ms of every NB201 CIFAR-10 arch (by index) of a shipped target."""
    from edgenas.hardware.tables import load_arch_table

    ref = load_target(name).table("nb201", "cifar10")
    table = load_arch_table(ref.file)
    col = np.full(get_space("nb201").size, np.nan)
    col[table.index] = table.column(ref.column)
    return col


def test_op_prior_weights_recover_a_known_combination():
    """y = 2 x device 1 + 0.5 x device 2 + 0.1 ms of a synthetic prior: the weights come back exactly."""
    from edgenas.hardware.fewshot import OpPrior, _prior_weights, op_prior

    space = get_space("nb201")
    real = op_prior(space, "cifar10", "pytorch")
    rng = np.random.default_rng(1)
    ms = rng.uniform(0.0, 0.5, (3, len(real.keys) + 1))
    prior = OpPrior("nb201", "cifar10", real.keys, ("a", "b", "c"), ("A", "B", "C"), ms)
    archs = [space.from_index(int(i)) for i in rng.choice(space.size, 10, replace=False)]
    y = prior.device_ms(space, archs) @ np.array([2.0, 0.5, 0.0]) + 0.1
    assert _prior_weights(prior, space, archs, y) == pytest.approx([2.0, 0.5, 0.0, 0.1], abs=1e-6)


def test_twice_a_shipped_device_is_recovered_from_10_archs():
    """A device exactly 2x titan-rtx-b256 (whose latency is additive over op keys): op-prior, fitted
    on 10 archs, prices the other archs within +-1 % (median) and 99 % within +-10 %."""
    from edgenas.hardware.fewshot import _fitter

    space = get_space("nb201")
    y_all = 2 * _shipped_column("titan-rtx-b256")
    rng = np.random.default_rng(0)
    idx = rng.choice(space.size, 10, replace=False)
    model = _fitter("op-prior", space, "cifar10", "pytorch")([space.from_index(int(i)) for i in idx], y_all[idx])
    rest = np.setdiff1d(np.arange(0, space.size, 5), idx)
    pred = model([space.from_index(int(i)) for i in rest])
    rel = np.abs(pred - y_all[rest]) / y_all[rest]
    assert np.median(rel) < 0.01 and np.mean(rel <= 0.10) >= 0.99


def test_leave_one_device_out_drops_every_batch_size_of_the_device():
    from edgenas.hardware.fewshot import available_methods, op_prior

    space = get_space("nb201")
    full = op_prior(space, "cifar10", "pytorch")
    assert {"titan-rtx-b1", "titan-rtx-b32", "titan-rtx-b256", "jetson-tx2"} <= set(full.targets)
    assert len(full.targets) == 27 and full.ms.shape == (27, len(full.keys) + 1) and np.all(full.ms >= 0)
    left = op_prior(space, "cifar10", "pytorch", exclude=["NVIDIA Titan RTX"])
    assert not any(t.startswith("titan-rtx") for t in left.targets) and len(left.targets) == 24
    assert op_prior(space, "cifar10", "pytorch", exclude=set(full.devices)) is None
    assert "op-prior" not in available_methods(space, "cifar10", "pytorch", exclude=set(full.devices))
    # HW-NAS-Bench ships CIFAR-100 tables of 4 devices: the prior there is those 4
    assert set(op_prior(space, "cifar100", "tensorrt").targets) == {"edgetpu", "jetson-tx2", "pixel3", "raspi4"}


def test_no_prior_where_no_per_arch_table_ships():
    """FBNet ships per-op tables only (and is too large to enumerate): op-prior is not a candidate."""
    from edgenas.hardware.fewshot import METHODS, available_methods, op_prior

    fbnet = get_space("fbnet")
    assert op_prior(fbnet, "cifar100", "pytorch") is None
    assert available_methods(fbnet, "cifar100", "pytorch") == tuple(m for m in METHODS if m not in ("op-prior", "kernels"))
    assert "kernels" in available_methods(fbnet, "cifar100", "onnxruntime", kernels=True)


def test_fit_stores_the_prior_weights_when_op_prior_wins(monkeypatch):
    """A device 1.5x titan-rtx-b256 measured on 12 archs: op-prior cross-validates best, the table header
    names the shipped devices it weighs and their licenses, and `edgenas targets` shows the method."""
    import edgenas.hardware.size as size
    from edgenas.hardware.fewshot import fit_target

    # MACs are not what this test is about: a cheap stand-in (the real table takes seconds to build)
    monkeypatch.setattr(size, "size_table", lambda space, dataset: (lambda a: (float(len(space.layers(a, dataset))),)))
    space = get_space("nb201")
    y_all = 1.5 * _shipped_column("titan-rtx-b256")
    idx = np.random.default_rng(4).choice(space.size, 12, replace=False)
    res = fit_target(space, "cifar10", [space.from_index(int(i)) for i in idx], y_all[idx], name="board2",
                     device="board2", runtime="pytorch", source="test")
    assert res.method == "op-prior" and res.cv["op-prior"]["within_10"] == 1.0, res.cv
    head = json.loads(res.table.read_text().partition("\n")[0][2:])
    prior = head["columns"]["board2"]["prior"]
    assert prior["weights"] and all(w > 0 for w in prior["weights"].values())
    assert "nb201_cifar10_help.csv" in prior["tables"] and "MIT" in head["license"]
    ms = load_target("board2").table("nb201", "cifar10")
    from edgenas.hardware.tables import load_arch_table

    col = load_arch_table(ms.file).column("board2")
    rel = np.abs(col - y_all) / y_all
    assert np.median(rel) < 0.01
    listed = json.loads(CliRunner().invoke(cli, ["targets", "--json"]).stdout)
    (mine,) = [t for t in listed if t["name"] == "board2"]
    assert mine["tables"][0]["fit"]["method"] == "op-prior" and mine["tables"][0]["fit"]["within_10"] == 1.0


def test_choose_and_fit_prices_every_arch_like_the_stored_table():
    import numpy as np

    from edgenas.hardware.fewshot import choose_and_fit
    from edgenas.spaces import get_space

    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = [a for a in (space.sample(rng) for _ in range(40)) if not space.is_degenerate(a)][:12]
    y = np.array([0.3 + 0.01 * len(space.format(a)) for a in archs])
    predict, method = choose_and_fit(space, "cifar10", archs, y, runtime="onnxruntime")
    others = [space.from_index(i) for i in range(0, 15625, 997)]
    pred = predict(others)
    assert method in ("macs", "per-op-shape", "per-op-position", "op-prior")
    assert pred.shape == (len(others),) and np.all(np.isfinite(pred)) and np.all(pred > 0)


def test_a_fit_pricing_archs_at_zero_writes_positive_latencies_only(tmp_path, monkeypatch):
    """A per-op fit with a zero constant prices archs without live ops at 0 ms: the table would be refused."""
    import numpy as np

    from edgenas.hardware import fewshot
    from edgenas.hardware.tables import load_arch_table
    from edgenas.spaces import get_space

    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    space = get_space("nb201")
    archs = [space.from_index(i) for i in (1, 10, 100, 1000, 2000, 3000, 4000, 5000)]
    y = np.linspace(1.0, 2.0, len(archs))
    real = fewshot._fitter

    def zero_for_some(method, *a, **kw):
        fit = real(method, *a, **kw)

        def fitted(xs, ys):
            predict = fit(xs, ys)
            return lambda zs: np.where(np.arange(len(zs)) % 7 == 0, 0.0, predict(zs))
        return fitted

    monkeypatch.setattr(fewshot, "_fitter", zero_for_some)
    res = fewshot.fit_target(space, "cifar10", archs, y, name="zeroes", device="d", runtime="onnxruntime",
                             source="test")
    table = load_arch_table(res.table)  # the loader refuses a zero cell
    col = table.column("zeroes")
    assert np.nanmin(col) == pytest.approx(0.01, abs=1e-6) and np.all(col[np.isfinite(col)] > 0)


def _wired_kernels(space, archs, progress=None):
    """Made-up kernel counts that depend on how ops are wired (an op next to another kind costs a reorder)."""
    out = []
    for a in archs:
        t = a.tokens
        c = {f"K-{op}": t.count(op) for op in set(t)}
        c["Reorder"] = sum(x != y for x, y in zip(t, t[1:]))
        out.append(c)
    return out


def test_kernels_model_wins_when_latency_follows_kernels_and_prices_every_arch(monkeypatch):
    import edgenas.hardware.size as size
    from edgenas.hardware.fewshot import fit_target
    from edgenas.hardware.tables import load_arch_table

    monkeypatch.setattr(size, "size_table", lambda space, dataset: (lambda a: (float(len(space.layers(a, dataset))),)))
    space = get_space("nb201")
    cost = {"K-nor_conv_3x3": 0.5, "K-nor_conv_1x1": 0.2, "K-avg_pool_3x3": 0.1, "K-skip_connect": 0.01,
            "K-none": 0.02, "Reorder": 0.3}

    def truth(a):
        (c,) = _wired_kernels(space, [a])
        return 0.4 + sum(cost[k] * n for k, n in c.items())

    rng = np.random.default_rng(1)
    archs = [a for a in (space.sample(rng) for _ in range(80)) if not space.is_degenerate(a)][:30]
    y = np.array([truth(a) for a in archs])
    kernels = {space.format(a): c for a, c in zip(archs, _wired_kernels(space, archs))}
    res = fit_target(space, "cifar10", archs, y, name="wired", device="wired", runtime="onnxruntime", source="test",
                     kernels=kernels, kernel_counter=lambda xs, p: _wired_kernels(space, xs))
    assert res.method == "kernels" and res.cv["kernels"]["within_10"] == 1.0 and res.cv["kernels"]["mape"] < 1e-3
    assert res.cv["kernels"]["mape"] < res.cv["per-op-shape"]["mape"]
    head = json.loads(res.table.read_text().partition("\n")[0][2:])["columns"]["wired"]
    assert head["kernels"]["costs_ms"]["Reorder"] == pytest.approx(0.3, rel=1e-3) and "measured archs" in head["kernels"]["check"]
    col = load_arch_table(res.table).column("wired")
    for i in (0, 777, 15624):  # archs nobody measured: priced from this host's counts of their kernels
        assert col[i] == pytest.approx(truth(space.from_index(i)), rel=1e-4)
    # counts that differ from the device's: no kernels candidate, and the note says why
    res2 = fit_target(space, "cifar10", archs, y, name="wired2", device="wired2", runtime="onnxruntime", source="test",
                      kernels=kernels, kernel_counter=lambda xs, p: [{"Other": 1} for _ in xs])
    assert "kernels" not in res2.cv and "other kernels than the device reported" in res2.note


def test_no_kernels_model_for_a_space_too_large_to_price_every_arch():
    from edgenas.hardware.fewshot import fit_target

    space = get_space("fbnet")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(12)]
    res = fit_target(space, "cifar100", archs, np.linspace(1.0, 3.0, 12), name="fb", device="fb",
                     runtime="onnxruntime", source="test", kernels={space.format(a): {"K": 1} for a in archs},
                     kernel_counter=lambda xs, p: pytest.fail("an FBNet fit must not count kernels"))
    assert "kernels" not in res.cv and "fbnet is too large" in res.note and res.method.startswith("per-op")


def test_a_per_op_fit_prices_ops_no_measured_arch_showed_and_never_zero():
    """From a dozen timings of a large space, a per-op fit used to lack the ops none of them showed: every arch
    with one counted as over the budget (half of FBNet). Those keys are priced by the MACs model now."""
    from edgenas.hardware.cost import get_cost_model
    from edgenas.hardware.fewshot import fit_target
    from edgenas.hardware.tables import load_op_table

    space = get_space("fbnet")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(12)]
    # one block never measured at the first searchable layer
    archs = [space.arch((a.tokens[0], "skip" if a.tokens[1] == "k5_e6" else a.tokens[1], *a.tokens[2:]))
             for a in archs]
    y = np.array([1.0 + 0.02 * sum(t != "skip" for t in a.tokens) for a in archs])
    res = fit_target(space, "cifar100", archs, y, name="fb", device="fb", runtime="tflite", source="test")
    assert "priced by the macs model" in res.note
    table = load_op_table(res.table)
    assert table.meta["priced_by_macs"]["keys"] >= 1 and table.meta["floor_ms"] == pytest.approx(0.01 * y.min())
    cost = get_cost_model("fb", "fbnet", "cifar100")
    unseen = space.arch((archs[0].tokens[0], "k5_e6", *archs[0].tokens[2:]))
    assert cost.predict(unseen).latency_ms > 0
    prices = [cost.predict(space.sample(rng)).latency_ms for _ in range(100)]  # none unpriced
    assert min(prices) >= table.meta["floor_ms"]


def test_a_fit_cut_between_its_table_and_its_target_is_finished_by_the_same_command(tmp_path):
    """The table is written before the target YAML: killed between the two, the same command (a resumed
    `edgenas profile` refits this way) used to be refused with 'exists; expected --force'."""
    path, _ = _measure(tmp_path)
    args = ["fit", "--measurements", str(path), "--target", "myboard"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    target = load_target("myboard")
    table = target.path.parent.parent / "latency_tables" / "nb201_cifar10_myboard.csv"
    assert table.is_file()
    target.path.unlink()  # the cut
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert load_target("myboard").path.is_file()
    target = load_target("myboard")
    target.path.unlink()
    other = tmp_path / "other.csv"
    other.write_text(path.read_text())
    r = CliRunner().invoke(cli, ["fit", "--measurements", str(other), "--target", "myboard"])
    assert r.exit_code == 2 and "exists; expected --force" in r.output  # another fit's table is not replaced


def test_a_table_of_a_changed_space_definition_is_refused(tmp_path):
    """`spaces add --replace` changes what a user's space builds; a table fitted on the old definition used to
    price the new networks silently."""
    from edgenas.errors import LatencyTableError
    from edgenas.hardware.cost import get_cost_model
    from edgenas.hardware.fewshot import fit_target

    text = """
name: tiny_mb
stem: {channels: 8}
blocks:
  a: {type: mbconv, kernel: 3, expansion: 2}
  b: {type: mbconv, kernel: 5, expansion: 3}
  s: {type: skip}
stages:
  - {layers: 3, stride: 2, channels: 16, blocks: [a, b, s], first_blocks: [a, b]}
head: {channels: 32}
datasets:
  cifar10: {num_classes: 10, input_size: 32}
"""
    path = tmp_path / "tiny_mb.yaml"
    path.write_text(text)
    assert CliRunner().invoke(cli, ["spaces", "add", str(path)]).exit_code == 0
    space = get_space("tiny_mb")
    archs = list(space.enumerate())[:8]
    fit_target(space, "cifar10", archs, np.linspace(1.0, 2.0, len(archs)), name="tb", device="tb",
               runtime="tflite", source="test")
    assert get_cost_model("tb", "tiny_mb", "cifar10").predict(archs[0]).latency_ms > 0
    path.write_text(text.replace("kernel: 5", "kernel: 7"))
    assert CliRunner().invoke(cli, ["spaces", "add", "--replace", str(path)]).exit_code == 0
    with pytest.raises(LatencyTableError, match="measured on another definition of space 'tiny_mb'"):
        get_cost_model("tb", "tiny_mb", "cifar10")
    r = CliRunner().invoke(cli, ["cost", space.format(archs[0]), "--space", "tiny_mb", "--target", "tb"])
    assert r.exit_code == 2 and "another definition" in r.output
