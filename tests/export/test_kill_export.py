"""kill -9 of ``edgenas export`` at many moments: --out holds the previous complete export, the new
complete one, or nothing that looks complete; the next run leaves no ``.tmp-*`` / ``.old-*`` and gives
the export an uninterrupted run gives, byte for byte.

The kills are deterministic: ``_kill_zygote.py`` (torch imported once) forks each run and the run
SIGKILLs itself just before or just after its Nth file event (a rename, mkdir, unlink, rmdir or an
open for writing), so every moment of the build and of the swap into place is hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

A1 = "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"
A2 = "|skip_connect~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|"
ZYGOTE = Path(__file__).with_name("_kill_zygote.py")


class Zygote:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.n = 0
        # one torch thread: the runs are small, and a loaded 2-core machine makes thread pools crawl
        env = {**os.environ, "EDGENAS_HOME": str(root / "home"), "OMP_NUM_THREADS": "1"}
        env.pop("EDGENAS_DEBUG", None)
        self.proc = subprocess.Popen([sys.executable, str(ZYGOTE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=str(root), env=env)
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}

    def run(self, args: list[str], kill_at: tuple[int, str] | None = None) -> tuple[dict, list[str], str]:
        self.n += 1
        log = self.root / f"run{self.n}.log"
        self.proc.stdin.write(json.dumps({"args": args, "cwd": str(self.root), "kill_at": kill_at,
                                          "log": str(log)}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        events = log.read_text().splitlines() if log.exists() else []
        output = Path(str(log) + ".out").read_text()
        return reply, events, output

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _looks_complete(d: Path) -> bool:
    """True if ``d`` has export.json and every file it lists is there with its recorded size and SHA-256."""
    if not (d / "export.json").is_file():
        return False
    man = json.loads((d / "export.json").read_text())
    for m in man["models"]:
        assert set(m["files"]) == set(m["checksums"])
        for kind, rel in m["files"].items():
            data = (d / rel).read_bytes()  # a listed file that is missing is a failure (raises)
            assert len(data) == m["checksums"][kind]["bytes"], rel
            assert hashlib.sha256(data).hexdigest() == m["checksums"][kind]["sha256"], rel
    return True


def _strays(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".out.tmp-") or p.name.startswith(".out.old-"))


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill")
    members = [{"arch": a, "latency_ms": {"jetson-tx2": ms}} for a, ms in ((A1, 1.5), (A2, 1.0))]
    (root / "run").mkdir()
    (root / "run" / "pareto.json").write_text(json.dumps(
        {"schema_version": 1, "space": "nb201", "dataset": "cifar10", "targets": ["jetson-tx2"], "members": members}))
    z = Zygote(root)
    yield z
    z.close()


def test_kill_9_at_many_moments_never_leaves_a_mixed_or_partial_export(zygote: Zygote) -> None:
    root = zygote.root
    args = ["export", "run", "--all", "--format", "onnx", "--out", "out"]
    # the reference: an uninterrupted export; and the previous export (another seed) it replaces
    reply, _, output = zygote.run([*args[:-1], "ref"])
    assert reply == {"signal": None, "code": 0}, output
    ref = _files(root / "ref")
    assert _looks_complete(root / "ref") and "rank01/model.onnx" in ref and "rank02/model.onnx" in ref
    umask = os.umask(0)
    os.umask(umask)
    assert (root / "ref").stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's private 0700
    reply, _, output = zygote.run([*args[:-1], "prev", "--seed", "1"])
    assert reply["code"] == 0, output
    prev = _files(root / "prev")
    assert prev["rank01/model.onnx"] != ref["rank01/model.onnx"]
    # the moments, over a previous export and into a new folder: spread over the whole run, and every
    # event around the swap (the renames at the end)
    points = []
    for over_prev in (True, False):
        _reset(root, over_prev)
        reply, events, output = zygote.run(args)
        assert reply["code"] == 0 and _files(root / "out") == ref, output
        n = len(events)
        swap = [i + 1 for i, e in enumerate(events) if e.startswith(("replace", "rename"))]
        assert swap and n >= (12 if over_prev else 8), events
        spread = [max(1, round(n * f)) for f in ((0.02, 0.2, 0.4, 0.6, 0.8) if over_prev else (0.1, 0.5))]
        around = {k for s in swap for k in (s - 1, s, s + 1) if 1 <= k <= n}
        chosen = {(k, "before") for k in spread} | {(k, w) for k in around for w in ("before", "after")} | {(n, "after")}
        points += [(over_prev, k, w) for k, w in sorted(chosen)]
    assert len(points) >= 12
    seen = set()
    for over_prev, k, when in points:
        what = f"kill at event {k} {when} ({'over a previous export' if over_prev else 'into a new folder'})"
        _reset(root, over_prev)
        reply, _, output = zygote.run(args, kill_at=(k, when))
        assert reply["signal"] == 9, f"{what} did not kill: {reply} {output}"
        out = root / "out"
        if _looks_complete(out):
            state = _files(out)
            assert state in (prev, ref), f"{what}: a complete-looking mix of exports"
            seen.add("prev" if state == prev else "new")
        else:
            assert not out.exists() or not any(out.iterdir()), f"{what}: a partial export in out"
            seen.add("none")
        reply, _, output = zygote.run(args)
        assert reply == {"signal": None, "code": 0}, f"rerun after a {what}: {output}"
        assert _strays(root) == [], f"{what}: strays after the rerun"
        assert _files(out) == ref, f"{what}: the rerun differs from an uninterrupted export"
    assert seen >= {"prev", "new", "none"}, seen  # the swap was hit on both sides


def _reset(root: Path, over_prev: bool) -> None:
    shutil.rmtree(root / "out", ignore_errors=True)
    if over_prev:
        shutil.copytree(root / "prev", root / "out")
