"""The score journal of ``proxies score --all --out``: a torn last line is cut (never appended onto),
every complete line is checked, and a run that fails before its first score leaves no journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgenas.errors import ConfigError
from edgenas.search.score_table import _read_journal

KEY = {"space": "nb201", "dataset": "cifar10", "components": ["synflow"], "seed": 0, "batch_size": 16,
       "resolution": None, "data": "gaussian"}
HEAD = json.dumps({"journal_key": KEY, "edgenas_version": "0"})


def _rec(k: str, v: object) -> str:
    return json.dumps({"iso_key": k, "arch": k, "scores": {"synflow": v}})


def test_torn_last_line_is_cut_from_the_file(tmp_path: Path) -> None:
    j = tmp_path / "t.journal.jsonl"
    j.write_text(HEAD + "\n" + _rec("a", 1.5) + "\n" + _rec("b", 2.0)[:17])
    assert _read_journal(j, KEY) == {"a": {"synflow": 1.5}}
    assert j.read_text() == HEAD + "\n" + _rec("a", 1.5) + "\n"  # the next append starts a fresh line
    j.write_text(HEAD[:10])  # killed while writing the header
    assert _read_journal(j, KEY) == {} and j.read_bytes() == b""


@pytest.mark.parametrize("lines, needle", [
    (["[]"], "line 1: no 'journal_key' object"),
    (["{" * 5000 + "}" * 5000], "line 1"),
    ([HEAD, _rec("a", "abc")], "line 2: scores['synflow'] is 'abc'"),
    ([HEAD, _rec("a", True)], "line 2: scores['synflow'] is True"),
    ([HEAD, '{"iso_key": 5, "scores": {}}'], "line 2: fields 'iso_key'"),
    ([HEAD, '{"iso_key": "a", "scores": {"synflow": Infinity}}'], "line 2"),
    ([HEAD, "[" * 100000 + "]" * 100000], "line 2"),
    ([HEAD, _rec("a", 1.0), "x", _rec("b", 1.0)], "line 3"),
])
def test_a_bad_complete_line_is_one_error_naming_it(tmp_path: Path, lines: list[str], needle: str) -> None:
    j = tmp_path / "t.journal.jsonl"
    j.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="score journal .* corrupt at " + needle.split(":")[0]) as e:
        _read_journal(j, KEY)
    assert needle in e.value.message


def test_non_utf8_journal_is_one_error(tmp_path: Path) -> None:
    j = tmp_path / "t.journal.jsonl"
    j.write_bytes(HEAD.encode() + b"\n\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        _read_journal(j, KEY)
