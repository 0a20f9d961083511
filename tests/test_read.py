"""The one checked reader (edgenas/_read.py) and the files read through it: a FIFO never blocks, a
deep document never raises RecursionError, a huge YAML mapping is checked in linear time."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas._read import csv_rows, gunzip, load_json, load_yaml, parse_json, read_text
from edgenas.cli import cli
from edgenas.errors import ConfigError
from tests._asserts import assert_one_error


def test_fifo_and_folder_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="is a FIFO; expected a regular file"):
        read_text(fifo, what="measurements")
    with pytest.raises(ConfigError, match="is a folder"):
        read_text(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        read_text(tmp_path / "nope")


def test_size_cap_utf8_bom_and_bad_bytes(tmp_path: Path) -> None:
    p = tmp_path / "x"
    p.write_bytes(b"\xef\xbb\xbfarch,latency_ms\n")
    assert read_text(p) == "arch,latency_ms\n"
    p.write_bytes(b"ok\n\xff")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 3\)"):
        read_text(p)
    p.write_bytes(b"x" * 101)
    with pytest.raises(ConfigError, match="is 101 bytes; expected at most 100"):
        read_text(p, max_bytes=100)


@pytest.mark.parametrize("text", ["[" * 100 + "]" * 100, "[" * 100_000 + "]" * 100_000, '{"a": ' * 70 + "1" + "}" * 70])
def test_deep_json_is_one_error(text: str) -> None:
    with pytest.raises(ConfigError, match="nests deeper than 64 levels"):
        parse_json(text, where="'x'")


def test_json_non_finite_refused_unless_asked() -> None:
    for text in ('{"a": NaN}', '{"a": Infinity}', '[1e999]'):
        with pytest.raises(ConfigError, match="finite"):
            parse_json(text, where="'x'")
    assert parse_json('{"a": NaN}', where="'x'", allow_nan=True)["a"] != 0


def test_yaml_deep_tagged_and_many_keys(tmp_path: Path) -> None:
    p = tmp_path / "t.yaml"
    p.write_text("a: " + "[" * 200 + "]" * 200 + "\n")
    with pytest.raises(ConfigError, match="nests deeper than 64"):
        load_yaml(p)
    p.write_text("a: !!python/object/apply:os.system [true]\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(p)
    p.write_text("".join(f"k{i}: {i}\n" for i in range(2_000)) + "k7: 0\n")
    with pytest.raises(ConfigError, match="duplicate key 'k7'"):
        load_yaml(p)


def test_duplicate_key_check_is_linear() -> None:
    """Key comparisons while loading n distinct keys: about n with a set, n^2 / 2 with the pairwise
    check that took 84 s on 60,000 keys (counted, not timed: a busy machine cannot make it fail)."""
    import yaml

    from edgenas._read import yaml_loader

    compared = [0]

    class Key(str):
        def __eq__(self, other: object) -> bool:
            compared[0] += 1
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    class Counting(yaml_loader()):  # type: ignore[misc]
        def construct_object(self, node, deep=False):  # type: ignore[no-untyped-def]
            obj = super().construct_object(node, deep)
            return Key(obj) if isinstance(obj, str) else obj

    n = 3000
    doc = yaml.load("".join(f"k{i}: v\n" for i in range(n)), Loader=Counting)  # noqa: S506 (a SafeLoader)
    assert len(doc) == n and compared[0] < 5 * n


def test_csv_field_limit_and_gzip_errors() -> None:
    with pytest.raises(ConfigError, match="line 2: field larger than field limit"):
        csv_rows(["a,b", "1," + "x" * 200_000], where="'t.csv'")
    good = gzip.compress(b"index,x\n0,1\n")
    assert gunzip(good, where="'t'") == b"index,x\n0,1\n"
    with pytest.raises(ConfigError, match="not a valid gzip file"):
        gunzip(good[:10] + b"\0" * 20 + good[30:], where="'t'")
    with pytest.raises(ConfigError, match="decompresses to over 1,000 bytes"):
        gunzip(gzip.compress(b"0" * 10_000), where="'t'", max_bytes=1000)


def test_a_fifo_among_user_targets_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    (tmp_path / "targets").mkdir()
    os.mkfifo(tmp_path / "targets" / "mine.yaml")
    assert_one_error(CliRunner().invoke(cli, ["targets"]), "mine.yaml", "is a FIFO")


def test_load_json_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "pareto.json"
    p.write_bytes(b'{"members": \xff}')
    with pytest.raises(ConfigError, match=f"pareto.json {str(p)!r} is not UTF-8"):
        load_json(p, what="pareto.json")


# -- every surface that reads a file: deep, non-UTF-8, wrongly shaped or a FIFO is one clear error --

DEEP = b"[" * 5000 + b"]" * 5000


@pytest.mark.parametrize("body, needle", [(DEEP, "nests deeper than 64"), (b"\xff\xfe{}", "not UTF-8"),
                                          (b'{"members": "abc"}', "'members' list"), (None, "has no pareto.json")])
def test_pareto_json_at_export(tmp_path: Path, body: bytes | None, needle: str) -> None:
    (tmp_path / "run").mkdir()
    p = tmp_path / "run" / "pareto.json"
    os.mkfifo(p) if body is None else p.write_bytes(body)
    assert_one_error(CliRunner().invoke(cli, ["export", str(tmp_path / "run"), "--out", str(tmp_path / "o")]),
                     str(p) if body is not None else str(tmp_path / "run"), needle)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("body, needle", [(DEEP, "nests deeper"), (b"\xff", "not UTF-8"),
                                          (b'{"models": "abc"}', "field 'models' is abc"),
                                          (b'{"models": [1]}', "field 'models' is [1]"), (None, "is a FIFO")])
def test_export_json_at_validate(tmp_path: Path, body: bytes | None, needle: str) -> None:
    (tmp_path / "exp").mkdir()
    p = tmp_path / "exp" / "export.json"
    os.mkfifo(p) if body is None else p.write_bytes(body)
    r = CliRunner().invoke(cli, ["validate", str(tmp_path / "exp"), "--target", "cpu", "--out", str(tmp_path / "v.json")])
    assert_one_error(r, str(p), needle)


@pytest.mark.parametrize("body, needle", [(DEEP, "nests deeper"), (b"\xff{", "not UTF-8"),
                                          (None, "is not a regular file")])
def test_user_op_table_at_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: bytes | None,
                               needle: str) -> None:
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path))
    (tmp_path / "targets").mkdir()
    (tmp_path / "latency_tables").mkdir()
    (tmp_path / "targets" / "mine.yaml").write_text("name: mine\ndevice: d\nruntime: onnxruntime\n"
                                                    "tables:\n  nb201:\n    cifar10: {file: mine_ops.json}\n")
    p = tmp_path / "latency_tables" / "mine_ops.json"
    os.mkfifo(p) if body is None else p.write_bytes(body)
    assert_one_error(CliRunner().invoke(cli, ["cost", "0", "--target", "mine"]), "mine_ops.json", needle)


def test_deep_raw_scores_in_the_run_store(tmp_path: Path) -> None:
    import sqlite3

    from edgenas.search.store import CandidateStore, StoredScore

    key = ("nb201", "cifar10", "pk", 0, "gaussian")
    path = tmp_path / "candidates.sqlite"
    s = CandidateStore(path, key=key)
    s.put(StoredScore("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "k1", {"p": 1.0}, 0.1, 0), device="cpu")
    s.close()
    db = sqlite3.connect(str(path))
    db.execute("UPDATE scores SET raw_scores = ?", ("[" * 100_000 + "]" * 100_000,))
    db.commit()
    db.close()
    s = CandidateStore(path, key=key)
    try:
        with pytest.raises(ConfigError, match="row 'k1' raw_scores is"):
            s.get("k1")
    finally:
        s.close()


@pytest.mark.parametrize("what", ["measurements", "score_table"])
def test_fifo_inputs_never_block(tmp_path: Path, what: str) -> None:
    fifo = tmp_path / ("m.csv" if what == "measurements" else "t.csv")
    os.mkfifo(fifo)
    args = (["fit", "--measurements", str(fifo), "--target", "mine"] if what == "measurements" else
            ["search", "--target", "jetson", "--score-table", str(fifo), "--out", str(tmp_path / "r")])
    r = CliRunner().invoke(cli, args, env={"EDGENAS_HOME": str(tmp_path / "home")})
    assert_one_error(r, str(fifo), "regular file")
    assert not (tmp_path / "r").exists()
