"""Inputs are checked at the door, before any store or output exists: Ray addresses (syntax, and a
port where no Ray cluster answers fails in seconds), --data paths, --out FIFOs; the run lock goes
when the run ends."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from edgenas.errors import ConfigError
from edgenas.search.executors import _check_reachable, check_ray_address
from edgenas.search.store import CandidateStore
from tests._asserts import assert_one_error

ALL = ["proxies", "score", "--all", "--proxy", "params", "--batch-size", "4"]


@pytest.mark.parametrize("address, needle", [
    ("127.0.0.1:²", "port '²' is not a number"),
    ("127.0.0.1:0", "port '0'"),
    ("127.0.0.1:70000", "port '70000'"),
    ("a" * 64 + ".example:6379", "is not a host name"),
    ("exa mple:6379", "is not a host name"),
    ("[::zz]:6379", "is not an IPv6 address"),
    ("6379", "no HOST:PORT"),
])
def test_malformed_ray_addresses(address: str, needle: str) -> None:
    with pytest.raises(ConfigError, match="--ray-address") as e:
        check_ray_address(address)
    assert needle in e.value.message
    r = CliRunner().invoke(cli, ["search", "--target", "jetson", "--executor", "ray", "--ray-address", address,
                                 "--out", "/nonexistent/never"])
    assert_one_error(r, needle)


def test_valid_ray_addresses_pass() -> None:
    for a in (None, "auto", "10.0.0.5:6379", "head-node.cluster.local:6379", "[::1]:6379"):
        check_ray_address(a)


def test_a_plain_tcp_listener_is_refused_in_seconds() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    conns = []
    threading.Thread(target=lambda: conns.append(srv.accept()), daemon=True).start()  # accepts, never answers
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="gave no Ray .gRPC. answer in 1 s"):
        _check_reachable(f"127.0.0.1:{srv.getsockname()[1]}", timeout=1.0)
    assert time.perf_counter() - t0 < 5
    srv.close()


def test_score_all_refuses_before_scoring(tmp_path: Path) -> None:
    run = CliRunner().invoke
    assert_one_error(run(cli, [*ALL, "--ray-address", "auto", "--out", str(tmp_path / "t.csv")]),
                     "needs --executor ray")
    fifo = tmp_path / "t.csv"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    assert_one_error(run(cli, [*ALL, "--out", str(fifo)]), str(fifo), "not a regular file")
    assert time.perf_counter() - t0 < 10  # not after scoring 15,625 archs
    fifo.unlink()
    out = tmp_path / "s.csv"  # an unusable Ray setup: refused, and no journal is left behind
    assert_one_error(run(cli, [*ALL, "--executor", "ray", "--ray-address", "127.0.0.1:1", "--out", str(out)]),
                     "cannot reach the Ray cluster")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_data_typo_leaves_no_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    r = CliRunner().invoke(cli, ["search", "--target", "jetson", "--data", str(tmp_path / "imgs_typo"),
                                 "--evaluations", "4", "--population", "2", "--out", str(run)])
    assert_one_error(r, "--data", "imgs_typo", "not found")
    assert not run.exists()
    r = CliRunner().invoke(cli, ["proxies", "score", "0", "--proxy", "naswot", "--data", str(tmp_path / "nope.npy")])
    assert_one_error(r, "--data", "nope.npy", "not found")


def test_the_run_lock_is_removed_when_the_store_closes(tmp_path: Path) -> None:
    path = tmp_path / "candidates.sqlite"
    key = ("nb201", "cifar10", "k", 0, "gaussian")
    s = CandidateStore(path, key=key)
    lock = tmp_path / "candidates.sqlite.lock"
    assert lock.is_file()
    with pytest.raises(ConfigError, match="in use by another edgenas process"):
        CandidateStore(path, key=key)
    s.close()
    assert not lock.exists()
    CandidateStore(path, key=key).close()  # and the next run takes it again
    assert not lock.exists()


@pytest.mark.parametrize("host", ["a:b@board", "u@h@board", "@board", "user@", "[::1]", "board/x", "-oX", "a b"])
def test_ambiguous_ssh_hosts_are_refused(host: str) -> None:
    from edgenas.errors import DeviceError
    from edgenas.timing.remote import check_host

    with pytest.raises(DeviceError, match="--host .* is invalid; expected USER@HOST or HOST"):
        check_host(host)
    for ok in ("board", "user@board", "user@10.0.0.5", "jetson.local"):
        assert check_host(ok) == ok


def test_a_run_that_fails_before_its_first_score_leaves_no_store(tmp_path: Path) -> None:
    from edgenas.errors import DatasetError
    from edgenas.search.run import run_search

    from ._fakes import FakeLatency, FakeScorer, fake_size

    class BadData(FakeScorer):
        """What an unusable --data does: fails at the first score (or, with ``good`` batches, later)."""

        def __init__(self, good: int = 0) -> None:
            super().__init__()
            self.good = good

        def score(self, archs):
            if self.good <= 0:
                raise DatasetError("data 'x.npy' holds no images; expected (N, C, H, W)")
            self.good -= 1
            return super().score(archs)

    kw = dict(targets=("fake",), evaluations=6, population=3, cost_models={"fake-tx2": FakeLatency()},
              size=fake_size)
    with pytest.raises(DatasetError):
        run_search(scorer=BadData(), out=str(tmp_path / "run"), **kw)
    assert not (tmp_path / "run").exists()  # the corrected rerun starts without --resume
    with pytest.raises(DatasetError):  # a failure after scores were stored keeps them for --resume
        run_search(scorer=BadData(good=1), out=str(tmp_path / "later"), **kw)
    assert (tmp_path / "later" / "candidates.sqlite").is_file()


@pytest.mark.parametrize("where", ["first_score", "store_check"])
def test_ctrl_c_before_the_first_score_leaves_no_store(tmp_path: Path, monkeypatch, where: str) -> None:
    """Ctrl-C (not an Exception) before any score used to leave an empty store: the plain rerun was refused as
    'already holds a search' and the corrected one as 'a different search config'."""
    from click.testing import CliRunner

    from edgenas.cli import cli
    from edgenas.search import store as store_mod
    from edgenas.search.run import run_search

    from ._fakes import FakeLatency, FakeScorer, fake_size

    class CtrlC(FakeScorer):
        def score(self, archs):
            raise KeyboardInterrupt

    def interrupted_check(self, fingerprint):  # noqa: ANN001
        raise KeyboardInterrupt

    kw = dict(targets=("fake",), evaluations=6, population=3, cost_models={"fake-tx2": FakeLatency()},
              size=fake_size)
    if where == "store_check":
        monkeypatch.setattr(store_mod.CandidateStore, "check_config", interrupted_check)
    with pytest.raises(KeyboardInterrupt):
        run_search(scorer=CtrlC() if where == "first_score" else FakeScorer(), out=str(tmp_path / "run"), **kw)
    assert not (tmp_path / "run").exists()
    # what the CLI says then: nothing saved, no --resume
    monkeypatch.setattr("edgenas.api.search", lambda **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    r = CliRunner().invoke(cli, ["search", "--target", "jetson", "--out", str(tmp_path / "cli")])
    assert r.exit_code == 130 and "nothing was saved" in r.output and "--resume" not in r.output.split("hint")[0]
