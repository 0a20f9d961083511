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


# -- reading a score table (--score-table) --------------------------------------------------------

def _scorer(p: Path, dataset: str | None = "cifar10"):
    from edgenas.search.scoring import TableScorer
    from edgenas.spaces import get_space

    return TableScorer(space=get_space("nb201"), path=str(p), columns=["a"], dataset=dataset)


HEADER = "# " + json.dumps({"kind": "score_table", "space": "nb201", "dataset": "cifar10"}) + "\n"


@pytest.mark.parametrize("name, body, needle", [
    ("t.csv", HEADER.replace("cifar10", "cifar100") + "index,a\n1,1.0\n", "scored for dataset 'cifar100'"),
    ("t.csv", HEADER.replace("nb201", "fbnet") + "index,a\n1,1.0\n", "scored for space 'fbnet'"),
    ("t.csv", "index,a\n1,1.0\n2,2.0\n1,3.0\n", "row 3: index 1 is also on row 1"),
    ("t.csv", "index,a\n1,\n2,\n", "column 'a' holds no score in any of its 2 rows"),
    ("t.csv", "index,a\n1,1.0\n2," + "9" * 200_000 + "\n", "field larger than field limit"),
    ("t.csv", "index,a,a\n1,1.0,2.0\n", "named twice"),
    ("t.jsonl", "[" * 10_000 + "]" * 10_000 + "\n", "nests deeper"),
])
def test_score_table_refusals(tmp_path: Path, name: str, body: str, needle: str) -> None:
    p = tmp_path / name
    p.write_text(body)
    with pytest.raises(ConfigError) as e:
        _scorer(p)
    assert needle in e.value.message and str(p) in e.value.message


def test_score_table_gzip_bom_spaced_header_and_partial_cover(tmp_path: Path) -> None:
    import gzip

    p = tmp_path / "t.csv.gz"
    good = gzip.compress(("\ufeff" + HEADER + "index, a\n1,1.0\n2,2.0\n").encode())
    p.write_bytes(good)
    t = _scorer(p)
    assert t.notes and "scores for 2 of 15,625 nb201 archs" in t.notes[0]
    p.write_bytes(good[:12] + bytes(b ^ 0xFF for b in good[12:30]) + good[30:])  # a corrupt deflate stream
    with pytest.raises(ConfigError, match="not a valid gzip file"):
        _scorer(p)
