"""``edgenas search``: the Pareto front of proxy score vs latency under the user's budgets."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..search.config import (
    DEFAULT_BATCH_CPU,
    DEFAULT_BATCH_GPU,
    MAX_LATENCY_MS,
    MAX_MACS_M,
    MAX_PARAMS_M,
    SearchConfig,
)
from ._common import LogProgress, console, echo_json, json_option, stderr_is_terminal

_D = SearchConfig()  # every option default is read from SearchConfig: the CLI and the API are one call


class _ProxyOption(click.Option):
    """``--proxy``: the help names each space's real default (read from the spaces when help is shown)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from ..search.config import default_proxies

        per_space = "; ".join(f"{sp}: {p}" for sp, p in sorted(default_proxies().items()))
        self.help = f"Proxy or ensemble to maximise (default per space: {per_space}; vkdnw_agg = the VKDNW paper's)."
        return super().get_help_record(ctx)


@click.command("search")
@click.option("--target", "targets", multiple=True,
              help="Target device or alias (e.g. jetson); repeat to require feasibility on all. `macs` prices by "
                   "MACs at the task's resolution (no table needed; also the cost when only --max-macs-m is given).")
@click.option("--space", "space_name", default=_D.space, show_default=True,
              help="Search space (`edgenas spaces` lists them) or a space definition FILE.yaml (docs/spaces.md).")
@click.option("--dataset", default=_D.dataset, help="Dataset of the space (default: the space's first).")
@click.option("--max-latency-ms", "max_latency_ms", multiple=True, metavar="[TARGET=]MS",
              help=f"Latency budget (ms, up to {MAX_LATENCY_MS:g}): a bare number for every target, TARGET=MS "
                   "for one (repeat: --max-latency-ms jetson=5 --max-latency-ms raspi4=30).")
@click.option("--max-params-m", type=float, default=_D.max_params_m,
              help=f"Parameter budget (millions, up to {MAX_PARAMS_M:g}).")
@click.option("--max-macs-m", type=float, default=_D.max_macs_m,
              help=f"MACs budget (millions per image, up to {MAX_MACS_M:g}).")
@click.option("--proxy", default=_D.proxy, cls=_ProxyOption,
              help="Proxy or ensemble to maximise (default: the space's; vkdnw_agg = the VKDNW paper's).")
@click.option("--evaluations", type=int, default=_D.evaluations, show_default=True,
              help="Proxy evaluations (distinct archs scored).")
@click.option("--population", type=int, default=_D.population, show_default=True,
              help="NSGA-II population (= random-search batch = ensemble reference size).")
@click.option("--searcher", default=_D.searcher, show_default=True,
              help="nsga2 | random | exhaustive (every feasible class; enumerable spaces).")
@click.option("--seed", type=int, default=_D.seed, show_default=True, help="Run seed.")
@click.option("--device", default=_D.device, show_default=True, help="auto | cpu | cuda[:i] for the proxies.")
@click.option("--batch-size", type=int, default=_D.batch_size,
              help=f"Proxy input batch (default {DEFAULT_BATCH_CPU} on CPU, {DEFAULT_BATCH_GPU} on CUDA; "
                   "fbnet on CPU: 8).")
@click.option("--workers", type=int, default=_D.workers, show_default=True,
              help="Proxy worker processes on CPU, one torch thread each (0 = one per core, at most 8; "
                   "1 = in this process; GPU runs use 1). Changes speed, not scores.")
@click.option("--executor", default=_D.executor, show_default=True,
              help="Where the proxies run: local (this machine) | ray (a Ray cluster; pip install 'edgenas[ray]').")
@click.option("--ray-address", default=_D.ray_address,
              help="With --executor ray: auto (the running cluster) or HOST:PORT (default: a local Ray instance).")
@click.option("--resolution", type=int, default=_D.resolution,
              help="The task's input resolution N x N px: the network is built, priced and trained at it "
                   "(default: the dataset's; with --data, the space's first dataset's).")
@click.option("--proxy-resolution", type=int, default=_D.proxy_resolution,
              help="Reduced-resolution mode: proxy inputs of N x N px instead of the task's "
                   "(default: the task's; fbnet/imagenet on CPU: 64; recorded in config.json).")
@click.option("--data", default=_D.data,
              help="Your images: a folder with one sub-folder per class (optionally under train/ and val/), or a "
                   ".npz with x and y: the task (classes, channels) comes from them, and the proxies see them. "
                   "Unlabeled data (.npy, a folder without class folders) only replaces the proxies' noise.")
@click.option("--score-table", default=_D.score_table,
              help="Look proxy scores up in a whole-space table (edgenas proxies score --all) instead of computing them.")
@click.option("--latency-source", default=_D.latency_source, show_default=True,
              help="auto | lookup | lut | flops, as in `edgenas cost --source`: auto = measured lookup where the "
                   "target has a per-arch table; lut = per-op model fitted on the measured archs (use it for a "
                   "table that covers only part of the space, e.g. a few hundred archs profiled on your device).")
@click.option("--objective", "extra_objectives", multiple=True, type=click.Choice(["macs_m", "params_m"]),
              help="Also minimise MACs and/or params on the front (repeatable).")
@click.option("--noise-seeds", type=int, default=_D.noise_seeds, show_default=True,
              help="Score the best front members again with this many other init seeds and report the spread "
                   "of their score (score_spread in pareto.json; 0 = off).")
@click.option("--pick-top-share", type=float, default=_D.pick_top_share,
              help="The pick is the largest of this share of best-scoring candidates (0 = the best score; "
                   "default: 0 for an accuracy prior such as edgenas_transfer and for edgenas_paths, else 0.025).")
@click.option("--pick-within-noise", type=float, default=_D.pick_within_noise,
              help="The pick is the largest (most MACs) of the candidates whose score is within this many init-seed "
                   "standard deviations of the best (measured with --noise-seeds); default: the --pick-top-share rule.")
@click.option("--out", default=_D.out,
              help="Run folder (default runs/<space>-<dataset>-<targets>-<proxy>-s<seed>).")
@click.option("--resume", is_flag=True, help="Continue the run in --out without rescoring stored archs.")
@json_option
def search(targets: tuple[str, ...], space_name: str, max_latency_ms: tuple[str, ...], resume: bool, as_json: bool,
           **options: Any) -> None:
    """Search for architectures on the Pareto front of proxy score vs latency.

    Writes pareto.json, candidates.csv, config.json and pareto.png (plus the candidates.sqlite
    store that --resume continues from) to the run folder.
    """
    from ..api import search as api_search
    from ..search.config import parse_latency_budgets

    kwargs = dict(targets=targets, space=space_name, max_latency_ms=parse_latency_budgets(max_latency_ms or None),
                  resume=resume, **options)
    if as_json:
        echo_json(api_search(**kwargs).to_json())
        return
    result = _run_with_progress(kwargs)
    _print_front(result)


def _run_with_progress(kwargs: dict[str, Any]) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ..api import search as api_search

    err = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]search"), BarColumn(), MofNCompleteColumn(), TextColumn("front {task.fields[front]}"),
        TextColumn("best {task.fields[best]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=err, transient=False,
    )
    task = progress.add_task("search", total=kwargs["evaluations"], front=0, best="-")
    started = []
    log_lines = None if stderr_is_terminal() else LogProgress("search")

    def on_progress(p: Any) -> None:
        if log_lines is not None:  # a log: plain lines, not a bar that draws only at the end
            best = f"{p.best_score:.4g}" if p.best_score is not None else "-"
            log_lines("scored", p.n_evaluated, p.n_budget, f", front {p.front_size}, best {best}")
            return
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
        result = api_search(**kwargs, on_progress=on_progress)
        if failures.count:
            note = (f"{failures.count} proxy warnings (failed or non-finite scores count as the worst "
                    "score; see candidates.csv)")
            result = replace(result, notes=(*result.notes, note))
        return result
    except KeyboardInterrupt:
        if started:
            progress.stop()
        out = kwargs.get("out")
        from ..search.run import STORE_NAME

        if out and not (Path(out) / STORE_NAME).exists():  # cut before the first score: the store was dropped
            click.echo("error: interrupted before any candidate was scored; nothing was saved (hint: run the same "
                       "command again, without --resume)", err=True)
        else:
            click.echo(f"error: interrupted; scored candidates are saved in {out or 'the run folder'} "
                       f"(hint: rerun with the same options and --resume{'' if out else ' --out DIR'})", err=True)
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


def _shown_text(shown: Any, key: str) -> str:
    v = shown.values.get(key)
    if v is None:
        return "proxy failed"
    if shown.name == "predicted_accuracy_pct":
        return f"predicted accuracy {v:.1f} %"
    return f"percentile {v:.1f} of the scored candidates"


def _print_front(result: Any) -> None:
    from rich.table import Table

    from ..search.outputs import score_shown

    cfg = result.config
    targets = list(cfg.targets)
    shown = score_shown(result)
    what = "acc %: predicted accuracy" if shown.name == "predicted_accuracy_pct" else \
        "pct: percentile among the scored candidates"
    t = Table(title=f"Pareto front: {cfg.space}/{cfg.dataset}, {cfg.proxy} vs {'latency' if targets else 'MACs'} "
                    f"({len(result.front)} of {len(result.candidates)} scored)",
              caption=f"{what}; score: {cfg.proxy}")
    t.add_column("#", justify="right")
    t.add_column("index", justify="right")
    # the shown score (predicted accuracy, else percentile among the scored), then the raw one
    t.add_column("acc %" if shown.name == "predicted_accuracy_pct" else "pct", justify="right")
    t.add_column("score", justify="right")
    for tg in targets:
        t.add_column(f"{tg} ms", justify="right", no_wrap=True)
    t.add_column("MACs M", justify="right")
    t.add_column("params M", justify="right")
    t.add_column("arch", overflow="fold")
    for i, c in enumerate(result.front, 1):
        std = (c.score_spread or {}).get("std")
        score = f"{c.score:.4g}" + (f" ±{std:.2g}" if std is not None else "")
        v = shown.values.get(c.iso_key)
        t.add_row(str(i), "-" if c.index is None else str(c.index), "-" if v is None else f"{v:.1f}", score,
                  *(f"{c.latency_ms[tg]:.3f}" for tg in targets), f"{c.macs_m:.1f}", f"{c.params_m:.3f}", c.arch)
    con = console()
    con.print(t)
    pick = result.pick
    if pick is not None:
        rank = next((i for i, c in enumerate(result.front, 1) if c.iso_key == pick.iso_key), None)
        where = f"front #{rank}" if rank else "not on the front"
        lat = "".join(f"{tg} {pick.latency_ms[tg]:.3f} ms; " for tg in targets)
        con.print(f"pick ({where}): {pick.arch} (index {'-' if pick.index is None else pick.index}; {lat}"
                  f"{pick.macs_m:.1f} M MACs; {cfg.proxy} {pick.score:.4g}; {_shown_text(shown, pick.iso_key)}); "
                  f"`edgenas export {result.run_dir}` exports it")
    con.print(f"scored {result.n_scored} new, reused {result.n_reused} from the store, {result.wall_s:.1f} s; "
              f"outputs in {result.run_dir}")
    for note in result.notes:
        con.print(f"note: {note}")
