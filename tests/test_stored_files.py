"""Every stored file edgenas reads back is checked on load: a corrupt one is one clear error naming
the file and the field (pareto.json at export, config.json, per-op latency tables, the run store)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from edgenas.errors import ConfigError, LatencyTableError
from edgenas.search.config import SearchConfig, config_dict, load_config
from edgenas.search.store import CandidateStore, StoredScore
from tests._asserts import assert_one_error

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
SMALL = "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"
OP_TABLE = Path(__file__).resolve().parents[1] / "edgenas" / "latency_tables" / "nb201_cifar10_cpu_ops.json"


def _one_error(args: list[str], *needles: str) -> str:
    return assert_one_error(CliRunner().invoke(cli, args), *needles)


# -- pareto.json at export -----------------------------------------------------------------------

def _pareto() -> dict:
    members = [{"arch": a, "index": None, "scores": {}, "latency_ms": {"jetson-tx2": ms}, "latency_source": {},
                "macs_m": 1.0, "params_m": 0.1} for a, ms in ((BEST, 3.25), (SMALL, 1.5))]
    return {"schema_version": 1, "space": "nb201", "dataset": "cifar10", "targets": ["jetson-tx2"],
            "members": members, "pick": json.loads(json.dumps(members[0]))}


def _set(doc: dict, path: str, value: object) -> None:
    *head, last = path.split("/")
    for k in head:
        doc = doc[int(k)] if isinstance(doc, list) else doc[k]
    if isinstance(doc, list):
        doc[int(last)] = value
    else:
        doc[last] = value


@pytest.mark.parametrize("where, value, needle", [
    ("members/1/latency_ms/jetson-tx2", -5, "members[1] (rank 2).latency_ms['jetson-tx2'] is -5; expected a finite number of ms >= 0"),
    ("members/0/latency_ms/jetson-tx2", float("nan"), "members[0] (rank 1).latency_ms['jetson-tx2'] is nan"),
    ("members/0/latency_ms/jetson-tx2", float("inf"), "latency_ms['jetson-tx2'] is inf"),
    ("members/0/latency_ms/jetson-tx2", "3.2", "latency_ms['jetson-tx2'] is '3.2'"),
    ("members/0/latency_ms/jetson-tx2", True, "latency_ms['jetson-tx2'] is True"),
    ("members/0/latency_ms", [1.0], "members[0] (rank 1).latency_ms is [1.0]; expected an object"),
    ("members/1/latency_ms", {"no-such-board": 1.0}, "names target 'no-such-board', which is not a known target"),
    ("members/1/latency_ms", {"raspi4": 1.0}, "names target 'raspi4', which is not a target of this search"),
    ("members/0/arch", "|bad~0|", "members[0] (rank 1).arch:"),
    ("members/0/arch", 3.5, "members[0] (rank 1).arch is 3.5"),
    ("members/0/arch", None, "members[0] (rank 1).arch is None"),
    ("members/1", 7, "members[1] (rank 2) is int; expected an object"),
    ("pick/latency_ms/jetson-tx2", -1, "pick.latency_ms['jetson-tx2'] is -1"),
    ("pick", [], "pick is list"),
    ("space", 5, "field 'space' is 5"),
    ("space", "nb999", "unknown space 'nb999'"),
    ("dataset", "mnist", "mnist"),
    ("targets", "jetson-tx2", "field 'targets' is 'jetson-tx2'; expected a list of target names"),
])
def test_corrupt_pareto_json_is_refused_at_export(tmp_path: Path, where: str, value: object, needle: str) -> None:
    run = tmp_path / "run"
    run.mkdir()
    doc = _pareto()
    _set(doc, where, value)
    (run / "pareto.json").write_text(json.dumps(doc))  # NaN / Infinity as Python's json writes them
    out = tmp_path / "out"
    _one_error(["export", str(run), "--all", "--out", str(out)], str(run / "pareto.json"), needle)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_valid_pareto_json_still_resolves(tmp_path: Path) -> None:
    from edgenas.export.sources import resolve_candidates
    from edgenas.spaces import get_space

    p = tmp_path / "pareto.json"
    doc = _pareto()
    doc["members"][1]["latency_ms"] = {"jetson-tx2": None}  # not priced: allowed, left out
    p.write_text(json.dumps(doc))
    space = get_space("nb201")
    cands = resolve_candidates(str(p), space=space, dataset="cifar10", all_members=True)
    assert [(c.rank, c.latency_ms) for c in cands] == [(1, {"jetson-tx2": 3.25}), (2, {})]
    (pick,) = resolve_candidates(str(p), space=space, dataset="cifar10")
    assert pick.rank == 1 and space.format(pick.arch) == BEST


# -- config.json ---------------------------------------------------------------------------------

def _config_doc() -> dict:
    cfg = SearchConfig(targets=("jetson-tx2",), dataset="cifar10", max_latency_ms=5.0, proxy="edgenas_transfer",
                       device="cpu", batch_size=16, workers=1, pick_top_share=0.0, out="runs/x")
    return {"schema_version": 1, "edgenas_version": "0", **config_dict(cfg)}


@pytest.mark.parametrize("field, value, needle", [
    ("evaluations", "300", "evaluations='300' is invalid"),
    ("evaluations", -1, "evaluations=-1 is invalid"),
    ("seed", 1.5, "seed=1.5 is invalid"),
    ("workers", 10**6, "workers=1000000 is invalid"),
    ("batch_size", 1, "batch_size=1 is invalid"),
    ("max_latency_ms", -5, "max_latency_ms=-5.0 is invalid"),
    ("max_latency_ms", 1e300, "max_latency_ms=1e+300 is invalid"),
    ("max_latency_ms", {"jetson-tx2": "5"}, "max_latency_ms[jetson-tx2]='5' is invalid"),
    ("max_params_m", [1], "max_params_m=[1] is invalid"),
    ("targets", "jetson-tx2", "field 'targets' must be a list"),
    ("targets", [5], "target 5 is invalid"),
    ("targets", [], "no target given"),
    ("space", 5, "field 'space' is 5; expected a string"),
    ("proxy", ["x"], "field 'proxy' is ['x']; expected a string or null"),
    ("device", None, "field 'device' is None; expected a string"),
    ("device", "tpu", "device 'tpu' is invalid"),
    ("executor", "slurm", "unknown executor 'slurm'"),
    ("extra_objectives", ["flops"], "extra objective 'flops' is unknown"),
    ("pick_top_share", 2, "pick_top_share=2 is invalid"),
    ("proxy_resolution", 10**5, "proxy resolution 100000 is invalid"),
    ("surprise", 1, "unknown field 'surprise'"),
])
def test_corrupt_config_json_names_file_and_field(tmp_path: Path, field: str, value: object, needle: str) -> None:
    p = tmp_path / "config.json"
    doc = _config_doc()
    doc[field] = value
    p.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert str(p) in msg and needle in msg and "\n" not in msg, msg


def test_valid_config_json_round_trips(tmp_path: Path) -> None:
    p = tmp_path / "config.json"
    doc = _config_doc()
    p.write_text(json.dumps(doc))
    assert config_dict(load_config(p)) == {k: v for k, v in doc.items() if k not in ("schema_version", "edgenas_version")}


# -- per-op latency tables -----------------------------------------------------------------------

@pytest.mark.parametrize("where, value, needle", [
    ("intercept_ms", -1000, "field 'intercept_ms' is -1000; expected a finite number of ms in 0..1e+06"),
    ("intercept_ms", float("nan"), "field 'intercept_ms' is nan"),
    ("intercept_ms", "0.3", "field 'intercept_ms' is '0.3'"),
    ("intercept_ms", True, "field 'intercept_ms' is True"),
    ("scale", 0, "field 'scale' is 0; expected a finite number > 0"),
    ("scale", -1.0, "field 'scale' is -1.0"),
    ("scale", float("inf"), "field 'scale' is inf"),
    ("entries", [], "field 'entries' is []"),
    ("entries/*/median_ms", -1.0, ".median_ms is -1.0; expected a finite number of ms"),
    ("entries/*/median_ms", float("nan"), ".median_ms is nan"),
    ("entries/*/median_ms", "x", ".median_ms is 'x'"),
    ("entries/*", 0.5, ".median_ms is None"),
    ("kernels/entries/*", -2.0, "kernels.entries["),
    ("kernels/intercept_ms", -1.0, "kernels.intercept_ms is -1.0"),
    ("kernels/threads", 0, "kernels.threads is 0; expected an integer 1..1024"),
    ("kernels/space_ms/ms/17", -1.0, "kernels.space_ms must hold n finite ms values in 0..1e+06 (ms[17] is -1.0)"),
    ("kernels", "yes", "field 'kernels' is 'yes'"),
])
def test_corrupt_op_table_names_file_and_field(tmp_path: Path, where: str, value: object, needle: str) -> None:
    from edgenas.hardware.tables import load_op_table

    doc = json.loads(OP_TABLE.read_text())
    node = doc
    *head, last = where.split("/")
    for k in head:
        node = node[int(k)] if isinstance(node, list) else node[next(iter(node)) if k == "*" else k]
    key = int(last) if isinstance(node, list) else (next(iter(node)) if last == "*" else last)
    node[key] = value
    p = tmp_path / "nb201_cifar10_mine_ops.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(LatencyTableError) as e:
        load_op_table(p, space="nb201", dataset="cifar10")
    msg = str(e.value)
    assert str(p) in msg and needle in msg and "\n" not in msg, msg


def test_corrupt_op_table_of_a_user_target_is_one_cli_error(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    (home / "targets").mkdir(parents=True)
    (home / "latency_tables").mkdir()
    doc = json.loads(OP_TABLE.read_text())
    doc["intercept_ms"] = -1000
    (home / "latency_tables" / "mine_ops.json").write_text(json.dumps(doc))
    (home / "targets" / "mine.yaml").write_text("name: mine\ndevice: my board\nruntime: onnxruntime\n"
                                                "tables:\n  nb201:\n    cifar10: {file: mine_ops.json}\n")
    monkeypatch.setenv("EDGENAS_HOME", str(home))
    _one_error(["cost", "0", "--target", "mine"], "mine_ops.json", "field 'intercept_ms' is -1000")


# -- the run store (candidates.sqlite) -----------------------------------------------------------

KEY = ("nb201", "cifar10", "pk", 0, "gaussian")


def _good_store(path: Path) -> None:
    s = CandidateStore(path, key=KEY)
    s.check_config({"seed": 0})
    s.put(StoredScore(BEST, "k1", {"p": 1.5, "q": None}, 0.25, 0), device="cpu")
    s.close()


def _corrupt(path: Path, how: str) -> None:
    if how == "random_bytes":
        path.write_bytes(b"this is not a database\x00" * 100)
        return
    if how == "truncated":
        _good_store(path)
        data = path.read_bytes()
        path.write_bytes(data[:100] + b"\xff" * (len(data) - 100))
        return
    db = sqlite3.connect(str(path))
    if how == "wrong_schema":
        db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                         "CREATE TABLE scores (iso_key TEXT, score REAL);")
    else:
        db.close()
        _good_store(path)
        db = sqlite3.connect(str(path))
        if how == "meta_not_json":
            db.execute("UPDATE meta SET value = '{not json' WHERE key = 'config'")
        elif how == "meta_not_object":
            db.execute("UPDATE meta SET value = '[1, 2]' WHERE key = 'config'")
        elif how == "scores_not_json":
            db.execute("UPDATE scores SET raw_scores = 'oops'")
        elif how == "scores_not_numbers":
            db.execute("""UPDATE scores SET raw_scores = '{"p": "high"}'""")
        elif how == "seconds_text":
            db.execute("UPDATE scores SET seconds = 'soon'")
        elif how == "warnings_negative":
            db.execute("UPDATE scores SET n_warnings = -3")
        db.commit()
    db.close()


@pytest.mark.parametrize("how, needle", [
    ("random_bytes", "is not a readable edgenas store (file is not a database)"),
    ("truncated", "is not a readable edgenas store"),
    ("wrong_schema", "table 'scores' has columns iso_key, score; expected space, dataset"),
    ("meta_not_json", "meta 'config' is '{not json'; expected JSON text"),
    ("meta_not_object", "meta 'config' is [1, 2]; expected a JSON object"),
    ("scores_not_json", "row 'k1' raw_scores is 'oops'"),
    ("scores_not_numbers", "row 'k1' raw_scores is '{\"p\": \"high\"}'"),
    ("seconds_text", "row 'k1' seconds is 'soon'; expected a finite number >= 0"),
    ("warnings_negative", "row 'k1' n_warnings is -3; expected an integer >= 0"),
])
def test_corrupt_store_names_the_file(tmp_path: Path, how: str, needle: str) -> None:
    path = tmp_path / "candidates.sqlite"
    _corrupt(path, how)
    with pytest.raises(ConfigError) as e:
        s = CandidateStore(path, key=KEY)
        try:
            s.check_config({"seed": 0})
            s.get("k1")
        finally:
            s.close()
    msg = str(e.value)
    assert str(path) in msg and needle in msg and "\n" not in msg, msg
    # the lock was released: the folder can be opened again (e.g. after moving the store away)
    path.rename(tmp_path / "moved.sqlite")
    for leftover in tmp_path.glob("candidates.sqlite-*"):
        leftover.unlink()
    CandidateStore(path, key=KEY).close()


def test_good_store_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    _good_store(path)
    s = CandidateStore(path, key=KEY)
    assert s.check_config({"seed": 0}) is True
    assert s.get("k1") == StoredScore(BEST, "k1", {"p": 1.5, "q": None}, 0.25, 0) and s.count() == 1
    s.close()


def test_resume_from_a_corrupt_store_is_one_cli_error(tmp_path: Path, monkeypatch) -> None:
    from tests.search._fakes import install_fakes

    install_fakes(monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    (run / "candidates.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    _one_error(["search", "--target", "jetson", "--evaluations", "20", "--population", "5", "--out", str(run),
                "--resume"], str(run / "candidates.sqlite"), "is not a readable edgenas store")
    assert not (run / "pareto.json").exists()


# -- whole-space score tables (--score-table) ----------------------------------------------------

@pytest.mark.parametrize("name, body, needle", [
    ("t.csv", "index,a\n1,1.5\n2,abc\n", "row 2: a is 'abc'; expected a number"),
    ("t.csv", "index,a\n1,1.5\nx7,2.0\n", "row 2: index 'x7' is invalid"),
    ("t.csv", "index,a\n1,1.5\n15625,2.0\n", "row 2: index '15625' is invalid; expected an arch index 0..15624"),
    ("t.csv", "index,a\n1,1.5\n-3,2.0\n", "row 2: index '-3' is invalid"),
    ("t.csv", "index,a\n1,1.5\n2\n", "row 2 has another number of cells than the header's 2 columns"),
    ("t.csv", "index,a\n1,1.5\n2,1.0,9\n", "row 2 has another number of cells"),
    ("t.csv", "arch,a\n|bad~0|,1.0\n", "row 1: arch:"),
    ("t.csv", "index,arch,a\n,,1.0\n", "row 1 has neither an index nor an arch"),
    ("t.jsonl", '{"index": 1, "scores": {"a": 1.0}}\n{oops\n', "line 2 is not JSON"),
    ("t.jsonl", '{"index": 1, "scores": {"a": 1.0}}\n[1, 2]\n', "line 2 is [1, 2]; expected a JSON object"),
    ("t.jsonl", '{"index": 1, "scores": {"a": 1.0}}\n{"index": 2, "scores": {"a": true}}\n', "row 2: a is True"),
    ("t.jsonl", '{"index": 1, "scores": {"a": 1.0}}\n{"index": 2.5, "scores": {"a": 1.0}}\n', "row 2: index 2.5"),
])
def test_corrupt_score_table_names_file_and_row(tmp_path: Path, name: str, body: str, needle: str) -> None:
    from edgenas.search.scoring import TableScorer
    from edgenas.spaces import get_space

    p = tmp_path / name
    p.write_text(body)
    with pytest.raises(ConfigError) as e:
        TableScorer(space=get_space("nb201"), path=str(p), columns=["a"])
    msg = str(e.value)
    assert str(p) in msg and needle in msg and "\n" not in msg, msg


def test_score_table_failed_cells_stay_failures(tmp_path: Path) -> None:
    from edgenas.search.scoring import TableScorer
    from edgenas.spaces import get_space

    space = get_space("nb201")
    p = tmp_path / "t.csv"
    p.write_text("# comment\nindex,a\n1,\n2,nan\n3,2.5\n")
    t = TableScorer(space=space, path=str(p), columns=["a"])
    assert [t.score([space.parse(i)])[0].values["a"] for i in ("1", "2", "3")] == [None, None, 2.5]


# -- per-arch latency tables: a cell the csv module cannot read ----------------------------------

@pytest.mark.parametrize("cell", ["2\r5", "\"1.0"])
def test_arch_table_with_a_broken_csv_cell_names_file_and_line(tmp_path: Path, cell: str) -> None:
    from edgenas.hardware.tables import load_arch_table

    meta = {"schema_version": 1, "kind": "arch_latency", "space": "nb201", "dataset": "cifar10", "units": "ms",
            "rows": 2, "columns": {"latency_ms": {"device": "d"}}, "source": "test", "license": "CC0"}
    p = tmp_path / "t.csv"
    p.write_bytes(("# " + json.dumps(meta) + f"\nindex,latency_ms\n0,1.0\n1,{cell}\n").encode())
    with pytest.raises(LatencyTableError) as e:
        load_arch_table(p)
    msg = str(e.value)
    assert str(p) in msg and "\n" not in msg, msg
