"""tools/score_space_table.py: writing a table from journals, and joining an earlier table's columns."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.tools._load import load_tool

tool = load_tool("score_space_table")


def _journal(path: Path, name: str, value) -> None:
    from edgenas.spaces import get_space

    space = get_space("macro")
    first: dict = {}
    for a in space.enumerate():
        first.setdefault(space.iso_key(a), space.format(a))
    path.write_text("".join(json.dumps({"arch": s, "scores": {name: value(s)}}) + "\n" for s in first.values()))


def test_out_then_join_carries_the_earlier_columns_row_by_row(tmp_path: Path) -> None:
    _journal(tmp_path / "a.jsonl", "flops", lambda s: float(sum(map(int, s))))
    _journal(tmp_path / "b.jsonl", "vkdnw_single", lambda s: float(s.count("2")))
    first = tmp_path / "a.csv.gz"
    assert tool.main(["--space", "macro", "--proxies", "flops", "--journal", str(tmp_path / "a.jsonl"),
                      "--out", str(first)]) == 0
    joined = tmp_path / "ab.csv.gz"
    assert tool.main(["--space", "macro", "--proxies", "vkdnw_single", "--journal", str(tmp_path / "b.jsonl"),
                      "--out", str(joined), "--join", str(first)]) == 0
    lines = gzip.decompress(joined.read_bytes()).decode().splitlines()
    head = json.loads(lines[0][2:])
    assert head["proxies"] == ["flops", "vkdnw_single"] and lines[1] == "arch,scored_arch,flops,vkdnw_single"
    rows = {ln.split(",")[0]: ln.split(",") for ln in lines[2:]}
    assert len(rows) == 6561
    arch, src, flops, vk = rows["12212112"]
    assert float(flops) == sum(map(int, src)) and float(vk) == src.count("2")
    # a table whose scored members differ is refused, not silently mixed
    bad = tmp_path / "bad.csv.gz"
    text = gzip.decompress(first.read_bytes()).decode().replace("\n00000000,00000000,", "\n00000000,11111111,")
    bad.write_bytes(gzip.compress(text.encode()))
    assert tool.main(["--space", "macro", "--proxies", "vkdnw_single", "--journal", str(tmp_path / "b.jsonl"),
                      "--out", str(tmp_path / "x.csv.gz"), "--join", str(bad)]) == 2
    assert not (tmp_path / "x.csv.gz").exists()
