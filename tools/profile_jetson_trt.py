"""Measure NB201 latencies on a Jetson (or any NVIDIA GPU) with TensorRT, into an edgenas arch table.

NOT RUN IN THIS PROJECT'S CI OR ON ITS DEVELOPMENT MACHINES: they have no GPU and TensorRT cannot be
installed there. The script is written against the documented TensorRT 10 and 11 Python APIs and
``trtexec``; treat it as a recipe to run on the device and report issues.

What it does, per sampled arch (seeded, official NB201 index):
  1. builds the edgenas NB201 network, exports ONNX (opset 17, batch 1, fixed shape);
  2. builds an engine and times it, either
     * ``--backend trtexec`` (default; JetPack ships it at /usr/src/tensorrt/bin/trtexec):
       ``trtexec --onnx=m.onnx --warmUp=500 --iterations=N --duration=0 --useCudaGraph
       --noDataTransfers --exportTimes=t.json [--fp16 on TRT 10 only]`` and parses per-run latency
       from t.json (per-inference records; the ``latencyMs`` field name is from NVIDIA's docs and
       not verified here); or
     * ``--backend python``: TensorRT Python API, ``execute_async_v3`` + stream sync, timed with
       ``time.perf_counter_ns`` (warm-up, then N runs).
  3. writes ``index,<column>`` rows with the median in ms and a JSON header (device, JetPack/L4T
     release, TRT version, power mode, clocks) loadable by ``edgenas.hardware.tables``.

TensorRT 10 vs 11:
  * TRT 10 (JetPack 6 on Orin, what Jetsons run): ``--precision fp16`` sets ``BuilderFlag.FP16``
    (python) or passes ``--fp16`` (trtexec).
  * TRT 11 (desktop ``pip install tensorrt``): weak typing is gone (no ``BuilderFlag.FP16``, no
    ``--fp16``); networks are strongly typed, so fp16 must be in the ONNX itself. This script then
    exports the model after ``model.half()`` with fp16 input.
  The version is detected from ``tensorrt.__version__`` or ``trtexec`` output.

Before measuring on a Jetson: ``sudo nvpmodel -m 0 && sudo jetson_clocks`` (record it with
``--power-mode``), close other GPU users, keep the board cool. After measuring, add the file to
``targets/<device>.yaml`` under ``tables:`` and check it with::

    python tools/bench_latency.py --out benchmarks/results/latency_<device>.json

Usage (on the device, with edgenas installed):
    python tools/profile_jetson_trt.py --space nb201 --dataset cifar10 --archs 300 \\
        --column orin_nano --device "Jetson Orin Nano 8GB" --power-mode "nvpmodel -m 0 + jetson_clocks" \\
        --out latency_tables/nb201_cifar10_orin_nano.csv
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np


def _trt_major_python() -> int:
    import tensorrt as trt

    return int(trt.__version__.split(".")[0])


def _export(space, arch, dataset: str, path: Path, fp16_in_graph: bool) -> None:
    import torch

    ds = space.dataset(dataset)
    model = space.build_model(arch, dataset).eval()
    x = torch.zeros((1, *ds.input_shape))
    if fp16_in_graph:
        model, x = model.half(), x.half()
    with torch.no_grad():
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17, input_names=["x"],
                          output_names=["y"])


def _time_trtexec(onnx: Path, runs: int, fp16: bool, trtexec: str, trt_major: int) -> np.ndarray:
    times = onnx.with_suffix(".times.json")
    cmd = [trtexec, f"--onnx={onnx}", "--warmUp=500", f"--iterations={runs}", "--duration=0", "--useCudaGraph",
           "--noDataTransfers", f"--exportTimes={times}"]
    if fp16 and trt_major < 11:
        cmd.append("--fp16")  # TRT 11 removed it: precision comes from the (fp16) ONNX
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    data = json.loads(times.read_text())
    return np.array([r["latencyMs"] for r in data], dtype=np.float64)


def _time_python(onnx: Path, input_shape: tuple[int, ...], runs: int, fp16: bool) -> np.ndarray:
    import tensorrt as trt
    import torch  # CUDA buffers via torch keeps this script free of pycuda

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx.read_bytes()):
        raise RuntimeError("; ".join(str(parser.get_error(i)) for i in range(parser.num_errors)))
    config = builder.create_builder_config()
    if fp16 and major < 11:
        config.set_flag(trt.BuilderFlag.FP16)
    plan = builder.build_serialized_network(network, config)
    engine = trt.Runtime(logger).deserialize_cuda_engine(plan)
    ctx = engine.create_execution_context()
    dtype = torch.float16 if (fp16 and major >= 11) else torch.float32
    x = torch.zeros(input_shape, dtype=dtype, device="cuda")
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    out_name = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
    y = torch.empty(tuple(engine.get_tensor_shape(out_name)), dtype=dtype, device="cuda")
    ctx.set_tensor_address(names[0], x.data_ptr())
    ctx.set_tensor_address(out_name, y.data_ptr())
    stream = torch.cuda.Stream()
    for _ in range(50):
        ctx.execute_async_v3(stream.cuda_stream)
    stream.synchronize()
    t = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter_ns()
        ctx.execute_async_v3(stream.cuda_stream)
        stream.synchronize()
        t[i] = (time.perf_counter_ns() - t0) / 1e6
    return t


def main() -> None:
    from edgenas.spaces import get_space

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="nb201")
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--archs", type=int, default=300, help="random archs to measure (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--precision", choices=["fp32", "fp16"], default="fp16")
    ap.add_argument("--backend", choices=["trtexec", "python"], default="trtexec")
    ap.add_argument("--trtexec", default=shutil.which("trtexec") or "/usr/src/tensorrt/bin/trtexec")
    ap.add_argument("--column", default="jetson")
    ap.add_argument("--device", default="NVIDIA Jetson (fill in the model)")
    ap.add_argument("--power-mode", default=None, help="e.g. 'nvpmodel -m 0 + jetson_clocks'")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()

    space = get_space(a.space)
    fp16 = a.precision == "fp16"
    if a.backend == "python":
        trt_major = _trt_major_python()
        version = __import__("tensorrt").__version__
    else:
        head = subprocess.run([a.trtexec, "--help"], check=False, capture_output=True, text=True).stdout
        m = re.search(r"TensorRT v(\d+)", head)  # e.g. "[TensorRT v100300]" = 10.3.0
        trt_major = int(m.group(1)) // 10000 if m else 10
        version = m.group(1) if m else "unknown"
    rng = np.random.default_rng(a.seed)
    picked = sorted(set(rng.choice(space.size, size=min(a.archs, space.size), replace=False).tolist()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, idx in enumerate(picked):
            arch = space.from_index(int(idx))
            onnx = Path(tmp) / "m.onnx"
            _export(space, arch, a.dataset, onnx, fp16_in_graph=fp16 and trt_major >= 11)
            if a.backend == "trtexec":
                t = _time_trtexec(onnx, a.runs, fp16, a.trtexec, trt_major)
            else:
                t = _time_python(onnx, (1, *space.dataset(a.dataset).input_shape), a.runs, fp16)
            rows.append((int(idx), float(np.median(t)), float(np.percentile(t, 90))))
            print(f"[{n + 1}/{len(picked)}] {idx}: median {rows[-1][1]:.3f} ms, p90 {rows[-1][2]:.3f} ms", flush=True)
    l4t = Path("/etc/nv_tegra_release")
    meta = {
        "schema_version": 1, "kind": "arch_latency", "space": space.name, "dataset": a.dataset, "units": "ms",
        "rows": len(rows),
        "columns": {a.column: {"device": a.device, "runtime": "tensorrt", "precision": a.precision, "batch": 1}},
        "source": f"tools/profile_jetson_trt.py ({a.backend}, TensorRT {version}, median of {a.runs} runs)",
        "license": "CC0 (measured by the user)", "power_mode": a.power_mode,
        "l4t_release": l4t.read_text().splitlines()[0] if l4t.is_file() else None,
        "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "p90_ms": {str(i): p for i, _m, p in rows},
    }
    tmp_out = a.out.with_suffix(".tmp")
    with tmp_out.open("w") as fh:
        fh.write("# " + json.dumps(meta) + "\n")
        fh.write(f"index,{a.column}\n")
        for idx, med, _p in rows:
            fh.write(f"{idx},{med:.7g}\n")
    tmp_out.replace(a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
