"""``validate --host`` through a real OpenSSH server started on 127.0.0.1 (skipped without sshd)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from edgenas.errors import ValidationError
from edgenas.export.validate import validate_model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sshd_binary() -> str | None:
    return shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):
    """(user@127.0.0.1, ssh -o options) of a throw-away sshd accepting a temp key for the current user."""
    binary = _sshd_binary()
    if binary is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server/client not installed (apt-get install openssh-server)")
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True, timeout=30)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    os.chmod(d / "authorized_keys", 0o600)
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege-separation dir sshd insists on as root
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nStrictModes no\nPubkeyAuthentication yes\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\n"
    )
    proc = subprocess.Popen([binary, "-D", "-f", str(d / "sshd_config"), "-E", str(d / "sshd.log")])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.skip("sshd did not start listening within 15 s")
    if proc.poll() is not None:
        log = (d / "sshd.log").read_text() if (d / "sshd.log").exists() else ""
        pytest.skip(f"sshd exited at start: {log.strip().splitlines()[-1:] or proc.returncode}")
    user = os.environ.get("USER") or __import__("getpass").getuser()
    options = (f"Port={port}", f"IdentityFile={d / 'client_key'}", "IdentitiesOnly=yes",
               f"UserKnownHostsFile={d / 'known_hosts'}", "StrictHostKeyChecking=no", "LogLevel=ERROR")
    try:
        yield f"{user}@127.0.0.1", options
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_validate_over_real_ssh(sshd, onnx_model):
    host, options = sshd
    # the "device" is this machine; its Python with numpy + onnxruntime is this interpreter
    r = validate_model(onnx_model, target="cpu", runs=5, warmup=2, threads=1, host=host, ssh_options=options,
                       remote_python=sys.executable, timeout=120)
    assert r.host == host and r.measured_ms["p50"] > 0
    assert r.parity_ok and r.parity_max_abs < 1e-4


def test_remote_without_python_or_runtime(sshd, onnx_model, tmp_path):
    host, options = sshd
    with pytest.raises(ValidationError, match="has no"):
        validate_model(onnx_model, target="cpu", runs=2, warmup=0, host=host, ssh_options=options,
                       remote_python="/nonexistent/python3", timeout=60)
    # a Python without onnxruntime: a venv without site packages stands in for a bare device
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120)
    with pytest.raises(ValidationError, match="(numpy|onnxruntime) is not installed"):
        validate_model(onnx_model, target="cpu", runs=2, warmup=0, host=host, ssh_options=options,
                       remote_python=str(bare / "bin" / "python"), timeout=60)
    # --runtime tensorrt on a device without TensorRT (or without a GPU): the runner's one line comes back
    with pytest.raises(ValidationError, match=r"127\.0\.0\.1.*(tensorrt \(Python API\) is not installed"
                                              r"|libcudart)"):
        validate_model(onnx_model, target="cpu", runtime="tensorrt", runs=2, warmup=0, host=host,
                       ssh_options=options, remote_python=sys.executable, timeout=60)


def test_unreachable_host_fails_fast(onnx_model):
    t0 = time.monotonic()
    with pytest.raises(ValidationError, match="cannot reach"):
        validate_model(onnx_model, target="cpu", runs=2, warmup=0, host="nobody@127.0.0.1",
                       ssh_options=(f"Port={_free_port()}", "StrictHostKeyChecking=no",
                                    "UserKnownHostsFile=/dev/null"), timeout=30)
    assert time.monotonic() - t0 < 30


def test_host_and_paths_never_reach_ssh_or_scp_as_options(tmp_path, monkeypatch):
    """Stand-in ssh/scp on PATH log their argv: '--' precedes the host and the copied files, local
    paths are absolute, and a host that looks like an option is refused before anything runs."""
    import json as _json
    import os
    import stat
    import sys as _sys
    from pathlib import Path

    from edgenas.errors import ValidationError
    from edgenas.export.validate import run_remote

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "argv.jsonl"
    for name in ("ssh", "scp"):
        script = bin_dir / name
        script.write_text(f"#!{_sys.executable}\nimport json, sys\n"
                          f"open({str(log)!r}, 'a').write(json.dumps(sys.argv) + '\\n')\n"
                          "print('/tmp/edgenas-validate-x') if sys.argv[0].endswith('ssh') else None\n"
                          "sys.exit(0 if sys.argv[0].endswith('ssh') else 1)\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "-oProxyCommand=touch pwned.onnx"
    evil.write_bytes(b"x")
    (tmp_path / "in.npy").write_bytes(b"x")
    with pytest.raises(ValidationError):
        run_remote("user@board", Path("-oProxyCommand=touch pwned.onnx"), Path("in.npy"), [])
    calls = [_json.loads(line) for line in log.read_text().splitlines()]
    scp = next(c for c in calls if c[0].endswith("scp"))
    after = scp[scp.index("--") + 1:]
    assert after[-1] == "user@board:/tmp/edgenas-validate-x/" and all(a.startswith("/") for a in after[:-1])
    for c in calls:
        if c[0].endswith("ssh"):
            assert c[c.index("--") + 1] == "user@board"
    assert not (tmp_path / "pwned.onnx").exists()
    n = len(calls)
    with pytest.raises(ValidationError, match="--host '-oProxyCommand=x' is invalid"):
        run_remote("-oProxyCommand=x", evil, Path("in.npy"), [])
    assert len(log.read_text().splitlines()) == n  # refused before any ssh/scp ran


def test_device_session_over_real_ssh(sshd, onnx_model):
    from edgenas.timing.remote import SshSession

    host, options = sshd
    with SshSession(host, ssh_options=options, python=sys.executable) as s:
        facts = s.facts(["--runtime", "onnxruntime"])
        res = s.time_model(onnx_model, ["--runtime", "onnxruntime", "--runs", "3", "--warmup", "1"])
        rdir = s.remote_dir
    assert facts["runtime"] == "onnxruntime" and facts["python"]
    assert res["summary_ms"]["n"] == 3 and res["summary_ms"]["p50"] > 0
    assert rdir and not os.path.exists(rdir)  # the device's temp folder is removed at the end
