"""TensorRT engine build (Python API) for TensorRT 10 (weakly typed, builder flags) and 11 (strongly typed).

The module takes the ``tensorrt`` module as an argument (``trt=``), so tests inject a fake with the
same narrow surface: ``__version__``, ``Logger``, ``Builder``, ``OnnxParser``, ``BuilderFlag``,
``MemoryPoolType``, ``NetworkDefinitionCreationFlag``. The builder calls themselves live in
:func:`edgenas.device_runner.trt_build_plan`, shared with the device runner, which builds engines on
the device for ``validate --runtime tensorrt``. Without TensorRT, :func:`trtexec_commands` gives the
exact command to build and time the engine on the device. An engine is never faked.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .._io import atomic_write_bytes
from ..device_runner import RunnerError, trt_build_plan, trt_major, trt_strongly_typed
from ..errors import DependencyError, ExportError

__all__ = ["EngineBuild", "build_engine", "load_tensorrt", "onnx_precision", "trt_major", "trtexec_commands"]

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class EngineBuild:
    """A built engine: path, TensorRT version, precision, whether a timing cache was reused."""

    path: Path
    trt_version: str
    precision: str
    strongly_typed: bool
    timing_cache_reused: bool
    size_bytes: int


def load_tensorrt() -> ModuleType | None:
    """The ``tensorrt`` module, or None when it is not installed (or its libraries do not load)."""
    try:
        import tensorrt  # type: ignore[import-not-found]
    except (ImportError, OSError) as exc:
        log.info("tensorrt unavailable: %s", exc)
        return None
    return tensorrt


def onnx_precision(onnx_path: Path | str) -> str:
    """Precision baked into an ONNX file: "int8" (Q/DQ nodes), "fp16" (fp16 initializers) or "fp32"."""
    import onnx

    proto = onnx.load(str(onnx_path), load_external_data=False)
    ops = {n.op_type for n in proto.graph.node}
    if {"QuantizeLinear", "DequantizeLinear"} & ops:
        return "int8"
    if any(i.data_type == onnx.TensorProto.FLOAT16 for i in proto.graph.initializer):
        return "fp16"
    return "fp32"


def build_engine(
    onnx_path: Path | str, engine_path: Path | str, *, precision: str = "fp32", workspace_mib: int = 1024,
    timing_cache: Path | str | None = None, trt: Any = None,
) -> EngineBuild:
    """Build a serialized TensorRT engine from an ONNX file.

    TensorRT 10: precision via builder flags (FP16; INT8 from the Q/DQ nodes that ``export --precision
    int8 --calibration-data`` writes). TensorRT 11: strongly typed, so the ONNX must already carry the precision.

    Args:
        onnx_path: static-shape ONNX model.
        engine_path: where to write the plan.
        precision: fp32 | fp16 | int8.
        workspace_mib: builder workspace memory-pool limit (MiB).
        timing_cache: file read before and written after the build, so similar candidates build faster.
        trt: the tensorrt module (default: import it).

    Raises:
        DependencyError: tensorrt not installed.
        ExportError: precision not expressible, parse or build failure.
    """
    if precision not in PRECISIONS:
        raise ExportError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if trt is None:
        trt = load_tensorrt()
        if trt is None:
            raise DependencyError("tensorrt is not installed (needed to build an engine)",
                                  hint="pip install 'edgenas[tensorrt]', or run the trtexec command on the device")
    strongly_typed = trt_strongly_typed(trt)
    baked = onnx_precision(onnx_path)
    if precision == "int8" and baked != "int8":
        raise ExportError("int8 needs Q/DQ nodes in the ONNX; expected the model.int8.onnx of "
                          "'edgenas export --precision int8 --calibration-data DIR'")
    if strongly_typed and precision != baked:
        raise ExportError(
            f"TensorRT {trt.__version__} is strongly typed: precision {precision} must be in the ONNX, "
            f"which is {baked}", hint="convert with modelopt.onnx.autocast (fp16) or Q/DQ (int8), or use TensorRT 10")

    cache_path = Path(timing_cache) if timing_cache else None
    blob = cache_path.read_bytes() if cache_path is not None and cache_path.is_file() else b""
    try:
        # one implementation of the builder calls, shared with the device runner (which builds on the device)
        data, cache_out = trt_build_plan(trt, str(onnx_path), precision=precision, workspace_mib=workspace_mib,
                                         timing_cache=blob if cache_path is not None else None)
    except RunnerError as exc:
        raise ExportError(str(exc)) from None
    reused = bool(blob)
    engine_path = Path(engine_path)
    atomic_write_bytes(engine_path, data)
    if cache_path is not None and cache_out is not None:
        atomic_write_bytes(cache_path, cache_out)
    return EngineBuild(engine_path, str(trt.__version__), precision, strongly_typed, reused, len(data))


def trtexec_commands(onnx_name: str, *, precision: str = "fp32", workspace_mib: int = 1024,
                     engine_name: str | None = None, calibration_cache: str | None = None,
                     fp32_onnx: str | None = None, typed_onnx: str | None = None) -> dict[str, str]:
    """Exact ``trtexec`` command lines (keys ``trt10``, ``trt11``) that build and time ``onnx_name``.

    TRT 10 takes ``--fp16``/``--int8`` flags; TRT 11 is strongly typed and reads precision from the ONNX.
    int8 is never uncalibrated: ``onnx_name`` must be the Q/DQ ONNX calibrated on the user's images
    (:func:`edgenas.export.quantize.quantize_int8`), and ``calibration_cache`` (written from the same
    images) is required; with ``fp32_onnx`` the key ``trt10_calib`` builds from the fp32 ONNX with
    ``--calib`` (TensorRT's implicit int8) instead.
    """
    if precision not in PRECISIONS:
        raise ExportError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision == "int8" and not calibration_cache:
        raise ExportError("int8 trtexec commands need a calibration (export --precision int8 --calibration-data "
                          "DIR); expected never an uncalibrated --int8")
    engine = engine_name or str(Path(onnx_name).with_suffix(".engine"))
    stem = Path(onnx_name).stem

    def common(onnx: str) -> list[str]:
        return [f"--onnx={onnx}", f"--saveEngine={engine}", f"--memPoolSize=workspace:{workspace_mib}M",
                "--timingCacheFile=timing.cache", "--warmUp=500", "--iterations=200", "--duration=0",
                f"--exportTimes={stem}.times.json"]

    # int8 from the Q/DQ scales of the ONNX (explicit quantization); --fp16 lets the rest run in fp16
    t10 = ["trtexec", *common(onnx_name)] + {"fp32": [], "fp16": ["--fp16"], "int8": ["--fp16", "--int8"]}[precision]
    # 11.x: strongly typed is implicit, precision flags were removed: it builds the ONNX that carries the
    # precision (``typed_onnx``: the fp16 ONNX, where TRT 10 builds the fp32 one with --fp16)
    t11 = ["trtexec", *common(typed_onnx or onnx_name)]
    out = {"trt10": shlex.join(t10), "trt11": shlex.join(t11)}
    if precision == "int8" and fp32_onnx:
        out["trt10_calib"] = shlex.join(["trtexec", *common(fp32_onnx), "--fp16", "--int8",
                                         f"--calib={calibration_cache}"])
    return out
