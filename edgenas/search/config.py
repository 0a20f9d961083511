"""The search's definition: :class:`SearchConfig`, the one source of every search default.

``edgenas search`` takes its option defaults from these fields, and ``edgenas.search(...)`` takes the
same keywords, so the CLI and the Python API are the same call. Values the machine decides (device,
batch size, workers, the space's default proxy) are ``None`` / ``"auto"`` / ``0`` here and are fixed in
one place, :func:`resolve_config`; ``config.json`` of a run holds the resolved config.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from .._args import names_arg, path_arg
from .._limits import (  # noqa: F401 - re-exported: the bounds of every option
    BUDGET_BOUNDS,
    MAX_BATCH,
    MAX_EVALUATIONS,
    MAX_LATENCY_MS,
    MAX_MACS_M,
    MAX_PARAMS_M,
    MAX_SEED,
    MAX_WORKERS,
    check_int,
)
from ..errors import ConfigError, EdgeNASError

__all__ = ["MACS_TARGET", "SearchConfig", "check_int", "check_proxy_for_space", "config_dict", "config_task",
           "default_proxies", "default_proxy", "load_config", "macs_only", "parse_latency_budgets", "resolve_config",
           "resolve_task"]

#: the proxy of a space without its own (no accuracy prior): edgenas_paths (log-ranks of FLOPs, path depth,
#: AZ expressivity, sed and the plain-depth penalty; pick = the best score), chosen on NB201 and read on
#: NAS-Bench-Macro, which it never saw (tools/select_cross_space_rule.py, tools/bench_cross_space.py;
#: docs/benchmarks.md, "Cross-space picks")
DEFAULT_PROXY = "edgenas_paths"
#: the pseudo-target of a MACs-only search (``--target macs``): no table, the arch's MACs at the task's
#: resolution are the cost objective, so any space is searchable at once
MACS_TARGET = "macs"
#: (a space may set its own: ``SearchSpace.default_proxy``, ``cpu_batch_size``, ``cpu_proxy_resolution``)
#: pick rule of rank ensembles (``pick_top_share``); accuracy priors pick their best score
DEFAULT_PICK_TOP_SHARE = 0.025
#: proxy batch by device: VKDNW's ablation shows batch 8..128 ranks alike (KT 0.614-0.621)
DEFAULT_BATCH_CPU = 16
DEFAULT_BATCH_GPU = 64
#: proxy worker processes when ``workers=0``: one per core, at most this many
MAX_AUTO_WORKERS = 8
#: upper bounds checked before any work starts: defined in edgenas._limits (re-exported here) so that
#: the proxy engine and the exporter check the same without importing the search
#: the built-in searchers (more can be registered: edgenas.search.register_searcher)
SEARCHERS = ("nsga2", "random", "exhaustive")


@dataclass(frozen=True)
class SearchConfig:
    """Everything that defines a search. Keyword names are those of the ``edgenas search`` options.

    Attributes:
        targets: device names or aliases (``"jetson"``); an arch must meet the budgets on all.
        space: search-space name.
        dataset: dataset of the space (``None`` = the space's first).
        max_latency_ms: latency budget, ms: one number for every target, or ``{target: ms}``
            (targets left out are unconstrained); ``None`` = none.
        max_params_m: parameter budget, millions.
        max_macs_m: MACs budget, millions per image.
        proxy: proxy or ensemble to maximise (``None`` = the space's own: NB201 ``edgenas_transfer``,
            FBNet ``edgenas_fast``; any other space ``edgenas_paths``).
        evaluations: proxy evaluations (distinct isomorphism classes scored).
        population: NSGA-II population = random-search batch = ensemble reference size.
        searcher: ``nsga2``, ``random`` or ``exhaustive`` (every feasible class; enumerable spaces).
        seed: run seed (search operators and per-arch proxy seeds).
        device: ``auto``, ``cpu`` or ``cuda[:i]`` for the proxies. Not part of the resume check.
        batch_size: proxy input batch (``None`` = 16 on CPU, 64 on CUDA; FBNet on CPU: 8).
        workers: proxy worker processes on CPU (``0`` = one per core, at most 8; ``1`` = in this
            process; more than the usable cores is capped to them; CUDA runs use 1). Changes speed, not
            scores; not part of the resume check.
            With ``executor="ray"``: Ray tasks in flight (``0`` = two per cluster CPU).
        executor: where proxies run: ``local`` (this machine) or ``ray`` (a Ray cluster; extra
            ``edgenas[ray]``). Changes speed, not scores; not part of the resume check.
        ray_address: ``auto`` (the running cluster), ``HOST:PORT``, or ``None`` (start a local Ray
            instance on 127.0.0.1); only with ``executor="ray"``.
        resolution: the task's input resolution, N x N px: the network is built, priced and trained at
            it (``None`` = the dataset's; for a task from ``data``, the space's first dataset's).
        proxy_resolution: proxy inputs of N x N px instead of the task's (``None`` = the
            task's; FBNet ImageNet on CPU: 64).
        data: your images (an image folder with one sub-folder per class, optionally under
            ``train/`` and ``val/``; or a ``.npy`` / ``.npz`` with ``x`` and optional ``y``). Labeled
            data defines the task (classes, channels 1 or 3; name: ``dataset`` or the data's file
            name) unless ``dataset`` names a benchmark dataset of the space; the proxies see these
            images instead of Gaussian noise (``None``).
        task: the task as a :class:`~edgenas.spaces.DatasetSpec` (or its dict), instead of
            ``dataset`` / ``data``; resolved: ``None`` when the task is exactly a benchmark dataset
            of the space, else the task's spec.
        score_table: a whole-space score table (``edgenas proxies score --all``): proxy scores are
            looked up there instead of computed (``None`` = compute them).
        latency_source: ``auto``, ``lookup``, ``lut`` or ``flops`` (as ``edgenas cost --source``).
        extra_objectives: also minimise ``"macs_m"`` and/or ``"params_m"``.
        noise_seeds: the best front members are scored again with this many other init seeds
            and carry their score's spread (``score_spread``; 0 = off). Not part of the resume check.
        pick_top_share: the pick is the candidate with the most MACs among the best-scoring
            ``ceil(share * candidates)`` (``0`` = the best score). ``None`` = the proxy's own: 0 for
            an accuracy prior (``edgenas_transfer``: a calibrated accuracy estimate), else 0.025
            (a rank ensemble's best few differ by less than its init-seed noise, and among them the
            larger network is the better bet); both chosen on NB201 CIFAR-10 (docs/benchmarks.md).
            Not part of the resume check.
        pick_within_noise: ``z`` of the noise-band pick rule (``None`` = off, the ``pick_top_share``
            rule): the pick is the candidate with the most MACs among all whose score is within
            ``z`` init-seed standard deviations of the best score, the deviation pooled over the
            best front members that ``noise_seeds`` scored again. Needs ``noise_seeds >= 1`` and a
            scorer that can change its seed (a score table cannot: the ``pick_top_share`` rule
            then applies). Not part of the resume check.
        out: run folder (``None`` = ``runs/<space>-<dataset>-<targets>-<proxy>-s<seed>``).
        space_definition: content hash of the definition of a user's space (``--space FILE.yaml`` or
            ``edgenas spaces add``), set by :func:`resolve_config`; a resumed run refuses a changed one.
    """

    targets: tuple[str, ...] = ()
    space: str = "nb201"
    dataset: str | None = None
    max_latency_ms: float | Mapping[str, float] | None = None
    max_params_m: float | None = None
    max_macs_m: float | None = None
    proxy: str | None = None
    evaluations: int = 300
    population: int = 50
    searcher: str = "nsga2"
    seed: int = 0
    device: str = "auto"
    batch_size: int | None = None
    workers: int = 0
    executor: str = "local"
    ray_address: str | None = None
    resolution: int | None = None
    proxy_resolution: int | None = None
    data: str | None = None
    score_table: str | None = None
    latency_source: str = "auto"
    extra_objectives: tuple[str, ...] = ()
    noise_seeds: int = 2
    pick_top_share: float | None = None
    pick_within_noise: float | None = None
    out: str | None = None
    space_definition: str | None = None
    task: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.task, Mapping):
            from ..spaces import DatasetSpec

            try:
                object.__setattr__(self, "task", DatasetSpec(**self.task))
            except TypeError:
                raise ConfigError(f"task={dict(self.task)!r} is invalid; expected name, num_classes, input_size, "
                                  "channels") from None
        for name in ("data", "score_table", "out"):
            object.__setattr__(self, name, path_arg(name, getattr(self, name)))
        # accept lists and a bare string from Python callers; the config stays hashable and JSON-able
        object.__setattr__(self, "targets", names_arg("targets", self.targets))
        # each objective once (--objective macs_m given twice is one objective)
        object.__setattr__(self, "extra_objectives",
                           tuple(dict.fromkeys(names_arg("extra_objectives", self.extra_objectives))))
        # budgets as floats: 5 and 5.0 are one search (and one config.json / pareto.json)
        if isinstance(self.max_latency_ms, Mapping):
            object.__setattr__(self, "max_latency_ms", {k: _float(v) for k, v in sorted(self.max_latency_ms.items())})
        for name in ("max_latency_ms", "max_params_m", "max_macs_m"):
            v = getattr(self, name)
            if not isinstance(v, Mapping):
                object.__setattr__(self, name, _float(v))

    @property
    def budgets(self) -> Any:
        from .problem import Budgets

        return Budgets(self.max_latency_ms, self.max_params_m, self.max_macs_m)

    def validate(self) -> None:
        """Raise :class:`ConfigError` on the first bad value (budgets, counts, names, bounds)."""
        self.budgets  # noqa: B018  (validates the budgets)
        if not self.targets and "macs_m" not in self.extra_objectives and self.max_macs_m is None:
            raise ConfigError("no target given; expected at least one target (e.g. --target jetson), "
                              "--target macs, or a --max-macs-m budget")
        for t in self.targets:
            if not isinstance(t, str) or not t:
                raise ConfigError(f"target {t!r} is invalid; expected a target name (edgenas targets lists them)")
        if self.proxy is not None and (not isinstance(self.proxy, str) or not self.proxy.strip()):
            raise ConfigError(f"proxy={self.proxy!r} is invalid; expected a proxy name (edgenas proxies list), or "
                              "None for the space's default")
        check_int("evaluations", self.evaluations, 1, MAX_EVALUATIONS)
        check_int("population", self.population, 2, MAX_EVALUATIONS)
        check_int("seed", self.seed, 0, MAX_SEED)
        check_int("workers", self.workers, 0, MAX_WORKERS, f"0 (one per core) or an integer 1..{MAX_WORKERS}")
        check_int("noise_seeds", self.noise_seeds, 0, 10)
        if self.batch_size is not None:
            check_int("batch_size", self.batch_size, 2, MAX_BATCH)
        share = self.pick_top_share
        if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))
                                  or not 0.0 <= share <= 1.0):
            raise ConfigError(f"pick_top_share={share!r} is invalid; expected a number in 0..1")
        z = self.pick_within_noise
        if z is not None and (isinstance(z, bool) or not isinstance(z, (int, float)) or not 0.0 <= z <= 10.0):
            raise ConfigError(f"pick_within_noise={z!r} is invalid; expected a number of standard deviations in 0..10")
        if z is not None and self.noise_seeds < 1:
            raise ConfigError(f"pick_within_noise={z!r} needs noise_seeds >= 1 (got {self.noise_seeds}); expected "
                              "noise_seeds 1..10 to measure the noise the band is made of")
        if self.proxy_resolution is not None:
            from ..proxies.engine import check_resolution

            check_resolution(self.proxy_resolution)
        if self.resolution is not None:
            from ..proxies.engine import check_resolution

            check_resolution(self.resolution, what="resolution")
        if self.task is not None:
            from ..spaces import DatasetSpec

            if not isinstance(self.task, DatasetSpec):
                raise ConfigError(f"task={self.task!r} is invalid; expected a DatasetSpec or its dict")
        if not isinstance(self.searcher, str) or not self.searcher:
            raise ConfigError(f"searcher {self.searcher!r} is invalid; expected one of {', '.join(SEARCHERS)}")
        if not (self.device == "auto" or self.device == "cpu" or str(self.device).startswith("cuda")):
            raise ConfigError(f"device {self.device!r} is invalid; expected auto, cpu or cuda[:i]")
        from .executors import list_executors

        if self.executor not in list_executors():
            from ..errors import UnknownNameError

            raise UnknownNameError("executor", self.executor, list_executors())
        if self.ray_address is not None and self.executor != "ray":
            raise ConfigError(f"ray_address={self.ray_address!r} needs executor='ray' (--executor ray)")
        from .executors import check_ray_address

        check_ray_address(self.ray_address)
        for o in self.extra_objectives:
            if o not in ("macs_m", "params_m"):
                raise ConfigError(f"extra objective {o!r} is unknown; expected macs_m or params_m")


def _float(v: Any) -> Any:
    """An int budget as float; anything else unchanged (validated by Budgets)."""
    return float(v) if isinstance(v, int) and not isinstance(v, bool) else v


def default_proxies() -> dict[str, str]:
    """{space name: the proxy a search of it maximises when none is given}, for every registered space."""
    from ..spaces import list_spaces

    return {name: default_proxy(name) for name in list_spaces()}


def macs_only(config: SearchConfig) -> SearchConfig:
    """``--target macs`` (or a ``--max-macs-m`` budget with no target) as the search runs it: no device
    target, MACs (at the task's resolution) minimised as a front objective. Idempotent."""
    targets = tuple(t for t in config.targets if t != MACS_TARGET)
    if len(targets) == len(config.targets) and (targets or config.max_macs_m is None):
        return config
    extra = config.extra_objectives
    if "macs_m" not in extra:
        extra = ("macs_m", *extra)
    return replace(config, targets=targets, extra_objectives=extra)


def default_proxy(space: str) -> str:
    """The proxy a search of ``space`` uses when none is given."""
    from ..spaces import get_space

    return get_space(space).default_proxy or DEFAULT_PROXY


def parse_latency_budgets(values: Any) -> float | dict[str, float] | None:
    """``--max-latency-ms`` values: ``["5"]`` -> 5.0 (every target); ``["jetson=5", "raspi4=30"]``
    -> ``{"jetson": 5.0, "raspi4": 30.0}``; a bare number beside named ones is the budget of the
    targets not named (``{"*": ms}`` until :func:`resolve_config` names them)."""
    if values is None or isinstance(values, (int, float)):
        return values
    if isinstance(values, str):
        values = [values]
    bare: float | None = None
    named: dict[str, float] = {}
    for text in values:
        name, sep, num = str(text).rpartition("=")
        try:
            ms = float(num)
        except ValueError:
            raise ConfigError(f"--max-latency-ms {text!r} is invalid; expected MS or TARGET=MS (e.g. jetson=5)") from None
        if not math.isfinite(ms) or not 0 < ms <= MAX_LATENCY_MS:
            raise ConfigError(f"--max-latency-ms {text!r} is invalid; expected a positive number of ms "
                              f"up to {MAX_LATENCY_MS:g}")
        if not sep:
            if bare is not None:
                raise ConfigError(f"--max-latency-ms given twice without a target ({bare:g} and {ms:g}); "
                                  "expected one bare budget or TARGET=MS")
            bare = ms
        elif not name or name in named:
            raise ConfigError(f"--max-latency-ms {text!r} is invalid; expected each TARGET=MS once")
        else:
            named[name] = ms
    if not named:
        return bare
    if bare is not None:
        named["*"] = bare
    return named


def resolve_config(config: SearchConfig, *, canonical_targets: tuple[str, ...] | None = None,
                   task: Any = None) -> SearchConfig:
    """The config with every machine-decided value fixed: dataset, canonical target names, per-target
    budget names, proxy, device, batch size, proxy resolution and workers. The only place these
    defaults are applied.

    Args:
        canonical_targets: the targets' canonical names, in ``config.targets`` order (default: looked
            up with :func:`edgenas.hardware.targets.load_target`).
        task: the task when the caller resolved it already (:func:`resolve_task`).
    """
    config = macs_only(config)
    config.validate()
    from ..spaces import get_space
    from ..spaces.user import user_definition_hash

    space = get_space(config.space)  # a definition file resolves to its name here, once
    task = resolve_task(space, config) if task is None else task
    dataset = task.name
    definition = user_definition_hash(space)
    if canonical_targets is None:
        from ..hardware.targets import load_target

        canonical_targets = tuple(load_target(t).name for t in config.targets)
    names = dict(zip(config.targets, canonical_targets))
    budget = config.max_latency_ms
    if isinstance(budget, Mapping):
        bare = budget.get("*")
        per: dict[str, float] = {}
        for given, ms in budget.items():
            if given == "*":
                continue
            canon = names.get(given)
            if canon is None:
                from ..hardware.targets import load_target

                canon = load_target(given).name
                if canon not in canonical_targets:
                    raise ConfigError(f"--max-latency-ms {given}={ms:g} names a target that is not searched; "
                                      f"expected one of {', '.join(canonical_targets)}")
            per[canon] = float(ms)
        if bare is not None:
            for t in canonical_targets:
                per.setdefault(t, float(bare))
        budget = per
    device = config.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    on_gpu = device.startswith("cuda")
    batch = config.batch_size
    if batch is None:
        batch = DEFAULT_BATCH_GPU if on_gpu else (space.cpu_batch_size or DEFAULT_BATCH_CPU)
    resolution = config.proxy_resolution
    if resolution is None and not on_gpu and space.benchmark_dataset(task):
        resolution = space.cpu_proxy_resolution.get(dataset)
    if config.proxy_resolution is not None:
        space.check_task(replace(task, input_size=config.proxy_resolution))
    workers = config.workers
    if config.executor != "local":
        pass  # the executor decides (Ray: 0 = the cluster's CPUs)
    elif on_gpu:
        workers = 1  # one device, one process
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if workers == 0:
            workers = max(1, min(MAX_AUTO_WORKERS, cores))
        elif workers > cores:  # more single-thread workers than cores only add memory (~390 MB each)
            logging.getLogger("edgenas.search").warning(
                "workers=%d is more than the %d CPU core(s) this process may use; using %d", workers, cores, cores)
            workers = cores
    proxy = config.proxy or default_proxy(space.name)
    check_proxy_for_space(space, proxy)
    share = config.pick_top_share
    if share is None:
        share = _own_pick_share(proxy)
    return replace(config, space=space.name, space_definition=definition, dataset=dataset,
                   targets=tuple(canonical_targets), max_latency_ms=budget,
                   proxy=proxy, pick_top_share=share, device=device,
                   batch_size=batch, proxy_resolution=resolution, workers=workers,
                   task=None if space.benchmark_dataset(task) else task)


def resolve_task(space: Any, config: SearchConfig) -> Any:
    """The :class:`~edgenas.spaces.DatasetSpec` the network is built, priced and trained for: ``task``,
    or labeled ``data`` (classes and channels from it; unless ``dataset`` names a benchmark dataset of
    the space), or the benchmark ``dataset``; at ``resolution`` when given. Opens and checks ``data``
    (a bad file is an error here, before any run folder exists).

    Raises:
        DatasetError: bad data, or a task the space cannot build.
    """
    from ..spaces import DatasetSpec

    if config.task is not None:
        return space.task(config.task, resolution=config.resolution)
    source = None
    if config.data is not None:
        from ..data import open_data

        source = open_data(config.data)
    named = config.dataset is not None and config.dataset in space.datasets
    if source is not None and source.labels is not None and not named:
        p = Path(config.data)
        # digits/train -> "digits": a train/ or val/ folder is named by the folder above it
        name = config.dataset or (p.parent.name if p.name in ("train", "val") else p.stem) or "data"
        resolution = config.resolution or space.dataset(next(iter(space.datasets))).input_size
        return space.task(DatasetSpec(name, source.num_classes, resolution, source.channels))
    task = space.task(config.dataset, resolution=config.resolution)
    if source is not None and source.labels is not None and source.num_classes > task.num_classes:
        from ..errors import DatasetError

        raise DatasetError(f"data {config.data!r} has {source.num_classes} classes but dataset {task.name!r} has "
                           f"{task.num_classes}; expected labels 0..{task.num_classes - 1} (or leave --dataset out: "
                           "the data then defines the task)")
    return task


def config_task(config: SearchConfig) -> Any:
    """The task of a resolved config: ``config.task``, or its benchmark dataset's spec."""
    from ..spaces import get_space

    space = get_space(config.space)
    return space.task(config.task if config.task is not None else config.dataset, resolution=config.resolution)


def _own_pick_share(proxy: str) -> float:
    """The pick rule share of ``proxy`` when none is given: 0 for an accuracy prior, the recipe's
    own where it names one, else :data:`DEFAULT_PICK_TOP_SHARE`."""
    from ..proxies.ensemble import get_ensemble, list_ensembles

    if _is_prior(proxy):
        return 0.0
    if proxy in list_ensembles() and get_ensemble(proxy).pick_top_share is not None:
        return float(get_ensemble(proxy).pick_top_share)
    return DEFAULT_PICK_TOP_SHARE


def _is_prior(proxy: str) -> bool:
    """True for an ensemble that is an accuracy prior (aggregation ``linear``)."""
    from ..proxies.ensemble import get_ensemble, list_ensembles

    return proxy in list_ensembles() and get_ensemble(proxy).aggregation == "linear"


def check_proxy_for_space(space: Any, proxy: str) -> None:
    """A proxy built on the space's accuracy prior needs a space that ships one: say so before any
    work instead of scoring every arch as a failure."""
    needs_prior = proxy == "structure_prior"
    if not needs_prior and not space.accuracy_prior:
        from ..proxies.ensemble import list_ensembles

        if proxy in list_ensembles():
            from ..proxies.ensemble import ensemble_components

            needs_prior = "structure_prior" in ensemble_components(proxy)
    if needs_prior and not space.accuracy_prior:
        raise ConfigError(f"proxy {proxy!r} needs an accuracy prior of the space, and space {space.name!r} "
                          f"ships none; expected another proxy (e.g. {default_proxy(space.name)!r}) or space nb201")


def config_dict(config: SearchConfig) -> dict[str, Any]:
    """JSON-able dict of a config (``config.json``)."""
    d = asdict(config)
    d["targets"] = list(config.targets)
    d["extra_objectives"] = list(config.extra_objectives)
    if config.task is None:
        d.pop("task")  # absent for a benchmark dataset: config.json of earlier runs reads the same
    if config.resolution is None:
        d.pop("resolution")
    if isinstance(config.max_latency_ms, Mapping):
        d["max_latency_ms"] = dict(config.max_latency_ms)
    return d


#: fields renamed since runs were first written (old name -> new), so old run folders still load
_RENAMED = {"cost_source": "latency_source"}


def config_from_dict(doc: Mapping[str, Any], *, where: str = "search config") -> SearchConfig:
    """A :class:`SearchConfig` from its JSON dict, checked field by field (types, then
    :meth:`SearchConfig.validate`: ranges and names).

    Raises:
        ConfigError: unknown fields, values of the wrong type or out of range, naming ``where`` and the field.
    """
    if not isinstance(doc, Mapping):
        raise ConfigError(f"{where}: expected a JSON object")
    doc = {_RENAMED.get(k, k): v for k, v in doc.items() if k not in ("schema_version", "edgenas_version")}
    known = {f.name for f in fields(SearchConfig)}
    extra = sorted(set(doc) - known)
    if extra:
        raise ConfigError(f"{where} has unknown field {extra[0]!r}; expected {', '.join(sorted(known))}")
    for key in ("targets", "extra_objectives"):
        if key in doc and not isinstance(doc[key], (list, tuple)):
            raise ConfigError(f"{where}: field {key!r} must be a list")
    if doc.get("task") is not None and not isinstance(doc["task"], Mapping):
        raise ConfigError(f"{where}: field 'task' must be an object (name, num_classes, input_size, channels)")
    for key in _STR_FIELDS:
        v = doc.get(key, "")
        if not isinstance(v, str) and not (v is None and key not in _REQUIRED_STR):
            raise ConfigError(f"{where}: field {key!r} is {v!r}; expected a string"
                              + ("" if key in _REQUIRED_STR else " or null"))
    try:
        config = SearchConfig(**doc)
        config.validate()
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except EdgeNASError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    return config


#: string fields of a stored config (those in _REQUIRED_STR may not be null)
_STR_FIELDS = ("space", "dataset", "proxy", "searcher", "device", "executor", "ray_address", "data", "score_table",
               "latency_source", "out", "space_definition")
_REQUIRED_STR = ("space", "searcher", "device", "executor", "latency_source")


def load_config(path: str | Path) -> SearchConfig:
    """The :class:`SearchConfig` of a run's ``config.json`` (to re-run or resume it).

    Raises:
        ConfigError: unreadable file, unknown fields, values of the wrong type.
    """
    from .._read import load_json

    doc = load_json(path, what="search config", max_bytes=16 * 2**20)
    return config_from_dict(doc, where=f"search config {str(path)!r}")
