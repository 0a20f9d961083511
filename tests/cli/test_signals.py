"""SIGTERM and kill -9 of a running search leave no worker process behind and a resumable run; a
second process on a live run folder gets a clear error (a lock), never a shared store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas.cli import cli

EDGENAS = str(Path(sys.executable).parent / "edgenas")
ARGS = ["search", "--target", "jetson", "--max-latency-ms", "5", "--evaluations", "24", "--population", "8",
        "--noise-seeds", "0", "--workers", "2"]


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc)."""
    parent_of = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = Path(f"/proc/{p}/stat").read_text()
            except OSError:
                continue
            parent_of[int(p)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = set(), {pid}
    while frontier:
        frontier = {c for c, par in parent_of.items() if par in frontier} - out
        out |= frontier
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(p)
    return alive


def _rows(out: Path) -> int:
    try:
        with sqlite3.connect(out / "candidates.sqlite") as db:
            return db.execute("select count(*) from scores").fetchone()[0]
    except sqlite3.Error:
        return 0


def _start_and_wait(out: Path) -> tuple[subprocess.Popen, set[int]]:
    proc = subprocess.Popen([EDGENAS, *ARGS, "--out", str(out), "--json"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and _rows(out) < 10:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.2)
    assert _rows(out) >= 10
    kids = _children(proc.pid)
    assert len(kids) >= 2, "the search should run worker processes"
    return proc, kids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_signal_leaves_no_orphans_and_a_resumable_run(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "run"
    proc, kids = _start_and_wait(out)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    if sig == signal.SIGTERM:
        assert proc.returncode != 0 and "interrupted" in proc.stderr.read().decode()
    deadline = time.monotonic() + 30
    while _alive(kids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(kids), f"orphaned processes after {signal.Signals(sig).name}: {_alive(kids)}"
    n = _rows(out)
    r = subprocess.run([EDGENAS, *ARGS, "--out", str(out), "--json", "--resume"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["n_reused"] == n and doc["n_reused"] + doc["n_scored"] == 24


def test_second_process_on_a_live_run_folder_is_refused(tmp_path: Path) -> None:
    from edgenas.search.store import CandidateStore

    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from edgenas.search.store import CandidateStore; "
        f"s = CandidateStore(Path({str(out / 'candidates.sqlite')!r}), key=('nb201', 'cifar10', 'k', 0, 'g')); "
        "print('locked', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        r = CliRunner().invoke(cli, [*ARGS, "--out", str(out), "--resume"])
        assert r.exit_code == 2 and f"in use by another edgenas process (pid {holder.pid})" in r.output, r.output
        assert r.output.count("\n") == 1
    finally:
        holder.kill()
        holder.wait()
    # the kernel drops a dead holder's lock: the folder opens again
    CandidateStore(out / "candidates.sqlite", key=("nb201", "cifar10", "k", 0, "g")).close()
