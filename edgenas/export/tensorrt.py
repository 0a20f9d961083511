"""TensorRT engine build (Python API) for TensorRT 10 (weakly typed, builder flags) and 11 (strongly typed).

The module takes the ``tensorrt`` module as an argument (``trt=``), so tests inject a fake with the
same narrow surface: ``__version__``, ``Logger``, ``Builder``, ``OnnxParser``, ``BuilderFlag``,
``MemoryPoolType``, ``NetworkDefinitionCreationFlag``. Without TensorRT, :func:`trtexec_commands`
gives the exact command to build and time the engine on the device. An engine is never faked.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

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


def trt_major(trt: Any) -> int:
    """Major version of a tensorrt module; 11+ is strongly typed only."""
    try:
        return int(str(trt.__version__).split(".")[0])
    except (AttributeError, ValueError):
        # no parsable version: TRT 11 removed BuilderFlag.FP16, so its absence means 11+
        return 10 if hasattr(trt.BuilderFlag, "FP16") else 11


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

    TensorRT 10: precision via builder flags (FP16; INT8 only from Q/DQ nodes, since edgenas has no
    calibrator). TensorRT 11: strongly typed, so the ONNX must already carry the precision.

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
    major = trt_major(trt)
    strongly_typed = major >= 11 or not hasattr(trt.BuilderFlag, "FP16")
    baked = onnx_precision(onnx_path)
    if precision == "int8" and baked != "int8":
        raise ExportError("int8 needs Q/DQ nodes in the ONNX (edgenas has no INT8 calibrator); "
                          "quantize the ONNX first, e.g. with NVIDIA ModelOpt")
    if strongly_typed and precision != baked:
        raise ExportError(
            f"TensorRT {trt.__version__} is strongly typed: precision {precision} must be in the ONNX, "
            f"which is {baked}", hint="convert with modelopt.onnx.autocast (fp16) or Q/DQ (int8), or use TensorRT 10")

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if strongly_typed and major < 11:
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ExportError(f"TensorRT could not parse {str(onnx_path)!r}: {errors[0] if errors else 'unknown error'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    if not strongly_typed:
        if precision in ("fp16", "int8"):
            config.set_flag(trt.BuilderFlag.FP16)
        if precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)  # scales come from the Q/DQ nodes
    reused = False
    cache_path = Path(timing_cache) if timing_cache else None
    if cache_path is not None:
        blob = cache_path.read_bytes() if cache_path.is_file() else b""
        reused = bool(blob)
        cache = config.create_timing_cache(blob)
        config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ExportError(f"TensorRT engine build failed for {str(onnx_path)!r} (see the TensorRT log above)")
    data = bytes(plan)
    engine_path = Path(engine_path)
    engine_path.write_bytes(data)
    if cache_path is not None:
        cache_path.write_bytes(bytes(config.get_timing_cache().serialize()))
    return EngineBuild(engine_path, str(trt.__version__), precision, strongly_typed, reused, len(data))


def trtexec_commands(onnx_name: str, *, precision: str = "fp32", workspace_mib: int = 1024,
                     engine_name: str | None = None) -> dict[str, str]:
    """Exact ``trtexec`` command lines (keys ``trt10``, ``trt11``) that build and time ``onnx_name``.

    TRT 10 takes ``--fp16``/``--int8`` flags; TRT 11 is strongly typed and reads precision from the ONNX.
    """
    if precision not in PRECISIONS:
        raise ExportError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    engine = engine_name or str(Path(onnx_name).with_suffix(".engine"))
    stem = Path(onnx_name).stem
    common = [f"--onnx={onnx_name}", f"--saveEngine={engine}", f"--memPoolSize=workspace:{workspace_mib}M",
              "--timingCacheFile=timing.cache", "--warmUp=500", "--iterations=200", "--duration=0",
              f"--exportTimes={stem}.times.json"]
    t10 = ["trtexec", *common] + {"fp32": [], "fp16": ["--fp16"], "int8": ["--fp16", "--int8"]}[precision]
    t11 = ["trtexec", *common]  # 11.x: strongly typed is implicit, precision flags were removed
    return {"trt10": shlex.join(t10), "trt11": shlex.join(t11)}
