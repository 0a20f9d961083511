"""The Python API: ``edgenas.search(...)`` is ``edgenas search`` (same keywords, same defaults, same
run folder and ``pareto.json``); either can ``resume`` the other's run."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .search.config import SearchConfig
from .search.result import Candidate, SearchProgress, SearchResult

__all__ = ["search"]

_D = SearchConfig()  # every default below is read from here: one source for the CLI and the API


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
    proxy_resolution: int | None = _D.proxy_resolution,
    data: str | None = _D.data,
    score_table: str | None = _D.score_table,
    latency_source: str = _D.latency_source,
    extra_objectives: Sequence[str] = _D.extra_objectives,
    noise_seeds: int = _D.noise_seeds,
    pick_top_share: float | None = _D.pick_top_share,
    out: str | None = _D.out,
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
        ray_address=ray_address, proxy_resolution=proxy_resolution,
        data=data, score_table=score_table, latency_source=latency_source, extra_objectives=tuple(extra_objectives), noise_seeds=noise_seeds,
        pick_top_share=pick_top_share, out=out,
    )
    return run_search(config, resume=resume, on_progress=on_progress, on_candidate=on_candidate)


# ``import edgenas.search.run as m`` resolves ``edgenas.search`` to this function and then finds
# the submodule by ``<its __name__>.run`` in sys.modules: name it as the package it stands for
search.__name__ = "edgenas.search"
