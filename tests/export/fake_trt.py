"""Fakes of the narrow TensorRT and CUDA-runtime surface edgenas uses (neither can be installed here).

``fake_trt`` covers the builder calls (flags, workspace, timing cache, parse/build failures) and the
runtime calls (deserialize, name-based I/O tensors, ``set_tensor_address``, ``execute_async_v3``).
Versions below 8.5 get TensorRT 8.2's surface instead (JetPack 4.6): binding indices
(``num_bindings``, ``get_binding_*``, ``execute_async_v2(bindings, stream_handle)``) and
``config.max_workspace_size``; below 10 the ONNX parser refuses a network without the
EXPLICIT_BATCH flag, as TensorRT 8 does.
The fake engine really computes: ``execute_async_v3`` reads the input bytes from the fake device
memory at the address bound to the input tensor, runs the ONNX with onnxruntime and writes the
output bytes to the output tensor's address. Wrong bindings, sizes or copies therefore show up as a
parity failure, not as a silently passing test. ``FakeCuda`` keeps device memory as bytearrays and
a clock per stream that each inference advances by a known amount, so measured latencies are exact.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable

import numpy as np

PLAN_MAGIC = b"FAKEPLAN "


def plan_header(plan: bytes) -> dict:
    """The JSON header of a fake plan: the ONNX path it was built from and the builder flags."""
    assert plan.startswith(PLAN_MAGIC)
    return json.loads(plan[len(PLAN_MAGIC):].split(b"\n", 1)[0])


def kernel_ms(k: int) -> float:
    """Simulated GPU time (ms) of the k-th inference on a FakeCuda (k counts from 0, warm-up included)."""
    return 0.5 + 0.01 * (k % 7)


class FakeCuda:
    """The CudaRuntime interface of edgenas.device_runner, in host memory; records every call."""

    name = "fake-libcudart"

    def __init__(self, kernel_time: Callable[[int], float] = kernel_ms) -> None:
        self.kernel_time = kernel_time
        self.mem: dict[int, bytearray] = {}
        self.streams: dict[int, float] = {}  # stream -> its clock (ms)
        self.events: dict[int, float | None] = {}
        self.n_kernels = 0
        self.calls: list[tuple] = []
        self._next = 0x10000

    def _handle(self) -> int:
        self._next += 0x1000
        return self._next

    def malloc(self, nbytes: int) -> int:
        ptr = self._handle()
        self._next += nbytes
        self.mem[ptr] = bytearray(nbytes)
        self.calls.append(("malloc", nbytes))
        return ptr

    def free(self, ptr: int) -> None:
        del self.mem[ptr]  # KeyError on a double free or a foreign pointer

    def stream_create(self) -> int:
        s = self._handle()
        self.streams[s] = 0.0
        return s

    def stream_destroy(self, stream: int) -> None:
        del self.streams[stream]

    def stream_synchronize(self, stream: int) -> None:
        assert stream in self.streams
        self.calls.append(("sync", stream))

    def memcpy_htod(self, dst: int, src: np.ndarray, stream: int) -> None:
        buf = self.mem[dst]
        assert src.flags["C_CONTIGUOUS"] and src.nbytes == len(buf), (src.nbytes, len(buf))
        buf[:] = src.tobytes()
        self.calls.append(("htod", dst, src.nbytes))

    def memcpy_dtoh(self, dst: np.ndarray, src: int, stream: int) -> None:
        buf = self.mem[src]
        assert dst.nbytes == len(buf), (dst.nbytes, len(buf))
        dst[...] = np.frombuffer(bytes(buf), dtype=dst.dtype).reshape(dst.shape)
        self.calls.append(("dtoh", src, dst.nbytes))

    def event_create(self) -> int:
        e = self._handle()
        self.events[e] = None
        return e

    def event_destroy(self, event: int) -> None:
        del self.events[event]

    def event_record(self, event: int, stream: int) -> None:
        self.events[event] = self.streams[stream]

    def event_synchronize(self, event: int) -> None:
        assert self.events[event] is not None, "synchronized on an event that was never recorded"

    def event_elapsed_ms(self, start: int, end: int) -> float:
        return float(self.events[end] - self.events[start])

    def run_kernel(self, stream: int) -> None:
        self.streams[stream] += self.kernel_time(self.n_kernels)
        self.n_kernels += 1


def fake_trt(version: str, *, parse_ok: bool = True, build_ok: bool = True, execute_ok: bool = True,
             cuda: FakeCuda | None = None) -> types.ModuleType:
    """Module with the TensorRT surface edgenas uses; records builder/runtime calls in ``trt.calls``."""
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    calls: list[tuple] = []
    trt.calls = calls
    major = int(version.split(".")[0])
    minor = int(version.split(".")[1])
    bindings_api = (major, minor) < (8, 5)
    flags = {"TF32": "TF32"} if major >= 11 else {"FP16": "FP16", "INT8": "INT8", "TF32": "TF32"}
    trt.BuilderFlag = types.SimpleNamespace(**flags)
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace(EXPLICIT_BATCH=0, STRONGLY_TYPED=5)
    trt.TensorIOMode = types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")
    trt.DataType = types.SimpleNamespace(FLOAT="FLOAT", HALF="HALF")
    trt.nptype = lambda dt: {"FLOAT": np.float32, "HALF": np.float16}[dt]

    class IInt8EntropyCalibrator2:
        def __init__(self):
            pass

    trt.IInt8EntropyCalibrator2 = IInt8EntropyCalibrator2

    class Logger:
        WARNING = "W"

        def __init__(self, level):
            calls.append(("logger", level))

    class Cache:
        def __init__(self, blob):
            self.blob = blob

        def serialize(self):
            return self.blob + b"+timed"

    class Config:
        cache = None

        def __init__(self):
            self.flags = {"TF32"}  # TensorRT's default

        def set_memory_pool_limit(self, pool, size):
            calls.append(("pool", pool, size))

        def __setattr__(self, name, value):
            if name == "max_workspace_size":
                calls.append(("max_workspace_size", value))
            object.__setattr__(self, name, value)

        def __getattribute__(self, name):
            if name == "set_memory_pool_limit" and bindings_api:
                raise AttributeError(name)  # TensorRT 8.2 has max_workspace_size only
            return object.__getattribute__(self, name)

        def set_flag(self, flag):
            self.flags.add(flag)
            calls.append(("flag", flag))

        def clear_flag(self, flag):
            self.flags.discard(flag)
            calls.append(("clear_flag", flag))

        def create_timing_cache(self, blob):
            calls.append(("cache_in", bytes(blob)))
            return Cache(bytes(blob))

        def set_timing_cache(self, cache, ignore_mismatch):
            self.cache = cache

        def get_timing_cache(self):
            return self.cache

    class Network:
        onnx: str | None = None
        explicit_batch = True

        def get_input(self, k):
            import onnxruntime as ort

            shape = ort.InferenceSession(self.onnx, providers=["CPUExecutionProvider"]).get_inputs()[0].shape
            return types.SimpleNamespace(name="input", shape=tuple(shape))

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            calls.append(("network", flags))
            net = Network()
            net.explicit_batch = major >= 10 or bool(flags & 1)
            return net

        def create_builder_config(self):
            return Config()

        def build_serialized_network(self, network, config):
            calls.append(("build", network.onnx))
            cal = getattr(config, "int8_calibrator", None)
            if cal is not None:  # entropy calibration: read every batch the calibrator hands over
                assert isinstance(cal, trt.IInt8EntropyCalibrator2) and "INT8" in config.flags
                n = cal.get_batch_size()
                shape = network.get_input(0).shape
                while True:
                    ptrs = cal.get_batch(["input"])
                    if ptrs is None:
                        break
                    x = np.frombuffer(bytes(cuda.mem[ptrs[0]]), dtype=np.float32).reshape((n, *shape[1:]))
                    calls.append(("calibration_batch", float(x.sum())))
                cal.write_calibration_cache(b"fake-cache")
            if not build_ok:
                return None
            # like a real plan, it carries the model itself (the ONNX file may move after the build)
            with open(network.onnx, "rb") as f:
                model = f.read()
            header = json.dumps({"onnx": network.onnx, "flags": sorted(config.flags)}).encode()
            return PLAN_MAGIC + header + b"\n" + model

    class OnnxParser:
        num_errors = 0 if parse_ok else 1

        def __init__(self, network, logger):
            self.network = network

        def parse_from_file(self, path):
            calls.append(("parse", path))
            self.network.onnx = path
            if not self.network.explicit_batch:
                self.num_errors = 1
                self.error = "Network must have the explicit batch flag set (TensorRT 8 ONNX parser)"
                return False
            return parse_ok

        error = "Unsupported ONNX op FancyOp"

        def get_error(self, i):
            return self.error

    class Context:
        def __init__(self, engine):
            self.engine = engine
            self.addresses: dict[str, int] = {}

        def set_tensor_address(self, name, ptr):
            calls.append(("set_tensor_address", name, ptr))
            if name not in self.engine.names:
                return False
            self.addresses[name] = ptr
            return True

        def __getattribute__(self, name):
            if name in ("execute_async_v3", "set_tensor_address") and bindings_api:
                raise AttributeError(name)
            if name == "execute_async_v2" and not bindings_api:
                raise AttributeError(name)
            return object.__getattribute__(self, name)

        def execute_async_v2(self, bindings, stream_handle):
            calls.append(("execute_v2", tuple(bindings)))
            assert len(bindings) == len(self.engine.names), "one device pointer per binding"
            self.addresses = dict(zip(self.engine.names, bindings))
            return self._execute(stream_handle)

        def execute_async_v3(self, stream):
            return self._execute(stream)

        def _execute(self, stream):
            assert cuda is not None, "fake_trt(cuda=...) is needed to execute"
            if not execute_ok:
                return False
            assert set(self.addresses) == set(self.engine.names), "execute before every tensor had an address"
            e = self.engine
            x = np.frombuffer(bytes(cuda.mem[self.addresses[e.names[0]]]), dtype=np.float32).reshape(e.shapes[0])
            y = e.session.run(None, {e.names[0]: x})[0].astype(np.float32)
            out = cuda.mem[self.addresses[e.names[1]]]
            out[:] = y.tobytes()  # bytearray slice assignment fails loudly on a size mismatch
            cuda.run_kernel(stream)
            calls.append(("execute", stream))
            return True

    class Engine:
        """Two I/O tensors taken from the ONNX the plan was built from; kernels = onnxruntime."""

        def __init__(self, onnx_bytes):
            import onnxruntime as ort

            self.session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
            i, o = self.session.get_inputs()[0], self.session.get_outputs()[0]
            self.names = [i.name, o.name]
            self.shapes = [tuple(i.shape), tuple(o.shape)]
            if not bindings_api:
                self.num_io_tensors = 2
            else:
                self.num_bindings = 2

        def get_binding_name(self, k):
            return self.names[k]

        def binding_is_input(self, k):
            return k == 0

        def get_binding_shape(self, k):
            return list(self.shapes[k])

        def get_binding_dtype(self, k):
            return trt.DataType.FLOAT

        def get_tensor_name(self, k):
            return self.names[k]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name == self.names[0] else trt.TensorIOMode.OUTPUT

        def get_tensor_shape(self, name):
            return list(self.shapes[self.names.index(name)])

        def get_tensor_dtype(self, name):
            return trt.DataType.FLOAT

        def create_execution_context(self):
            return Context(self)

    class Runtime:
        def __init__(self, logger):
            pass

        def deserialize_cuda_engine(self, plan):
            plan = bytes(plan)
            calls.append(("deserialize", len(plan)))
            if not plan.startswith(PLAN_MAGIC):
                return None  # what TensorRT does with a plan from another version / GPU
            return Engine(plan.split(b"\n", 1)[1])

    trt.Logger, trt.Builder, trt.OnnxParser, trt.Runtime = Logger, Builder, OnnxParser, Runtime
    return trt
