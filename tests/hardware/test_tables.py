"""Loading and validation of latency tables (arch CSV and per-op JSON)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgenas._paths import shipped_latency_tables_dir
from edgenas.errors import LatencyTableError, MissingLatencyError
from edgenas.hardware.tables import OpLatencyTable, load_arch_table, load_op_table, save_op_table
from edgenas.spaces import get_space

from ._hw_helpers import fixture_rows, good_meta, write_arch_table


def test_good_table_and_missing_cell(tmp_path):
    t = load_arch_table(write_arch_table(tmp_path / "t.csv"), space="nb201", dataset="cifar10")
    assert t.columns == ("dev",)
    np.testing.assert_array_equal(t.index, [0, 1, 2])
    assert t.column("dev")[1] == 2.5 and np.isnan(t.column("dev")[2])


@pytest.mark.parametrize(
    ("meta", "body", "needle"),
    [
        (good_meta(units="s"), None, "units 's'"),
        (good_meta(space="fbnet"), None, "space 'fbnet'"),
        (good_meta(schema_version=9), None, "schema_version 9"),
        (good_meta(rows=5), None, "3 rows, header says 5"),
        ({k: v for k, v in good_meta().items() if k != "license"}, None, "lacks license"),
        (None, "index,dev,other\n0,1,2\n1,1,2\n2,1,2\n", "not described in the header: other"),
        (None, "index,dev\n0,1\n1,x\n2,1\n", "non-numeric"),
        (None, "index,dev\n0,1\n1,-1\n2,1\n", "negative latency"),
    ],
)
def test_bad_tables_are_rejected(tmp_path, meta, body, needle):
    p = write_arch_table(tmp_path / "bad.csv", meta, body or "index,dev\n0,1.5\n1,2.5\n2,\n")
    with pytest.raises(LatencyTableError, match=needle):
        load_arch_table(p, space="nb201", dataset="cifar10")


def test_wrong_dataset_and_bad_header(tmp_path):
    with pytest.raises(LatencyTableError, match="dataset 'cifar10', expected 'cifar100'"):
        load_arch_table(write_arch_table(tmp_path / "t.csv"), dataset="cifar100")
    (tmp_path / "h.csv").write_text("index,dev\n0,1\n")
    with pytest.raises(LatencyTableError, match="first line"):
        load_arch_table(tmp_path / "h.csv")
    (tmp_path / "j.csv").write_text("# {not json\nindex,dev\n")
    with pytest.raises(LatencyTableError, match="not JSON"):
        load_arch_table(tmp_path / "j.csv")


def test_shipped_table_matches_upstream_fixture():
    """The converted table holds the measured HW-NAS-Bench values (7 significant digits)."""
    t = load_arch_table(shipped_latency_tables_dir() / "nb201_cifar10_hwnasbench.csv", space="nb201", dataset="cifar10")
    assert len(t.index) == 15625
    for r in fixture_rows():
        i = int(r["index"])
        for col in ("edgegpu", "raspi4", "pixel3", "edgetpu"):
            want = float(r[f"{col}_latency"])
            got = t.column(col)[i]
            if want < 0:
                assert np.isnan(got)
            else:
                assert got == pytest.approx(want, rel=1e-6)


def _op_table(tmp_path, **over):
    obj = {"schema_version": 1, "kind": "op_latency", "space": "nb201", "dataset": "cifar10", "units": "ms",
           "key": "shape", "intercept_ms": 0.1, "scale": 1.0, "entries": {"a": {"median_ms": 1.0}}}
    obj.update(over)
    p = tmp_path / "ops.json"
    p.write_text(json.dumps(obj))
    return p


def test_op_table_validation(tmp_path):
    assert load_op_table(_op_table(tmp_path)).entries == {"a": 1.0}
    with pytest.raises(LatencyTableError, match="units 'us'"):
        load_op_table(_op_table(tmp_path, units="us"))
    with pytest.raises(LatencyTableError, match="space 'nb201', expected 'fbnet'"):
        load_op_table(_op_table(tmp_path), space="fbnet")
    with pytest.raises(LatencyTableError, match=r"entries\['a'\].median_ms is -1"):
        load_op_table(_op_table(tmp_path, entries={"a": {"median_ms": -1}}))
    with pytest.raises(LatencyTableError, match="kind"):
        load_op_table(_op_table(tmp_path, kind="arch_latency"))


def test_op_table_missing_op_is_an_error_and_round_trip(tmp_path):
    space = get_space("nb201")
    arch = space.from_index(0)
    keys = {layer.key() for layer in space.layers(arch, "cifar10")}
    full = OpLatencyTable({"space": "nb201", "dataset": "cifar10", "prune": False}, dict.fromkeys(keys, 0.5), "shape",
                          0.25, 2.0)
    n = len(space.layers(arch, "cifar10"))
    assert full.predict_many(space, [arch])[0] == pytest.approx(2.0 * 0.5 * n + 0.25)
    save_op_table(full, tmp_path / "t.json")
    back = load_op_table(tmp_path / "t.json", space="nb201", dataset="cifar10")
    assert back.predict_many(space, [arch])[0] == pytest.approx(full.predict_many(space, [arch])[0])
    first = min(keys)
    some = sorted(keys - {first})
    partial = OpLatencyTable({"space": "nb201", "dataset": "cifar10", "prune": False},
                             dict.fromkeys(some, 0.5), "shape")
    with pytest.raises(MissingLatencyError, match=first.split("-")[0]):
        partial.predict_many(space, [arch])


def test_other_host_note_is_said_once_per_table(caplog, monkeypatch):
    """validate prices every model with a freshly loaded table: the 'profiled on another CPU' note comes once."""
    import logging

    from edgenas import _host
    from edgenas._paths import shipped_latency_tables_dir
    from edgenas.hardware import tables
    from edgenas.spaces import get_space

    monkeypatch.setattr(_host, "cpu_model", lambda: "Some Other CPU")
    tables._note_other_host.cache_clear()
    space = get_space("nb201")
    path = shipped_latency_tables_dir() / "nb201_cifar10_cpu_ops.json"
    with caplog.at_level(logging.WARNING, logger="edgenas.hardware.tables"):
        for i in range(3):
            t = tables.load_op_table(path, space="nb201", dataset="cifar10")
            assert t.predict_many(space, [space.from_index(i)])[0] > 0
    notes = [r for r in caplog.records if "re-run `edgenas profile`" in r.getMessage()]
    assert len(notes) == 1 and "Some Other CPU" in notes[0].getMessage()
    tables._note_other_host.cache_clear()
