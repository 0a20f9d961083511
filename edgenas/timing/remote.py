"""Run the device runner (``edgenas/device_runner.py``) on a device: this machine or a board over SSH.

A :class:`DeviceSession` times ONNX files on one device and reads the device's facts. Both kinds
run the same standalone runner file with the device's own Python, so the device needs Python,
numpy and the runtime only (no torch, no edgenas):

* :class:`LocalSession`: a subprocess of this machine's Python;
* :class:`SshSession`: the system ``ssh`` / ``scp`` in BatchMode (never prompts; host keys are
  checked as the user's ssh config says). The runner is copied once into a ``mktemp`` folder on
  the device, each model is copied, timed and deleted, the folder is removed at the end.

Every host and path reaches ssh / scp after ``--``, and every word of the remote command is
quoted, so a host or file name is never read as an option or as shell syntax.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import DeviceError, EdgeNASError

__all__ = ["DeviceSession", "LocalSession", "SshSession", "check_host", "scp_command", "ssh_command"]

log = logging.getLogger(__name__)

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

#: device runner exit codes (edgenas/device_runner.py)
_RUNNER_BAD_INPUT, _RUNNER_MISSING_RUNTIME, _RUNNER_DISK_FULL = 2, 3, 4


def check_host(host: str) -> str:
    """``host`` if it can only be read as a host by ssh; DeviceError otherwise."""
    user, at, name = host.rpartition("@")
    # scp reads everything before the first ':' as the host: 'a:b@board' would copy to host 'a'
    if (not host or host.startswith("-") or any(c.isspace() or ord(c) < 32 or c in ":/\\[]" for c in host)
            or not name or (at and not user) or "@" in user):
        raise DeviceError(f"--host {host!r} is invalid; expected USER@HOST or HOST (one '@' at most; no leading "
                          "'-', spaces, ':', '/' or brackets)")
    return host


def ssh_command(host: str, options: Sequence[str] = (), connect_timeout: int = 10) -> list[str]:
    """``ssh`` argv up to and including the host; the remote command follows."""
    cmd = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}"]
    for o in options:
        cmd += ["-o", o]
    return [*cmd, "--", check_host(host)]  # "--": the host (and the command after it) is never an option


def scp_command(options: Sequence[str] = (), connect_timeout: int = 10) -> list[str]:
    """``scp`` argv up to the paths (which go after a ``--``)."""
    cmd = ["scp", "-q", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={connect_timeout}"]
    for o in options:
        cmd += ["-o", o]
    return cmd


def _last_line(text: str, default: str) -> str:
    return (text.strip().splitlines() or [default])[-1].strip()


def run_command(cmd: list[str], *, where: str, what: str, timeout: float) -> subprocess.CompletedProcess:
    """Run ``cmd``; DeviceError for a missing ssh/scp, a timeout or an unreachable host (ssh exit 255)."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise DeviceError(f"{cmd[0]} is not installed on this machine (needed for --host)") from None
    except subprocess.TimeoutExpired:
        raise DeviceError(f"{what} on {where} timed out after {timeout:.0f} s") from None
    if proc.returncode == 255 and cmd[0] in ("ssh", "scp"):
        raise DeviceError(f"cannot reach {where} over ssh ({what}): {_last_line(proc.stderr, 'no reply')}")
    return proc


def runner_result(proc: subprocess.CompletedProcess, *, where: str, python: str) -> dict[str, Any]:
    """The runner's JSON line from ``proc``; one-line DeviceError naming the device otherwise."""
    err = _last_line(proc.stderr, f"exit {proc.returncode}").removeprefix("device_runner: error: ")
    if proc.returncode == 127:
        raise DeviceError(f"{where} has no Python {python!r} (the device runner needs Python + numpy); "
                          "expected --remote-python PATH")
    if proc.returncode == _RUNNER_MISSING_RUNTIME:
        raise DeviceError(f"{where}: {err}")
    if proc.returncode == _RUNNER_DISK_FULL or "No space left on device" in proc.stderr:
        raise DeviceError(f"{where}: the disk is full ({err}); free space on the device and run the same command again")
    if proc.returncode != 0:
        raise DeviceError(f"device runner failed on {where}: {err}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    from .._read import parse_json

    if not lines:
        raise DeviceError(f"device runner on {where} printed no result: {_last_line(proc.stdout, '(no output)')}")
    try:
        data = parse_json(lines[-1], where=f"on {where}", what="device runner output", allow_nan=True)
    except EdgeNASError:
        raise DeviceError(f"device runner on {where} printed no result: {_last_line(proc.stdout, '(no output)')}") from None
    if not isinstance(data, dict):
        raise DeviceError(f"device runner on {where} printed {type(data).__name__}; expected a JSON object")
    return data


class DeviceSession:
    """Time ONNX models on one device with the device runner (a context manager).

    Attributes:
        where: the device in words ("this machine" or the ssh host), used in messages.
    """

    where: str = "this machine"

    def __enter__(self) -> DeviceSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release what the session holds on the device."""

    def facts(self, runner_args: Sequence[str]) -> dict[str, Any]:
        """The device facts (runner ``--facts``); DeviceError when the runtime is missing there."""
        return self._run(None, [*runner_args, "--facts"], timeout=120.0)

    def time_model(self, model: Path, runner_args: Sequence[str], *, timeout: float = 1800.0,
                   files: Mapping[str, Path] | None = None) -> dict[str, Any]:
        """Runner result of ``model`` (per-run ``latency_ms``, ``summary_ms``, ``runtime_version``, ...).

        ``files``: more inputs of the runner (e.g. ``{"input.npy": path}``), found under those plain
        names in the runner's working folder; ``runner_args`` refer to them by name.
        """
        for name in files or {}:
            if not _PLAIN.fullmatch(name):
                raise DeviceError(f"runner file name {name!r} is invalid; expected letters, digits, '.', '_', '-'")
        return self._run(Path(model), list(runner_args), timeout=timeout, files=dict(files or {}))

    def _run(self, model: Path | None, runner_args: list[str], *, timeout: float,
             files: dict[str, Path] | None = None) -> dict[str, Any]:
        raise NotImplementedError


class LocalSession(DeviceSession):
    """The device runner in a subprocess of ``python`` (default: this interpreter) on this machine."""

    def __init__(self, python: str | None = None) -> None:
        from .. import device_runner

        self.python = python or sys.executable
        self.runner = Path(device_runner.__file__)

    def _run(self, model: Path | None, runner_args: list[str], *, timeout: float,
             files: dict[str, Path] | None = None) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="edgenas-run-") as tmp:
            # a copy of the runner alone in a folder, as on a device: next to the package, its modules
            # (edgenas/_json.py) would shadow the standard library's on older Pythons
            shutil.copyfile(self.runner, Path(tmp) / "device_runner.py")
            for name, path in (files or {}).items():  # the runner finds them by name in its working folder
                shutil.copyfile(path, Path(tmp) / name)
            return self._run_in(tmp, model, runner_args, timeout)

    def _run_in(self, cwd: str, model: Path | None, runner_args: list[str], timeout: float) -> dict[str, Any]:
        cmd = [self.python, "device_runner.py", *([str(model.resolve())] if model else []), *runner_args,
               "--out", "-"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd)
        except FileNotFoundError:
            proc = subprocess.CompletedProcess(cmd, 127, "", "")
        except subprocess.TimeoutExpired:
            raise DeviceError(f"the device runner on {self.where} timed out after {timeout:.0f} s") from None
        return runner_result(proc, where=self.where, python=self.python)


class SshSession(DeviceSession):
    """The device runner on ``host`` over ssh; the device needs ``python`` + numpy + the runtime."""

    def __init__(self, host: str, *, ssh_options: Sequence[str] = (), python: str = "python3",
                 connect_timeout: int = 10, prefix: str = "edgenas-profile") -> None:
        self.host = check_host(host)
        self.where = host
        self.python = python
        self.ssh = ssh_command(host, ssh_options, connect_timeout)
        self.scp = scp_command(ssh_options, connect_timeout)
        self.step = connect_timeout + 60.0
        self.remote_dir: str | None = None
        self.prefix = prefix

    def _open(self) -> str:
        if self.remote_dir is None:
            from .. import device_runner

            proc = run_command([*self.ssh, f"mktemp -d /tmp/{self.prefix}-XXXXXX"], where=self.where,
                               what="creating a temp folder", timeout=self.step)
            lines = proc.stdout.strip().splitlines()
            if proc.returncode != 0 or not lines or not lines[-1].startswith(f"/tmp/{self.prefix}-"):
                raise DeviceError(f"cannot create a temp folder on {self.where}: {_last_line(proc.stderr, '?')}")
            self.remote_dir = lines[-1]
            self._copy(Path(device_runner.__file__), "copying the device runner")
        return self.remote_dir

    def _copy(self, local: Path | Sequence[Path], what: str) -> None:
        # "--" and absolute local paths: a file named "-oProxyCommand=..." stays a file
        paths = [str(p.absolute()) for p in ([local] if isinstance(local, Path) else local)]
        proc = run_command([*self.scp, "--", *paths, f"{self.host}:{self.remote_dir}/"],
                           where=self.where, what=what, timeout=self.step + 300.0)
        if proc.returncode != 0:
            err = _last_line(proc.stderr, f"exit {proc.returncode}")
            if "No space left" in err:
                raise DeviceError(f"{self.where}: the disk is full ({what}: {err}); free space on the device and run "
                                  "the same command again")
            raise DeviceError(f"{what} to {self.where} failed: {err}")

    def _run(self, model: Path | None, runner_args: list[str], *, timeout: float,
             files: dict[str, Path] | None = None) -> dict[str, Any]:
        rdir = self._open()
        q = shlex.quote
        words = [self.python, "device_runner.py"]
        cleanup = ""
        # a .tflite keeps its suffix (LiteRT); anything else is the ONNX model
        mname = "model.tflite" if model is not None and model.suffix == ".tflite" else "model.onnx"
        send = {**({mname: model} if model is not None else {}), **(files or {})}
        if send:
            with tempfile.TemporaryDirectory(prefix="edgenas-send-") as tmp:
                # fixed, plain names on the device: local names never reach the remote shell
                staged = [Path(tmp) / name for name in send]
                for dst, src in zip(staged, send.values()):
                    shutil.copyfile(src, dst)
                self._copy(staged, "copying the model")
            cleanup = "; rc=$?; rm -f " + " ".join(q("./" + n) for n in send) + "; exit $rc"
        if model is not None:
            words.append("./" + mname)
        remote = f"cd {q(rdir)} && " + " ".join(q(w) for w in [*words, *runner_args, "--out", "-"]) + cleanup
        proc = run_command([*self.ssh, remote], where=self.where, what="running the device runner", timeout=timeout)
        return runner_result(proc, where=self.where, python=self.python)

    def close(self) -> None:
        if self.remote_dir is None:
            return
        try:
            subprocess.run([*self.ssh, f"rm -rf {shlex.quote(self.remote_dir)}"], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=self.step)
        except (subprocess.TimeoutExpired, OSError):
            log.warning("could not remove %s on %s", self.remote_dir, self.where)
        self.remote_dir = None
