"""``edgenas search``: the Pareto front of proxy score vs latency under the user's budgets."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from typing import Any

import click

from ._common import console, echo_json, json_option

#: defaults chosen so ``edgenas search --target jetson`` finishes in minutes on a 2-core CPU;
#: NSGA-II with a population of 50 runs 6 generations in 300 evaluations.
DEFAULT_EVALUATIONS = 300
DEFAULT_POPULATION = 50
#: proxy batch size by device: VKDNW's ablation shows batch 8..128 ranks alike (KT 0.614-0.621)
DEFAULT_BATCH_CPU = 16
DEFAULT_BATCH_GPU = 64
#: edgenas_prior (flops, params, AZ expressivity, AZ trainability, sed; size and topology weighted 2x):
#: chosen on NB201 CIFAR-10 (HW-NAS-Bench devices) by the gap of the pick to the best feasible arch;
#: tools/bench_picks.py reports it on every dataset and device, the held-out ones marked
#: (docs/benchmarks.md). ``--proxy vkdnw_agg`` runs the VKDNW paper's ensemble.
DEFAULT_PROXY = "edgenas_prior"
#: FBNet on CPU (README "FBNet space", tools/bench_fbnet_proxies.py): vkdnw_agg takes minutes per arch
#: there, so the default is the one-forward edgenas_fast ensemble (edgenas_prior's weights were chosen
#: on NB201 and have no FBNet measurement), at batch 8 and, for the 224-px setting, 64-px proxy inputs
#: (rankings measured against 224 px); all recorded in config.json
SPACE_DEFAULT_PROXY = {"fbnet": "edgenas_fast"}
SPACE_BATCH_CPU = {"fbnet": 8}
SPACE_RESOLUTION_CPU = {("fbnet", "imagenet"): 64}


@click.command("search")
@click.option("--target", "targets", multiple=True, required=True,
              help="Target device or alias (e.g. jetson); repeat to require feasibility on all.")
@click.option("--space", "space_name", default="nb201", show_default=True, help="Search space.")
@click.option("--dataset", default=None, help="Dataset of the space (default: the space's first).")
@click.option("--max-latency-ms", type=float, default=None, help="Latency budget on every target (ms).")
@click.option("--max-params-m", type=float, default=None, help="Parameter budget (millions).")
@click.option("--max-macs-m", type=float, default=None, help="MACs budget (millions per image).")
@click.option("--proxy", default=None,
              help=f"Proxy or ensemble to maximise (default {DEFAULT_PROXY}; vkdnw_agg = the VKDNW paper's).")
@click.option("--evaluations", type=int, default=DEFAULT_EVALUATIONS, show_default=True,
              help="Proxy evaluations (distinct archs scored).")
@click.option("--population", type=int, default=DEFAULT_POPULATION, show_default=True,
              help="NSGA-II population (= random-search batch = ensemble reference size).")
@click.option("--searcher", default="nsga2", show_default=True,
              help="nsga2 | random | exhaustive (every feasible class; enumerable spaces).")
@click.option("--seed", type=int, default=0, show_default=True, help="Run seed.")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:i] for the proxies.")
@click.option("--batch-size", type=int, default=None,
              help=f"Proxy input batch (default {DEFAULT_BATCH_CPU} on CPU, {DEFAULT_BATCH_GPU} on CUDA; "
                   "fbnet on CPU: 8).")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Proxy worker processes on CPU, one torch thread each (0 = one per core, at most 8; "
                   "1 = in this process; GPU runs use 1). Changes speed, not scores.")
@click.option("--proxy-resolution", type=int, default=None,
              help="Reduced-resolution mode: proxy inputs of N x N px instead of the dataset's "
                   "(default: the dataset's; fbnet/imagenet on CPU: 64; recorded in config.json).")
@click.option("--latency-source", default="auto", show_default=True,
              help="auto | lookup | lut | flops, as in `edgenas cost --source`: auto = measured lookup where the "
                   "target has a per-arch table; lut = per-op model fitted on the measured archs (use it for a "
                   "table that covers only part of the space, e.g. a few hundred archs profiled on your device).")
@click.option("--noise-seeds", type=int, default=2, show_default=True,
              help="Score the best front members again with this many other init seeds and report the spread "
                   "of their score (score_spread in pareto.json; 0 = off).")
@click.option("--out", default=None,
              help="Run folder (default runs/<space>-<dataset>-<targets>-<proxy>-s<seed>).")
@click.option("--resume", is_flag=True, help="Continue the run in --out without rescoring stored archs.")
@json_option
def search(targets: tuple[str, ...], space_name: str, dataset: str | None, max_latency_ms: float | None,
           max_params_m: float | None, max_macs_m: float | None, proxy: str | None, evaluations: int,
           population: int, searcher: str, seed: int, device: str, batch_size: int | None, workers: int,
           proxy_resolution: int | None, latency_source: str, noise_seeds: int, out: str | None, resume: bool,
           as_json: bool) -> None:
    """Search for architectures on the Pareto front of proxy score vs latency.

    Writes pareto.json, candidates.csv, config.json and pareto.png (plus the candidates.sqlite
    store that --resume continues from) to the run folder.
    """
    from ..errors import ConfigError
    from ..search.run import SearchConfig, run_search

    on_gpu = device.startswith("cuda")
    if device == "auto":
        import torch

        on_gpu = torch.cuda.is_available()
    proxy = proxy or SPACE_DEFAULT_PROXY.get(space_name, DEFAULT_PROXY)
    if proxy_resolution is None and not on_gpu:
        proxy_resolution = SPACE_RESOLUTION_CPU.get((space_name, dataset or ""))
    if batch_size is None:
        batch_size = DEFAULT_BATCH_GPU if on_gpu else SPACE_BATCH_CPU.get(space_name, DEFAULT_BATCH_CPU)
    elif batch_size < 2:
        raise ConfigError(f"--batch-size {batch_size} is invalid; expected an integer >= 2")
    config = SearchConfig(
        targets=targets, space=space_name, dataset=dataset, max_latency_ms=max_latency_ms,
        max_params_m=max_params_m, max_macs_m=max_macs_m, proxy=proxy, evaluations=evaluations,
        population=population, searcher=searcher, seed=seed, device=device, out=out,
        batch_size=batch_size, proxy_resolution=proxy_resolution, workers=workers, cost_source=latency_source,
        noise_seeds=noise_seeds,
    )
    if as_json:
        result = run_search(config, resume=resume)
        echo_json(result.to_json())
        return
    result = _run_with_progress(config, resume)
    _print_front(result)


def _run_with_progress(config: Any, resume: bool) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..search.run import run_search

    err = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(), TextColumn("front {task.fields[front]}"),
        TextColumn("best {task.fields[best]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=err, transient=False,
    )
    task = progress.add_task("search", total=config.evaluations, front=0, best="-")
    started = []

    def on_progress(p: Any) -> None:
        if not started:  # start drawing only once scoring began: input errors stay one line
            progress.start()
            started.append(True)
        best = f"{p.best_score:.4g}" if p.best_score is not None else "-"
        progress.update(task, completed=p.n_evaluated, total=p.n_budget, front=p.front_size, best=best)

    # proxy failures are logged per arch by the engine; count them instead of breaking the bar
    failures = _CountingHandler()
    proxy_log = logging.getLogger("edgenas.proxies")
    proxy_log.addHandler(failures)
    old_propagate, proxy_log.propagate = proxy_log.propagate, False
    try:
        result = run_search(config, resume=resume, on_progress=on_progress)
        if failures.count:
            note = (f"{failures.count} proxy warnings (failed or non-finite scores count as the worst "
                    "score; see candidates.csv)")
            result = replace(result, notes=(*result.notes, note))
        return result
    except KeyboardInterrupt:
        if started:
            progress.stop()
        where = config.out or "the run folder"
        click.echo(f"error: interrupted; scored candidates are saved in {where} "
                   f"(hint: rerun with the same options and --resume{'' if config.out else ' --out DIR'})", err=True)
        sys.exit(130)
    finally:
        if started:
            progress.stop()
        proxy_log.removeHandler(failures)
        proxy_log.propagate = old_propagate


class _CountingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _print_front(result: Any) -> None:
    from rich.table import Table

    cfg = result.config
    targets = list(cfg.targets)
    t = Table(title=f"Pareto front: {cfg.space}/{cfg.dataset}, {cfg.proxy} vs latency "
                    f"({len(result.front)} of {len(result.candidates)} scored)")
    t.add_column("#", justify="right")
    t.add_column("index", justify="right")
    t.add_column(cfg.proxy, justify="right")
    for tg in targets:
        t.add_column(f"{tg} ms", justify="right")
    t.add_column("MACs M", justify="right")
    t.add_column("params M", justify="right")
    t.add_column("arch", overflow="fold")
    for i, c in enumerate(result.front, 1):
        std = (c.score_spread or {}).get("std")
        score = f"{c.score:.4g}" + (f" ±{std:.2g}" if std is not None else "")
        t.add_row(str(i), "-" if c.index is None else str(c.index), score,
                  *(f"{c.latency_ms[tg]:.3f}" for tg in targets), f"{c.macs_m:.1f}", f"{c.params_m:.3f}", c.arch)
    con = console()
    con.print(t)
    pick = result.pick
    if pick is not None:
        rank = next((i for i, c in enumerate(result.front, 1) if c.iso_key == pick.iso_key), None)
        where = f"front #{rank}" if rank else "not on the front"
        lat = ", ".join(f"{tg} {pick.latency_ms[tg]:.3f} ms" for tg in targets)
        con.print(f"pick ({where}): {pick.arch} (index {'-' if pick.index is None else pick.index}; {lat}; "
                  f"{pick.macs_m:.1f} M MACs; {cfg.proxy} {pick.score:.4g}); `edgenas export {result.run_dir}` exports it")
    con.print(f"scored {result.n_scored} new, reused {result.n_reused} from the store, {result.wall_s:.1f} s; "
              f"outputs in {result.run_dir}")
    for note in result.notes:
        con.print(f"note: {note}")
