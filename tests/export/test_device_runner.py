from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgenas import device_runner
from edgenas.device_runner import RunnerError, parse_trtexec_times, summarize_ms

DATA = Path(__file__).resolve().parents[1] / "data"


def test_parse_trtexec_computems_layout():
    data = json.loads((DATA / "trtexec_times_computems.json").read_text())
    times = parse_trtexec_times(data)
    assert len(times) == 50
    assert times[0] == pytest.approx(data[0]["computeMs"])
    assert 0.3 < float(np.median(times)) < 0.5


def test_parse_trtexec_start_end_layout():
    data = json.loads((DATA / "trtexec_times_startend.json").read_text())
    times = parse_trtexec_times(data)
    assert times[1] == pytest.approx(data[1]["endComputeMs"] - data[1]["startComputeMs"])
    assert all(t < d["latencyMs"] for t, d in zip(times, data))  # compute excludes copies


@pytest.mark.parametrize("bad", [{}, [], [{"latencyMs": 1.0}], [{"computeMs": -1.0}], ["x"]])
def test_parse_trtexec_rejects_bad_input(bad):
    with pytest.raises(RunnerError):
        parse_trtexec_times(bad)


def test_summarize_ms_known_values():
    s = summarize_ms([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (s["p50"], s["mean"], s["n"]) == (3.0, 3.0, 5)
    assert s["p90"] == pytest.approx(4.6) and s["p99"] == pytest.approx(4.96)
    assert s["cv"] == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1) / 3.0)


def test_runner_is_standalone_python36():
    """JetPack 4.6 ships Python 3.6: no 3.7+ syntax, and nothing evaluated at import that 3.6 lacks."""
    src = Path(device_runner.__file__).read_text()
    tree = ast.parse(src, feature_version=(3, 6))  # SyntaxError on 3.7+ syntax (walrus, match, ...)
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"torch", "click", "edgenas", "rich", "onnx"}
    futures = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "__future__"
               for a in n.names]
    assert "annotations" not in futures  # 3.7+
    # annotations are evaluated on 3.6: no PEP 585 / 604 forms (dict[...], X | None)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            anns = [a.annotation for a in [*node.args.args, *node.args.kwonlyargs] if a.annotation] + \
                [node.returns] if node.returns else []
            for ann in anns:
                for sub in ast.walk(ann):
                    assert not isinstance(sub, ast.BinOp), f"{node.name}: X | Y annotation"
                    if isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name):
                        assert sub.value.id not in ("dict", "list", "tuple", "set", "type"), node.name
        if isinstance(node, ast.Call):
            kws = {k.arg for k in node.keywords}
            assert not kws & {"capture_output", "text"}, "subprocess.run(capture_output/text) is 3.7+"
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("removeprefix", "removesuffix", "isascii"), node.attr


def _old_python() -> str | None:
    import glob
    import shutil

    for cand in [*sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.6.*/bin/python3.6"))),
                 shutil.which("python3.6")]:
        if cand and subprocess.run([cand, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return cand  # (a pyenv shim on PATH may not run)
    return None


def test_runner_runs_on_python36(tmp_path):
    """Facts and a trtexec timing (a stand-in trtexec) through the runner on a real Python 3.6."""
    py36 = _old_python()
    if py36 is None:
        pytest.skip("no Python 3.6 interpreter on this machine")
    runner = tmp_path / "device_runner.py"
    runner.write_text(Path(device_runner.__file__).read_text())  # alone, as on a device
    trtexec = tmp_path / "trtexec"
    trtexec.write_text("#!/bin/sh\necho '&&&& RUNNING TensorRT.trtexec [TensorRT v8201] # trtexec'\n")
    trtexec.chmod(0o755)
    proc = subprocess.run([py36, str(runner), "--facts", "--runtime", "trtexec", "--trtexec", str(trtexec),
                           "--out", "-"], capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["python"].startswith("3.6") and facts["runtime_version"] == "8.2.1"


def test_runner_onnxruntime_as_script(tmp_path, onnx_model):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, device_runner.__file__, str(onnx_model), "--runs", "5", "--warmup", "2",
                           "--out", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert len(res["latency_ms"]) == 5 and res["summary_ms"]["p50"] > 0
    assert len(res["output"]) == 10 and res["input_shape"] == [1, 3, 32, 32]
    # 1 thread: CPU time of the inference thread, never more than the wall time around it (+ timer calls)
    assert len(res["cpu_ms"]) == 5 and res["summary_cpu_ms"]["p50"] > 0
    assert all(c <= w + 0.05 for c, w in zip(res["cpu_ms"], res["latency_ms"]))


def test_runner_paired_with_reference(tmp_path, onnx_model):
    out = tmp_path / "r.json"
    # the model against itself: every pair ratio is ~1 (same work, warm, back to back)
    assert device_runner.main([str(onnx_model), "--runs", "8", "--warmup", "1", "--reference", str(onnx_model),
                               "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert len(res["reference_ratio"]) == 8 and len(res["reference_cpu_ms"]) == 8
    assert 0.5 < float(np.median(res["reference_ratio"])) < 2.0
    assert device_runner.main([str(onnx_model), "--threads", "2", "--reference", str(onnx_model),
                               "--out", str(tmp_path / "r2.json")]) == 2
    assert device_runner.main([str(onnx_model), "--reference", str(tmp_path / "missing.onnx"),
                               "--out", str(tmp_path / "r3.json")]) == 2
    assert not (tmp_path / "r2.json").exists() and not (tmp_path / "r3.json").exists()


def test_runner_errors(tmp_path, onnx_model, capsys):
    assert device_runner.main([str(tmp_path / "nope.onnx"), "--out", str(tmp_path / "r.json")]) == 2
    assert device_runner.main([str(onnx_model), "--runtime", "trtexec", "--trtexec", str(tmp_path / "no-trtexec"),
                               "--out", str(tmp_path / "r.json")]) in (2, 3)
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "trtexec not found" in err
    assert not (tmp_path / "r.json").exists()


def test_runner_trtexec_path_with_fake_binary(tmp_path, onnx_model):
    # a stand-in executable with trtexec's file contract: writes --exportTimes, exits 0
    sample = DATA / "trtexec_times_startend.json"
    fake = tmp_path / "trtexec"
    fake.write_text("#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --exportTimes=*) "
                    f"cp {sample} \"${{a#--exportTimes=}}\";; esac; done\n")
    fake.chmod(0o755)
    out = tmp_path / "r.json"
    code = device_runner.main([str(onnx_model), "--runtime", "trtexec", "--trtexec", str(fake), "--runs", "50",
                               "--out", str(out)])
    assert code == 0
    res = json.loads(out.read_text())
    expected = parse_trtexec_times(json.loads(sample.read_text()))
    assert res["summary_ms"]["p50"] == pytest.approx(float(np.median(expected)))
    assert res["output"] is None and "--iterations=50" in res["command"]


def test_l4t_jetpack_nvpmodel_and_trt_versions():
    rel = "# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023"
    assert device_runner.parse_l4t_release(rel) == "35.4.1"
    assert device_runner.jetpack_of("35.4.1") == "5.1.2" and device_runner.jetpack_of("32.7.1") == "4.6.x"
    assert device_runner.jetpack_of("99.1") is None and device_runner.parse_l4t_release("garbage") is None
    assert device_runner.parse_nvpmodel("NV Power Mode: MODE_15W\n2\n") == "MODE_15W (2)"
    assert device_runner.parse_nvpmodel("nvpmodel: command failed") is None
    assert [device_runner.trt_version_string(c) for c in (8201, 8502, 100300, 110000)] == \
        ["8.2.1", "8.5.2", "10.3.0", "11.0.0"]


def _sysfs(root, cpus, gpu=None):
    for i, (lo, hi, gov) in enumerate(cpus):
        d = root / "devices" / "system" / "cpu" / f"cpu{i}" / "cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_min_freq").write_text(f"{lo}\n")
        (d / "scaling_max_freq").write_text(f"{hi}\n")
        (d / "scaling_governor").write_text(f"{gov}\n")
    if gpu:
        d = root / "class" / "devfreq" / "17000000.ga10b"
        d.mkdir(parents=True)
        (d / "min_freq").write_text(f"{gpu[0]}\n")
        (d / "max_freq").write_text(f"{gpu[1]}\n")
    return str(root)


def test_clock_state_from_sysfs(tmp_path):
    locked = _sysfs(tmp_path / "a", [(2000, 2000, "performance")] * 2, gpu=(1300, 1300))
    assert device_runner.clock_state(locked) == {"cpu_governor": "performance", "locked": True, "unlocked": []}
    gpu_free = _sysfs(tmp_path / "b", [(2000, 2000, "schedutil")], gpu=(300, 1300))
    assert device_runner.clock_state(gpu_free)["locked"] is False
    assert device_runner.clock_state(gpu_free)["unlocked"] == ["gpu"]
    assert device_runner.clock_state(str(tmp_path / "none"))["locked"] is None  # a VM without cpufreq


def test_runner_facts_and_stdout_result(tmp_path, onnx_model):
    proc = subprocess.run([sys.executable, device_runner.__file__, "--facts", "--runtime", "onnxruntime", "--out", "-"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["runtime"] == "onnxruntime" and facts["runtime_version"] and "clocks_locked" in facts
    proc = subprocess.run([sys.executable, device_runner.__file__, "--runtime", "trtexec", "--trtexec",
                           str(tmp_path / "nope"), "--facts", "--out", "-"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 3 and "trtexec not found" in proc.stderr
    proc = subprocess.run([sys.executable, device_runner.__file__, str(onnx_model), "--runs", "3", "--out", "-"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and json.loads(proc.stdout.splitlines()[-1])["summary_ms"]["n"] == 3


def test_runner_reports_kernel_counts(tmp_path, onnx_model):
    """`--kernels`: the optimized graph's kernel types, the same counts the host computes."""
    pytest.importorskip("onnxruntime")
    from edgenas.hardware.kernels import kernel_counts

    out = tmp_path / "r.json"
    assert device_runner.main([str(onnx_model), "--runs", "2", "--warmup", "0", "--kernels", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["kernels"] == dict(kernel_counts(onnx_model)) and sum(res["kernels"].values()) > 0
    assert device_runner.main([str(onnx_model), "--runtime", "trtexec", "--kernels",
                               "--out", str(tmp_path / "r2.json")]) == 2
    assert not (tmp_path / "r2.json").exists()


def _tiny_litert(tmp_path):
    d = json.loads((DATA / "tiny_litert.json").read_text())
    x = np.asarray(d["input"], np.float32).reshape(d["shape"])
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "x.npy", np.asarray(d["torch_output"])


@pytest.mark.parametrize("name, tol", [("tiny_fp32.tflite", 1e-5), ("tiny_int8.tflite", 0.05)])
def test_runner_litert_times_and_matches_torch(tmp_path, name, tol):
    pytest.importorskip("ai_edge_litert")
    inp, ref = _tiny_litert(tmp_path)
    out = tmp_path / "r.json"
    code = device_runner.main([str(DATA / name), "--runtime", "litert", "--runs", "5", "--warmup", "1",
                               "--input", str(inp), "--out", str(out)])
    assert code == 0
    r = json.loads(out.read_text())
    assert r["runtime"] == "litert" and r["runtime_version"].startswith("ai-edge-litert")
    assert len(r["latency_ms"]) == 5 and 0 < r["summary_ms"]["min"] <= r["summary_ms"]["p50"]
    assert r["input_dtype"] == ("int8" if "int8" in name else "float32")
    # the int8 model's input is quantized and its output dequantized by the runner: logits come back
    assert np.max(np.abs(np.asarray(r["output"]) - ref)) <= tol * max(1.0, np.max(np.abs(ref)))
    if "int8" in name:
        assert np.max(np.abs(np.asarray(r["output"]) - ref)) > 1e-6  # really quantized


def test_runner_litert_missing_interpreter_exit_3(tmp_path, monkeypatch, capsys):
    for mod in ("ai_edge_litert", "ai_edge_litert.interpreter", "tflite_runtime", "tflite_runtime.interpreter",
                "tensorflow", "tensorflow.lite"):
        monkeypatch.setitem(sys.modules, mod, None)
    code = device_runner.main([str(DATA / "tiny_fp32.tflite"), "--runtime", "litert", "--runs", "2",
                               "--out", str(tmp_path / "r.json")])
    assert code == 3 and "LiteRT interpreter is not installed" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def _recording_trtexec(tmp_path):
    """A stand-in trtexec that records its arguments and writes --exportTimes."""
    sample = DATA / "trtexec_times_startend.json"
    fake = tmp_path / "trtexec"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'args.txt'}\n"
                    "for a in \"$@\"; do case \"$a\" in --exportTimes=*) "
                    f"cp {sample} \"${{a#--exportTimes=}}\";; esac; done\n")
    fake.chmod(0o755)
    return fake


def test_runner_trtexec_int8_only_when_calibrated(tmp_path, onnx_model, int8_dir, capsys):
    fake = _recording_trtexec(tmp_path)
    out = tmp_path / "r.json"
    # the fp32 ONNX alone: refused, trtexec never started
    code = device_runner.main([str(onnx_model), "--runtime", "trtexec", "--trtexec", str(fake), "--precision", "int8",
                               "--runs", "5", "--out", str(out)])
    assert code == 2 and "calibrated model" in capsys.readouterr().err and not (tmp_path / "args.txt").exists()
    # the Q/DQ ONNX edgenas wrote carries its scales
    qdq = int8_dir / "rank01" / "model.int8.onnx"
    assert device_runner.has_qdq(str(qdq)) and not device_runner.has_qdq(str(onnx_model))
    code = device_runner.main([str(qdq), "--runtime", "trtexec", "--trtexec", str(fake), "--precision", "int8",
                               "--runs", "5", "--out", str(out)])
    assert code == 0
    args = (tmp_path / "args.txt").read_text().split()
    assert "--int8" in args and "--fp16" in args and not any(a.startswith("--calib") for a in args)
    # or the fp32 ONNX with a calibration cache
    cache = tmp_path / "calibration.cache"
    cache.write_text("TRT-100300-EntropyCalibration2\ninput: 3c010204\n")
    code = device_runner.main([str(onnx_model), "--runtime", "trtexec", "--trtexec", str(fake), "--precision", "int8",
                               "--calibration-cache", str(cache), "--runs", "5", "--out", str(out)])
    assert code == 0 and f"--calib={cache}" in (tmp_path / "args.txt").read_text().split()
