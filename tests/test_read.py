"""The one checked reader (edgenas/_read.py) and the files read through it: a FIFO never blocks, a
deep document never raises RecursionError, a huge YAML mapping is checked in linear time."""

from __future__ import annotations

import gzip
import os
import time
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
    p.write_text("".join(f"k{i}: {i}\n" for i in range(20_000)) + "k7: 0\n")
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="duplicate key 'k7'"):
        load_yaml(p)
    assert time.perf_counter() - t0 < 10  # linear: ~3 s on a loaded 2-core machine; quadratic: over 10 s


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
