"""Reduced-precision ONNX from an fp32 export: int8 calibrated on the user's images, and fp16.

int8 is onnxruntime's static quantization (``onnxruntime.quantization.quantize_static``): QDQ format
(QuantizeLinear / DequantizeLinear pairs around each quantized op, which onnxruntime fuses into int8
kernels and TensorRT reads as explicit int8 scales), int8 weights with one scale per output channel,
uint8 activations with one scale per tensor (onnxruntime's recommended layout for x86 and ARM CPUs), and
activation ranges from the MinMax calibrator: the min and max of each tensor over the calibration images.
Calibration images come from the same loader as ``--data`` (:func:`edgenas.data.open_data`:
class folders, .npy or .npz), at most :data:`CALIBRATION_SAMPLES` of them (a seeded random subset when
there are more), fed as the loader gives them (float32 in [0, 1], NCHW), which must be what the model
was trained on.

fp16 converts initializers and compute to float16 with float32 inputs and outputs
(``onnxruntime.transformers.float16``), so a caller feeds the same arrays as to the fp32 model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ExportError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["CALIBRATION_METHOD", "CALIBRATION_SAMPLES", "TRT_CACHE_VERSION", "CalibrationSet", "OutputAgreement",
           "compare_onnx", "convert_fp16", "load_calibration", "quantize_int8", "run_onnx", "tensor_ranges",
           "write_trt_calibration_cache"]

log = logging.getLogger(__name__)

#: calibration images used at most (more add time, not accuracy, for MinMax ranges of a small CNN)
CALIBRATION_SAMPLES = 256
#: how activation ranges are found (see the module docstring)
CALIBRATION_METHOD = "minmax"


@dataclass(frozen=True)
class CalibrationSet:
    """Calibration inputs (N, C, H, W) float32 and where they came from (recorded in export.json).

    Attributes:
        images: the inputs fed to the calibrator.
        source: the path given by the user.
        n_available: images found there.
        sha256: SHA-256 of ``images`` (shape, then float32 bytes): the same inputs give the same hash.
    """

    images: Any
    source: str
    n_available: int
    sha256: str

    @property
    def n_samples(self) -> int:
        return int(self.images.shape[0])

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "n_samples": self.n_samples, "n_available": self.n_available,
                "sha256": self.sha256, "method": CALIBRATION_METHOD}


def load_calibration(path: Path | str, input_chw: tuple[int, ...], *, max_samples: int = CALIBRATION_SAMPLES,
                     seed: int = 0) -> CalibrationSet:
    """Calibration images from ``path`` (a class folder, .npy or .npz) checked against the model's (C, H, W).

    Raises:
        DatasetError: unreadable data (from the loader).
        ExportError: images of another shape than the model's input, or too few.
    """
    import numpy as np

    from ..data import open_data

    data = open_data(path)  # the one checked --data reader; only the chosen images are decoded
    shape = (data.channels, *data.size)
    if tuple(shape) != tuple(input_chw):
        raise ExportError(f"--calibration-data {str(path)!r} holds images of shape (C, H, W) "
                          f"{tuple(int(d) for d in shape)}; expected {tuple(input_chw)} (the model's input)")
    n = len(data)
    keep = np.arange(n)
    if n > max_samples:  # a seeded subset, in file order, so the same data and seed give the same set
        keep = np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))
    images = data.load(keep)
    if not np.all(np.isfinite(images)):
        raise ExportError(f"--calibration-data {str(path)!r} holds NaN or infinite values; expected finite images")
    images = np.ascontiguousarray(images, dtype=np.float32)
    h = hashlib.sha256(json.dumps(list(images.shape)).encode())
    h.update(images.tobytes())
    return CalibrationSet(images, str(path), n, h.hexdigest())


def _batches(images: Any, batch: int) -> list[Any]:
    """``images`` cut into whole batches of the model's static batch size (a last partial batch is
    padded by repeating its first images, so every image is seen)."""
    import numpy as np

    out = []
    for i in range(0, images.shape[0], batch):
        chunk = images[i:i + batch]
        if chunk.shape[0] < batch:
            chunk = np.concatenate([chunk, images[: batch - chunk.shape[0]]])
            while chunk.shape[0] < batch:  # fewer images than one batch
                chunk = np.concatenate([chunk, chunk[: batch - chunk.shape[0]]])
        out.append(np.ascontiguousarray(chunk))
    return out



def _reader(feeds: list[dict[str, Any]]) -> Any:
    """An onnxruntime calibration reader yielding ``feeds`` once."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._it, None)

    return Reader()

def _input_spec(path: Path) -> tuple[str, tuple[int, ...]]:
    from .onnx import input_shape_of

    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in proto.graph.initializer}
    name = next(i.name for i in proto.graph.input if i.name not in inits)
    shape = input_shape_of(path)
    if any(not isinstance(d, int) for d in shape):
        raise ExportError(f"{str(path)!r} has a dynamic input shape {list(shape)}; expected a static-shape export")
    return name, tuple(int(d) for d in shape)


def _copy_metadata(src: Path, dst: Path, extra: dict[str, str]) -> None:
    import onnx

    meta = {m.key: m.value for m in onnx.load(str(src), load_external_data=False).metadata_props}
    proto = onnx.load(str(dst))
    del proto.metadata_props[:]
    for k, v in {**meta, **extra}.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(dst))


def quantize_int8(fp32_path: Path | str, out_path: Path | str, calibration: CalibrationSet) -> Path:
    """Write the int8 (QDQ, per-channel weights, MinMax-calibrated) version of ``fp32_path`` to ``out_path``.

    The ONNX metadata is kept, plus ``precision`` = int8 and ``calibration`` (JSON of
    :meth:`CalibrationSet.describe`).

    Raises:
        ExportError: the model's input is not static, or onnxruntime fails to quantize it.
    """
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    name, shape = _input_spec(fp32_path)
    if tuple(calibration.images.shape[1:]) != shape[1:]:
        raise ExportError(f"calibration images have shape (C, H, W) {tuple(calibration.images.shape[1:])}; "
                          f"expected {shape[1:]}")
    feeds = [{name: b} for b in _batches(calibration.images, shape[0])]

    with tempfile.TemporaryDirectory(prefix="edgenas-quant-") as tmp:
        pre = Path(tmp) / "pre.onnx"
        try:
            # shape inference + graph optimisation before quantization, as onnxruntime recommends
            quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
            quantize_static(str(pre), str(out_path), _reader(feeds), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises assorted types; surface one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExportError(f"int8 quantization of {fp32_path.name} failed: {first}") from None
    _copy_metadata(fp32_path, out_path, {"precision": "int8",
                                         "calibration": json.dumps(calibration.describe(), sort_keys=True)})
    return out_path


def convert_fp16(fp32_path: Path | str, out_path: Path | str) -> Path:
    """Write the fp16 version of ``fp32_path`` (float16 weights and compute, float32 input and output)."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    try:
        proto = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"fp16 conversion of {fp32_path.name} failed: {first}") from None
    onnx.save(proto, str(out_path))
    _copy_metadata(fp32_path, out_path, {"precision": "fp16"})
    return out_path


@dataclass(frozen=True)
class OutputAgreement:
    """How a reduced-precision model's outputs compare with the fp32 model's on the same inputs.

    Attributes:
        max_abs: max |reduced - fp32| over all outputs (logit units).
        max_rel: ``max_abs`` / max |fp32|.
        top1_agreement: fraction of inputs whose arg-max class is the same.
        n_inputs: inputs compared.
    """

    max_abs: float
    max_rel: float
    top1_agreement: float
    n_inputs: int


def run_onnx(path: Path | str, images: Any, *, threads: int = 1) -> Any:
    """Outputs (N, classes) float32 of an ONNX model on ``images`` (N, C, H, W) with onnxruntime (CPU)."""
    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    batch = int(inp.shape[0])
    outs = []
    for chunk in _batches(images, batch):
        outs.append(np.asarray(sess.run(None, {inp.name: chunk})[0], dtype=np.float32))
    return np.concatenate(outs)[: images.shape[0]]


def compare_onnx(reduced: Path | str, fp32: Path | str, images: Any) -> OutputAgreement:
    """Outputs of ``reduced`` against ``fp32`` on ``images`` (N, C, H, W)."""
    import numpy as np

    a = run_onnx(reduced, images).astype(np.float64)
    b = run_onnx(fp32, images).astype(np.float64)
    max_abs = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(b))) or 1.0
    agree = float(np.mean(a.argmax(axis=1) == b.argmax(axis=1)))
    return OutputAgreement(max_abs, max_abs / scale, agree, int(images.shape[0]))


#: TensorRT version written in a calibration cache's header (JetPack 6's TensorRT)
TRT_CACHE_VERSION = "10.3.0"


def tensor_ranges(fp32_path: Path | str, calibration: CalibrationSet) -> dict[str, float]:
    """Max |value| of every float tensor of ``fp32_path`` over the calibration images (onnxruntime's
    MinMax calibrator; the same ranges :func:`quantize_int8` quantizes activations with)."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator

    name, shape = _input_spec(Path(fp32_path))
    feeds = [{name: b} for b in _batches(calibration.images, shape[0])]

    with tempfile.TemporaryDirectory(prefix="edgenas-calib-") as tmp:
        cal = create_calibrator(str(fp32_path), None, augmented_model_path=str(Path(tmp) / "augmented.onnx"),
                                calibrate_method=CalibrationMethod.MinMax)
        cal.collect_data(_reader(feeds))
        data = cal.compute_data()
    out = {}
    for key, rng in data.items():
        lo, hi = (float(abs(v).max()) for v in rng.range_value)
        out[key] = max(lo, hi)
    return out


def write_trt_calibration_cache(fp32_path: Path | str, out_path: Path | str, calibration: CalibrationSet, *,
                                trt_version: str = TRT_CACHE_VERSION) -> Path:
    """Write a TensorRT int8 calibration cache for ``fp32_path`` from the calibration images.

    TensorRT's text format: a header ``TRT-<version>-EntropyCalibration2`` (the calibrator trtexec's
    ``--calib`` reads it with), then one ``tensor: scale`` line per tensor, the scale (max |value| / 127)
    as the big-endian hex of its float32 bits. Tensor names are the ONNX value names, which TensorRT's
    ONNX parser keeps. Never checked against a real TensorRT here (none is installable).
    """
    import struct

    major, minor, patch = (int(p) for p in (trt_version.split(".") + ["0", "0"])[:3])
    code = major * 1000 + minor * 100 + patch if major < 10 else major * 10000 + minor * 100 + patch
    lines = [f"TRT-{code}-EntropyCalibration2"]
    for name, amax in sorted(tensor_ranges(fp32_path, calibration).items()):
        scale = max(amax, 1e-8) / 127.0
        lines.append(f"{name}: {struct.pack('>f', scale).hex()}")
    out_path = Path(out_path)
    out_path.write_text("\n".join(lines) + "\n")
    return out_path
