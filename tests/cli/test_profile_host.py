"""``edgenas profile --host`` end to end through stand-in ``ssh`` / ``scp`` on PATH.

The stand-ins run the remote command in a separate "device" virtualenv that holds only numpy and
onnxruntime (no torch, no edgenas), with an empty environment, so the test shows the device side
needs nothing else. They log every host string they are given, refuse hosts named
``unreachable*`` like ssh does (exit 255) and, on request, a device disk too full for a model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SSH = r"""#!/bin/bash
# stand-in ssh: [-o OPT]... -- HOST COMMAND
while [ $# -gt 0 ]; do
  case "$1" in
    -o) shift 2 ;;
    -q) shift ;;
    --) shift; break ;;
    -*) echo "stand-in ssh: unexpected option $1" >&2; exit 254 ;;
    *) break ;;
  esac
done
host="$1"; shift
printf '%s\n' "$host" >> "$STANDIN_LOG"
case "$host" in unreachable*) echo "ssh: connect to host ${host#*@} port 22: Connection refused" >&2; exit 255 ;; esac
exec env -i PATH="$STANDIN_DEVICE/bin:/usr/bin:/bin" HOME="$STANDIN_HOME" /bin/bash -c "$*"
"""

SCP = r"""#!/bin/bash
# stand-in scp: [-q] [-o OPT]... -- SRC... DST, remote paths as HOST:PATH
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -o) shift 2 ;;
    -q) shift ;;
    --) shift; args+=("$@"); break ;;
    -*) echo "stand-in scp: unexpected option $1" >&2; exit 254 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -n "$STANDIN_DISK_FULL" ]; then  # the device runner fits; the first model does not
  for a in "${args[@]}"; do case "$a" in */model.onnx) echo "scp: $a: No space left on device" >&2; exit 1 ;; esac; done
fi
out=()
for a in "${args[@]}"; do
  case "$a" in /*) out+=("$a") ;; *:*) printf '%s\n' "${a%%:*}" >> "$STANDIN_LOG"; out+=("${a#*:}") ;; *) out+=("$a") ;; esac
done
exec cp -- "${out[@]}"
"""


@pytest.fixture(scope="module")
def device_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the edgenas CLI with the stand-ins first on PATH and a numpy+onnxruntime-only device."""
    root = tmp_path_factory.mktemp("standin")
    dev = root / "device"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dev)], check=True, timeout=120)
    dev_site = Path(subprocess.run([str(dev / "bin" / "python"), "-c",
                                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
    import numpy
    import onnxruntime

    for mod in (numpy, onnxruntime):
        pkg = Path(mod.__file__).parent
        (dev_site / pkg.name).symlink_to(pkg)
        libs = pkg.parent / f"{pkg.name}.libs"  # vendored shared libraries of manylinux wheels
        if libs.exists():
            (dev_site / libs.name).symlink_to(libs)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, text in (("ssh", SSH), ("scp", SCP)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STANDIN_", "PYTHON"))}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", STANDIN_DEVICE=str(dev), STANDIN_HOME=str(root),
               STANDIN_LOG=str(root / "hosts.log"), COLUMNS="200")
    return env


def _cli(env: dict[str, str], home: Path, *args: str, cwd: Path | None = None,
         extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    e = {**env, "EDGENAS_HOME": str(home), **(extra or {})}
    return subprocess.run([sys.executable, "-m", "edgenas", *args], capture_output=True, text=True, env=e,
                          cwd=cwd, timeout=600, check=False)


# --no-kernel-model: when the kernels model wins, the whole space is counted (minutes); tests/hardware covers it
PROFILE = ("profile", "--target", "board", "--archs", "8", "--runs", "3", "--warmup", "1", "--no-kernel-model")


def _journal(home: Path) -> list[dict]:
    path = home / "profiles" / "board" / "nb201_cifar10.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines()]


def test_device_side_has_no_torch_and_no_edgenas(device_env):
    py = Path(device_env["STANDIN_DEVICE"]) / "bin" / "python"
    for mod in ("torch", "edgenas", "onnx", "click"):
        r = subprocess.run([str(py), "-c", f"import {mod}"], capture_output=True, text=True, env={"PATH": "/usr/bin"},
                           cwd=device_env["STANDIN_HOME"], check=False)
        assert r.returncode != 0, mod
    r = subprocess.run([str(py), "-c", "import numpy, onnxruntime"], capture_output=True, env={"PATH": "/usr/bin"},
                       check=False)
    assert r.returncode == 0


def test_profile_over_ssh_makes_a_usable_target_and_resumes(device_env, tmp_path):
    home = tmp_path / "home"
    r = _cli(device_env, home, *PROFILE, "--host", "me@board", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["measured_now"], doc["measured_before"], doc["n_measured"]) == (8, 0, 8)
    assert doc["where"] == "me@board" and doc["facts"]["runtime_version"]
    assert doc["method"] in doc["cv"]
    table = Path(doc["table"])
    assert table.is_relative_to(home) and (home / "targets" / "board.yaml").is_file()
    header = json.loads(table.read_text().splitlines()[0][2:])
    facts = header["columns"]["board"]["device_facts"]
    assert facts["runtime"] == "onnxruntime" and facts["python"]  # what the device runner reported
    assert set(Path(device_env["STANDIN_LOG"]).read_text().split()) == {"me@board"}
    # usable at once: cost, and validate on the board against the new table
    r = _cli(device_env, home, "cost", "0", "--target", "board", "--json")
    assert r.returncode == 0, r.stderr
    r = _cli(device_env, home, "export", "0", "--target", "board", "--out", str(tmp_path / "exp"))
    assert r.returncode == 0, r.stderr
    r = _cli(device_env, home, "validate", str(tmp_path / "exp"), "--target", "board", "--host", "me@board",
             "--runs", "5", "--warmup", "1", "--out", str(tmp_path / "v.json"), "--json")
    assert r.returncode == 0, r.stderr
    v = json.loads((tmp_path / "v.json").read_text())
    model = v[0] if isinstance(v, list) else v["models"][0]
    assert model["predicted_ms"] > 0 and model["host"] == "me@board" and model["parity_ok"]
    # the table says which arch its timings were paired with: validate pairs with it too (table units)
    assert model["paired_reference"] == _journal(home)[2]["reference"] and model["measured_paired_ms"] > 0
    # more archs later: the journal's 8 are kept, only the 2 new ones are timed (the same command again
    # re-times nothing: test_kill_9_then_the_same_command_measures_only_what_is_missing)
    args = [a if a != "8" else "10" for a in PROFILE]
    r = _cli(device_env, home, *args, "--host", "me@board", "--json")
    assert r.returncode == 0, r.stderr
    assert (json.loads(r.stdout)["measured_now"], json.loads(r.stdout)["measured_before"]) == (2, 8)
    rows = [j for j in _journal(home) if j["kind"] == "measurement"]
    assert len({j["arch"] for j in rows}) == 10 and len(rows) == 10 + doc["retaken"] + json.loads(r.stdout)["retaken"]
    # the device (no onnx package) read its optimized graphs' kernels, and this host counts them alike
    from edgenas.hardware.kernels import arch_kernels
    from edgenas.spaces import get_space

    space = get_space("nb201")
    assert all(dict(arch_kernels(space, space.parse(j["arch"]), "cifar10")) == j["kernels"] for j in rows[:3])
    assert all(j["reference"] == rows[0]["reference"] and j["reference_ratio_p50"] > 0 for j in rows)


def test_kill_9_then_the_same_command_measures_only_what_is_missing(device_env, tmp_path):
    home = tmp_path / "home"
    cmd = [sys.executable, "-m", "edgenas", *PROFILE, "--host", "me@board", "--json"]
    env = {**device_env, "EDGENAS_HOME": str(home)}
    journal = home / "profiles" / "board" / "nb201_cifar10.jsonl"
    kills = 0
    for wanted in (3,):  # kill once 3 timings are journaled (10 kill points: the slow test below)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            n = journal.read_text().count('"kind": "measurement"') if journal.exists() else 0
            if n >= wanted:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "profile finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
    before = journal.read_text().count('"kind": "measurement"')
    assert 3 <= before < 8
    r = _cli(device_env, home, *PROFILE, "--host", "me@board", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["measured_before"], doc["measured_now"]) == (before, 8 - before)
    rows = [j for j in _journal(home) if j["kind"] == "measurement"]
    # nothing lost, nothing timed twice (but timings retaken because the host was loaded)
    assert len({j["arch"] for j in rows}) == 8 and len(rows) == 8 + doc["retaken"]
    assert kills == 1


@pytest.mark.parametrize("host", ["h;touch${IFS}PWNED", "x$(touch${IFS}PWNED)y", "a`touch${IFS}PWNED`b",
                                  "me@h&&touch${IFS}PWNED", "h|touch${IFS}PWNED>x"])
def test_host_strings_are_never_interpreted(device_env, tmp_path, monkeypatch, host):
    from edgenas.spaces import get_space
    from edgenas.timing.remote import SshSession

    for k, v in device_env.items():
        if k.startswith("STANDIN_") or k == "PATH":
            monkeypatch.setenv(k, v)
    log = tmp_path / "hosts.log"
    monkeypatch.setenv("STANDIN_LOG", str(log))
    monkeypatch.chdir(tmp_path)
    space = get_space("nb201")
    model = tmp_path / "-oProxyCommand=touch PWNED;.onnx"  # a hostile local file name too
    model.write_bytes(space.onnx_bytes(space.from_index(0), "cifar10"))
    with SshSession(host) as s:
        facts = s.facts(["--runtime", "onnxruntime"])
        res = s.time_model(model, ["--runtime", "onnxruntime", "--runs", "2", "--warmup", "0"])
    assert facts["runtime"] == "onnxruntime" and len(res["latency_ms"]) == 2
    assert not list(tmp_path.rglob("PWNED")) and not (Path(device_env["STANDIN_HOME"]) / "PWNED").exists()
    assert set(log.read_text().splitlines()) == {host}  # reached ssh / scp verbatim, as one argument


@pytest.mark.parametrize("host", ["-oProxyCommand=touch PWNED", "-x", "a b", ""])
def test_option_like_or_blank_hosts_are_refused(device_env, tmp_path, host):
    r = _cli(device_env, tmp_path / "home", *PROFILE, "--host", host, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") <= 2 and "--host" in r.stderr
    assert not list(tmp_path.rglob("PWNED"))


def test_device_failures_are_one_line_errors_and_keep_the_journal(device_env, tmp_path):
    home = tmp_path / "home"
    r = _cli(device_env, home, *PROFILE, "--host", "unreachable.local")
    assert r.returncode == 2 and "cannot reach unreachable.local" in r.stderr and "Traceback" not in r.stderr
    r = _cli(device_env, home, *PROFILE, "--host", "me@board", "--remote-python", "python3; touch PWNED",
             cwd=tmp_path)
    assert r.returncode == 2 and "has no Python" in r.stderr and not list(tmp_path.rglob("PWNED"))
    r = _cli(device_env, home, *PROFILE, "--host", "me@board", "--runtime", "trtexec")
    assert r.returncode == 2 and "trtexec not found" in r.stderr
    r = _cli(device_env, home, *PROFILE, "--host", "me@board", extra={"STANDIN_DISK_FULL": "1"})
    assert r.returncode == 2 and "disk is full" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") <= 1, r.stderr
    kinds = [j["kind"] for j in _journal(home)]  # the journal is intact and resumable
    assert kinds[0] == "plan" and set(kinds[1:]) == {"facts"}


def test_int8_needs_real_calibration_inputs_and_tensorrt(device_env, tmp_path):
    import numpy as np

    r = _cli(device_env, tmp_path / "home", *PROFILE, "--runtime", "tensorrt", "--precision", "int8")
    assert r.returncode == 2 and "--calibration-data" in r.stderr
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 3, 16, 16), dtype=np.float32))
    r = _cli(device_env, tmp_path / "home", *PROFILE, "--runtime", "tensorrt", "--precision", "int8",
             "--calibration-data", str(bad))
    assert r.returncode == 2 and "expected (N, 3, 32, 32)" in r.stderr
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((4, 3, 32, 32), dtype=np.float32))
    r = _cli(device_env, tmp_path / "home", *PROFILE, "--runtime", "trtexec", "--precision", "int8",
             "--calibration-data", str(good))
    assert r.returncode == 2 and "--runtime tensorrt" in r.stderr
    r = _cli(device_env, tmp_path / "home", *PROFILE, "--calibration-data", str(good))
    assert r.returncode == 2 and "int8 only" in r.stderr
    assert not (tmp_path / "home" / "profiles").exists()  # refused before anything was written


def test_shipped_target_is_never_overwritten(device_env, tmp_path):
    r = _cli(device_env, tmp_path / "home", "profile", "--target", "jetson-tx2", "--host", "me@board")
    assert r.returncode == 2 and "shipped target" in r.stderr


def test_host_profile_options_do_not_mix(device_env, tmp_path):
    r = _cli(device_env, tmp_path / "home", *PROFILE, "--chain", "2")
    assert r.returncode == 2 and "--chain" in r.stderr
    r = _cli(device_env, tmp_path / "home", "profile", "--host", "me@board", "--target", "cpu")
    assert r.returncode == 2



@pytest.mark.slow
def test_kill_9_at_ten_points_loses_no_timing(device_env, tmp_path):
    """kill -9 right after each of the first 10 timings lands (10 kills), then the same command once more."""
    home = tmp_path / "home"
    args = [a if a != "8" else "12" for a in PROFILE]
    cmd = [sys.executable, "-m", "edgenas", *args, "--host", "me@board", "--json"]
    env = {**device_env, "EDGENAS_HOME": str(home)}
    journal = home / "profiles" / "board" / "nb201_cifar10.jsonl"

    def timed() -> int:
        return journal.read_text().count('"kind": "measurement"') if journal.exists() else 0

    for point in range(1, 11):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None and timed() < point:
            time.sleep(0.02)
        assert proc.poll() is None, f"profile ended before kill point {point}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert timed() >= point
    before = timed()
    r = _cli(device_env, home, *args, "--host", "me@board", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["measured_before"], doc["measured_now"], doc["n_measured"]) == (before, 12 - before, 12)
    rows = [j for j in _journal(home) if j["kind"] == "measurement"]
    assert len({j["arch"] for j in rows}) == 12 and len(rows) == 12 + doc["retaken"]  # none lost, none taken twice


@pytest.fixture(scope="module")
def litert_device_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Like ``device_env``, but the device venv holds only numpy and the LiteRT interpreter (ai-edge-litert)."""
    litert = pytest.importorskip("ai_edge_litert")
    root = tmp_path_factory.mktemp("standin-litert")
    dev = root / "device"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dev)], check=True, timeout=120)
    dev_site = Path(subprocess.run([str(dev / "bin" / "python"), "-c",
                                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
    import numpy

    for mod in (numpy, litert):
        pkg = Path(mod.__file__).parent
        (dev_site / pkg.name).symlink_to(pkg)
        libs = pkg.parent / f"{pkg.name}.libs"
        if libs.exists():
            (dev_site / libs.name).symlink_to(libs)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name, text in (("ssh", SSH), ("scp", SCP)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STANDIN_", "PYTHON"))}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", STANDIN_DEVICE=str(dev), STANDIN_HOME=str(root),
               STANDIN_LOG=str(root / "hosts.log"), COLUMNS="200")
    return env


@pytest.mark.slow
def test_profile_runtime_litert_over_ssh_with_only_numpy_and_the_interpreter(litert_device_env, tmp_path):
    """~3 min: five archs converted to .tflite here (litert-torch), timed on the stand-in device."""
    pytest.importorskip("litert_torch")
    env = litert_device_env
    py = Path(env["STANDIN_DEVICE"]) / "bin" / "python"
    for mod, ok in (("onnxruntime", False), ("torch", False), ("edgenas", False),
                    ("numpy, ai_edge_litert.interpreter", True)):
        r = subprocess.run([str(py), "-c", f"import {mod}"], capture_output=True, env={"PATH": "/usr/bin"},
                           cwd=env["STANDIN_HOME"], check=False)
        assert (r.returncode == 0) == ok, mod
    home = tmp_path / "home"
    r = _cli(env, home, "profile", "--target", "phone", "--runtime", "litert", "--host", "me@phone", "--archs", "5",
             "--runs", "3", "--warmup", "1", "--json", cwd=tmp_path,
             extra={"PYTHONPATH": os.environ.get("PYTHONPATH", "")})  # the host side: this checkout's edgenas
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["measured_now"] == 5 and doc["facts"]["runtime"] == "litert"
    assert doc["facts"]["runtime_version"].startswith("ai-edge-litert")
    rows = [json.loads(ln) for ln in (home / "profiles" / "phone" / "nb201_cifar10.jsonl").read_text().splitlines()]
    assert sum(j["kind"] == "measurement" for j in rows) == 5
    import yaml

    assert yaml.safe_load((home / "targets" / "phone.yaml").read_text())["runtime"] == "tflite"
