"""``edgenas export`` and ``edgenas validate`` as calls: the CLI commands and ``edgenas.export(...)`` /
``edgenas.validate(...)`` are these functions, with the defaults of :class:`ExportConfig` and
:class:`ValidateConfig` (the one source of both)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, EdgeNASError

__all__ = ["ExportConfig", "ValidateConfig", "export_source", "run_source_space", "validate_export"]


@dataclass(frozen=True)
class ExportConfig:
    """Options of ``edgenas export`` (see its ``--help``)."""

    rank: int | None = None
    all_members: bool = False
    format: str = "onnx"
    batch_size: int = 1
    opset: int = 17
    precision: str = "fp32"
    targets: tuple[str, ...] = ()
    require_engine: bool = False
    workspace_mib: int = 1024
    seed: int = 0
    weights: str = "auto"
    calibration_data: str | Path | None = None
    calibration_samples: int | None = None

    def check(self) -> None:
        """The bounds the CLI options have, for a Python caller (:class:`ConfigError` on the first bad value)."""
        from .._limits import MAX_BATCH, MAX_CALIBRATION_SAMPLES, MAX_SEED, MIN_WORKSPACE_MIB, check_int

        check_int("batch_size", self.batch_size, 1, MAX_BATCH)
        check_int("seed", self.seed, 0, MAX_SEED)
        check_int("workspace_mib", self.workspace_mib, MIN_WORKSPACE_MIB, 2**31)
        if self.rank is not None:
            check_int("rank", self.rank, 1, 1_000_000)
        if self.calibration_samples is not None:
            check_int("calibration_samples", self.calibration_samples, 1, MAX_CALIBRATION_SAMPLES)


@dataclass(frozen=True)
class ValidateConfig:
    """Options of ``edgenas validate`` (see its ``--help``)."""

    runtime: str | None = None
    precision: str = "fp32"
    runs: int = 100
    warmup: int = 20
    threads: int | None = None
    host: str | None = None
    here: bool = False
    ssh_options: tuple[str, ...] = ()
    remote_python: str = "python3"
    timeout: float = 600.0
    seed: int = 0
    paired: bool | None = None
    data: str | None = None

    def check(self) -> None:
        """The bounds the CLI options have, for a Python caller (:class:`ConfigError` on the first bad value)."""
        from .._limits import MAX_RUNS, MAX_SEED, MAX_THREADS, MAX_TIMEOUT_S, check_float, check_int

        check_int("runs", self.runs, 1, MAX_RUNS)
        check_int("warmup", self.warmup, 0, MAX_RUNS)
        if self.threads is not None:
            check_int("threads", self.threads, 1, MAX_THREADS)
        check_float("timeout", self.timeout, 1, MAX_TIMEOUT_S, "seconds")
        check_int("seed", self.seed, 0, MAX_SEED)


def _check_replaceable_report(path: Path) -> None:
    """An existing ``--out`` must be an earlier validation report (what this command writes): replacing
    anything else (export.json, a model, a pareto.json) would lose it."""
    import json

    if not path.exists():
        return
    try:
        doc = json.loads(path.read_bytes()[: 64 << 20])
    except (OSError, ValueError, RecursionError):
        doc = None
    models = doc.get("models") if isinstance(doc, dict) and set(doc) == {"models", "accuracy"} else doc
    if not (isinstance(models, list)
            and all(isinstance(m, dict) and {"measured_ms", "parity_ok"} <= set(m) for m in models)):
        raise ConfigError(f"--out {str(path)!r} exists and is not an earlier validation report; expected a new file "
                          "or a report validate wrote (nothing was changed)")


def run_source_space(source: str, space_name: str | None, dataset: str | None) -> tuple[str, str | None, Any]:
    """Space, dataset and task (a DatasetSpec for a task of the user's, else None) of a run folder /
    pareto.json SOURCE where ``space_name`` / ``dataset`` are not given (``None``); a given one that
    disagrees with the file fails in :func:`~edgenas.export.sources.resolve_candidates`."""
    from ..spaces import DatasetSpec, get_space

    default_space = space_name or "nb201"
    path = Path(source) / "pareto.json" if Path(source).is_dir() else Path(source)
    if not (path.suffix == ".json" and path.is_file()):
        return default_space, dataset, None
    from .._read import load_json

    try:
        doc = load_json(path, what="pareto.json", allow_nan=True)
    except EdgeNASError:
        return default_space, dataset, None  # resolve_candidates reports the unreadable file
    if not isinstance(doc, dict):
        return default_space, dataset, None
    for key in ("space", "dataset"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ConfigError(f"{str(path)!r}: field {key!r} is {doc[key]!r}; expected a {key} name")
    task = None
    try:  # the file's own space and dataset must exist (an explicit option is checked by resolve_space)
        if doc.get("space"):
            file_space = get_space(doc["space"])
            if isinstance(doc.get("task"), dict):
                try:
                    task = file_space.dataset(DatasetSpec(**doc["task"]))
                except TypeError:
                    raise ConfigError(f"{str(path)!r}: field 'task' is {doc['task']!r}; expected name, num_classes, "
                                      "input_size, channels") from None
                if file_space.benchmark_dataset(task):
                    task = None
            if doc.get("dataset") and task is None:
                file_space.dataset(doc["dataset"])
    except EdgeNASError as exc:
        raise ConfigError(f"{str(path)!r}: {exc.message}") from None
    if space_name is None:
        space_name = doc.get("space") or default_space
    if task is not None and dataset is not None and dataset != task.name:
        raise ConfigError(f"{str(path)!r} is for task {task.name!r}, but --dataset is {dataset!r}")
    if dataset is None and doc.get("dataset"):
        dataset = doc["dataset"]
    return space_name, dataset, task


def export_source(source: str, *, out: str | Path, space: str | None = None, dataset: str | None = None,
                  config: ExportConfig | None = None, trt: Any = None) -> Any:
    """Export SOURCE (a run folder, a pareto.json, or an arch string / index) into ``out``: the run's
    trained weights where ``edgenas train`` wrote them (``config.weights``), else random-init.

    Returns:
        an :class:`~edgenas.export.bundle.ExportResult` (``manifest`` = export.json, ``notes``).
    """
    from ..hardware.targets import load_target
    from ..spaces import get_space
    from ..train.run import trained_models
    from .bundle import export_bundle
    from .sources import resolve_candidates

    config = config or ExportConfig()
    config.check()
    # a typo is one error now, not a null prediction in export.json; an alias is its target's name there
    targets = tuple(dict.fromkeys(load_target(name).name for name in config.targets))
    src = Path(source)
    if src.is_dir() and (src / "model.json").is_file() and not (src / "pareto.json").exists():
        # a trained model's folder (RUN/train/<member>/, e.g. an --arch off the front): that network, its weights
        from ..train.model_io import model_task, read_model_json
        from .sources import Candidate

        if config.rank is not None or config.all_members:
            raise ConfigError("--rank/--all select members of a pareto.json; a model folder exports its one network")
        cfg = read_model_json(src)
        sp = get_space(str(cfg.get("space")))
        ds = model_task(sp, cfg, str(src / "model.json"))
        cands = [Candidate(sp.parse(str(cfg.get("arch"))), 1)]
        trained = {sp.format(cands[0].arch): src}
    else:
        space_name, dataset, task = run_source_space(str(source), space, dataset)
        sp = get_space(space_name)
        ds = task if task is not None else sp.dataset(dataset or next(iter(sp.datasets)))
        cands = resolve_candidates(str(source), space=sp, dataset=ds.name, rank=config.rank,
                                   all_members=config.all_members)
        trained = trained_models(src if src.is_dir() else src.parent) if src.exists() else {}
    return export_bundle(cands, space=sp, dataset=ds, out_dir=out, fmt=config.format, batch_size=config.batch_size,
                         opset=config.opset, precision=config.precision, predict_targets=targets,
                         require_engine=config.require_engine, workspace_mib=config.workspace_mib, seed=config.seed,
                         trt=trt, trained=trained, weights=config.weights, calibration_data=config.calibration_data,
                         calibration_samples=config.calibration_samples)


def validate_export(model: str | Path, *, target: str, out: str | Path | None = None,
                    config: ValidateConfig | None = None,
                    on_warning: Callable[[str], None] | None = None) -> list[dict[str, Any]] | dict[str, Any]:
    """Time every model of an export (or one ``.onnx``) on ``target``; with ``config.data`` also the top-1
    accuracy of every exported network's torch model and of every exported file
    (:func:`edgenas.export.accuracy.export_accuracy`). Writes the report to ``out`` (default
    ``validation.json`` in the export folder / beside the ``.onnx``) and returns it: the list of per-model
    results, or ``{"models": [...], "accuracy": [...]}`` with ``data``. ``runtime=None`` picks litert for a
    LiteRT export, else onnxruntime; a runtime other than the one the target's table was measured with
    is passed to ``on_warning`` (default: logged)."""
    import logging

    from .._args import path_arg
    from .._io import atomic_write_text, check_output_file
    from .._json import dumps
    from .validate import check_where, collect_models, default_runtime, runtime_mismatch, validate_model

    config = config or ValidateConfig()
    config.check()
    model = Path(path_arg("model", model, required=True))
    out_file = Path(out) if out is not None else (model if model.is_dir() else model.parent) / "validation.json"
    check_output_file(out_file)  # before any measurement: never replace /dev/null or a folder
    _check_replaceable_report(out_file)
    check_where(target, config.host, config.here)
    runtime = config.runtime or default_runtime(model)
    if config.data is not None:
        if not model.is_dir():
            raise ConfigError(f"--data scores every file of an export folder; expected the folder, got {str(model)!r}")
        from ..data import open_data

        open_data(config.data)  # a bad --data fails here, before any timing
    results = [validate_model(m, target=target, runtime=runtime, runs=config.runs, warmup=config.warmup,
                              threads=config.threads, host=config.host, ssh_options=tuple(config.ssh_options),
                              remote_python=config.remote_python, seed=config.seed, timeout=config.timeout,
                              precision=config.precision, paired=config.paired).to_dict()
               for m in collect_models(model)]
    mismatch = runtime_mismatch(target, runtime)
    if mismatch:  # after measuring: a failed run shows its error alone
        (on_warning or logging.getLogger("edgenas.export").warning)(mismatch)
    doc: Any = results
    if config.data is not None:
        from .accuracy import export_accuracy

        doc = {"models": results, "accuracy": export_accuracy(model, config.data)}
    atomic_write_text(out_file, dumps(doc) + "\n")  # all models measured: write the file in one step
    return doc
