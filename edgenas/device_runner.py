"""Device-side latency runner: one file, Python 3.8 + numpy + the runtime, nothing else.

``edgenas validate --host`` copies this file to the device and runs it there; it must therefore
not import torch, click or any other part of edgenas, and it must keep Python 3.8 syntax.

Usage::

    python -m edgenas.device_runner MODEL.onnx --runs 100 --warmup 20 --threads 1 \
        --runtime onnxruntime --input input.npy --out result.json

The result JSON holds per-run latencies (ms), their summary (p50/p90/p99/mean/std/cv) and the
model output for ``--input`` (for the host's parity check). Errors print one line on stderr and
exit 3 (missing runtime) or 2 (bad input).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

EXIT_BAD_INPUT = 2
EXIT_MISSING_RUNTIME = 3


class RunnerError(Exception):
    """A one-line, user-facing runner failure with its exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def summarize_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 (linear interpolation), mean, std and coefficient of variation of ``samples`` (ms)."""
    import numpy as np

    x = np.asarray(list(samples), dtype=np.float64)
    if x.size == 0:
        raise RunnerError("no latency samples to summarize")
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    return {
        "p50": float(np.percentile(x, 50)),
        "p90": float(np.percentile(x, 90)),
        "p99": float(np.percentile(x, 99)),
        "min": float(x.min()),
        "mean": mean,
        "std": std,
        "cv": std / mean if mean > 0 else 0.0,
        "n": int(x.size),
    }


def parse_trtexec_times(data: Any) -> list[float]:
    """GPU compute time (ms) per inference from ``trtexec --exportTimes`` JSON.

    Accepts the parsed JSON list (one object per inference). Uses ``computeMs`` when present
    (older trtexec) and ``endComputeMs - startComputeMs`` otherwise (newer trtexec).

    Raises:
        RunnerError: if the data is not such a list or holds no compute times.
    """
    if not isinstance(data, list):
        raise RunnerError("trtexec times: expected a JSON list of per-inference objects")
    out = []  # type: List[float]
    for i, rec in enumerate(data):
        if not isinstance(rec, dict):
            raise RunnerError(f"trtexec times: entry {i} is not an object")
        if "computeMs" in rec:
            value = float(rec["computeMs"])
        elif "startComputeMs" in rec and "endComputeMs" in rec:
            value = float(rec["endComputeMs"]) - float(rec["startComputeMs"])
        else:
            raise RunnerError(f"trtexec times: entry {i} has neither computeMs nor start/endComputeMs")
        if not value >= 0.0:
            raise RunnerError(f"trtexec times: entry {i} has a negative or NaN compute time {value!r}")
        out.append(value)
    if not out:
        raise RunnerError("trtexec times: no inferences recorded")
    return out


def parse_trtexec_output(data: Any) -> list[float] | None:
    """Flattened values of the first tensor in ``trtexec --exportOutput`` JSON, or None."""
    if isinstance(data, list) and data and isinstance(data[0], dict) and "values" in data[0]:
        return [float(v) for v in data[0]["values"]]
    return None


def _load_input(path: str | None, shape: Sequence[int], seed: int) -> Any:
    import numpy as np

    if path:
        x = np.load(path)
        if tuple(x.shape) != tuple(shape):
            raise RunnerError(f"input {path} has shape {tuple(x.shape)}; the model expects {tuple(shape)}")
        return x.astype(np.float32)
    return np.random.default_rng(seed).standard_normal(tuple(shape)).astype(np.float32)


def run_onnxruntime(model: str, runs: int, warmup: int, threads: int, input_path: str | None,
                    seed: int) -> dict[str, Any]:
    """Time ``runs`` single inferences of ``model`` with onnxruntime (CPU EP) after ``warmup`` runs."""
    try:
        import numpy as np  # noqa: F401
    except ImportError:
        raise RunnerError("numpy is not installed on this device (pip install numpy)", EXIT_MISSING_RUNTIME)
    try:
        import onnxruntime as ort
    except ImportError:
        raise RunnerError("onnxruntime is not installed on this device (pip install onnxruntime)",
                          EXIT_MISSING_RUNTIME)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads  # fixed, so numbers are comparable across runs and devices
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise RunnerError(f"onnxruntime cannot load {model}: {first}") from None
    inp = sess.get_inputs()[0]
    shape = inp.shape
    if any(not isinstance(d, int) for d in shape):
        raise RunnerError(f"model input {inp.name!r} has a dynamic shape {shape}; export with static shapes")
    x = _load_input(input_path, shape, seed)
    feed = {inp.name: x}
    for _ in range(warmup):
        sess.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        sess.run(None, feed)
        times.append((time.perf_counter_ns() - t0) / 1e6)
    out = sess.run(None, feed)[0]
    return {
        "latency_ms": times,
        "output": out.astype("float64").ravel().tolist(),
        "input_shape": list(shape),
        "runtime_version": ort.__version__,
        "providers": sess.get_providers(),
    }


def run_trtexec(model: str, runs: int, warmup: int, input_path: str | None, seed: int,
                trtexec: str = "trtexec", precision: str = "fp32") -> dict[str, Any]:
    """Time ``model`` with ``trtexec`` (GPU compute time per inference from ``--exportTimes``)."""
    exe = shutil.which(trtexec) or (trtexec if os.path.isfile(trtexec) else None)
    if exe is None and os.path.isfile("/usr/src/tensorrt/bin/trtexec"):
        exe = "/usr/src/tensorrt/bin/trtexec"  # JetPack's usual location
    if exe is None:
        raise RunnerError("trtexec not found on this device (PATH or /usr/src/tensorrt/bin)", EXIT_MISSING_RUNTIME)
    work = tempfile.mkdtemp(prefix="edgenas-trtexec-")
    try:
        times_path = os.path.join(work, "times.json")
        out_path = os.path.join(work, "output.json")
        cmd = [exe, "--onnx=" + model, f"--iterations={runs}", f"--warmUp={max(warmup, 0)}",
               "--duration=0", "--exportTimes=" + times_path, "--exportOutput=" + out_path]
        if precision == "fp16":
            cmd.append("--fp16")  # TRT 10 flag; TRT 11 reads precision from the ONNX
        if input_path:
            import numpy as np

            raw = os.path.join(work, "input.bin")
            np.load(input_path).astype(np.float32).tofile(raw)
            cmd.append("--loadInputs=input:" + raw)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if proc.returncode != 0:
            tail = [ln for ln in proc.stdout.splitlines() if ln.strip()][-1:] or ["(no output)"]
            raise RunnerError(f"trtexec failed (exit {proc.returncode}): {tail[0]}")
        with open(times_path) as f:
            times = parse_trtexec_times(json.load(f))
        output = None
        if os.path.exists(out_path):
            with open(out_path) as f:
                output = parse_trtexec_output(json.load(f))
        return {"latency_ms": times, "output": output, "runtime_version": None, "command": cmd}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edgenas.device_runner", description=__doc__.splitlines()[0])
    p.add_argument("model", help="path of the .onnx model")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20, help="warm-up runs (onnxruntime) or ms (trtexec)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runtime", choices=("onnxruntime", "trtexec"), default="onnxruntime")
    p.add_argument("--input", default=None, help=".npy input (default: standard normal, --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32")
    p.add_argument("--trtexec", default="trtexec")
    p.add_argument("--out", required=True, help="result JSON path")
    a = p.parse_args(argv)
    try:
        if a.runs < 1 or a.warmup < 0 or a.threads < 1:
            raise RunnerError("--runs and --threads must be >= 1 and --warmup >= 0")
        if not os.path.isfile(a.model):
            raise RunnerError(f"model file not found: {a.model}")
        if a.runtime == "onnxruntime":
            res = run_onnxruntime(a.model, a.runs, a.warmup, a.threads, a.input, a.seed)
        else:
            res = run_trtexec(a.model, a.runs, a.warmup, a.input, a.seed, a.trtexec, a.precision)
        res.update({
            "runtime": a.runtime, "runs": a.runs, "warmup": a.warmup, "threads": a.threads,
            "summary_ms": summarize_ms(res["latency_ms"]),
            "host": platform.node(), "machine": platform.machine(), "python": platform.python_version(),
        })
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(res, f)
        os.replace(tmp, a.out)  # never leave a half-written result
    except RunnerError as exc:
        sys.stderr.write(f"device_runner: error: {exc}\n")
        return exc.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
