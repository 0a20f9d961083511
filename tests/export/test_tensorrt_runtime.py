"""``--runtime tensorrt``: the device runner's TensorRT timing loop against fake tensorrt + CUDA runtime.

Neither TensorRT nor a GPU exists here; the fakes (tests/export/fake_trt.py) compute real outputs
through onnxruntime and advance a simulated stream clock, so these tests check engine load, I/O
binding, the warm-up / timing loop, clean-up and the result JSON, not TensorRT's numbers.
"""

from __future__ import annotations

import ctypes
import json
import sys

import numpy as np
import pytest

from edgenas import device_runner
from edgenas.device_runner import CudaRuntime, RunnerError, run_tensorrt
from edgenas.errors import ValidationError
from edgenas.export.validate import validate_model

from .fake_trt import FakeCuda, fake_trt, kernel_ms


def _ort_output(onnx_model, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_model), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("version, strongly_typed", [("8.2.1", False), ("8.5.2", False), ("8.6.2", False),
                                                     ("10.3.0", False), ("11.4.0", True)])
def test_timing_loop_binds_io_and_times_each_run(onnx_model, version, strongly_typed):
    cuda = FakeCuda()
    trt = fake_trt(version, cuda=cuda)
    res = run_tensorrt(str(onnx_model), runs=6, warmup=4, input_path=None, seed=3, trt=trt, cuda=cuda)
    # warm-up runs are executed but not timed; each timed run is exactly one inference
    assert cuda.n_kernels == 4 + 6
    assert res["latency_ms"] == pytest.approx([kernel_ms(k) for k in range(4, 10)])
    x = np.random.default_rng(3).standard_normal((1, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(res["output"], _ort_output(onnx_model, x).ravel(), rtol=1e-6, atol=1e-6)
    if version.startswith("8.2"):  # JetPack 4.6: binding indices and execute_async_v2
        v2 = [c[1] for c in trt.calls if c[0] == "execute_v2"]
        assert len(v2) == 10 and len(set(v2)) == 1
        ptrs = list(v2[0])
        assert ("max_workspace_size", 1024 << 20) in trt.calls
    else:
        bound = [c for c in trt.calls if c[0] == "set_tensor_address"]
        assert [c[1] for c in bound] == ["input", "logits"]
        ptrs = [c[2] for c in bound]
    assert ptrs[0] != ptrs[1]
    assert ("htod", ptrs[0], 3 * 32 * 32 * 4) in cuda.calls and ("dtoh", ptrs[1], 10 * 4) in cuda.calls
    network_flags = next(c[1] for c in trt.calls if c[0] == "network")
    assert bool(network_flags & 1) is version.startswith("8.")  # EXPLICIT_BATCH on TensorRT 8
    assert cuda.mem == {} and cuda.streams == {} and cuda.events == {}  # everything released
    info = res["tensorrt"]
    assert info["strongly_typed"] is strongly_typed and info["major"] == int(version.split(".")[0])
    assert info["engine"].startswith("built") and ("parse", str(onnx_model)) in trt.calls
    assert ("clear_flag", "TF32") in trt.calls and res["runtime_version"] == version
    assert res["input_shape"] == [1, 3, 32, 32]


def test_runner_main_tensorrt_writes_result(tmp_path, onnx_model, monkeypatch):
    cuda = FakeCuda()
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.3.0", cuda=cuda))
    monkeypatch.setattr(device_runner, "load_cudart", lambda path=None: cuda)
    out = tmp_path / "r.json"
    code = device_runner.main([str(onnx_model), "--runtime", "tensorrt", "--runs", "9", "--warmup", "2",
                               "--out", str(out)])
    assert code == 0
    res = json.loads(out.read_text())
    assert res["runtime"] == "tensorrt" and len(res["latency_ms"]) == 9
    assert res["summary_ms"]["p50"] == pytest.approx(float(np.median([kernel_ms(k) for k in range(2, 11)])))
    assert len(res["output"]) == 10


def test_engine_file_is_deserialized_not_rebuilt(tmp_path, onnx_model):
    from edgenas.export.tensorrt import build_engine

    build_engine(onnx_model, tmp_path / "model.engine", trt=fake_trt("10.3.0"))
    cuda = FakeCuda()
    trt = fake_trt("10.3.0", cuda=cuda)
    res = run_tensorrt(str(onnx_model), runs=2, warmup=0, input_path=None, seed=0,
                       engine_path=str(tmp_path / "model.engine"), trt=trt, cuda=cuda)
    assert res["tensorrt"]["engine"] == "deserialized model.engine" and res["tensorrt"]["build_s"] is None
    assert not [c for c in trt.calls if c[0] in ("parse", "build")]


def test_foreign_engine_is_one_clear_error(tmp_path, onnx_model):
    bad = tmp_path / "model.engine"
    bad.write_bytes(b"\x00plan of another TensorRT version")
    cuda = FakeCuda()
    with pytest.raises(RunnerError, match="could not deserialize"):
        run_tensorrt(str(onnx_model), runs=2, warmup=0, input_path=None, seed=0, engine_path=str(bad),
                     trt=fake_trt("10.3.0", cuda=cuda), cuda=cuda)
    assert cuda.mem == {} and cuda.streams == {}


def test_failed_execute_releases_device_memory(onnx_model):
    cuda = FakeCuda()
    with pytest.raises(RunnerError, match="execution failed"):
        run_tensorrt(str(onnx_model), runs=3, warmup=1, input_path=None, seed=0,
                     trt=fake_trt("10.3.0", cuda=cuda, execute_ok=False), cuda=cuda)
    assert cuda.mem == {} and cuda.streams == {} and cuda.events == {}


def test_trt11_cannot_change_precision(onnx_model, monkeypatch):
    def no_cuda(path=None):
        raise AssertionError("the precision check must come before touching the GPU")

    monkeypatch.setattr(device_runner, "load_cudart", no_cuda)
    with pytest.raises(RunnerError, match="strongly typed: precision fp16 must be in the ONNX, which is fp32"):
        run_tensorrt(str(onnx_model), runs=2, warmup=0, input_path=None, seed=0, precision="fp16",
                     onnx_precision="fp32", trt=fake_trt("11.4.0"))


def test_trt10_fp16_sets_the_builder_flag(onnx_model):
    cuda = FakeCuda()
    trt = fake_trt("10.3.0", cuda=cuda)
    res = run_tensorrt(str(onnx_model), runs=1, warmup=0, input_path=None, seed=0, precision="fp16",
                       onnx_precision="fp32", trt=trt, cuda=cuda)
    assert ("flag", "FP16") in trt.calls and ("clear_flag", "TF32") not in trt.calls
    assert res["tensorrt"]["precision"] == "fp16"


def test_missing_tensorrt_or_cudart_exit_3_one_line(tmp_path, onnx_model, monkeypatch, capsys):
    out = tmp_path / "r.json"
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    assert device_runner.main([str(onnx_model), "--runtime", "tensorrt", "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tensorrt (Python API) is not installed" in err
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.3.0"))
    assert device_runner.main([str(onnx_model), "--runtime", "tensorrt", "--cudart", str(tmp_path / "libcudart.so"),
                               "--out", str(out)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "libcudart" in err and str(tmp_path) in err
    assert not out.exists() and not list(tmp_path.iterdir())


class _FakeLibcudart:
    """The C ABI of the few libcudart functions CudaRuntime calls; pointers arrive as ctypes byref()."""

    def __init__(self, fail: str | None = None):
        self.fail = fail
        self.freed = []

    def __getattr__(self, fn):
        def call(*args):
            if fn == self.fail:
                return 2  # cudaErrorMemoryAllocation
            if fn in ("cudaMalloc", "cudaStreamCreate", "cudaEventCreate"):
                args[0]._obj.value = 0xABC000
            elif fn == "cudaGetDeviceCount":
                args[0]._obj.value = 1
            elif fn == "cudaEventElapsedTime":
                args[0]._obj.value = 0.25
            elif fn == "cudaFree":
                self.freed.append(args[0].value)
            return 0

        if fn == "cudaGetErrorString":
            return lambda code: b"out of memory"
        return call


def test_cuda_runtime_wrapper_passes_pointers_and_checks_errors():
    rt = CudaRuntime(_FakeLibcudart())
    assert rt.device_count() == 1 and rt.malloc(64) == 0xABC000 and rt.event_create() == 0xABC000
    assert rt.event_elapsed_ms(1, 2) == pytest.approx(0.25)
    rt.free(0xABC000)
    assert rt._lib.freed == [0xABC000]
    x = np.zeros(4, dtype=np.float32)
    rt.memcpy_htod(0xABC000, x, 0)  # host pointer from numpy, size in bytes
    with pytest.raises(RunnerError, match=r"CUDA cudaMalloc failed: error 2 \(out of memory\)"):
        CudaRuntime(_FakeLibcudart(fail="cudaMalloc")).malloc(64)
    assert isinstance(ctypes.c_void_p(0xABC000).value, int)


def test_validate_model_tensorrt_end_to_end(onnx_model, monkeypatch):
    cuda = FakeCuda()
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.3.0", cuda=cuda))
    monkeypatch.setattr(device_runner, "load_cudart", lambda path=None: cuda)
    r = validate_model(onnx_model, target="cpu", runtime="tensorrt", runs=5, warmup=1)
    assert r.runtime == "tensorrt" and r.runtime_version == "10.3.0" and r.precision == "fp32"
    assert r.parity_ok and r.parity_reference == "torch" and r.parity_max_abs < 1e-4
    assert r.measured_ms["p50"] == pytest.approx(float(np.median([kernel_ms(k) for k in range(1, 6)])))
    assert r.runtime_details["engine"].startswith("built")


def test_validate_uses_exported_engine_and_its_precision(tmp_path, monkeypatch):
    from edgenas.export.bundle import export_bundle
    from edgenas.export.sources import Candidate
    from edgenas.spaces import get_space

    from .conftest import ARCHS

    space = get_space("nb201")
    out = tmp_path / "exp"
    export_bundle([Candidate(space.parse(ARCHS[1]), 1)], space=space, dataset="cifar10", out_dir=out,
                  fmt="tensorrt", precision="fp16", trt=fake_trt("10.3.0"))
    model = out / "rank01" / "model.onnx"
    assert (out / "rank01" / "model.engine").is_file()
    cuda = FakeCuda()
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt("10.3.0", cuda=cuda))
    monkeypatch.setattr(device_runner, "load_cudart", lambda path=None: cuda)
    with pytest.raises(ValidationError, match="was built for fp16, not fp32; pass --precision fp16"):
        validate_model(model, target="cpu", runtime="tensorrt", runs=2, warmup=0)
    r = validate_model(model, target="cpu", runtime="tensorrt", precision="fp16", runs=2, warmup=0)
    assert r.runtime_details["engine"] == "deserialized model.engine" and r.parity_ok


def test_unexpected_runtime_exception_is_one_line(tmp_path, onnx_model, monkeypatch, capsys):
    trt = fake_trt("10.3.0", cuda=FakeCuda())

    def broken_runtime(logger):
        raise TypeError("deserialize_cuda_engine(): incompatible function arguments")

    trt.Runtime = broken_runtime
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(device_runner, "load_cudart", lambda path=None: FakeCuda())
    monkeypatch.delenv("EDGENAS_DEBUG", raising=False)
    out = tmp_path / "r.json"
    assert device_runner.main([str(onnx_model), "--runtime", "tensorrt", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == ("device_runner: error: tensorrt failed: TypeError: deserialize_cuda_engine(): "
                   "incompatible function arguments\n")
    assert not out.exists()


def _real_cudart():
    """(CudaRuntime, None) when libcudart sees a GPU, (None, RunnerError) when it loads without one; else skip."""
    import ctypes as ct

    if not any(_loads(ct, c) for c in device_runner._cudart_candidates(None)):
        pytest.skip("no libcudart on this machine")
    try:
        return device_runner.load_cudart(), None
    except RunnerError as exc:
        return None, exc


def _loads(ct, path):
    try:
        ct.CDLL(path)
    except OSError:
        return False
    return True


def test_real_libcudart_without_gpu_is_one_clear_error():
    # the ctypes bindings against the real library: cudaGetDeviceCount + cudaGetErrorString
    rt, err = _real_cudart()
    if rt is not None:
        pytest.skip("this machine has a usable GPU")
    assert err.code == device_runner.EXIT_MISSING_RUNTIME
    assert "libcudart" in str(err) and ("no usable GPU" in str(err) or "no CUDA device" in str(err))
    assert "\n" not in str(err)


@pytest.mark.gpu
def test_real_libcudart_roundtrip_and_events():
    rt, err = _real_cudart()
    if rt is None:
        pytest.skip(f"no usable GPU: {err}")
    x = np.arange(1024, dtype=np.float32)
    y = np.zeros_like(x)
    stream = rt.stream_create()
    ptr = rt.malloc(x.nbytes)
    start, end = rt.event_create(), rt.event_create()
    try:
        rt.event_record(start, stream)
        rt.memcpy_htod(ptr, x, stream)
        rt.memcpy_dtoh(y, ptr, stream)
        rt.event_record(end, stream)
        rt.event_synchronize(end)
        rt.stream_synchronize(stream)
        assert rt.event_elapsed_ms(start, end) >= 0.0
    finally:
        rt.event_destroy(start)
        rt.event_destroy(end)
        rt.free(ptr)
        rt.stream_destroy(stream)
    np.testing.assert_array_equal(x, y)


@pytest.mark.gpu
@pytest.mark.tensorrt
def test_real_tensorrt_validate(onnx_model):
    # only where TensorRT and a GPU exist (never on the machines this project was built on)
    r = validate_model(onnx_model, target="cpu", runtime="tensorrt", runs=50, warmup=10)
    assert r.runtime == "tensorrt" and r.measured_ms["p50"] > 0
    assert r.parity_ok, (r.parity_max_abs, r.parity_max_rel)
    assert r.runtime_details["engine"].startswith("built")


def test_int8_calibrates_on_the_given_inputs(tmp_path, onnx_model):
    cuda = FakeCuda()
    trt = fake_trt("8.6.1", cuda=cuda)
    data = np.random.default_rng(0).standard_normal((5, 3, 32, 32)).astype(np.float32)
    path = tmp_path / "calibration.npy"
    np.save(path, data)
    res = run_tensorrt(str(onnx_model), runs=3, warmup=1, input_path=None, seed=0, precision="int8", trt=trt,
                       cuda=cuda, calibration=str(path))
    batches = [c[1] for c in trt.calls if c[0] == "calibration_batch"]
    assert batches == pytest.approx([float(x.sum()) for x in data], rel=1e-5)  # every input, in order, once
    assert ("flag", "INT8") in trt.calls and len(res["latency_ms"]) == 3
    assert cuda.mem == {} and cuda.streams == {}  # calibration buffers released too
    with pytest.raises(RunnerError, match="needs --calibration-data"):
        run_tensorrt(str(onnx_model), runs=1, warmup=0, input_path=None, seed=0, precision="int8",
                     trt=fake_trt("8.6.1", cuda=FakeCuda()), cuda=FakeCuda())
    np.save(path, data[:, :, :16])
    with pytest.raises(RunnerError, match="expected \\(N, 3, 32, 32\\)"):
        run_tensorrt(str(onnx_model), runs=1, warmup=0, input_path=None, seed=0, precision="int8",
                     trt=fake_trt("8.6.1", cuda=FakeCuda()), cuda=FakeCuda(), calibration=str(path))


def test_runner_refuses_int8_without_tensorrt(tmp_path, onnx_model):
    code = device_runner.main([str(onnx_model), "--runtime", "trtexec", "--precision", "int8",
                               "--out", str(tmp_path / "r.json")])
    assert code == 2 and not (tmp_path / "r.json").exists()
