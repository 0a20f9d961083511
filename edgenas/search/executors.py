"""Where proxy scores are computed: executors, selected by name (``--executor local|ray``).

An executor takes a *job* (what :func:`score_arch` needs to score an arch exactly as the run's
scorer does: space, dataset, proxies, seed, device, batch, data, resolution) and a list of arch
strings, and yields ``(position, RawScore)`` in the order the scores finish, so the run can commit
each to its store at once. Every executor calls the same :func:`score_arch` with the same job, so
the scores do not depend on the executor (given one torch thread per worker, as both use).

* ``local``: this process (``workers=1``) or a pool of ``workers`` spawned processes.
* ``ray``: Ray tasks on a cluster (``ray_address="auto"`` or ``"HOST:PORT"``; ``None`` starts a
  local Ray instance on 127.0.0.1). Optional extra ``edgenas[ray]``, imported only here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .._registry import Registry
from ..errors import ConfigError, DependencyError, ProxyError

__all__ = ["EXECUTORS", "Executor", "ExecutorLost", "RawScore", "LocalExecutor", "RayExecutor", "check_ray_address", "get_executor",
           "list_executors", "register_executor", "score_arch"]


@dataclass(frozen=True)
class RawScore:
    """Raw proxy values of one arch; ``None`` marks a failed proxy (worst score)."""

    values: Mapping[str, float | None]
    seconds: float
    n_warnings: int = 0


class ExecutorLost(ProxyError):
    """The executor's workers or cluster went away mid-run (scores committed so far are kept)."""


class Executor(Protocol):
    """What :class:`~edgenas.search.scoring.ProxyScorer` needs from an executor."""

    name: str

    def warm(self) -> None:
        """Start workers now (overlaps their start-up with the caller's work)."""

    def map_unordered(self, job: Mapping[str, Any], archs: Sequence[str]) -> Iterator[tuple[int, Any]]:
        """``(position in archs, RawScore)`` for every arch, in completion order."""

    def close(self) -> None:
        """Stop the workers; the executor may be used again afterwards."""


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _score_one(job: Mapping[str, Any], arch: Any, *, space: Any) -> RawScore:
    from ..proxies.engine import WORST_SCORE, score_archs

    (r,) = score_archs(space, [arch], job["dataset"], list(job["components"]), seed=job["seed"],
                       device=job["device"], batch_size=job["batch_size"], data=job["data"],
                       resolution=job["resolution"])
    # the engine marks a failed proxy with WORST_SCORE; keep it as a failure (None), not as a
    # huge finite number that would squash NSGA-II's crowding distances
    return RawScore({c: (None if (v := _finite(r.scores.get(c))) is None or v <= WORST_SCORE else v)
                     for c in job["components"]},
                    float(sum(r.seconds.values())), int(r.n_warnings))


def score_arch(job: Mapping[str, Any], arch: str) -> RawScore:
    """The raw score of one arch string under ``job`` (runs in whichever process scores it)."""
    from ..spaces import get_space

    space = get_space(job["space"])  # 0.01 ms: nothing worth caching per process
    return _score_one(job, space.parse(arch), space=space)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)
    _exit_with_parent()


def _exit_with_parent() -> None:
    """End this worker when its parent dies (kill -9 of a search leaves no orphan scoring on)."""
    import os
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="edgenas-parent-watch", daemon=True).start()


def _unguarded_main_script() -> bool:
    """True when ``__main__`` is a script file without an ``if __name__ == "__main__":`` guard: every
    spawned worker imports it, so its top-level code (e.g. an ``edgenas.search(...)`` call) would run
    again in each worker and break the pool."""
    import re
    import sys

    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if spec_name is not None and (spec_name == "__main__" or spec_name.endswith(".__main__")):
        return False  # python -m package: spawn does not import a package's __main__ in workers
    path = getattr(main, "__file__", None)
    if not path or not str(path).endswith(".py"):
        return False  # interactive, python -c, or a frozen entry point: workers import nothing of it
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(1_000_000)
    except OSError:
        return False
    return re.search(r"""__name__\s*==\s*['"]__main__['"]""", text) is None


def _warm_worker() -> None:
    from ..proxies import engine  # noqa: F401  (the import is the slow part of a worker's first task)


class LocalExecutor:
    """This machine: in this process (``workers=1``) or ``workers`` spawned processes of one torch
    thread each (two single-thread processes score 1.1-1.4x more archs per second than one
    two-thread process on a 2-core CPU)."""

    name = "local"

    def __init__(self, *, workers: int = 1, **_: Any) -> None:
        if workers > 1 and _unguarded_main_script():
            import logging

            logging.getLogger("edgenas.search").warning(
                "the calling script has no `if __name__ == \"__main__\":` guard, and worker processes (spawned) "
                "would run it again: scoring in this process instead of %d workers (put the call under the guard "
                "to use them)", workers)
            workers = 1
        self.workers = workers
        self._pool: Any = None

    def warm(self) -> None:
        if self.workers > 1:
            pool = self._executor()
            for _ in range(self.workers):
                pool.submit(_warm_worker)

    def map_unordered(self, job: Mapping[str, Any], archs: Sequence[str]) -> Iterator[tuple[int, Any]]:
        if self.workers == 1 or len(archs) < 2:
            for i, a in enumerate(archs):
                yield i, score_arch(job, a)
            return
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        pool = self._executor()
        futures = {pool.submit(score_arch, dict(job), a): i for i, a in enumerate(archs)}
        try:
            for fut in as_completed(futures):
                try:
                    yield futures[fut], fut.result()
                except BrokenProcessPool:
                    self._pool = None
                    raise ExecutorLost("a proxy worker process died (killed or out of memory); the scores "
                                       "committed so far are kept: rerun with --resume") from None
        finally:
            for fut in futures:
                fut.cancel()

    def _executor(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # spawn: a forked child inherits torch's thread pools in an undefined state
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


#: archs per Ray task: enough to amortise the task overhead, few enough to balance the load
RAY_BATCH = 4
#: task retries when a Ray worker dies mid-task (the store is keyed by arch class: no duplicates)
RAY_MAX_RETRIES = 3


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DependencyError("--executor ray needs Ray; expected it installed: pip install 'edgenas[ray]'") from None
    return ray


def check_ray_address(address: str | None) -> None:
    """Refuse a ``--ray-address`` that is neither ``auto`` nor ``HOST:PORT`` (an IPv4 address, a
    bracketed IPv6 address or a DNS name of ASCII labels of 1-63 characters; a port 1..65535).

    Raises:
        ConfigError: naming the address and what is expected.
    """
    import ipaddress
    import re

    if address is None or address == "auto":
        return

    def bad(why: str) -> ConfigError:
        return ConfigError(f"--ray-address {address!r} is invalid ({why}); expected auto or HOST:PORT "
                           "(e.g. 10.0.0.5:6379)")

    if not isinstance(address, str):
        raise bad("not a string")
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        raise bad("no HOST:PORT")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise bad(f"port {port!r} is not a number 1..65535")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise bad(f"{host!r} is not an IPv6 address") from None
        return
    labels = host.split(".")
    if len(host) > 253 or not all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", lb) for lb in labels):
        raise bad(f"host {host[:70]!r} is not a host name (ASCII labels of 1-63 letters, digits or '-') or an "
                  "IP address")


#: seconds to wait for a TCP connection and then for the server's first HTTP/2 frame
RAY_PROBE_TIMEOUT_S = 5.0
#: the HTTP/2 client connection preface and an empty SETTINGS frame (RFC 9113, section 3.4)
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _check_reachable(address: str, timeout: float = RAY_PROBE_TIMEOUT_S) -> None:
    """Fail in seconds, not minutes: ``ray.init`` retries an unreachable HOST:PORT for a long time,
    and waits without end on a port where something else listens. The GCS of a Ray cluster is a gRPC
    (HTTP/2) server: it answers an HTTP/2 preface with a SETTINGS frame; anything else does not."""
    import socket

    check_ray_address(address)
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_H2_PREFACE)
            head = b""
            while len(head) < 9:
                chunk = sock.recv(9 - len(head))
                if not chunk:
                    break
                head += chunk
    except socket.timeout:
        raise ConfigError(f"{address!r} accepted a connection but gave no Ray (gRPC) answer in {timeout:g} s; "
                          "expected the GCS port of a running Ray cluster (ray start --head --port PORT)") from None
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address!r} ({getattr(exc, 'strerror', None) or exc}); "
                          "expected a running cluster there (ray start --head --port PORT) or --ray-address "
                          "auto") from None
    if len(head) < 9 or head[3] != 0x04:  # frame type 4: SETTINGS
        raise ConfigError(f"{address!r} is not a Ray cluster: it did not answer as a gRPC (HTTP/2) server; expected "
                          "the GCS port of a running Ray cluster (ray start --head --port PORT)")


def _ray_score_batch(job: Mapping[str, Any], archs: Sequence[str], threads: int) -> list[Any]:
    """A Ray task: score a batch of archs with ``threads`` torch threads (Ray's OMP_NUM_THREADS alone
    does not set torch's intra-op pool in a reused worker)."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    return [score_arch(job, a) for a in archs]


class RayExecutor:
    """Ray tasks of :data:`RAY_BATCH` archs each, ``num_cpus=1`` (and a GPU share when the job runs
    on CUDA: ``num_gpus = 1 / tasks_per_gpu``), the job put in the object store once per call,
    results taken with ``ray.wait`` as they finish. A worker killed mid-task is retried by Ray; a
    cluster that goes away raises :class:`ExecutorLost` (the run stays resumable)."""

    name = "ray"

    def __init__(self, *, address: str | None = None, workers: int = 0, num_cpus: float = 1.0,
                 tasks_per_gpu: int = 4, batch: int = RAY_BATCH, **_: Any) -> None:
        self.address = address
        self.workers = workers  # tasks in flight; 0 = two per cluster CPU
        self.num_cpus = num_cpus
        self.tasks_per_gpu = tasks_per_gpu
        self.batch = batch
        self._started_here = False
        self._remote: Any = None

    def _init(self) -> Any:
        ray = _ray()
        if self.address not in (None, "auto"):
            _check_reachable(self.address)
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "configure_logging": False}
            try:
                if self.address is None:  # a local instance, bound to this machine only
                    ray.init(_node_ip_address="127.0.0.1", num_cpus=self.workers or None, **kwargs)
                else:
                    ray.init(address=self.address, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local instance"
                raise ConfigError(f"cannot start or join the Ray cluster at {where!r}: "
                                  f"{' '.join(str(exc).split())[:200]}; expected --ray-address auto or HOST:PORT "
                                  "of a running cluster (ray start --head)") from None
            self._started_here = True
        if self._remote is None:
            self._remote = ray.remote(_ray_score_batch)
        return ray

    def warm(self) -> None:
        self._init()

    def map_unordered(self, job: Mapping[str, Any], archs: Sequence[str]) -> Iterator[tuple[int, Any]]:
        ray = self._init()
        on_gpu = str(job.get("device", "cpu")).startswith("cuda")
        options: dict[str, Any] = {"num_cpus": self.num_cpus, "max_retries": RAY_MAX_RETRIES,
                                   "retry_exceptions": False}
        if on_gpu:
            options["num_gpus"] = 1.0 / self.tasks_per_gpu
        threads = max(1, math.floor(self.num_cpus))
        job_ref = ray.put(dict(job))  # shipped once per call, not once per task
        batches = [list(range(i, min(i + self.batch, len(archs)))) for i in range(0, len(archs), self.batch)]
        pending: dict[Any, list[int]] = {}
        # backpressure: at most `workers` tasks in flight (0: two per cluster CPU, for load balance)
        limit = self.workers or max(1, 2 * int(ray.cluster_resources().get("CPU", 1)))
        todo = iter(batches)
        try:
            while True:
                while len(pending) < limit:
                    b = next(todo, None)
                    if b is None:
                        break
                    ref = self._remote.options(**options).remote(job_ref, [archs[i] for i in b], threads)
                    pending[ref] = b
                if not pending:
                    return
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    positions = pending.pop(ref)
                    for i, raw in zip(positions, ray.get(ref)):
                        yield i, raw
        except ray.exceptions.RayError as exc:
            raise ExecutorLost(f"the Ray cluster failed mid-run ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:160]}); the scores committed so far are kept: "
                               "rerun with --resume") from None
        finally:
            for ref in pending:
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - best effort on the way out
                    pass

    def close(self) -> None:
        if self._started_here:
            ray = _ray()
            ray.shutdown()
            self._started_here = False
            self._remote = None


EXECUTORS: Registry[Callable[..., Executor]] = Registry("executor")
EXECUTORS.add("local", LocalExecutor)
EXECUTORS.add("ray", RayExecutor)


def register_executor(name: str) -> Callable[[Callable[..., Executor]], Callable[..., Executor]]:
    """Register an executor factory (called with ``workers=`` and ``address=`` keywords)."""
    return EXECUTORS.register(name)


def list_executors() -> list[str]:
    return EXECUTORS.names()


def get_executor(name: str, *, workers: int = 1, address: str | None = None) -> Executor:
    """A new executor called ``name``.

    Raises:
        UnknownNameError: with close names.
    """
    return EXECUTORS.get(name)(workers=workers, address=address)
