"""`edgenas profile`: build a latency table on THIS machine with onnxruntime."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import console, dataset_option, echo_json, json_option, resolve_space, space_option


@click.command()
@click.option("--target", default="cpu", show_default=True,
              help="Target to profile; only 'cpu' (this host, onnxruntime) can be measured here. "
                   "For Jetson use tools/profile_jetson_trt.py on the device.")
@space_option()
@dataset_option()
@click.option("--runs", type=click.IntRange(3), default=60, show_default=True,
              help="Timed runs per model (split over --rounds).")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True,
              help="Interleaved passes over all models (spreads bursts of load from other processes).")
@click.option("--chain", type=click.IntRange(0), default=4, show_default=True,
              help="Time shape-keeping ops as the cost of one more copy in a chain of 1+N (0 = alone).")
@click.option("--warmup", type=click.IntRange(0), default=10, show_default=True, help="Untimed runs per model.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="onnxruntime intra-op threads.")
@click.option("--archs", "n_archs", type=click.IntRange(4), default=260, show_default=True,
              help="Random archs measured end to end (the first --calibration fit scale/constant, the rest check).")
@click.option("--calibration", type=click.IntRange(2), default=60, show_default=True,
              help="End-to-end archs used to fit the per-op-type scales and constant, and the kernel model; "
                   "cross-validation on them picks which of the two the table uses.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--statistic", type=click.Choice(["ref", "cpu", "median", "p10"]), default=None,
              help="Per-model value stored: ref (default with 1 thread: median ratio of the timing thread's CPU time "
                   "to a reference arch timed right after every run, times the reference's median: robust to the "
                   "host's speed drift), cpu (CPU time), median or p10 (wall; default median with more threads).")
@click.option("--space-predictions/--no-space-predictions", default=True, show_default=True,
              help="With a kernel model on a small space (NB201), store its prediction of every arch in the table, "
                   "so searches price archs by lookup (NB201: ~5 min on 2 cores, after all timing).")
@click.option("--workers", type=click.IntRange(0), default=0, show_default=True,
              help="Processes for --space-predictions (0 = one per core).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output JSON (default $EDGENAS_HOME/latency_tables/<space>_<dataset>_cpu_ops.json, which the cpu target then uses instead of the shipped table).")
@json_option
def profile(target: str, space_name: str, dataset: str | None, runs: int, rounds: int, chain: int, warmup: int,
            threads: int, n_archs: int, calibration: int, seed: int, statistic: str | None,
            space_predictions: bool, workers: int, out: Path | None, as_json: bool) -> None:
    """Measure every op of a space and a sample of whole models with onnxruntime on this machine."""
    from .._paths import user_latency_tables_dir
    from ..errors import ConfigError
    from ..hardware.profile import profile_space
    from ..hardware.tables import save_op_table
    from ..hardware.targets import load_target

    t = load_target(target)
    if t.runtime != "onnxruntime":
        raise ConfigError(f"target {t.name!r} uses {t.runtime}, which cannot be profiled on this machine; "
                          f"expected an onnxruntime target such as 'cpu'",
                          hint=t.profile_hint or "run tools/profile_jetson_trt.py on the device")
    space, ds = resolve_space(space_name, dataset)
    if calibration >= n_archs - 1:
        raise ConfigError(f"--calibration {calibration} must be smaller than --archs {n_archs} minus 1")
    out = out or user_latency_tables_dir() / f"{space.name}_{ds}_cpu_ops.json"
    if as_json:
        result = profile_space(space, ds, n_archs=n_archs, n_calibration=calibration, runs=runs, warmup=warmup,
                               threads=threads, seed=seed, device_name=t.name, statistic=statistic, chain=chain,
                               rounds=rounds, space_predictions=space_predictions, workers=workers)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=console(), transient=True) as bar:
            tasks: dict[str, int] = {}

            def cb(stage: str, done: int, total: int, label: str) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"{stage}", total=total)
                bar.update(tasks[stage], completed=done)

            result = profile_space(space, ds, n_archs=n_archs, n_calibration=calibration, runs=runs,
                                   warmup=warmup, threads=threads, seed=seed, progress=cb, device_name=t.name,
                                   statistic=statistic, chain=chain, rounds=rounds,
                                   space_predictions=space_predictions, workers=workers)
    save_op_table(result.table, out)
    m = result.table.meta
    summary = {"out": str(out), "seconds": result.seconds, "cpu_model": m["cpu_model"],
               "onnxruntime_version": m["onnxruntime_version"], "threads": threads, "ops": len(result.table.entries),
               "end_to_end_archs": len(m["end_to_end"]), "scale": result.table.scale,
               "intercept_ms": result.table.intercept_ms, "statistic": m["statistic"],
               "check_by_statistic": m["check_by_statistic"], "check": m["check"], "noise": m["noise"],
               "space_predictions": len((result.table.kernels or {}).get("space_ms", {}).get("ms", []))}
    if as_json:
        echo_json(summary)
        return
    c = console()
    c.print(f"wrote {out} in {result.seconds:.0f} s ({m['cpu_model']}, onnxruntime {m['onnxruntime_version']}, "
            f"{threads} thread(s))")
    for stat, chk in m["check_by_statistic"].items():
        for name in ("additive_sum", "global_scale", "calibrated", "per_key_fit", "kernels"):
            r = chk[name]
            c.print(f"{stat:>6} {name:>13}: held-out {r['n']} archs  MAPE {r['mape']:.1f}%  within 10% {100 * r['within_10']:.0f}%  "
                    f"tau {r['kendall_tau']:.3f}")
    n = m["noise"]
    c.print(f"noise: median CV {n['median_cv']:.3f}, p90 CV {n['p90_cv']:.3f}, outlier runs "
            f"{n['outlier_runs']}/{n['timed_runs']}, end-to-end spread between rounds median "
            f"{100 * n['e2e_round_spread_median']:.1f}% (p90 {100 * n['e2e_round_spread_p90']:.1f}%)")
