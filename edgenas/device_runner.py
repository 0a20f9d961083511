"""Device-side latency runner: one file, Python 3.6+ (JetPack 4.6) + numpy + the runtime, nothing else.

``edgenas validate --host`` and ``edgenas profile --host`` copy this file to the device and run it
there; it must therefore not import torch, click or any other part of edgenas, and it must keep
Python 3.6 syntax and semantics (JetPack 4.6: TX2, Nano; JetPack 5: 3.8; JetPack 6: 3.10).

Usage::

    python -m edgenas.device_runner MODEL.onnx --runs 100 --warmup 20 --threads 1 \
        --runtime onnxruntime --input input.npy --out result.json

Runtimes: ``onnxruntime`` (CPU EP, wall time per run), ``litert`` (a ``.tflite`` on the LiteRT
interpreter: ai-edge-litert, tflite-runtime or tensorflow.lite, whichever the device has; int8 input
and output tensors are quantized / dequantized with the model's own scales), ``trtexec`` (GPU compute time from
``--exportTimes``) and ``tensorrt`` (the TensorRT Python API: 8.2 with binding indices and
``execute_async_v2``, 8.5 / 8.6 / 10.x with named tensors and ``execute_async_v3``, 11.x strongly
typed; engine built from the ONNX or deserialized from ``--engine``, CUDA-event time of each
execution; device memory, streams and events come from the CUDA runtime library ``libcudart``
through ctypes, so no cuda-python / pycuda / torch is needed). ``--facts`` prints what the device
is (model, L4T / JetPack, runtime version, nvpmodel mode, CPU governor, whether clocks are pinned).

The result JSON holds per-run latencies (ms), their summary (p50/p90/p99/mean/std/cv) and the
model output for ``--input`` (for the host's parity check). Errors print one line on stderr and
exit 3 (missing runtime), 4 (disk full) or 2 (bad input).
"""

import argparse
import ctypes
import ctypes.util
import glob
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

#: what the runner times with (``--runtime``)
RUNTIMES = ("onnxruntime", "trtexec", "tensorrt", "litert")
EXIT_BAD_INPUT = 2
EXIT_MISSING_RUNTIME = 3


# Python 3.6 (JetPack 4.6) has neither time.perf_counter_ns nor time.thread_time_ns
_wall_ns = getattr(time, "perf_counter_ns", None) or (lambda: int(time.perf_counter() * 1e9))
_thread_ns = getattr(time, "thread_time_ns", None) or (lambda: int(time.process_time() * 1e9))


class RunnerError(Exception):
    """A one-line, user-facing runner failure with its exit code."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def summarize_ms(samples: Sequence[float]) -> Dict[str, float]:
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


def parse_trtexec_times(data: Any) -> List[float]:
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


def parse_trtexec_output(data: Any) -> Optional[List[float]]:
    """Flattened values of the first tensor in ``trtexec --exportOutput`` JSON, or None."""
    if isinstance(data, list) and data and isinstance(data[0], dict) and "values" in data[0]:
        return [float(v) for v in data[0]["values"]]
    return None


def _load_input(path: Optional[str], shape: Sequence[int], seed: int) -> Any:
    import numpy as np

    if path:
        x = np.load(path)
        if tuple(x.shape) != tuple(shape):
            raise RunnerError(f"input {path} has shape {tuple(x.shape)}; the model expects {tuple(shape)}")
        return x.astype(np.float32)
    return np.random.default_rng(seed).standard_normal(tuple(shape)).astype(np.float32)


def run_onnxruntime(model: str, runs: int, warmup: int, threads: int, input_path: Optional[str],
                    seed: int, reference: Optional[str] = None, kernels: bool = False) -> Dict[str, Any]:
    """Time ``runs`` single inferences of ``model`` with onnxruntime (CPU EP) after ``warmup`` runs.

    With ``reference`` (another ONNX model; 1 thread), every timed run of ``model`` is followed by
    a timed run of the reference, each after one untimed run of the same model (warm caches), and
    ``reference_ratio`` lists the per-pair ratios of thread CPU times: on a host whose speed
    drifts (shared VMs) the ratio repeats within ~2 % where the absolute time moves by 10-30 %.
    With ``kernels``, ``kernels`` counts the kernel types of the graph onnxruntime runs here
    (:func:`optimized_kernel_counts`), which the host's kernel latency model is fitted on.
    """
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
    def load(path: str) -> Any:
        try:
            return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise RunnerError(f"onnxruntime cannot load {path}: {first}") from None

    if reference is not None and threads != 1:
        raise RunnerError(f"--reference needs --threads 1 (got {threads}): pairing compares thread CPU times")
    sess = load(model)
    inp = sess.get_inputs()[0]
    shape = inp.shape
    if any(not isinstance(d, int) for d in shape):
        raise RunnerError(f"model input {inp.name!r} has a dynamic shape {shape}; export with static shapes")
    x = _load_input(input_path, shape, seed)
    feed = {inp.name: x}
    ref_sess, ref_feed = None, None
    if reference is not None:
        ref_sess = load(reference)
        ri = ref_sess.get_inputs()[0]
        if any(not isinstance(d, int) for d in ri.shape):
            raise RunnerError(f"reference input {ri.name!r} has a dynamic shape {ri.shape}")
        ref_feed = {ri.name: _load_input(None, ri.shape, seed)}
    for _ in range(warmup):
        sess.run(None, feed)
        if ref_sess is not None:
            ref_sess.run(None, ref_feed)
    times, cpu, ratios, ref_cpu = [], [], [], []
    for _ in range(runs):
        if ref_sess is not None:
            sess.run(None, feed)
        c0 = _thread_ns()
        t0 = _wall_ns()
        sess.run(None, feed)
        times.append((_wall_ns() - t0) / 1e6)
        cpu.append((_thread_ns() - c0) / 1e6)
        if ref_sess is not None:
            ref_sess.run(None, ref_feed)
            c0 = _thread_ns()
            ref_sess.run(None, ref_feed)
            ref_cpu.append((_thread_ns() - c0) / 1e6)
            if ref_cpu[-1] > 0:
                ratios.append(cpu[-1] / ref_cpu[-1])
    out = sess.run(None, feed)[0]
    paired = {"reference_ratio": ratios, "reference_cpu_ms": ref_cpu} if ref_sess is not None else {}
    if kernels:
        paired["kernels"] = optimized_kernel_counts(ort, model, threads)
    return {
        **paired,
        "latency_ms": times,
        # with one intra-op thread onnxruntime runs in this thread, so its CPU time leaves out the time the
        # run was preempted: a second, load-robust view on a shared machine (meaningless with more threads)
        "cpu_ms": cpu if threads == 1 else None,
        "output": out.astype("float64").ravel().tolist(),
        "input_shape": list(shape),
        "runtime_version": ort.__version__,
        "providers": sess.get_providers(),
    }


# --- LiteRT (.tflite) ---------------------------------------------------------------------------

def load_litert() -> Tuple[Any, str]:
    """(LiteRT ``Interpreter`` class, version): ai-edge-litert, else tflite-runtime (older boards, Python
    3.6+), else tensorflow.lite; RunnerError (exit 3) when none is installed."""
    import importlib

    for module, dist in (("ai_edge_litert.interpreter", "ai_edge_litert"), ("tflite_runtime.interpreter",
                                                                            "tflite_runtime"),
                         ("tensorflow.lite", "tensorflow")):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        top = importlib.import_module(dist)
        return mod.Interpreter, "{} {}".format(dist.replace("_", "-"), getattr(top, "__version__", "?"))
    raise RunnerError("the LiteRT interpreter is not installed on this device (pip install ai-edge-litert; "
                      "older boards: tflite-runtime)", EXIT_MISSING_RUNTIME)


def litert_to_input(x: Any, detail: Dict[str, Any]) -> Any:
    """``x`` as a LiteRT input tensor wants it: quantized with its scale / zero point when integer."""
    import numpy as np

    dtype = np.dtype(detail["dtype"])
    if dtype.kind in "iu":
        scale, zero = detail["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)
    return x.astype(dtype)


def litert_from_output(y: Any, detail: Dict[str, Any]) -> Any:
    """A LiteRT output tensor as float32 (dequantized when integer)."""
    import numpy as np

    if np.dtype(detail["dtype"]).kind in "iu":
        scale, zero = detail["quantization"]
        return ((y.astype(np.float32) - zero) * scale).astype(np.float32)
    return np.asarray(y, dtype=np.float32)


def run_litert(model: str, runs: int, warmup: int, threads: int, input_path: Optional[str],
               seed: int) -> Dict[str, Any]:
    """Time ``runs`` invocations of a ``.tflite`` with the LiteRT interpreter (its default CPU delegate,
    ``threads`` threads) after ``warmup``; an int8 model's input is quantized once, before timing."""
    try:
        import numpy as np  # noqa: F401
    except ImportError:
        raise RunnerError("numpy is not installed on this device (pip install numpy)", EXIT_MISSING_RUNTIME)
    interpreter, version = load_litert()
    try:
        it = interpreter(model_path=model, num_threads=threads)
        it.allocate_tensors()
    except Exception as exc:  # noqa: BLE001 - the interpreter raises ValueError / RuntimeError
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunnerError(f"LiteRT cannot load {model}: {first}") from None
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    shape = [int(d) for d in inp["shape"]]
    x = _load_input(input_path, shape, seed)
    it.set_tensor(inp["index"], litert_to_input(x, inp))
    for _ in range(warmup):
        it.invoke()
    times, cpu = [], []
    for _ in range(runs):
        c0 = _thread_ns()
        t0 = _wall_ns()
        it.invoke()
        times.append((_wall_ns() - t0) / 1e6)
        cpu.append((_thread_ns() - c0) / 1e6)
    y = litert_from_output(it.get_tensor(out["index"]), out)
    return {
        "latency_ms": times,
        "cpu_ms": cpu if threads == 1 else None,  # 1 thread: the interpreter runs in this thread
        "output": y.astype("float64").ravel().tolist(),
        "input_shape": shape,
        "input_dtype": str(np.dtype(inp["dtype"])),
        "runtime_version": version,
    }


# --- kernels of onnxruntime's optimized graph, read without the onnx package -------------------
# The runner must not need `onnx` (not on a bare Jetson / Pi image): a minimal reader of the protobuf
# wire format takes the few ModelProto fields kernel_key needs. Field numbers: onnx/onnx.proto3.
_ATTR_INT, _ATTR_STRING, _ATTR_INTS = 2, 3, 7


def _varint(buf: bytes, i: int) -> Tuple[int, int]:
    shift, value = 0, 0
    while True:
        if i >= len(buf) or shift > 63:
            raise RunnerError("malformed ONNX protobuf (truncated varint)")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> List[Tuple[int, int, Any]]:
    """(field number, wire type, value) of one protobuf message: ints for varints, bytes otherwise."""
    out = []
    i = 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise RunnerError("malformed ONNX protobuf (wire type {})".format(wire))
        if i > len(buf):
            raise RunnerError("malformed ONNX protobuf (truncated field)")
        out.append((field, wire, value))
    return out


def _int64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _ints(wire: int, value: Any) -> List[int]:
    if wire == 0:
        return [_int64(value)]
    out, i = [], 0  # packed repeated int64
    while i < len(value):
        v, i = _varint(value, i)
        out.append(_int64(v))
    return out


def _attribute(buf: bytes) -> Tuple[str, Any]:
    name, kind, i_val, s_val, ints = "", 0, 0, b"", []  # type: str, int, int, bytes, List[int]
    for field, wire, value in _fields(buf):
        if field == 1:
            name = value.decode("utf-8")
        elif field == 20:
            kind = value
        elif field == 3:
            i_val = _int64(value)
        elif field == 4:
            s_val = value
        elif field == 8:
            ints.extend(_ints(wire, value))
    if kind == _ATTR_INT:
        return name, i_val
    if kind == _ATTR_STRING:
        return name, s_val
    if kind == _ATTR_INTS:
        return name, ints
    return name, None  # floats, tensors, graphs: no kernel key reads them


def onnx_graph(model: bytes) -> Tuple[List[Dict[str, Any]], Dict[str, Tuple[int, ...]]]:
    """Nodes (``op_type``, ``inputs``, ``attrs``) and initializer shapes of a serialized ONNX model."""
    graph = b""
    for field, wire, value in _fields(model):
        if field == 7 and wire == 2:
            graph = value
    nodes, shapes = [], {}
    for field, wire, value in _fields(graph):
        if field == 1 and wire == 2:
            node = {"op_type": "", "inputs": [], "attrs": {}}  # type: Dict[str, Any]
            for f2, w2, v2 in _fields(value):
                if f2 == 1:
                    node["inputs"].append(v2.decode("utf-8"))
                elif f2 == 4:
                    node["op_type"] = v2.decode("utf-8")
                elif f2 == 5:
                    k, v = _attribute(v2)
                    node["attrs"][k] = v
            nodes.append(node)
        elif field == 5 and wire == 2:
            dims, name = [], ""  # type: List[int], str
            for f2, w2, v2 in _fields(value):
                if f2 == 1:
                    dims.extend(_ints(w2, v2))
                elif f2 == 8:
                    name = v2.decode("utf-8")
            shapes[name] = tuple(dims)
    return nodes, shapes


def kernel_key(op_type: str, attrs: Dict[str, Any], inputs: Sequence[str],
               weight_shapes: Optional[Dict[str, Tuple[int, ...]]] = None) -> str:
    """Kernel type of one node of onnxruntime's optimized graph (the one source of the key).

    Convolutions are keyed by kernel size, stride, groups, weight channels (out x in per group, as
    onnxruntime stores them, NCHWc-padded), fused activation and fused sum
    (``Conv-k3x3-s1-g1-c16x16+Relu+sum``); every other node by its op type (``ReorderInput``).
    """
    if op_type != "Conv":
        return str(op_type)
    ks = "x".join(str(int(k)) for k in (attrs.get("kernel_shape") or [])) or "auto"
    strides = attrs.get("strides") or [1]
    key = "Conv-k{}-s{}-g{}".format(ks, int(max(strides)), int(attrs.get("group") or 1))
    w = (weight_shapes or {}).get(inputs[1]) if len(inputs) > 1 else None
    if w is not None and len(w) >= 2:
        key += "-c{}x{}".format(int(w[0]), int(w[1]))
    act = attrs.get("activation")
    if act:
        key += "+" + (act.decode() if isinstance(act, bytes) else str(act))
    if len(inputs) > 3 and inputs[3]:
        key += "+sum"
    return key


def optimized_kernel_counts(ort: Any, model: Any, threads: int = 1) -> Dict[str, int]:
    """Counts of kernel types in the graph onnxruntime runs for ``model`` (a path or the serialized
    model) on this CPU (``ORT_ENABLE_ALL``, CPU execution provider)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    tmp = tempfile.mkdtemp(prefix="edgenas-kernels-")
    try:
        out = os.path.join(tmp, "optimized.onnx")
        so.optimized_model_filepath = out
        ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        with open(out, "rb") as f:
            nodes, shapes = onnx_graph(f.read())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    counts = {}  # type: Dict[str, int]
    for n in nodes:
        k = kernel_key(n["op_type"], n["attrs"], n["inputs"], shapes)
        counts[k] = counts.get(k, 0) + 1
    return counts


def has_qdq(model_path: str) -> bool:
    """Whether an ONNX file holds QuantizeLinear / DequantizeLinear nodes (explicit int8 scales)."""
    with open(model_path, "rb") as f:
        nodes, _ = onnx_graph(f.read())
    return any(n["op_type"] in ("QuantizeLinear", "DequantizeLinear") for n in nodes)


def run_trtexec(model: str, runs: int, warmup: int, input_path: Optional[str], seed: int,
                trtexec: str = "trtexec", precision: str = "fp32",
                calibration_cache: Optional[str] = None) -> Dict[str, Any]:
    """Time ``model`` with ``trtexec`` (GPU compute time per inference from ``--exportTimes``).

    int8 only when calibrated: ``model`` with Q/DQ nodes (``export --precision int8``), or a
    ``calibration_cache`` (``--calib``); never a bare ``--int8``.
    """
    if precision == "int8" and calibration_cache is None and not has_qdq(model):
        raise RunnerError("trtexec int8 needs a calibrated model: the Q/DQ model.int8.onnx of 'edgenas export "
                          "--precision int8 --calibration-data DIR', or --calibration-cache")
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
        if precision in ("fp16", "int8"):
            cmd.append("--fp16")  # TRT 10 flags; TRT 11 reads precision from the ONNX
        if precision == "int8":
            cmd.append("--int8")
            if calibration_cache is not None:
                cmd.append("--calib=" + calibration_cache)
        if input_path:
            import numpy as np

            raw = os.path.join(work, "input.bin")
            np.load(input_path).astype(np.float32).tofile(raw)
            cmd.append("--loadInputs=input:" + raw)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
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


# --- TensorRT Python API -------------------------------------------------------------------------

TRT_PRECISIONS = ("fp32", "fp16", "int8")


def load_tensorrt() -> Any:
    """The ``tensorrt`` module; RunnerError (exit 3) when it is missing or its libraries do not load."""
    try:
        import tensorrt  # type: ignore[import-not-found]
    except (ImportError, OSError) as exc:
        why = (str(exc).splitlines() or ["import failed"])[0]
        raise RunnerError(f"tensorrt (Python API) is not installed on this device ({why}); install TensorRT's "
                          "Python bindings, or use --runtime trtexec", EXIT_MISSING_RUNTIME) from None
    return tensorrt


def trt_major(trt: Any) -> int:
    """Major version of a tensorrt module; 11+ is strongly typed only."""
    try:
        return int(str(trt.__version__).split(".")[0])
    except (AttributeError, ValueError):
        # no parsable version: TRT 11 removed BuilderFlag.FP16, so its absence means 11+
        return 10 if hasattr(trt.BuilderFlag, "FP16") else 11


def trt_strongly_typed(trt: Any) -> bool:
    """True for TensorRT 11+ (weak typing removed): precision must already be in the ONNX."""
    return trt_major(trt) >= 11 or not hasattr(trt.BuilderFlag, "FP16")


def trt_build_plan(trt: Any, onnx_path: str, precision: str = "fp32", workspace_mib: int = 1024,
                   timing_cache: Optional[bytes] = None, logger: Any = None,
                   calibration: Any = None, cuda: Any = None) -> Tuple[bytes, Optional[bytes]]:
    """Build a serialized engine (plan) from an ONNX file with the TensorRT Python API.

    TensorRT 10: FP16 / INT8 through builder flags (INT8 scales from Q/DQ nodes). TensorRT 11: strongly
    typed, no precision flags. fp32 also clears TF32, so an "fp32" engine computes in fp32.

    Returns:
        (plan bytes, serialized timing cache or None when ``timing_cache`` is None).

    Raises:
        RunnerError: unknown precision, ONNX parse failure, build failure.
    """
    if precision not in TRT_PRECISIONS:
        raise RunnerError("unknown precision {!r}; expected one of {}".format(precision, ", ".join(TRT_PRECISIONS)))
    strongly_typed = trt_strongly_typed(trt)
    logger = logger if logger is not None else trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if trt_major(trt) < 10:  # TensorRT 8.x parses ONNX into explicit-batch networks only (10+: the only kind)
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    if strongly_typed and trt_major(trt) < 11:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)  # 11.x: strongly typed is implicit
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise RunnerError("TensorRT could not parse {!r}: {}".format(str(onnx_path),
                                                                     errors[0] if errors else "unknown error"))
    config = builder.create_builder_config()
    calibrator = None
    if hasattr(config, "set_memory_pool_limit"):  # TensorRT 8.4+
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    else:  # TensorRT 8.2 (JetPack 4.6)
        config.max_workspace_size = int(workspace_mib) << 20
    if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # TF32 is on by default and would miss the fp32 parity bound
    if not strongly_typed:
        if precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)
        if precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)  # scales from Q/DQ nodes, or from the calibrator
            if calibration is not None:
                shape = tuple(int(d) for d in network.get_input(0).shape)
                check_calibration(calibration, shape)
                calibrator = make_calibrator(trt, cuda, calibration, int(shape[0]))
                config.int8_calibrator = calibrator
    if timing_cache is not None:
        cache = config.create_timing_cache(timing_cache)
        config.set_timing_cache(cache, ignore_mismatch=False)
    try:
        plan = builder.build_serialized_network(network, config)
    finally:
        if calibrator is not None:
            calibrator.release()
    if plan is None:
        raise RunnerError(f"TensorRT engine build failed for {str(onnx_path)!r} (see the TensorRT log above)")
    cache_out = bytes(config.get_timing_cache().serialize()) if timing_cache is not None else None
    return bytes(plan), cache_out


def load_calibration(path: str) -> Any:
    """The float32 calibration inputs (N, C, H, W) in ``path`` (.npy)."""
    import numpy as np

    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise RunnerError("cannot read calibration data {}: {}".format(path, exc))
    if not np.issubdtype(x.dtype, np.floating) or not np.all(np.isfinite(x)) or x.ndim < 2 or x.shape[0] < 1:
        raise RunnerError("calibration data {} must be a non-empty (N, C, H, W) array of finite floats, got {} {}"
                          .format(path, x.dtype, tuple(x.shape)))
    return np.ascontiguousarray(x, dtype=np.float32)


def check_calibration(data: Any, shape: Sequence[int], path: str = "calibration data") -> None:
    """RunnerError unless ``data`` (N, ...) holds inputs of the model input ``shape`` (B, ...)."""
    if data.ndim != len(shape) or tuple(data.shape[1:]) != tuple(int(d) for d in shape[1:]):
        raise RunnerError("calibration data {} has shape {}; expected (N, {}) for the model input {}".format(
            path, tuple(data.shape), ", ".join(str(d) for d in shape[1:]), tuple(shape)))


def make_calibrator(trt: Any, cuda: Any, data: Any, batch: int, cache_path: Optional[str] = None) -> Any:
    """An ``IInt8EntropyCalibrator2`` feeding ``data`` (N, C, H, W) to the builder ``batch`` inputs at a time.

    Device memory comes from ``cuda`` (the ctypes CUDA runtime); the calibration cache is kept in
    ``cache_path`` when given, so a second build of the same model skips calibration.
    """
    import numpy as np

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.next = 0
            self.nbytes = int(np.prod(data.shape[1:], dtype=np.int64)) * 4 * batch
            self.ptr = cuda.malloc(self.nbytes)
            self.stream = cuda.stream_create()

        def get_batch_size(self) -> int:
            return batch

        def get_batch(self, names: Any, p_str: Any = None) -> Any:
            if self.next + batch > data.shape[0]:
                return None  # no more batches: calibration ends
            chunk = np.ascontiguousarray(data[self.next:self.next + batch])
            self.next += batch
            cuda.memcpy_htod(self.ptr, chunk, self.stream)
            cuda.stream_synchronize(self.stream)
            return [self.ptr]

        def read_calibration_cache(self) -> Any:
            if cache_path and os.path.isfile(cache_path):
                with open(cache_path, "rb") as f:
                    return f.read()
            return None

        def write_calibration_cache(self, cache: Any) -> None:
            if cache_path:
                with open(cache_path, "wb") as f:
                    f.write(bytes(cache))

        def release(self) -> None:
            if self.ptr is not None:
                cuda.free(self.ptr)
                cuda.stream_destroy(self.stream)
                self.ptr = None

    return Calibrator()


def _trt_nptype(trt: Any, dtype: Any) -> Any:
    import numpy as np

    if hasattr(trt, "nptype"):
        return np.dtype(trt.nptype(dtype))
    name = str(getattr(dtype, "name", dtype)).split(".")[-1].upper()
    table = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "INT64": np.int64,
             "BOOL": np.bool_, "UINT8": np.uint8}
    if name not in table:
        raise RunnerError(f"engine tensor type {name} is not supported by the runner")
    return np.dtype(table[name])


class CudaRuntime:
    """The few CUDA runtime calls the TensorRT timing loop needs, on ``libcudart`` through ctypes.

    TensorRT uses the same (primary) CUDA context as the runtime API, so no cuda-python / pycuda /
    torch is needed on the device. Every call is checked; a failure is a one-line RunnerError.
    """

    H2D = 1  # cudaMemcpyHostToDevice
    D2H = 2  # cudaMemcpyDeviceToHost

    def __init__(self, lib: Any, name: str = "libcudart") -> None:
        self._lib = lib
        self.name = name
        lib.cudaGetErrorString.restype = ctypes.c_char_p

    def _check(self, code: int, what: str) -> None:
        if code != 0:
            msg = self._lib.cudaGetErrorString(ctypes.c_int(code))
            text = msg.decode() if isinstance(msg, bytes) else str(msg)
            raise RunnerError(f"CUDA {what} failed: error {code} ({text})")

    def device_count(self) -> int:
        n = ctypes.c_int(0)
        self._check(self._lib.cudaGetDeviceCount(ctypes.byref(n)), "cudaGetDeviceCount")
        return int(n.value)

    def malloc(self, nbytes: int) -> int:
        ptr = ctypes.c_void_p()
        self._check(self._lib.cudaMalloc(ctypes.byref(ptr), ctypes.c_size_t(max(int(nbytes), 1))), "cudaMalloc")
        return int(ptr.value or 0)

    def free(self, ptr: int) -> None:
        self._check(self._lib.cudaFree(ctypes.c_void_p(ptr)), "cudaFree")

    def stream_create(self) -> int:
        s = ctypes.c_void_p()
        self._check(self._lib.cudaStreamCreate(ctypes.byref(s)), "cudaStreamCreate")
        return int(s.value or 0)

    def stream_destroy(self, stream: int) -> None:
        self._check(self._lib.cudaStreamDestroy(ctypes.c_void_p(stream)), "cudaStreamDestroy")

    def stream_synchronize(self, stream: int) -> None:
        self._check(self._lib.cudaStreamSynchronize(ctypes.c_void_p(stream)), "cudaStreamSynchronize")

    def memcpy_htod(self, dst: int, src: Any, stream: int) -> None:
        """Copy the C-contiguous numpy array ``src`` to device address ``dst`` (async on ``stream``)."""
        self._check(self._lib.cudaMemcpyAsync(ctypes.c_void_p(dst), ctypes.c_void_p(src.ctypes.data),
                                              ctypes.c_size_t(src.nbytes), ctypes.c_int(self.H2D),
                                              ctypes.c_void_p(stream)), "cudaMemcpyAsync (host to device)")

    def memcpy_dtoh(self, dst: Any, src: int, stream: int) -> None:
        """Copy ``dst.nbytes`` from device address ``src`` into the C-contiguous numpy array ``dst``."""
        self._check(self._lib.cudaMemcpyAsync(ctypes.c_void_p(dst.ctypes.data), ctypes.c_void_p(src),
                                              ctypes.c_size_t(dst.nbytes), ctypes.c_int(self.D2H),
                                              ctypes.c_void_p(stream)), "cudaMemcpyAsync (device to host)")

    def event_create(self) -> int:
        e = ctypes.c_void_p()
        self._check(self._lib.cudaEventCreate(ctypes.byref(e)), "cudaEventCreate")
        return int(e.value or 0)

    def event_destroy(self, event: int) -> None:
        self._check(self._lib.cudaEventDestroy(ctypes.c_void_p(event)), "cudaEventDestroy")

    def event_record(self, event: int, stream: int) -> None:
        self._check(self._lib.cudaEventRecord(ctypes.c_void_p(event), ctypes.c_void_p(stream)), "cudaEventRecord")

    def event_synchronize(self, event: int) -> None:
        self._check(self._lib.cudaEventSynchronize(ctypes.c_void_p(event)), "cudaEventSynchronize")

    def event_elapsed_ms(self, start: int, end: int) -> float:
        ms = ctypes.c_float(0.0)
        self._check(self._lib.cudaEventElapsedTime(ctypes.byref(ms), ctypes.c_void_p(start), ctypes.c_void_p(end)),
                    "cudaEventElapsedTime")
        return float(ms.value)


def _cudart_candidates(path: Optional[str]) -> List[str]:
    if path:
        return [path]
    out = [os.environ.get("EDGENAS_CUDART", ""), ctypes.util.find_library("cudart") or ""]
    out += ["libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"]
    # CUDA toolkit / JetPack install dirs (often not on the loader path) and the nvidia-cuda-runtime wheel
    out += sorted(glob.glob("/usr/local/cuda*/lib64/libcudart.so*"), reverse=True)
    out += sorted(glob.glob("/usr/local/cuda*/lib/libcudart.so*"), reverse=True)
    out += sorted(glob.glob("/usr/local/cuda*/targets/*/lib/libcudart.so*"), reverse=True)
    for entry in sys.path:
        out += sorted(glob.glob(os.path.join(entry, "nvidia", "cuda_runtime", "lib", "libcudart.so*")), reverse=True)
    return [c for c in out if c]


def load_cudart(path: Optional[str] = None) -> CudaRuntime:
    """The CUDA runtime library (``--cudart``, $EDGENAS_CUDART, the loader path, /usr/local/cuda*, wheels).

    Raises:
        RunnerError: (exit 3) no libcudart loads, or it sees no CUDA device.
    """
    for cand in _cudart_candidates(path):
        try:
            lib = ctypes.CDLL(cand)
        except OSError:
            continue
        rt = CudaRuntime(lib, cand)
        try:
            n = rt.device_count()
        except RunnerError as exc:
            raise RunnerError(f"{cand} loaded but sees no usable GPU: {exc}", EXIT_MISSING_RUNTIME) from None
        if n < 1:
            raise RunnerError(f"{cand} loaded but reports no CUDA device", EXIT_MISSING_RUNTIME)
        return rt
    where = path or "the loader path, $EDGENAS_CUDART or /usr/local/cuda*/lib64"
    raise RunnerError(f"CUDA runtime library (libcudart) not found in {where}; it is needed for --runtime tensorrt",
                      EXIT_MISSING_RUNTIME)


def run_tensorrt(model: str, runs: int, warmup: int, input_path: Optional[str], seed: int, precision: str = "fp32",
                 engine_path: Optional[str] = None, onnx_precision: Optional[str] = None, workspace_mib: int = 1024,
                 cudart: Optional[str] = None, trt: Any = None, cuda: Any = None,
                 calibration: Optional[str] = None) -> Dict[str, Any]:
    """Time ``model`` with the TensorRT Python API: ``warmup`` + ``runs`` ``execute_async_v3`` calls.

    The engine is deserialized from ``engine_path`` or built here from the ONNX (engines are not
    portable across GPUs / TensorRT versions, so the device builds its own). Input is copied once;
    each timed run is bracketed by CUDA events on the stream, so the time is GPU time of the
    inference without host-device copies (what trtexec calls GPU Compute Time).

    Args:
        onnx_precision: precision baked into the ONNX (host-side check); with TensorRT 11 it must
            equal ``precision``, since strongly typed builds cannot change it.
        trt, cuda: injected modules for tests; default: import tensorrt, load libcudart.
    """
    import numpy as np

    trt = trt if trt is not None else load_tensorrt()
    strongly_typed = trt_strongly_typed(trt)
    if strongly_typed and onnx_precision is not None and precision != onnx_precision:
        raise RunnerError(f"TensorRT {trt.__version__} is strongly typed: precision {precision} must be in the ONNX, which is {onnx_precision}; convert "
                          f"the ONNX (e.g. modelopt.onnx.autocast) or use --precision {onnx_precision}"
                          )
    cuda = cuda if cuda is not None else load_cudart(cudart)
    logger = trt.Logger(trt.Logger.WARNING)
    build_s = None
    if engine_path:
        with open(engine_path, "rb") as f:
            plan = f.read()
        source = "deserialized " + os.path.basename(engine_path)
    else:
        t0 = time.perf_counter()
        data = None
        if precision == "int8" and not strongly_typed and not has_qdq(model):  # Q/DQ: the scales are in the ONNX
            if calibration is None:
                raise RunnerError("--precision int8 needs --calibration-data (real inputs) unless the ONNX holds "
                                  "Q/DQ nodes with their scales")
            data = load_calibration(calibration)
        plan, _ = trt_build_plan(trt, model, precision=precision, workspace_mib=workspace_mib, logger=logger,
                                 calibration=data, cuda=cuda)
        build_s = time.perf_counter() - t0
        source = "built from the ONNX on this device"
    engine = trt.Runtime(logger).deserialize_cuda_engine(plan)
    if engine is None:
        raise RunnerError("TensorRT could not deserialize the engine{} (built by another TensorRT version or GPU?)"
                          .format(" " + engine_path if engine_path else ""))
    ctx = engine.create_execution_context()
    if ctx is None:
        raise RunnerError("TensorRT could not create an execution context (out of GPU memory?)")
    named = hasattr(engine, "num_io_tensors")  # TensorRT 8.5+: named I/O tensors; 8.2: binding indices
    tensors = []  # (name, is_input, shape, numpy dtype), in binding order
    for i in range(engine.num_io_tensors if named else engine.num_bindings):
        if named:
            name = engine.get_tensor_name(i)
            shape = tuple(int(d) for d in engine.get_tensor_shape(name))
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            dtype = engine.get_tensor_dtype(name)
        else:
            name = engine.get_binding_name(i)
            shape = tuple(int(d) for d in engine.get_binding_shape(i))
            is_input = bool(engine.binding_is_input(i))
            dtype = engine.get_binding_dtype(i)
        if any(d < 0 for d in shape):
            raise RunnerError(f"engine tensor {name!r} has a dynamic shape {list(shape)}; export with static shapes"
                              )
        tensors.append((name, is_input, shape, _trt_nptype(trt, dtype)))
    inputs = [t for t in tensors if t[1]]
    outputs = [t for t in tensors if not t[1]]
    if len(inputs) != 1 or not outputs:
        raise RunnerError(f"expected an engine with one input and at least one output, got {len(inputs)} and {len(outputs)}"
                          )
    in_name, _, in_shape, in_dtype = inputs[0]
    x = np.ascontiguousarray(_load_input(input_path, in_shape, seed).astype(in_dtype))
    out_name, _, out_shape, out_dtype = outputs[0]
    y = np.empty(out_shape, dtype=out_dtype)
    buffers = {}  # name -> device pointer
    events = []
    stream = cuda.stream_create()
    try:
        for name, _, shape, dtype in tensors:
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            buffers[name] = cuda.malloc(nbytes)
            if hasattr(ctx, "execute_async_v3") and ctx.set_tensor_address(name, buffers[name]) is False:
                raise RunnerError(f"TensorRT rejected the device address of tensor {name!r}")
        bindings = [buffers[t[0]] for t in tensors]  # execute_async_v2 takes the pointers in binding order
        cuda.memcpy_htod(buffers[in_name], x, stream)
        cuda.stream_synchronize(stream)
        start, end = cuda.event_create(), cuda.event_create()
        events += [start, end]

        def enqueue() -> None:
            if hasattr(ctx, "execute_async_v3"):  # TensorRT 8.5+
                ok = ctx.execute_async_v3(stream)
            else:  # TensorRT 8.2 (JetPack 4.6)
                ok = ctx.execute_async_v2(bindings=bindings, stream_handle=stream)
            if not ok:
                raise RunnerError("TensorRT execution failed (see the TensorRT log above)")

        for _ in range(warmup):
            enqueue()
        cuda.stream_synchronize(stream)
        times = []
        for _ in range(runs):
            cuda.event_record(start, stream)
            enqueue()
            cuda.event_record(end, stream)
            cuda.event_synchronize(end)  # one inference at a time: latency, not pipelined throughput
            times.append(cuda.event_elapsed_ms(start, end))
        cuda.memcpy_dtoh(y, buffers[out_name], stream)  # output of the last timed run (same input)
        cuda.stream_synchronize(stream)
    finally:
        for e in events:
            cuda.event_destroy(e)
        for ptr in buffers.values():
            cuda.free(ptr)
        cuda.stream_destroy(stream)
    return {
        "latency_ms": times,
        "output": y.astype("float64").ravel().tolist(),
        "input_shape": list(in_shape),
        "runtime_version": str(trt.__version__),
        "tensorrt": {"major": trt_major(trt), "strongly_typed": strongly_typed, "precision": precision,
                     "engine": source, "build_s": build_s, "cudart": getattr(cuda, "name", None),
                     "timing": "CUDA events around each execute_async_v3 or _v2 (GPU time, no host-device copies)"},
    }


# --- device facts ------------------------------------------------------------------------------

#: L4T release (major, minor) -> JetPack release it ships in (NVIDIA's JetPack archive)
JETPACK_OF_L4T = {(32, 5): "4.5", (32, 6): "4.6", (32, 7): "4.6.x", (34, 1): "5.0", (35, 1): "5.0.2",
                  (35, 2): "5.1", (35, 3): "5.1.1", (35, 4): "5.1.2", (35, 5): "5.1.3", (35, 6): "5.1.4",
                  (36, 2): "6.0 DP", (36, 3): "6.0", (36, 4): "6.1/6.2"}


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").replace("\x00", "").strip()
    except OSError:
        return None


def _cpu_model() -> Optional[str]:
    text = _read("/proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in text.splitlines():
            if line.split(":")[0].strip() == key and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def parse_l4t_release(text: Optional[str]) -> Optional[str]:
    """``"32.7.1"`` from ``/etc/nv_tegra_release`` (``# R32 (release), REVISION: 7.1, ...``), else None."""
    if not text:
        return None
    import re

    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    return "{}.{}".format(m.group(1), m.group(2)) if m else None


def jetpack_of(l4t: Optional[str]) -> Optional[str]:
    """The JetPack release of an L4T version string, or None when unknown."""
    if not l4t:
        return None
    try:
        major, minor = (int(x) for x in l4t.split(".")[:2])
    except ValueError:
        return None
    return JETPACK_OF_L4T.get((major, minor))


def parse_nvpmodel(text: Optional[str]) -> Optional[str]:
    """``"MAXN (0)"`` from ``nvpmodel -q`` output (``NV Power Mode: MAXN`` then the mode number)."""
    if not text:
        return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if line.startswith("NV Power Mode:"):
            name = line.split(":", 1)[1].strip()
            num = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].isdigit() else None
            return "{} ({})".format(name, num) if num is not None else name
    return None


def clock_state(root: str = "/sys") -> Dict[str, Any]:
    """CPU governor and whether CPU (and Jetson GPU) clocks are pinned (min == max frequency).

    ``locked`` is True when every frequency-scaled unit found has min == max (what ``jetson_clocks``
    sets), False when one does not, None when the system exposes no frequency scaling (VMs).
    """
    units = []  # (name, min, max)
    governors = set()
    for d in sorted(glob.glob(os.path.join(root, "devices/system/cpu/cpu[0-9]*/cpufreq"))):
        lo, hi = _read(os.path.join(d, "scaling_min_freq")), _read(os.path.join(d, "scaling_max_freq"))
        gov = _read(os.path.join(d, "scaling_governor"))
        if gov:
            governors.add(gov)
        if lo and hi:
            units.append((os.path.basename(os.path.dirname(d)), lo, hi))
    for d in sorted(glob.glob(os.path.join(root, "class/devfreq/*"))):
        name = os.path.basename(d)
        if any(g in name for g in ("gpu", "gp10b", "gv11b", "ga10b", "gm20b")):
            lo, hi = _read(os.path.join(d, "min_freq")), _read(os.path.join(d, "max_freq"))
            if lo and hi:
                units.append(("gpu", lo, hi))
    unlocked = [u[0] for u in units if u[1] != u[2]]
    return {"cpu_governor": ",".join(sorted(governors)) or None,
            "locked": (not unlocked) if units else None,
            "unlocked": unlocked[:4]}


def runtime_version(runtime: str, trtexec: str = "trtexec") -> str:
    """Version of ``runtime`` on this device; RunnerError (exit 3) when it is missing."""
    if runtime == "onnxruntime":
        try:
            import onnxruntime as ort
        except ImportError:
            raise RunnerError("onnxruntime is not installed on this device (pip install onnxruntime)",
                              EXIT_MISSING_RUNTIME)
        return str(ort.__version__)
    if runtime == "tensorrt":
        return str(load_tensorrt().__version__)
    if runtime == "litert":
        return load_litert()[1]
    exe = shutil.which(trtexec) or (trtexec if os.path.isfile(trtexec) else None)
    if exe is None and os.path.isfile("/usr/src/tensorrt/bin/trtexec"):
        exe = "/usr/src/tensorrt/bin/trtexec"
    if exe is None:
        raise RunnerError("trtexec not found on this device (PATH or /usr/src/tensorrt/bin)", EXIT_MISSING_RUNTIME)
    import re

    try:
        proc = subprocess.run([exe, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=60, check=False)
        m = re.search(r"TensorRT v(\d+)", proc.stdout)
    except (OSError, subprocess.TimeoutExpired):
        m = None
    if m is None:
        return "unknown"
    return trt_version_string(int(m.group(1)))


def trt_version_string(code: int) -> str:
    """``8502`` -> ``"8.5.2"`` (TensorRT 8.x: M*1000 + m*100 + p), ``100300`` -> ``"10.3.0"`` (M*10000 + ...)."""
    major = code // 1000 if code < 10000 else code // 10000
    rest = code % 1000 if code < 10000 else code % 10000
    return "{}.{}.{}".format(major, rest // 100, rest % 100)


def device_facts(runtime: str, trtexec: str = "trtexec") -> Dict[str, Any]:
    """What the table header records about the device: model, L4T / JetPack, runtime, power mode, clocks."""
    model = _read("/proc/device-tree/model") or _read("/sys/devices/virtual/dmi/id/product_name")
    l4t = parse_l4t_release(_read("/etc/nv_tegra_release"))
    nvp = None
    exe = shutil.which("nvpmodel")
    if exe:
        try:
            proc = subprocess.run([exe, "-q"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, timeout=30, check=False)
            nvp = parse_nvpmodel(proc.stdout)
        except (OSError, subprocess.TimeoutExpired):
            nvp = None
    clocks = clock_state()
    return {"host": platform.node(), "model": model, "cpu_model": _cpu_model(), "machine": platform.machine(),
            "os": platform.platform(), "python": platform.python_version(), "l4t": l4t, "jetpack": jetpack_of(l4t),
            "runtime": runtime, "runtime_version": runtime_version(runtime, trtexec), "nvpmodel": nvp,
            "cpu_governor": clocks["cpu_governor"], "clocks_locked": clocks["locked"],
            "unlocked_clocks": clocks["unlocked"]}


def _emit(res: Dict[str, Any], out: str) -> None:
    if out == "-":
        sys.stdout.write(json.dumps(res) + "\n")  # one line: the host reads it over ssh
        sys.stdout.flush()
        return
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f)
    os.replace(tmp, out)  # never leave a half-written result


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edgenas.device_runner", description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", default=None, help="path of the .onnx model (--runtime litert: the .tflite)")
    p.add_argument("--facts", action="store_true",
                   help="print the device facts (model, L4T, runtime version, power mode, clocks) instead of timing")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=20, help="warm-up runs (onnxruntime, tensorrt) or ms (trtexec)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runtime", choices=RUNTIMES, default="onnxruntime")
    p.add_argument("--input", default=None, help=".npy input (default: standard normal, --seed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32",
                   help="tensorrt / trtexec engine precision; int8 (tensorrt) calibrates on --calibration-data")
    p.add_argument("--calibration-data", default=None,
                   help="tensorrt, int8: .npy (N, C, H, W) of real inputs for the entropy calibrator")
    p.add_argument("--calibration-cache", default=None,
                   help="trtexec, int8: TensorRT calibration cache (--calib) for an fp32 ONNX")
    p.add_argument("--trtexec", default="trtexec")
    p.add_argument("--engine", default=None, help="tensorrt: serialized engine to load instead of building one")
    p.add_argument("--onnx-precision", choices=TRT_PRECISIONS, default=None,
                   help="tensorrt: precision baked into the ONNX (checked against --precision on TensorRT 11)")
    p.add_argument("--workspace-mib", type=int, default=1024, help="tensorrt: builder workspace limit")
    p.add_argument("--cudart", default=None, help="tensorrt: path of libcudart (default: search)")
    p.add_argument("--reference", default=None,
                   help="onnxruntime, 1 thread: ONNX model timed right after every timed run (paired timing)")
    p.add_argument("--kernels", action="store_true",
                   help="onnxruntime: also report the kernel types of the optimized graph (counts)")
    p.add_argument("--out", required=True, help="result JSON path ('-': one line on stdout)")
    a = p.parse_args(argv)
    try:
        if a.runs < 1 or a.warmup < 0 or a.threads < 1:
            raise RunnerError("--runs and --threads must be >= 1 and --warmup >= 0")
        if a.facts:
            _emit(device_facts(a.runtime, a.trtexec), a.out)
            return 0
        if a.model is None:
            raise RunnerError("expected the .onnx model to time (or --facts)")
        if not os.path.isfile(a.model):
            raise RunnerError(f"model file not found: {a.model}")
        if a.engine is not None and not os.path.isfile(a.engine):
            raise RunnerError(f"engine file not found: {a.engine}")
        if a.reference is not None and (a.runtime != "onnxruntime" or not os.path.isfile(a.reference)):
            raise RunnerError(f"--reference {a.reference}: needs --runtime onnxruntime and an existing file")
        if a.kernels and a.runtime != "onnxruntime":
            raise RunnerError("--kernels reads onnxruntime's optimized graph; expected --runtime onnxruntime")
        if a.precision == "int8" and a.runtime not in ("tensorrt", "trtexec"):
            raise RunnerError("--precision int8 is for --runtime tensorrt / trtexec engines (onnxruntime and litert "
                              "run the precision the model file holds)")
        if a.calibration_cache is not None and (a.runtime != "trtexec" or not os.path.isfile(a.calibration_cache)):
            raise RunnerError(f"--calibration-cache {a.calibration_cache}: needs --runtime trtexec and an existing file")
        if a.calibration_data is not None and not os.path.isfile(a.calibration_data):
            raise RunnerError(f"calibration data not found: {a.calibration_data}")
        if a.runtime == "litert":
            res = run_litert(a.model, a.runs, a.warmup, a.threads, a.input, a.seed)
        elif a.runtime == "onnxruntime":
            res = run_onnxruntime(a.model, a.runs, a.warmup, a.threads, a.input, a.seed, a.reference, a.kernels)
        elif a.runtime == "tensorrt":
            res = run_tensorrt(a.model, a.runs, a.warmup, a.input, a.seed, a.precision, a.engine, a.onnx_precision,
                               a.workspace_mib, a.cudart, calibration=a.calibration_data)
        else:
            res = run_trtexec(a.model, a.runs, a.warmup, a.input, a.seed, a.trtexec, a.precision,
                              a.calibration_cache)
        res.update({
            "runtime": a.runtime, "runs": a.runs, "warmup": a.warmup, "threads": a.threads,
            "summary_ms": summarize_ms(res["latency_ms"]),
            "summary_cpu_ms": summarize_ms(res["cpu_ms"]) if res.get("cpu_ms") else None,
            "host": platform.node(), "machine": platform.machine(), "python": platform.python_version(),
        })
        _emit(res, a.out)
    except RunnerError as exc:
        sys.stderr.write(f"device_runner: error: {exc}\n")
        return exc.code
    except Exception as exc:
        if os.environ.get("EDGENAS_DEBUG") == "1":
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        sys.stderr.write(f"device_runner: error: {a.runtime} failed: {type(exc).__name__}: {first}\n")
        if isinstance(exc, OSError) and exc.errno == 28:
            return 4  # ENOSPC: the device's disk is full
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
