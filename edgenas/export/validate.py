"""Measure exported ONNX models on a runtime (locally or over SSH) and compare with the cost model.

Timing is done by :mod:`edgenas.device_runner` (the same code runs on the host and, copied, on the
device): fixed threads, warm-up, p50/p90/p99 and coefficient of variation over N runs. Runtimes:
onnxruntime (CPU EP), trtexec (``--exportTimes`` GPU compute time) and tensorrt (the Python API,
CUDA-event time of ``execute_async_v3``). Parity compares the runtime's output with the torch model
rebuilt from the ONNX metadata (arch, space, dataset, seed) or, without that metadata, with onnx's
reference evaluator.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from .bundle import MANIFEST_NAME

if TYPE_CHECKING:  # pragma: no cover
    from ..spaces import SearchSpace

__all__ = [
    "PARITY_ABS_TOL",
    "RUNTIMES",
    "ValidationResult",
    "check_input_shape",
    "collect_models",
    "run_remote",
    "validate_model",
]

log = logging.getLogger(__name__)

RUNTIMES = ("onnxruntime", "tensorrt", "trtexec", "litert")
#: the target runtime (targets/*.yaml ``runtime``) each validate runtime measures
TABLE_RUNTIME = {"onnxruntime": "onnxruntime", "tensorrt": "tensorrt", "trtexec": "tensorrt", "litert": "tflite"}
#: engine precisions (TensorRT only; int8 from the Q/DQ model.int8.onnx; TensorRT 11 needs it baked into the ONNX)
PRECISIONS = ("fp32", "fp16", "int8")
#: parity tolerance (max |runtime - reference| / max |reference|) for fp32 runtimes
PARITY_REL_TOL = 1e-4
PARITY_ABS_TOL = PARITY_REL_TOL  # kept for callers that think in absolute logits of O(1)


@dataclass(frozen=True)
class ValidationResult:
    """One model measured on one target (times in ms; ``error_pct`` = 100 (predicted - p50) / p50)."""

    model: str
    arch: str | None
    space: str | None
    dataset: str | None
    target: str
    runtime: str
    host: str
    threads: int
    runs: int
    warmup: int
    measured_ms: dict[str, float]
    cv: float
    predicted_ms: float | None
    error_pct: float | None
    parity_max_abs: float
    parity_max_rel: float
    parity_reference: str
    parity_ok: bool
    runtime_version: str | None
    precision: str = "fp32"
    #: onnxruntime with 1 thread: CPU time of the inference thread (p50/p90/min, ms), which leaves out
    #: preemption; on a shared machine it is the fairer comparison with an idle-machine latency table
    measured_cpu_ms: dict[str, float] | None = None
    error_cpu_pct: float | None = None
    #: runtime-specific facts from the runner (tensorrt: version, engine source, strongly typed; trtexec: command)
    runtime_details: dict[str, Any] | None = None
    #: paired timing (onnxruntime, 1 thread, a table profiled with paired timing): the median ratio of
    #: this model's thread CPU time to the table's reference arch timed right after it, times the
    #: reference's time in the table, i.e. the measurement in the table's own units, free of the
    #: host's speed drift between profiling and now
    measured_paired_ms: float | None = None
    error_paired_pct: float | None = None
    paired_reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect_models(path: Path | str) -> list[Path]:
    """ONNX files named by ``path``: one ``.onnx`` file, or an export directory (``export.json`` or ``*/*.onnx``).

    Raises:
        ValidationError: nothing to validate.
    """
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        manifest = p / MANIFEST_NAME
        if manifest.exists():
            from .._read import load_json

            data = load_json(manifest, what="export manifest", max_bytes=64 * 2**20, error=ValidationError)
            models = data.get("models") if isinstance(data, dict) else None
            if not isinstance(models, list) or not all(isinstance(m, dict) and isinstance(m.get("files", {}), dict)
                                                       for m in models):
                raise ValidationError(f"{str(manifest)!r} is not an edgenas export manifest: field 'models' is "
                                      f"{str(models)[:60]}; expected a list of {{files: {{onnx: ...}}}} objects")
            # the deliverable of each model: its ONNX or, for --format litert, its .tflite
            named = [(k, m["files"][k]) for m in models for k in ("onnx", "litert") if k in m.get("files", {})]
            for key, name in named:  # a manifest names files inside its own folder only
                if not isinstance(name, str) or Path(name).is_absolute() or ".." in Path(name).parts:
                    raise ValidationError(f"{str(manifest)!r}: files.{key} {name!r} is invalid; expected a path "
                                          "inside the export folder (no absolute path, no '..')")
            names = [name for _, name in named]
            files = [p / name for name in names]
            _check_checksums(manifest, models)
        else:
            files = sorted(p.glob("*.onnx")) + sorted(p.glob("*/*.onnx"))
            if not files:
                files = sorted(p.glob("*/*.tflite"))
        if not files:
            raise ValidationError(f"{str(p)!r} holds no ONNX model; export with 'edgenas export --format onnx'")
        return files
    raise ValidationError(f"model path not found: {str(p)!r}; expected MODEL.onnx or an export directory")


def _check_checksums(manifest: Path, models: list[dict[str, Any]]) -> None:
    """Every file export.json records a checksum of is the file it wrote (another arch's model swapped in
    would be timed and reported under this export's archs)."""
    from .sources import file_checksum

    for m in models:
        sums = m.get("checksums") if isinstance(m.get("checksums"), dict) else {}
        for kind, rel in m.get("files", {}).items():
            want = sums.get(kind)
            if not isinstance(want, dict) or not isinstance(rel, str) or Path(rel).is_absolute() \
                    or ".." in Path(rel).parts:
                continue
            f = manifest.parent / rel
            try:
                got = file_checksum(f)
            except OSError as exc:
                raise ValidationError(f"{str(f)!r} listed in {str(manifest)!r} cannot be read ({exc.strerror}); "
                                      "expected the files of the export") from None
            if got.get("sha256") != want.get("sha256"):
                raise ValidationError(f"{str(f)!r} changed since it was exported (SHA-256 differs from "
                                      f"{str(manifest)!r}); expected the files the export wrote: export again")


def default_runtime(model: Path | str) -> str:
    """litert for a ``.tflite`` (or an export folder of them), else onnxruntime."""
    try:
        files = collect_models(model)
    except ValidationError:
        return "onnxruntime"
    return "litert" if files and all(f.suffix == ".tflite" for f in files) else "onnxruntime"


def runtime_mismatch(target: str, runtime: str) -> str | None:
    """One line when ``runtime`` is not what ``target``'s latency table was measured with (e.g. the raspi4 /
    pixel3 tables are TFLite timings): the predicted-vs-measured error then mixes two runtimes."""
    t = _load_target(target)
    table_rt = getattr(t, "runtime", None)
    if table_rt in (None, "unknown") or TABLE_RUNTIME.get(runtime) == table_rt or \
            (table_rt == "tflite-edgetpu" and runtime == "litert"):
        return None
    hint = {"tflite": "export --format litert and validate with --runtime litert",
            "tensorrt": "validate with --runtime tensorrt or trtexec on the device"}.get(table_rt, "")
    return (f"target {target!r}'s latency table was measured with {table_rt}, this validation times {runtime}: "
            f"the error % compares two runtimes" + (f" ({hint})" if hint else ""))


def litert_metadata(model_path: Path) -> dict[str, str]:
    """The ONNX-style metadata (arch, space, dataset, seed, input_shape, precision; task and weights where the
    export recorded them) of a ``.tflite`` from the export.json of the folder it was exported into.

    Raises:
        ValidationError: no manifest naming this file.
    """
    manifest = model_path.parent.parent / MANIFEST_NAME
    rel = f"{model_path.parent.name}/{model_path.name}"
    try:
        doc = json.loads(manifest.read_text())
        entry = next(m for m in doc["models"] if rel in (m.get("files") or {}).values())
        meta = {"arch": entry["arch"], "space": doc["space"], "dataset": doc["dataset"], "seed": str(doc["seed"]),
                "input_shape": json.dumps(entry["input_shape"])}
        # a task of the user's (--data) and trained weights, as the ONNX metadata has them: without them the
        # task is looked up among the space's datasets and the reference is a network rebuilt from the seed
        if isinstance(doc.get("task"), dict):
            meta["task"] = json.dumps(doc["task"])
        if isinstance(entry.get("weights"), str):
            meta["weights"] = entry["weights"]
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        raise ValidationError(f"{str(model_path)!r} is not in an edgenas export folder (export.json naming it); "
                              "expected a .tflite written by 'edgenas export --format litert'") from None
    name = model_path.name
    meta["precision"] = "int8" if name.endswith(".int8.tflite") else "fp16" if name.endswith(".fp16.tflite") else "fp32"
    preds = (entry.get("predicted_latency_ms") or {}) if isinstance(entry, dict) else {}
    meta["predicted_latency_ms"] = json.dumps(preds)
    return meta


def _load_target(name: str) -> Any:
    """The target definition, or None when edgenas.hardware.targets is not available."""
    try:
        from ..hardware.targets import load_target  # type: ignore[import-not-found]
    except ImportError:
        return None
    return load_target(name)


def check_input_shape(shape: tuple[Any, ...], *, model: str, dataset_shape: tuple[int, ...] | None,
                      batch_size: int | None) -> None:
    """Raise ValidationError when the model's static input (B, C, H, W) disagrees with dataset / target."""
    if any(not isinstance(d, int) or d <= 0 for d in shape):
        raise ValidationError(f"{model}: input shape {list(shape)} is not static; export with static shapes")
    if dataset_shape is not None and tuple(shape[1:]) != tuple(dataset_shape):
        raise ValidationError(f"{model}: input shape {list(shape)} has (C, H, W) {list(shape[1:])}, "
                              f"but the dataset expects {list(dataset_shape)}")
    if batch_size is not None and shape[0] != batch_size:
        raise ValidationError(f"{model}: input batch {shape[0]} disagrees with the target's batch_size {batch_size}")


def engine_beside(model_path: Path, precision: str) -> Path | None:
    """The ``model.engine`` that ``export --format tensorrt`` wrote next to ``model_path``, if any.

    Raises:
        ValidationError: the export manifest says the engine was built for another precision.
    """
    engine = model_path.with_suffix(".engine")
    if not engine.is_file():
        return None
    manifest = model_path.parent.parent / MANIFEST_NAME
    from .._read import load_json
    from ..errors import EdgeNASError

    try:
        doc = load_json(manifest, what="export manifest", max_bytes=64 * 2**20) if manifest.is_file() else None
    except EdgeNASError:
        doc = None
    built = doc.get("precision") if isinstance(doc, dict) else None
    if built is not None and built != precision:
        raise ValidationError(f"{str(engine)!r} was built for {built}, not {precision}; pass --precision {built} "
                              "or delete the engine to build one from the ONNX")
    return engine


def meta_task(space: Any, meta: dict[str, str]) -> Any:
    """The task of an ONNX export's metadata (``task`` JSON for a task of the user's, else ``dataset``)."""
    from ..errors import EdgeNASError
    from ..spaces import DatasetSpec

    try:
        if meta.get("task"):
            return space.dataset(DatasetSpec(**json.loads(meta["task"])))
        return space.dataset(meta["dataset"])
    except (TypeError, ValueError, RecursionError, KeyError, EdgeNASError) as exc:
        raise ValidationError(f"bad task in the model's metadata ({getattr(exc, 'message', exc)})") from None


def _reference_output(model_path: Path, meta: dict[str, str], x: Any) -> tuple[Any, str]:
    import numpy as np

    if meta.get("weights") == "trained" and (model_path.parent / "model.json").is_file():
        import torch

        from ..train.model_io import load_model

        m = load_model(model_path.parent)  # the trained weights exported beside the ONNX
        with torch.no_grad():
            return m(torch.from_numpy(x)).numpy().astype(np.float64), "torch"
    if all(k in meta for k in ("arch", "space", "dataset", "seed")):
        import torch

        from ..spaces import get_space
        from .onnx import build_eval_model

        space = get_space(meta["space"])
        m = build_eval_model(space, space.parse(meta["arch"]), meta_task(space, meta), seed=int(meta["seed"]))
        with torch.no_grad():
            return m(torch.from_numpy(x)).numpy().astype(np.float64), "torch"
    from onnx.reference import ReferenceEvaluator

    ref = ReferenceEvaluator(str(model_path))
    name = ref.input_names[0]
    return np.asarray(ref.run(None, {name: x})[0], dtype=np.float64), "onnx-reference"


def run_remote(host: str, model: Path, input_npy: Path, runner_args: list[str], *, ssh_options: tuple[str, ...] = (),
               python: str = "python3", connect_timeout: int = 10, timeout: float = 600.0,
               extra_files: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Time ``model`` on ``host`` with the device runner (input as ``input.npy``, ``extra_files`` by name).

    Uses the system ``ssh``/``scp`` with BatchMode (never prompts); see :mod:`edgenas.timing.remote`.

    Raises:
        ValidationError: unreachable host, missing python / numpy / runtime on the host, runner failure.
    """
    from ..errors import DeviceError
    from ..timing.remote import SshSession

    try:
        with SshSession(host, ssh_options=ssh_options, python=python, connect_timeout=connect_timeout,
                        prefix="edgenas-validate") as session:
            files = {"input.npy": Path(input_npy), **{Path(p).name: Path(p) for p in extra_files}}
            return session.time_model(Path(model), [*runner_args, "--input", "input.npy"], timeout=timeout,
                                      files=files)
    except ValidationError:
        raise
    except DeviceError as exc:
        raise ValidationError(exc.message, hint=exc.hint) from None


def validate_model(
    model_path: Path | str, *, target: str, runtime: str = "onnxruntime", runs: int = 100, warmup: int = 20,
    threads: int | None = None, host: str | None = None, ssh_options: tuple[str, ...] = (),
    remote_python: str = "python3", seed: int = 0, timeout: float = 600.0, precision: str = "fp32",
    paired: bool | None = None,
) -> ValidationResult:
    """Measure one ONNX model on ``target`` and compare with the prediction and the reference output.

    Args:
        model_path: the ``.onnx`` file (with edgenas metadata for arch / prediction / torch parity).
        target: target name; its ``batch_size`` / ``threads`` are used when edgenas.hardware.targets exists.
        runtime: onnxruntime | trtexec (on the device) | tensorrt (Python API + libcudart, on the device;
            locally, an engine exported next to the ONNX is used, else one is built from the ONNX).
        runs, warmup: timed and warm-up runs (warm-up in ms for trtexec).
        precision: fp32, or fp16 for trtexec / tensorrt (parity tolerance 1e-2 relative).
        threads: intra-op threads (default: the target's, else 1).
        host: ``USER@HOST`` to run on over SSH; None runs here.
        ssh_options: extra ``-o KEY=VALUE`` options for ssh/scp (port, identity, known hosts).
        paired: also time the model paired with the target table's reference arch (see
            ``ValidationResult.measured_paired_ms``). None: whenever possible (onnxruntime, 1
            thread, a table profiled with paired timing); True: required.

    Raises:
        ValidationError / DependencyError: bad model, shape mismatch, unreachable host, missing runtime.
    """
    import numpy as np

    from .. import device_runner
    from ..spaces import get_space
    from .onnx import PARITY_RTOL, input_shape_of, read_metadata
    from .sources import predicted_latency_ms

    if runtime not in RUNTIMES:
        raise ValidationError(f"unknown runtime {runtime!r}; expected one of {', '.join(RUNTIMES)}")
    if precision not in PRECISIONS:
        raise ValidationError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision != "fp32" and runtime in ("onnxruntime", "litert"):
        raise ValidationError(f"--precision {precision} needs --runtime tensorrt or trtexec; {runtime} runs the "
                              "precision stored in the model file (export --precision)")
    if runs < 1 or warmup < 0:
        raise ValidationError(f"--runs must be >= 1 and --warmup >= 0, got {runs} and {warmup}")
    model_path = Path(model_path)
    if (model_path.suffix == ".tflite") != (runtime == "litert"):
        raise ValidationError(f"{model_path.name}: --runtime litert times .tflite models (export --format litert), "
                              f"the other runtimes ONNX models; got --runtime {runtime}")
    if runtime == "litert":  # runs what the file holds, like onnxruntime
        meta = litert_metadata(model_path)
        shape: tuple[Any, ...] = tuple(json.loads(meta["input_shape"]))
        precision = meta["precision"]
    else:
        meta = read_metadata(model_path)
        shape = input_shape_of(model_path)
    if runtime == "onnxruntime":  # onnxruntime runs what the file holds (export --precision fp16 / int8)
        from .tensorrt import onnx_precision

        precision = onnx_precision(model_path)
    tgt = _load_target(target)
    space = get_space(meta["space"]) if "space" in meta else None
    # a bad arch in the metadata fails here, before minutes of timing (ArchError names it)
    arch = space.parse(meta["arch"]) if space is not None and "arch" in meta else None
    task = meta_task(space, meta) if space is not None and "dataset" in meta else None
    ds_shape = task.input_shape if task is not None else None
    check_input_shape(shape, model=model_path.name, dataset_shape=ds_shape,
                      batch_size=getattr(tgt, "batch_size", None))
    n_threads = threads or int(getattr(tgt, "threads", None) or 1)
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    args = ["--runs", str(runs), "--warmup", str(warmup), "--threads", str(n_threads), "--runtime", runtime]
    if runtime not in ("onnxruntime", "litert"):  # an engine's precision; these two run the file as it is
        args += ["--precision", precision]
    if runtime == "tensorrt":
        from .tensorrt import onnx_precision

        args += ["--onnx-precision", onnx_precision(model_path)]
        engine = engine_beside(model_path, precision) if not host else None  # engines are not portable: no copy
        if engine is not None:
            args += ["--engine", str(engine)]
    reference = None
    if paired is not False and runtime == "onnxruntime" and n_threads == 1 and space is not None:
        reference = table_reference(target, space, task if task is not None else meta.get("dataset", ""))
    if paired and reference is None:
        raise ValidationError(f"--paired needs --runtime onnxruntime, 1 thread and a {target!r} table for "
                              f"{meta.get('space')}/{meta.get('dataset')} profiled with paired timing "
                              f"(edgenas profile, statistic ref)")
    with tempfile.TemporaryDirectory(prefix="edgenas-validate-") as tmp:
        inp = Path(tmp) / "input.npy"
        np.save(inp, x)
        extra: tuple[Path, ...] = ()
        if reference is not None:
            from ..hardware.kernels import export_onnx_bytes

            ref_path = Path(tmp) / "reference.onnx"
            ref_path.write_bytes(export_onnx_bytes(space.build_model(space.parse(reference[0]), task),
                                                   (1, *task.input_shape)))
            extra = (ref_path,)
        if host:
            remote_args = args + (["--reference", "reference.onnx"] if extra else [])
            res = run_remote(host, model_path, inp, remote_args, ssh_options=ssh_options, python=remote_python,
                             timeout=timeout, extra_files=extra)
        else:
            out = Path(tmp) / "result.json"
            local_args = args + (["--reference", str(extra[0])] if extra else [])
            _run_local(device_runner, [str(model_path), *local_args, "--input", str(inp), "--out", str(out)])
            res = json.loads(out.read_text())
    ref, ref_kind = _reference_output(model_path, meta, x)
    if res.get("output") is None:
        max_abs = max_rel = float("nan")
    else:
        got = np.asarray(res["output"], dtype=np.float64).reshape(ref.shape)
        max_abs = float(np.max(np.abs(got - ref)))
        scale = float(np.max(np.abs(ref))) or 1.0
        max_rel = max_abs / scale
    summary = res["summary_ms"]
    predicted = None
    if space is not None and arch is not None:
        predicted = predicted_latency_ms(arch, target=target, space=space, dataset=task)
        if predicted is None:  # fall back to what the export recorded for this target
            from .._read import parse_json
            from ..errors import EdgeNASError

            try:  # metadata of a user's model file: anything may be there
                stored_all = parse_json(meta.get("predicted_latency_ms", "{}") or "{}", where=str(model_path),
                                        what="the predicted_latency_ms metadata of")
            except EdgeNASError:
                stored_all = None
            stored = stored_all.get(target) if isinstance(stored_all, dict) else None
            predicted = (float(stored) if isinstance(stored, (int, float)) and not isinstance(stored, bool)
                         and stored > 0 else None)
    err = 100.0 * (predicted - summary["p50"]) / summary["p50"] if predicted is not None and summary["p50"] > 0 else None
    cpu = res.get("summary_cpu_ms")
    err_cpu = (100.0 * (predicted - cpu["p50"]) / cpu["p50"]
               if cpu is not None and predicted is not None and cpu["p50"] > 0 else None)
    paired_ms = err_paired = None
    if reference is not None and res.get("reference_ratio"):
        paired_ms = float(np.median(res["reference_ratio"])) * reference[1]
        err_paired = 100.0 * (predicted - paired_ms) / paired_ms if predicted is not None and paired_ms > 0 else None
    return ValidationResult(
        model=str(model_path), arch=meta.get("arch"), space=meta.get("space"), dataset=meta.get("dataset"),
        target=target, runtime=runtime, host=host or "localhost", threads=n_threads, runs=runs, warmup=warmup,
        measured_ms={k: summary[k] for k in ("p50", "p90", "p99", "mean", "std", "min")}, cv=summary["cv"],
        predicted_ms=predicted, error_pct=err, parity_max_abs=max_abs, parity_max_rel=max_rel,
        parity_reference=ref_kind,
        # int8 has no logit bound on random inputs (ranges come from the user's images): its check is
        # the accuracy on held-out images; here only that the outputs are finite
        parity_ok=(bool(max_rel <= PARITY_RTOL.get(precision, math.inf)) if math.isfinite(max_rel) else False),
        runtime_version=res.get("runtime_version"), precision=precision,
        measured_cpu_ms={k: cpu[k] for k in ("p50", "p90", "min")} if cpu is not None else None,
        error_cpu_pct=err_cpu,
        runtime_details=res.get("tensorrt") or ({"command": res["command"]} if "command" in res else None),
        measured_paired_ms=paired_ms, error_paired_pct=err_paired,
        paired_reference=reference[0] if reference is not None and paired_ms is not None else None,
    )


def table_reference(target: str, space: SearchSpace, dataset: Any) -> tuple[str, float] | None:
    """(reference arch, its ms in the table) of ``target``'s table for ``space``/``dataset`` when the
    table was profiled with paired timing (``edgenas profile``, statistic ``ref``, 1 thread): for the
    host per-op profile the first end-to-end arch (stored with ratio 1), for a device profile the arch
    its header names. None otherwise."""
    from ..errors import EdgeNASError
    from ..hardware.cost import get_cost_model

    try:
        model = get_cost_model(target, space, dataset)
    except EdgeNASError:
        return None
    if getattr(model, "estimate", False):  # priced at another shape: no reference in the table's units
        return None
    if model.op_table is None and model.arch_table is not None:
        # a table `edgenas profile` fitted from paired whole-arch timings names its reference itself
        col = (model.arch_table.meta.get("columns") or {}).get(model.target.name) or {}
        timing = col.get("timing") or {}
        if timing.get("statistic") == "ref" and timing.get("threads") == 1 and timing.get("reference_arch") \
                and float(timing.get("reference_ms") or 0) > 0:
            return str(timing["reference_arch"]), float(timing["reference_ms"])
        return None
    table = model.op_table
    meta = table.meta if table is not None else {}
    e2e = meta.get("end_to_end") or []
    if meta.get("statistic") != "ref" or meta.get("threads") != 1 or not e2e or not e2e[0].get("ref_ms"):
        return None
    return str(e2e[0]["arch"]), float(e2e[0]["ref_ms"])


def _run_local(device_runner: Any, argv: list[str]) -> int:
    """Run the device runner in-process; turn its errors into ValidationError (missing runtime, bad model)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = device_runner.main(argv)
    if code != 0:
        line = (err.getvalue().strip().splitlines() or [f"device runner exit {code}"])[-1]
        raise ValidationError(line.replace("device_runner: error: ", ""))
    return 0


#: targets that are this machine by definition (their tables are profiled here)
HOST_TARGETS = ("cpu",)


def _profiled_here(t: Any) -> bool:
    """Whether ``t`` is a target `edgenas profile` made on this machine (no --host): the device facts
    in one of its tables name this host and this CPU."""
    import platform

    from .. import device_runner  # wrote the facts: read this CPU the same way
    from .._read import parse_json, read_first_line
    from ..errors import EdgeNASError

    for ref in t.tables:
        if ref.kind != "arch" or not ref.exists:
            continue
        try:
            head = parse_json(read_first_line(ref.file).lstrip("#").strip() or "{}", where=repr(str(ref.file)))
            facts = ((head.get("columns") or {}).get(ref.column or "") or {}).get("device_facts") or {}
        except (EdgeNASError, AttributeError):
            continue
        if not isinstance(facts, dict):
            continue
        if facts.get("host") == platform.node() and facts.get("cpu_model") == device_runner._cpu_model():
            return True
    return False


def check_where(target: str, host: str | None, here: bool) -> None:
    """Refuse to time a model on this machine against another device's predictions: the comparison
    would say nothing about either (a TX2 table against this CPU read as +190 %)."""
    from ..errors import ConfigError
    from ..hardware.targets import load_target

    if host is not None and not host.strip():  # an empty --host used to time here, silently
        raise ConfigError(f"--host {host!r} is empty; expected USER@BOARD (or no --host to time on this machine)")
    t = load_target(target)
    if host is None and not here and t.name not in HOST_TARGETS and not _profiled_here(t):
        raise ConfigError(f"target {t.name!r} ({t.device}) is not this machine; expected --host USER@BOARD to time "
                          "it there, --here when running on that device, or --target cpu for this machine")
