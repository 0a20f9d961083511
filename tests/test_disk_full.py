"""A full disk (ENOSPC) while writing: one error line naming the path, exit 2, no 0-byte or partial
file left, the previous file or export intact, and a search store that still resumes.

The disk fills in two ways: Python-level writes under a folder draw on a byte budget and then fail
with ENOSPC (``full_disk``: every ``open`` / ``os.fdopen`` for writing there, as the atomic writer,
onnx and torch's exporter use them), and SQLite's own writes hit ``PRAGMA max_page_count``, which
fails with SQLite's real "database or disk is full" (SQLITE_FULL).
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from edgenas.errors import ConfigError
from tests._asserts import assert_one_error

ARCH = "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"
ARCH2 = "|skip_connect~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|"


class _Budget:
    def __init__(self, free: int) -> None:
        self.free = free


class _FullFile:
    """A file whose writes draw on a shared budget; past it, what fits is written and ENOSPC raised."""

    def __init__(self, f, budget: _Budget, name: str) -> None:
        self._f, self._budget, self._name = f, budget, name

    def write(self, data):
        n = len(data)
        if n > self._budget.free:
            self._f.write(data[: self._budget.free])
            self._budget.free = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._name)
        self._budget.free -= n
        return self._f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def __iter__(self):
        return iter(self._f)

    def __getattr__(self, name):
        return getattr(self._f, name)


@pytest.fixture
def full_disk(monkeypatch):
    """``full_disk(folder, free_bytes)``: writes under ``folder`` get ``free_bytes`` in all, then ENOSPC."""
    real_open = builtins.open

    def install(folder: Path, free: int) -> _Budget:
        budget = _Budget(free)
        root = str(Path(folder).resolve())

        def fake_open(file, mode="r", *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            if not any(c in mode for c in "wax+"):
                return f
            path = os.readlink(f"/proc/self/fd/{file}") if isinstance(file, int) else os.path.abspath(file)
            return _FullFile(f, budget, path) if path.startswith(root + os.sep) else f

        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(io, "open", fake_open)
        return budget

    return install


_one_error = assert_one_error


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


# -- the atomic writer ---------------------------------------------------------------------------

@pytest.mark.parametrize("free", [0, 5, 1000])
def test_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path: Path, full_disk, free: int) -> None:
    from edgenas._io import atomic_write_bytes

    target = tmp_path / "out" / "report.json"
    target.parent.mkdir()
    target.write_bytes(b"old")
    full_disk(tmp_path / "out", free)
    with pytest.raises(ConfigError) as e:
        atomic_write_bytes(target, b"x" * 5000)
    assert str(e.value) == f"cannot write {str(target)!r}: No space left on device"
    assert [p.name for p in target.parent.iterdir()] == ["report.json"] and target.read_bytes() == b"old"


# -- export --------------------------------------------------------------------------------------

@pytest.mark.parametrize("free, previous", [(0, False), (50_000, False), (50_000, True), (600_000, True)])
def test_export_on_a_full_disk_leaves_out_as_it_was(tmp_path: Path, full_disk, free: int, previous: bool) -> None:
    pareto = tmp_path / "pareto.json"
    pareto.write_text(json.dumps({"schema_version": 1, "space": "nb201", "dataset": "cifar10",
                                  "members": [{"arch": ARCH}, {"arch": ARCH2}]}))
    out = tmp_path / "disk" / "out"
    out.parent.mkdir()
    if previous:
        r = CliRunner().invoke(cli, ["export", ARCH, "--seed", "1", "--out", str(out)])
        assert r.exit_code == 0, r.output
    before = _tree(out) if previous else None
    budget = full_disk(tmp_path / "disk", free)
    r = CliRunner().invoke(cli, ["export", str(pareto), "--all", "--out", str(out)])
    _one_error(r, f"cannot write the export to {str(out)!r}: No space left on device")
    assert budget.free == 0  # the disk did fill up
    assert sorted(p.name for p in out.parent.iterdir()) == (["out"] if previous else [])  # no .out.tmp-* / .old-*
    if previous:
        assert _tree(out) == before


# -- validate --out ------------------------------------------------------------------------------

def test_validate_report_on_a_full_disk(tmp_path: Path, full_disk) -> None:
    r = CliRunner().invoke(cli, ["export", ARCH, "--out", str(tmp_path / "exp")])
    assert r.exit_code == 0, r.output
    report = tmp_path / "disk" / "validation.json"
    report.parent.mkdir()
    report.write_text("[]\n")
    full_disk(tmp_path / "disk", 100)
    r = CliRunner().invoke(cli, ["validate", str(tmp_path / "exp"), "--target", "cpu", "--runs", "3", "--warmup", "0",
                                 "--no-paired", "--out", str(report)])
    _one_error(r, f"cannot write {str(report)!r}: No space left on device")
    assert [p.name for p in report.parent.iterdir()] == ["validation.json"] and report.read_text() == "[]\n"


# -- search: the store and the run files ---------------------------------------------------------

SEARCH = ["search", "--target", "jetson", "--evaluations", "60", "--population", "10", "--noise-seeds", "0", "--json"]


def test_search_store_on_a_full_disk_is_one_error_and_resumes(tmp_path: Path, monkeypatch) -> None:
    from edgenas.search.store import CandidateStore
    from tests.search._fakes import install_fakes

    install_fakes(monkeypatch)
    real_put = CandidateStore.put

    def put_on_a_filling_disk(self, rec, *, device):  # the disk fills two pages after the first row
        if not getattr(self, "_filling", False):
            self._filling = True
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            self._db.execute(f"PRAGMA max_page_count = {pages + 2}")
        real_put(self, rec, device=device)

    monkeypatch.setattr(CandidateStore, "put", put_on_a_filling_disk)
    run = tmp_path / "run"
    store = run / "candidates.sqlite"
    r = CliRunner().invoke(cli, [*SEARCH, "--out", str(run)])
    _one_error(r, f"cannot write run store {str(store)!r}: database or disk is full", "--resume")
    assert not (run / "pareto.json").exists()
    with sqlite3.connect(store) as db:
        kept = db.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    assert 0 < kept < 60
    monkeypatch.setattr(CandidateStore, "put", real_put)  # space freed
    r = CliRunner().invoke(cli, [*SEARCH, "--out", str(run), "--resume"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["n_reused"] == kept and doc["n_reused"] + doc["n_scored"] == 60


def test_search_outputs_on_a_full_disk_leave_no_partial_file(tmp_path: Path, monkeypatch, full_disk) -> None:
    from tests.search._fakes import install_fakes

    install_fakes(monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    budget = full_disk(run, 1000)  # SQLite writes on (it is not Python-level I/O); pareto.json does not fit
    r = CliRunner().invoke(cli, [*SEARCH, "--out", str(run)])
    _one_error(r, f"cannot write {str(run / 'pareto.json')!r}: No space left on device")
    names = sorted(p.name for p in run.iterdir())
    assert not [n for n in names if n.endswith(".tmp")] and "pareto.json" not in names, names
    budget.free = 10**12  # space freed: the resume scores nothing and writes every file
    r = CliRunner().invoke(cli, [*SEARCH, "--out", str(run), "--resume"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["n_reused"] == 60 and doc["n_scored"] == 0 and (run / "pareto.json").is_file()
