"""The Python API: ``edgenas.search(...)`` is ``edgenas search`` (same keywords, same defaults, same
run folder and ``pareto.json``); either can ``resume`` the other's run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .export.run import ExportConfig, ValidateConfig
from .search.config import SearchConfig
from .search.result import Candidate, SearchProgress, SearchResult
from .spaces import DatasetSpec
from .train.recipe import TrainConfig
from .train.run import TrainResult

__all__ = ["export", "load_model", "search", "train", "validate"]

_D = SearchConfig()  # every default below is read from here: one source for the CLI and the API
_T = TrainConfig()  # the same for train, export and validate
_E = ExportConfig()
_V = ValidateConfig()


def search(
    *,
    targets: Sequence[str] | str = _D.targets,
    space: str = _D.space,
    dataset: str | None = _D.dataset,
    max_latency_ms: float | Mapping[str, float] | None = _D.max_latency_ms,
    max_params_m: float | None = _D.max_params_m,
    max_macs_m: float | None = _D.max_macs_m,
    proxy: str | None = _D.proxy,
    evaluations: int = _D.evaluations,
    population: int = _D.population,
    searcher: str = _D.searcher,
    seed: int = _D.seed,
    device: str = _D.device,
    batch_size: int | None = _D.batch_size,
    workers: int = _D.workers,
    executor: str = _D.executor,
    ray_address: str | None = _D.ray_address,
    resolution: int | None = _D.resolution,
    proxy_resolution: int | None = _D.proxy_resolution,
    data: str | None = _D.data,
    score_table: str | None = _D.score_table,
    latency_source: str = _D.latency_source,
    extra_objectives: Sequence[str] = _D.extra_objectives,
    noise_seeds: int = _D.noise_seeds,
    pick_top_share: float | None = _D.pick_top_share,
    pick_within_noise: float | None = _D.pick_within_noise,
    out: str | None = _D.out,
    task: DatasetSpec | None = _D.task,
    resume: bool = False,
    on_progress: Callable[[SearchProgress], None] | None = None,
    on_candidate: Callable[[Candidate], None] | None = None,
) -> SearchResult:
    """Search a space for the Pareto front of proxy score vs latency under the budgets, and pick one.

    The keywords are the options of ``edgenas search`` (``--max-latency-ms`` -> ``max_latency_ms``),
    with the same defaults; see :class:`~edgenas.search.config.SearchConfig` for each.

    Args:
        targets: target names or aliases (``["jetson"]``); an arch must meet the budgets on all. ``"macs"``
            (or no target with a ``max_macs_m`` budget) prices by MACs at the task's resolution, no table needed.
        max_latency_ms: one budget for every target, or ``{"jetson": 5, "raspi4": 30}``.
        executor: ``"local"`` or ``"ray"`` (with ``ray_address="auto"`` or ``"HOST:PORT"``).
        data: your images (class folders, or ``.npz`` with ``x`` and ``y``): they define the task.
        resolution: the task's input resolution (px).
        task: the task as a :class:`~edgenas.spaces.DatasetSpec` (instead of ``dataset`` / ``data``).
        out: run folder (default ``runs/<space>-<dataset>-<targets>-<proxy>-s<seed>``).
        resume: continue the run in ``out`` without rescoring stored archs.
        on_progress: called after every candidate with a :class:`SearchProgress`.
        on_candidate: called with every :class:`Candidate` as it is evaluated.

    Returns:
        a :class:`SearchResult` (``front``, ``pick``, ``candidates``, ``run_dir``; ``.save()`` /
        ``SearchResult.load(dir)``).

    Raises:
        edgenas.EdgeNASError: bad options, unknown names or budgets nothing meets (nothing is written).

    Example::

        import edgenas
        result = edgenas.search(targets=["jetson"], max_latency_ms=5, evaluations=60, seed=3, out="runs/j5")
        print(result.pick.arch, result.pick.latency_ms)
    """
    from .search.run import run_search

    config = SearchConfig(
        targets=targets, space=space, dataset=dataset, max_latency_ms=max_latency_ms, max_params_m=max_params_m,
        max_macs_m=max_macs_m, proxy=proxy, evaluations=evaluations, population=population, searcher=searcher,
        seed=seed, device=device, batch_size=batch_size, workers=workers, executor=executor,
        ray_address=ray_address, resolution=resolution, proxy_resolution=proxy_resolution, task=task,
        data=data, score_table=score_table, latency_source=latency_source, extra_objectives=extra_objectives,
        noise_seeds=noise_seeds,
        pick_top_share=pick_top_share, pick_within_noise=pick_within_noise, out=out,
    )
    return run_search(config, resume=resume, on_progress=on_progress, on_candidate=on_candidate)


# ``import edgenas.search.run as m`` resolves ``edgenas.search`` to this function and then finds
# the submodule by ``<its __name__>.run`` in sys.modules: name it as the package it stands for
search.__name__ = "edgenas.search"


def train(
    run_dir: str,
    *,
    arch: str | None = None,
    rank: int | None = None,
    data: str | None = None,
    epochs: int = _T.epochs,
    batch_size: int = _T.batch_size,
    lr: float | None = _T.lr,
    momentum: float = _T.momentum,
    nesterov: bool = _T.nesterov,
    weight_decay: float = _T.weight_decay,
    label_smoothing: float = _T.label_smoothing,
    warmup_epochs: float = _T.warmup_epochs,
    crop_scale: float = _T.crop_scale,
    flip: bool = _T.flip,
    val_share: float = _T.val_share,
    seed: int = _T.seed,
    device: str = _T.device,
    amp: str = _T.amp,
    workers: int | None = _T.workers,
    threads: int | None = _T.threads,
    top: int = _T.top,
    budget_epochs: int = _T.budget_epochs,
    on_epoch: Callable[[str, Any], None] | None = None,
    on_step: Callable[[str, int, int, int, float], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train the pick of a search run (or ``arch`` / front member ``rank``) on ``data``: ``edgenas train``.

    The keywords are the options of ``edgenas train`` with the same defaults (see
    :class:`~edgenas.train.TrainConfig` for each). Writes ``run_dir/train/<member>/`` (``model.pt``,
    ``model.json``, ``train.json``); run again after an interruption, it resumes from the last epoch.
    ``top`` > 1 first re-ranks the ``top`` best front members by brief training (``budget_epochs``).

    Returns:
        a :class:`~edgenas.train.TrainResult` (``member``, ``model_dir``, ``val_accuracy``, ...).

    Example::

        import edgenas
        res = edgenas.train("runs/digits", data="digits/train", epochs=30, flip=False)
        model = edgenas.load_model(res.model_dir)
    """
    from ._args import path_arg
    from .train.run import train_run

    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay, label_smoothing=label_smoothing, warmup_epochs=warmup_epochs,
                         crop_scale=crop_scale, flip=flip, val_share=val_share, seed=seed, device=device, amp=amp,
                         workers=workers, threads=threads, top=top, budget_epochs=budget_epochs)
    return train_run(path_arg("run_dir", run_dir, required=True), arch=arch, rank=rank, data=data, config=config,
                     on_epoch=on_epoch, on_step=on_step, on_note=on_note)


def load_model(directory: str) -> Any:
    """The network of a model folder (``RUN_DIR/train/<member>/`` or an export's model folder) with its
    weights, as a plain ``torch.nn.Module`` in eval mode (input: N x C x H x W pixels in [0, 1])."""
    from ._args import path_arg
    from .train.model_io import load_model as _load

    return _load(path_arg("directory", directory, required=True))


def export(
    source: str,
    *,
    out: str,
    rank: int | None = _E.rank,
    all_members: bool = _E.all_members,
    space: str | None = None,
    dataset: str | None = None,
    format: str = _E.format,  # noqa: A002 - the CLI option's name
    batch_size: int = _E.batch_size,
    opset: int = _E.opset,
    precision: str = _E.precision,
    targets: Sequence[str] = _E.targets,
    require_engine: bool = _E.require_engine,
    workspace_mib: int = _E.workspace_mib,
    seed: int = _E.seed,
    weights: str = _E.weights,
    calibration_data: str | None = _E.calibration_data,
    calibration_samples: int | None = _E.calibration_samples,
) -> Any:
    """Export a run's pick (or ``rank`` / ``all_members``; or an arch string) into ``out``: ``edgenas export``.

    The keywords are the options of ``edgenas export`` with the same defaults (``--all`` -> ``all_members``,
    ``--batch`` -> ``batch_size``, ``--target`` -> ``targets``). A run trained with :func:`train` exports its
    trained weights (``weights="auto"``). Returns the :class:`~edgenas.export.bundle.ExportResult`
    (``manifest`` is export.json, ``notes``).
    """
    from ._args import names_arg, path_arg
    from .export.run import export_source

    config = ExportConfig(rank=rank, all_members=all_members, format=format, batch_size=batch_size, opset=opset,
                          precision=precision, targets=names_arg("targets", targets), require_engine=require_engine,
                          workspace_mib=workspace_mib, seed=seed, weights=weights,
                          calibration_data=path_arg("calibration_data", calibration_data),
                          calibration_samples=calibration_samples)
    if isinstance(source, int) and not isinstance(source, bool):  # an arch index, as the CLI's "6111"
        source = str(source)
    return export_source(path_arg("source", source, required=True), out=path_arg("out", out, required=True),
                         space=space, dataset=dataset, config=config)


def validate(
    model: str,
    *,
    target: str,
    data: str | None = _V.data,
    runtime: str | None = _V.runtime,
    precision: str = _V.precision,
    runs: int = _V.runs,
    warmup: int = _V.warmup,
    threads: int | None = _V.threads,
    host: str | None = _V.host,
    here: bool = _V.here,
    ssh_options: Sequence[str] = _V.ssh_options,
    remote_python: str = _V.remote_python,
    timeout: float = _V.timeout,
    seed: int = _V.seed,
    paired: bool | None = _V.paired,
    out: str | None = None,
) -> Any:
    """Time an export's models on ``target`` (and with ``data`` the top-1 accuracy of each network's torch
    model and of every exported file): ``edgenas validate``, same keywords and defaults. Writes
    ``validation.json`` next to the export (or ``out``) and returns its content: the per-model results, or
    ``{"models": [...], "accuracy": [...]}`` with ``data``."""
    from .export.run import validate_export

    config = ValidateConfig(runtime=runtime, precision=precision, runs=runs, warmup=warmup, threads=threads,
                            host=host, here=here, ssh_options=tuple(ssh_options), remote_python=remote_python,
                            timeout=timeout, seed=seed, paired=paired, data=data)
    return validate_export(model, target=target, out=out, config=config)


train.__name__ = "edgenas.train"  # as search.__name__ above
export.__name__ = "edgenas.export"
