"""The one atomic-write helper: whole files or nothing, never over a non-regular file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgenas._io import atomic_write_bytes, atomic_write_text, check_output_file
from edgenas.errors import ConfigError


def test_writes_whole_file_with_normal_mode(tmp_path: Path) -> None:
    p = atomic_write_text(tmp_path / "a" / "b.json", "{}\n")
    assert p.read_text() == "{}\n"
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask
    atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"new" and [x.name for x in p.parent.iterdir()] == ["b.json"]


@pytest.mark.parametrize("target", ["/dev/null", "dir"])
def test_refuses_to_replace_a_non_regular_file(tmp_path: Path, target: str) -> None:
    path = Path(target) if target.startswith("/") else tmp_path / target
    if not path.exists():
        path.mkdir()
    with pytest.raises(ConfigError, match="not a regular file"):
        atomic_write_text(path, "x")
    with pytest.raises(ConfigError, match="not a regular file"):
        check_output_file(path)
    assert path.exists() and not path.is_file()


def test_interrupted_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "keep.txt"
    p.write_text("old")

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(p, "new")
    assert p.read_text() == "old" and sorted(x.name for x in tmp_path.iterdir()) == ["keep.txt"]
