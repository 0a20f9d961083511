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


def test_a_validated_export_is_replaced_by_the_next_export(tmp_path: Path) -> None:
    out = tmp_path / "e"
    assert _export(out).exit_code == 0
    r = CliRunner().invoke(cli, ["validate", str(out), "--target", "cpu", "--runs", "3", "--warmup", "1"])
    assert r.exit_code == 0, r.output
    assert (out / "validation.json").is_file()
    assert _export(out, "6113").exit_code == 0  # export, validate, export again: the documented loop
    assert not (out / "validation.json").exists()


def test_validate_out_never_replaces_a_file_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "e"
    assert _export(out).exit_code == 0
    manifest = (out / "export.json").read_bytes()
    args = ["validate", str(out), "--target", "cpu", "--runs", "3", "--warmup", "1"]
    r = CliRunner().invoke(cli, [*args, "--out", str(out / "export.json")])
    assert_one_error(r, "export.json", "is not an earlier validation report")
    assert (out / "export.json").read_bytes() == manifest
    report = tmp_path / "v.json"
    assert CliRunner().invoke(cli, [*args, "--out", str(report)]).exit_code == 0
    assert CliRunner().invoke(cli, [*args, "--out", str(report)]).exit_code == 0  # its own report: replaced


def test_validate_refuses_an_export_whose_files_changed(tmp_path: Path) -> None:
    """Another arch's model.onnx swapped into an export was timed and reported under this export's arch."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert _export(a).exit_code == 0 and _export(b, "6113").exit_code == 0
    (sub,) = [p for p in a.iterdir() if p.is_dir()]
    (sub / "model.onnx").write_bytes(next(p for p in b.iterdir() if p.is_dir()).joinpath("model.onnx").read_bytes())
    r = CliRunner().invoke(cli, ["validate", str(a), "--target", "cpu", "--runs", "3", "--warmup", "1"])
    assert_one_error(r, str(sub / "model.onnx"), "changed since it was exported")
    assert not (a / "validation.json").exists()


def test_one_export_per_folder_and_glob_characters_name_only_their_folder(tmp_path: Path) -> None:
    from edgenas._io import hold_lock, release_lock
    from edgenas.export.sources import _clear_stale

    out = tmp_path / "x[1]"
    held = hold_lock(tmp_path / ".x[1].lock", lambda pid: f"held by {pid}")  # another export writing x[1]
    try:
        assert_one_error(_export(out), str(out), "being written by another edgenas export")
    finally:
        release_lock(held)
    assert not out.exists() and not (tmp_path / ".x[1].lock").exists()
    # leftovers of a killed export into x[1] are cleared; those of x1 (a running export) are not touched
    (tmp_path / ".x[1].tmp-abc").mkdir()
    (tmp_path / ".x1.tmp-def").mkdir()
    _clear_stale(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".x1.tmp-def"]
    assert _export(out).exit_code == 0 and (out / "export.json").is_file()
