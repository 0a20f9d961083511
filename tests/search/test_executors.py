"""Executors: Ray tasks give the local executor's scores and front, lose nothing and store nothing
twice when a worker is killed, and a driver killed with kill -9 resumes. Ray tests use a local Ray
instance bound to 127.0.0.1 and skip cleanly when ray is not installed."""

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

import edgenas
from edgenas.cli import cli
from edgenas.search.executors import LocalExecutor, get_executor, list_executors
from edgenas.search.scoring import ProxyScorer
from edgenas.spaces import get_space

ARGS = {"targets": ["jetson"], "max_latency_ms": 5.0, "evaluations": 16, "population": 8, "noise_seeds": 0,
        "seed": 1}


def test_executor_registry_and_unknown_name(tmp_path: Path) -> None:
    assert {"local", "ray"} <= set(list_executors())
    assert isinstance(get_executor("local", workers=2), LocalExecutor)
    r = CliRunner().invoke(cli, ["search", "--target", "jetson", "--executor", "dask", "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "unknown executor 'dask'" in r.output and not (tmp_path / "r").exists()


def test_missing_ray_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as without the extra: import ray fails
    r = CliRunner().invoke(cli, ["search", "--target", "jetson", "--executor", "ray", "--evaluations", "4",
                                 "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "pip install 'edgenas[ray]'" in r.output and r.output.count("\n") == 1


ray = pytest.importorskip("ray")


def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    t0 = time.monotonic()
    r = CliRunner().invoke(cli, ["search", "--target", "jetson", "--executor", "ray", "--ray-address", "127.0.0.1:9",
                                 "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "cannot reach the Ray cluster at '127.0.0.1:9'" in r.output, r.output
    assert r.output.count("\n") == 1 and time.monotonic() - t0 < 30


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A 2-CPU Ray cluster started as a user would (``ray start --head`` on 127.0.0.1, its own temp
    dir), joined by this process; yields its address. Only its own processes are stopped after."""
    import shutil
    import tempfile

    ray_cli = Path(sys.executable).parent / "ray"
    temp = Path(tempfile.mkdtemp(prefix="enr", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    port = _free_port()
    # a test cluster on 127.0.0.1 without Ray's token auth (newer Ray keeps the token under $HOME,
    # which other tests point elsewhere); the drivers of these tests inherit the setting
    old_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    subprocess.run([str(ray_cli), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
                    "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
                   check=True, capture_output=True, timeout=120)
    address = f"127.0.0.1:{port}"
    ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield address
    finally:
        ray.shutdown()
        for pid in os.listdir("/proc"):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if pid.isdigit() and (str(temp) in cmd or f"port={port}" in cmd or f":{port}" in cmd):
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
        shutil.rmtree(temp, ignore_errors=True)
        if old_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = old_mode


def test_ray_scores_equal_local_scores(cluster) -> None:
    space = get_space("nb201")
    archs = [space.from_index(i) for i in (0, 11, 1462, 6111, 9000)]
    kw = {"space": space, "dataset": "cifar10", "proxy": "edgenas_prior", "seed": 3, "batch_size": 16}
    local = ProxyScorer(**kw, workers=2)
    remote = ProxyScorer(**kw, workers=2, executor="ray", ray_address=cluster)
    try:
        assert [r.values for r in local.score(archs)] == [r.values for r in remote.score(archs)]
    finally:
        local.close()
        remote.close()


def _rows(run: Path) -> list[str]:
    with sqlite3.connect(run / "candidates.sqlite") as db:
        return [k for (k,) in db.execute("select iso_key from scores")]


def _ray_workers() -> list[int]:
    """PIDs of Ray worker processes running a scoring task (Ray names them after the task)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("ray::_ray_score_batch"):
            out.append(int(pid))
    return out


def test_ray_front_equals_local_and_survives_a_killed_worker(cluster, tmp_path: Path) -> None:
    import threading

    args = {**ARGS, "evaluations": 24}
    local = edgenas.search(**args, workers=2, out=str(tmp_path / "local"))
    killed: list[int] = []
    done = threading.Event()

    def killer() -> None:
        """Once the reference population is stored, SIGKILL the first Ray worker seen mid-task."""
        while not done.is_set() and not killed:
            try:
                ready = len(_rows(tmp_path / "ray")) >= args["population"]
            except sqlite3.Error:
                ready = False
            pids = _ray_workers() if ready else []
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.02)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        remote = edgenas.search(**args, executor="ray", ray_address=cluster, out=str(tmp_path / "ray"))
    finally:
        done.set()
        t.join()
    assert killed, "no Ray worker was found running a task: the kill was not exercised"
    assert (tmp_path / "local" / "pareto.json").read_text() == (tmp_path / "ray" / "pareto.json").read_text()
    keys = _rows(tmp_path / "ray")
    assert len(keys) == len(set(keys)) == args["evaluations"] == len(remote.candidates) == len(local.candidates)


def test_driver_killed_with_kill9_resumes(cluster, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [str(Path(sys.executable).parent / "edgenas"), "search", "--target", "jetson", "--max-latency-ms", "5",
           "--evaluations", "24", "--population", "8", "--noise-seeds", "0", "--seed", "1", "--executor", "ray",
           "--ray-address", cluster, "--out", str(out), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if (out / "candidates.sqlite").exists():
                try:
                    if len(_rows(out)) >= 10:  # the reference population and a few more
                        break
                except sqlite3.Error:
                    pass
            assert proc.poll() is None, "the search ended before it could be killed"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    n_before = len(_rows(out))
    assert 10 <= n_before < 24
    r = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["n_reused"] == n_before and doc["n_reused"] + doc["n_scored"] == 24
    keys = _rows(out)
    assert len(keys) == len(set(keys)) == 24
    local = edgenas.search(**{**ARGS, "evaluations": 24}, workers=2, out=str(tmp_path / "local"))
    assert local.candidates and (tmp_path / "local" / "pareto.json").read_text() == (out / "pareto.json").read_text()
