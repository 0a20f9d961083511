"""ONNX export with static shapes, checker, metadata and an enforced onnxruntime-vs-torch parity check."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import ExportError, ValidationError
from ..spaces import Arch, SearchSpace

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "PARITY_RTOL",
    "OnnxExport",
    "Parity",
    "build_eval_model",
    "check_parity",
    "export_onnx",
    "input_shape_of",
    "read_metadata",
]

log = logging.getLogger(__name__)

#: enforced max relative error (max |ort - torch| / max |torch|) per precision
PARITY_RTOL = {"fp32": 1e-4, "fp16": 1e-2}
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


@dataclass(frozen=True)
class Parity:
    """Output agreement of two runtimes on the same random inputs.

    Attributes:
        max_abs: max |a - b| over all outputs and inputs (logit units).
        max_rel: ``max_abs`` / max |reference| (scale-relative, so near-zero logits do not blow it up).
        n_inputs: number of random inputs compared.
    """

    max_abs: float
    max_rel: float
    n_inputs: int


@dataclass(frozen=True)
class OnnxExport:
    """Result of :func:`export_onnx`: file, arch, input shape (B, C, H, W), parity, metadata."""

    path: Path
    arch: str
    input_shape: tuple[int, int, int, int]
    parity: Parity
    simplified: bool
    metadata: dict[str, str] = field(default_factory=dict)


def build_eval_model(space: SearchSpace, arch: Arch, dataset: str, *, seed: int = 0) -> torch.nn.Module:
    """The space's model for ``arch`` in eval mode, with weights drawn from ``torch.manual_seed(seed)``."""
    import torch

    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)  # deterministic init, restored after: no global side effect
        model = space.build_model(arch, dataset)
    finally:
        torch.random.set_rng_state(gen_state)
    return model.eval()


def check_parity(onnx_path: Path | str, model: torch.nn.Module, *, input_shape: tuple[int, ...],
                 n_inputs: int = 3, seed: int = 0, threads: int = 1) -> Parity:
    """Compare onnxruntime and torch outputs on ``n_inputs`` standard-normal inputs of ``input_shape``."""
    import numpy as np
    import onnxruntime as ort
    import torch

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    max_abs, ref_scale = 0.0, 0.0
    for _ in range(n_inputs):
        x = rng.standard_normal(input_shape).astype(np.float32)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy().astype(np.float64)
        got = sess.run(None, {sess.get_inputs()[0].name: x})[0].astype(np.float64)
        if got.shape != ref.shape:
            raise ExportError(f"onnxruntime output shape {got.shape} differs from torch {ref.shape}")
        max_abs = max(max_abs, float(np.max(np.abs(got - ref))))
        ref_scale = max(ref_scale, float(np.max(np.abs(ref))))
    max_rel = max_abs / ref_scale if ref_scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    return Parity(max_abs, max_rel, n_inputs)


def _maybe_simplify(proto: Any) -> tuple[Any, bool]:
    try:
        import onnxsim  # optional; not a dependency
    except ImportError:
        return proto, False
    simplified, ok = onnxsim.simplify(proto)
    if not ok:
        log.warning("onnxsim could not validate the simplified model; keeping the original")
        return proto, False
    return simplified, True


#: the oldest opset the exporter takes
MIN_OPSET = 7


def check_opset(opset: object) -> int:
    """``opset`` if this torch's (TorchScript) ONNX exporter supports it, else :class:`ExportError`."""
    import torch.onnx

    consts = getattr(torch.onnx, "_constants", None)
    hi = int(getattr(consts, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 0) or getattr(consts, "ONNX_MAX_OPSET", 17))
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= hi:
        raise ExportError(f"--opset {opset!r} is unsupported; expected {MIN_OPSET}..{hi} "
                          f"(torch {torch.__version__}'s ONNX exporter)")
    return opset


def export_onnx(
    space: SearchSpace, arch: Arch, dataset: str, path: Path | str, *, batch_size: int = 1, opset: int = 17,
    seed: int = 0, simplify: bool = True, predicted_latency_ms: dict[str, float | None] | None = None,
    precision: str = "fp32", parity_inputs: int = 3, model: Any = None, extra_metadata: dict[str, str] | None = None,
) -> OnnxExport:
    """Export ``arch`` to an ONNX file with static shapes and check it.

    Args:
        space, arch, dataset: what to build; the model is initialised from ``seed``.
        path: output ``.onnx`` path.
        batch_size: static batch dimension B of the input (B, C, H, W).
        opset: ONNX opset version.
        simplify: run onnxsim when it is installed (silently skipped otherwise).
        predicted_latency_ms: target name -> predicted ms, stored in the metadata.
        precision: the tolerance to enforce; the file itself is fp32 (reduced precision is the engine's job).
        parity_inputs: number of random inputs of the parity check.
        model: the network to export (e.g. trained weights, eval mode); default: built from ``seed``.
        extra_metadata: more ``metadata_props`` (``weights``, ``task``, ``val_accuracy``).

    Raises:
        ExportError: checker failure or parity above ``PARITY_RTOL[precision]``.
    """
    import onnx
    import torch

    if batch_size < 1:
        raise ExportError(f"--batch must be >= 1, got {batch_size}")
    check_opset(opset)
    if precision not in PARITY_RTOL:
        raise ExportError(f"precision {precision!r} has no parity tolerance; expected one of {sorted(PARITY_RTOL)}")
    path = Path(path)
    ds = space.dataset(dataset)
    shape = (batch_size, *ds.input_shape)
    model = build_eval_model(space, arch, dataset, seed=seed) if model is None else model.eval()
    x = torch.zeros(shape)
    try:
        with warnings.catch_warnings():
            # the TorchScript exporter is deprecated but gives plain static-shape graphs for any opset
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(model, (x,), str(path), opset_version=opset, input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], dynamic_axes=None, do_constant_folding=True,
                              dynamo=False)
    except OSError:
        raise  # the file could not be written (a full disk): the caller names the output
    except Exception as exc:  # noqa: BLE001 - torch raises many types; surface one line
        raise ExportError(f"torch.onnx.export failed for {arch} at opset {opset}: {str(exc).splitlines()[0]}") from None
    proto = onnx.load(str(path))
    proto, simplified = _maybe_simplify(proto) if simplify else (proto, False)
    meta = {
        "edgenas_version": __version__,
        "arch": space.format(arch),
        "space": space.name,
        "dataset": ds.name,
        "input_shape": json.dumps(list(shape)),
        "seed": str(seed),
        "predicted_latency_ms": json.dumps(predicted_latency_ms or {}, sort_keys=True),
        **({} if space.benchmark_dataset(ds) else {"task": json.dumps(asdict(ds))}),
        **(extra_metadata or {}),
    }
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"onnx.checker rejected {arch}: {str(exc).splitlines()[0]}") from None
    onnx.save(proto, str(path))
    parity = check_parity(path, model, input_shape=shape, n_inputs=parity_inputs, seed=seed)
    tol = PARITY_RTOL[precision]
    if not parity.max_rel <= tol:
        raise ExportError(
            f"ONNX parity failed for {arch}: max relative error {parity.max_rel:.3g} > {tol:g} "
            f"(max abs {parity.max_abs:.3g})"
        )
    return OnnxExport(path, space.format(arch), shape, parity, simplified, meta)


def read_metadata(path: Path | str) -> dict[str, str]:
    """``metadata_props`` of an ONNX file as a dict.

    Raises:
        ValidationError: the file is missing or not an ONNX model.
    """
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"model file not found: {str(p)!r}")
    try:
        proto = onnx.load(str(p), load_external_data=False)
    except Exception:  # noqa: BLE001 - protobuf/onnx raise assorted types on a non-model file
        raise ValidationError(f"{str(p)!r} is not an ONNX model (onnx.load failed); expected a .onnx file") from None
    if not proto.graph.node:
        raise ValidationError(f"{str(p)!r} is not an ONNX model (no graph nodes); expected a .onnx file")
    return {m.key: m.value for m in proto.metadata_props}


def input_shape_of(path: Path | str) -> tuple[int | str, ...]:
    """Static input shape (B, C, H, W) of the first graph input; symbolic dims come back as strings."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    inits = {i.name for i in proto.graph.initializer}
    inp = next(i for i in proto.graph.input if i.name not in inits)
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                 for d in inp.type.tensor_type.shape.dim)
