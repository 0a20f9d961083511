"""LiteRT (``.tflite``) export in fp32, fp16 and int8 (optional extra ``edgenas[litert]``).

Conversion is ``litert-torch`` (Google's PyTorch-to-LiteRT converter, formerly ai-edge-torch): it
traces the torch model with ``torch.export`` and lowers it straight to a LiteRT flatbuffer, so there
is no ONNX -> TensorFlow detour (onnx2tf) and no TensorFlow install; the input keeps the torch layout
(N, C, H, W). Reduced precision is ``ai-edge-quantizer`` (installed with litert-torch), which rewrites
the fp32 flatbuffer:

* fp16: weights stored as float16 and dequantized to float32 before each op (the LiteRT float16
  recipe; GPU delegates run such models in fp16, the CPU in fp32);
* int8: full-integer static quantization: int8 weights (one scale per output channel), int8
  activations and int8 input / output tensors, ranges from min / max over the user's calibration
  images (:func:`edgenas.export.quantize.load_calibration`), so the model runs on int8-only NPUs.

Both libraries are imported lazily; without them one line says what to install.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..device_runner import litert_from_output as from_output
from ..device_runner import litert_to_input as to_input
from ..errors import DependencyError, ExportError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["LITERT_PRECISIONS", "LiteRTExport", "convert_litert", "from_output", "litert_interpreter",
           "load_converter", "run_litert", "to_input"]

log = logging.getLogger(__name__)

LITERT_PRECISIONS = ("fp32", "fp16", "int8")
_INSTALL = "pip install 'edgenas[litert]'"


@dataclass(frozen=True)
class LiteRTExport:
    """A written ``.tflite``: path, precision and its input / output element types."""

    path: Path
    precision: str
    input_dtype: str
    output_dtype: str
    size_bytes: int


def load_converter() -> Any:
    """The ``litert_torch`` module, or DependencyError naming the extra to install."""
    try:
        with _quiet():  # its import logs missing optional CUDA kernels of torchao to stderr
            import litert_torch  # type: ignore[import-not-found]
    except ImportError as exc:
        raise DependencyError(f"--format litert needs litert-torch, which is not installed ({exc.name or exc})",
                              hint=_INSTALL) from None
    return litert_torch


def litert_interpreter() -> Any:
    """The LiteRT ``Interpreter`` class: ai-edge-litert, else tflite-runtime, else tensorflow.lite."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-not-found]
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found]
        except ImportError:
            try:
                from tensorflow.lite import Interpreter  # type: ignore[import-not-found]
            except ImportError:
                raise DependencyError("running a .tflite needs the LiteRT interpreter (ai-edge-litert), which is "
                                      "not installed", hint="pip install ai-edge-litert") from None
    return Interpreter


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence the converters' progress bars and logs (Python-level and C++ stderr) unless debugging."""
    if os.environ.get("EDGENAS_DEBUG") == "1":
        yield
        return
    out, err = io.StringIO(), io.StringIO()
    try:
        fd = os.dup(2)
    except OSError:  # no stderr descriptor (embedded use): Python-level only
        fd = None
    try:
        with tempfile.TemporaryFile() as sink:
            if fd is not None:
                os.dup2(sink.fileno(), 2)
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    yield
            finally:
                if fd is not None:
                    os.dup2(fd, 2)
    finally:
        if fd is not None:
            os.close(fd)


def _float_flatbuffer(model: torch.nn.Module, input_shape: tuple[int, ...]) -> bytes:
    import torch

    litert_torch = load_converter()
    x = torch.zeros(input_shape)
    try:
        with _quiet():
            edge = litert_torch.convert(model.eval(), (x,))
            with tempfile.TemporaryDirectory(prefix="edgenas-litert-") as tmp:
                path = Path(tmp) / "model.tflite"
                edge.export(str(path))
                return path.read_bytes()
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch.export / MLIR raise many types; surface one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExportError(f"litert-torch could not convert the model: {first}") from None


def _quantizer() -> Any:
    try:
        import ai_edge_quantizer  # type: ignore[import-not-found]
    except ImportError:
        raise DependencyError("--format litert --precision fp16/int8 needs ai-edge-quantizer, which is not installed",
                              hint=_INSTALL) from None
    return ai_edge_quantizer


def _signature(float_path: Path) -> tuple[str, str]:
    interp = litert_interpreter()(model_path=str(float_path))
    sigs = interp.get_signature_list()
    key = next(iter(sigs))
    return key, sigs[key]["inputs"][0]


def _reduce(float_path: Path, out_path: Path, precision: str, calibration: Any) -> None:
    aeq = _quantizer()
    from ai_edge_quantizer import qtyping, recipe, recipe_manager

    q = aeq.Quantizer(str(float_path))
    if precision == "fp16":
        rm = recipe_manager.RecipeManager()
        rm.add_weight_only_config(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, num_bits=16,
                                  algorithm_key=recipe.AlgorithmName.FLOAT_CASTING)
        q.load_quantization_recipe(rm.get_quantization_recipe())
        result = q.quantize()
    else:
        q.load_quantization_recipe(recipe.static_wi8_ai8())
        key, name = _signature(float_path)
        batch = _input_batch(float_path)
        from .quantize import _batches

        samples = [{name: b} for b in _batches(calibration.images, batch)]
        result = q.quantize(q.calibrate({key: samples}))
    result.export_model(str(out_path), overwrite=True)


def _input_batch(path: Path) -> int:
    interp = litert_interpreter()(model_path=str(path))
    return int(interp.get_input_details()[0]["shape"][0])


def convert_litert(model: torch.nn.Module, input_shape: tuple[int, ...], path: Path | str, *,
                   precision: str = "fp32", calibration: Any = None, float_path: Path | str | None = None) -> LiteRTExport:
    """Convert ``model`` (eval mode) with a static ``input_shape`` (B, C, H, W) to a ``.tflite`` at ``path``.

    Args:
        precision: fp32 | fp16 | int8 (see the module docstring).
        calibration: int8 only, required: a :class:`edgenas.export.quantize.CalibrationSet`.
        float_path: fp16 / int8: also keep the fp32 flatbuffer there (else it is a temp file).

    Raises:
        DependencyError: litert-torch / ai-edge-quantizer missing.
        ExportError: unknown precision, int8 without calibration, conversion failure.
    """
    if precision not in LITERT_PRECISIONS:
        raise ExportError(f"unknown precision {precision!r}; expected one of {', '.join(LITERT_PRECISIONS)}")
    if precision == "int8" and calibration is None:
        raise ExportError("LiteRT int8 needs calibration images (--calibration-data DIR|FILE.npz)")
    path = Path(path)
    blob = _float_flatbuffer(model, tuple(input_shape))
    if precision == "fp32":
        path.write_bytes(blob)
    else:
        with tempfile.TemporaryDirectory(prefix="edgenas-litert-") as tmp:
            fp = Path(float_path) if float_path is not None else Path(tmp) / "model.tflite"
            fp.write_bytes(blob)
            try:
                with _quiet():
                    _reduce(fp, path, precision, calibration)
            except (OSError, DependencyError):
                raise
            except Exception as exc:  # noqa: BLE001
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ExportError(f"LiteRT {precision} quantization failed: {first}") from None
    interp = litert_interpreter()(model_path=str(path))
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    return LiteRTExport(path, precision, i["dtype"].__name__, o["dtype"].__name__, path.stat().st_size)


def run_litert(path: Path | str, images: Any, *, threads: int = 1) -> Any:
    """Float32 outputs (N, classes) of a ``.tflite`` on float ``images`` (N, C, H, W); int8 / uint8 input
    and output tensors are quantized / dequantized with the model's own scale and zero point."""
    import numpy as np

    from .quantize import _batches

    interp = litert_interpreter()(model_path=str(path), num_threads=threads)
    interp.allocate_tensors()
    i, o = interp.get_input_details()[0], interp.get_output_details()[0]
    batch = int(i["shape"][0])
    outs = []
    for chunk in _batches(np.asarray(images, dtype=np.float32), batch):
        interp.set_tensor(i["index"], to_input(chunk, i))
        interp.invoke()
        outs.append(from_output(interp.get_tensor(o["index"]), o))
    return np.concatenate(outs)[: len(images)]
