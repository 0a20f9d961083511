"""``export --out DIR`` replaces DIR only when it is exactly an unmodified earlier export: a folder
holding anything edgenas did not write is refused (exit 2, the file named) and left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from tests._asserts import assert_one_error

ARCH = "6111"


def _export(out: Path, arch: str = ARCH):
    return CliRunner().invoke(cli, ["export", arch, "--out", str(out)])


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("manifest", ["{}", '{"models": "abc"}', '{"models": [1]}', "[" * 100 + "]" * 100,
                                      "\xff\xfe", '{"models": [{"files": {"onnx": "src/keep.py"}}]}'])
def test_a_folder_with_a_foreign_export_json_is_never_replaced(tmp_path: Path, manifest: str) -> None:
    out = tmp_path / "v"
    (out / "src").mkdir(parents=True)
    (out / "export.json").write_bytes(manifest.encode("utf-8", "surrogateescape") if manifest != "\xff\xfe"
                                      else b"\xff\xfe")
    (out / "src" / "keep.py").write_text("x\n")
    before = _tree(out)
    assert_one_error(_export(out), str(out))
    assert _tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["v"]


def test_an_earlier_export_is_replaced_only_while_unmodified(tmp_path: Path) -> None:
    out = tmp_path / "e"
    assert _export(out).exit_code == 0
    assert _export(out, "6113").exit_code == 0  # an unmodified earlier export: replaced
    assert json.loads((out / "export.json").read_text())["models"][0]["index"] == 6113
    (sub,) = [p for p in out.iterdir() if p.is_dir()]
    (sub / "notes.txt").write_text("mine")  # a user's file beside the model
    before = _tree(out)
    assert_one_error(_export(out), str(sub / "notes.txt"), "did not write")
    assert _tree(out) == before
    (sub / "notes.txt").unlink()
    with open(sub / "model.onnx", "ab") as f:  # a model the user changed
        f.write(b"\0")
    before = _tree(out)
    assert_one_error(_export(out), str(sub / "model.onnx"), "changed since it was exported")
    assert _tree(out) == before
