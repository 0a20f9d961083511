"""`edgenas profile`: measure a device (this machine or a board over SSH) and make it a target.

Two ways, one command:

* ``--target NAME`` (a new name) with ``--host USER@BOARD`` and/or ``--runtime``: time a designed
  set of whole archs on the device with the standalone device runner (the device needs Python,
  numpy and the runtime only), journal every timing, fit a user target
  (:mod:`edgenas.timing.device`); without ``--host`` the runner runs on this machine;
* ``--target cpu`` alone: the per-op profile of this host with onnxruntime
  (:mod:`edgenas.timing.cpu_ops`), stored as the user's table of the ``cpu`` target.
"""

from __future__ import annotations

from pathlib import Path

import click

from ._common import (
    LogProgress,
    console,
    dataset_option,
    echo_json,
    json_option,
    print_fit,
    resolve_space,
    space_option,
    stderr_is_terminal,
)

#: device-profile options that make `profile` time whole archs on a device (see the module docstring)
_DEVICE_ONLY = ("host", "runtime", "precision", "ssh_options", "remote_python", "calibration_data", "force",
                "connect_timeout", "opset", "kernel_model")
#: per-op options of the host profile (--target cpu)
_HOST_ONLY = ("rounds", "chain", "calibration", "space_predictions", "workers", "out")


@click.command()
@click.option("--target", default="cpu", show_default=True,
              help="'cpu': per-op profile of this host. Any new name: the device to profile (with --host, or this "
                   "machine), saved as a user target of that name.")
@space_option()
@dataset_option()
@click.option("--host", default=None, help="USER@HOST: profile this device over SSH (BatchMode; keys must be set up).")
@click.option("--runtime", type=click.Choice(["onnxruntime", "tensorrt", "trtexec", "litert"]), default=None,
              help="What times the models on the device (default onnxruntime): onnxruntime (CPU EP), tensorrt "
                   "(Python API + libcudart), trtexec, or litert (.tflite converted here with edgenas[litert]; the "
                   "device needs only numpy and the LiteRT interpreter).")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True,
              help="tensorrt/trtexec engine or litert model precision; int8 needs --calibration-data.")
@click.option("--calibration-data", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="int8 only: a .npy batch of real inputs to calibrate the int8 engines with.")
@click.option("--ssh-option", "ssh_options", multiple=True, help="Extra ssh/scp -o KEY=VALUE (e.g. Port=2222).")
@click.option("--remote-python", default="python3", show_default=True, help="Python on the device.")
@click.option("--opset", type=click.IntRange(11, 20), default=17, show_default=True,
              help="ONNX opset of the timed models (older device runtimes need older opsets: onnxruntime 1.10 "
                   "reads up to 15).")
@click.option("--connect-timeout", type=click.IntRange(1, 600), default=10, show_default=True,
              help="Seconds ssh waits to connect.")
@click.option("--force", is_flag=True, help="Replace a user target of this name that `edgenas fit` or another "
                                            "journal made.")
@click.option("--runs", type=click.IntRange(3, 100_000), default=60, show_default=True,
              help="Timed runs per model (host profile: split over --rounds).")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True,
              help="Interleaved passes over all models (spreads bursts of load from other processes).")
@click.option("--chain", type=click.IntRange(0), default=4, show_default=True,
              help="Time shape-keeping ops as the cost of one more copy in a chain of 1+N (0 = alone).")
@click.option("--warmup", type=click.IntRange(0, 100_000), default=10, show_default=True,
              help="Untimed runs per model (trtexec: milliseconds).")
@click.option("--threads", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="onnxruntime intra-op threads.")
@click.option("--archs", "n_archs", type=click.IntRange(4, 10_000), default=None,
              help="Archs timed end to end: on a device (default 30) a designed set, resumable, growable later; "
                   "host profile (default 260) random, the first --calibration fit scale/constant, the rest check.")
@click.option("--calibration", type=click.IntRange(2), default=60, show_default=True,
              help="End-to-end archs used to fit the per-op-type scales and constant, and the kernel model; "
                   "cross-validation on them picks which of the two the table uses.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--statistic", type=click.Choice(["ref", "cpu", "median", "p10"]), default=None,
              help="Per-model value stored: ref (default with 1 thread: median ratio of the timing thread's CPU time "
                   "to a reference arch timed right after every run, times the reference's median: robust to the "
                   "host's speed drift), cpu (CPU time), median or p10 (wall; default median with more threads). "
                   "A device profile takes ref (default on onnxruntime with 1 thread) or median.")
@click.option("--kernel-model/--no-kernel-model", default=True, show_default=True,
              help="Device profile on onnxruntime: offer the fit a cost per kernel of onnxruntime's optimized graph "
                   "when this host reproduces the device's kernels; if cross-validation picks it, every arch is "
                   "counted here (NB201: ~3 min on 2 cores).")
@click.option("--space-predictions/--no-space-predictions", default=True, show_default=True,
              help="With a kernel model on a small space (NB201, macro), store its prediction of every arch in the "
                   "table, so searches price archs by lookup (NB201: ~5 min on 2 cores, after all timing; macro: "
                   "one torch export per network, 3,969 of them).")
@click.option("--workers", type=click.IntRange(0), default=0, show_default=True,
              help="Processes for --space-predictions (0 = one per core).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Output JSON (default $EDGENAS_HOME/latency_tables/<space>_<dataset>_cpu_ops.json, which the cpu target then uses instead of the shipped table).")
@json_option
@click.pass_context
def profile(ctx: click.Context, target: str, space_name: str, dataset: str | None, host: str | None,
            runtime: str | None, precision: str, calibration_data: Path | None, ssh_options: tuple[str, ...],
            remote_python: str, opset: int, connect_timeout: int, force: bool, runs: int, rounds: int, chain: int, warmup: int,
            threads: int, n_archs: int | None, calibration: int, seed: int, statistic: str | None, kernel_model: bool,
            space_predictions: bool, workers: int, out: Path | None, as_json: bool) -> None:
    """Measure a device and save it as a target (see `--target`).

    On a device: the same command again resumes (only missing archs are timed); a larger --archs adds archs.
    """
    from ..errors import ConfigError

    def given(names: tuple[str, ...]) -> list[str]:
        src = click.core.ParameterSource
        return ["--" + n.replace("_", "-") for n in names if ctx.get_parameter_source(n) not in (src.DEFAULT, None)]

    on_device = host is not None or runtime is not None or target != "cpu"
    if on_device:
        opts = given(_HOST_ONLY)
        if opts:
            raise ConfigError(f"{', '.join(opts)} appl{'ies' if len(opts) == 1 else 'y'} to the per-op host profile "
                              "(--target cpu without --host/--runtime), not to a device profile")
        _profile_device(target, space_name, dataset, host=host, runtime=runtime or "onnxruntime",
                        precision=precision, calibration_data=calibration_data, ssh_options=ssh_options,
                        remote_python=remote_python, opset=opset, connect_timeout=connect_timeout, force=force,
                        runs=runs, warmup=warmup, threads=threads, n_archs=n_archs, seed=seed, statistic=statistic,
                        kernel_model=kernel_model, as_json=as_json)
        return
    opts = given(_DEVICE_ONLY)
    if opts:
        raise ConfigError(f"{', '.join(opts)} appl{'ies' if len(opts) == 1 else 'y'} to a device profile; expected "
                          "--target NAME (a new name for the device)")
    n_archs = 260 if n_archs is None else n_archs
    from .._paths import user_latency_tables_dir
    from ..errors import ConfigError
    from ..hardware.tables import save_op_table
    from ..hardware.targets import load_target
    from ..timing.cpu_ops import profile_space

    t = load_target(target)
    space, ds = resolve_space(space_name, dataset)
    if calibration >= n_archs - 1:
        given = click.get_current_context().get_parameter_source("calibration") is click.core.ParameterSource.COMMANDLINE
        raise ConfigError(f"--calibration {calibration}{'' if given else ' (its default)'} must be smaller than "
                          f"--archs {n_archs} minus 1; expected more --archs or a smaller --calibration")
    out = out or user_latency_tables_dir() / f"{space.name}_{ds}_cpu_ops.json"
    if as_json or not stderr_is_terminal():  # a log gets plain progress lines (--json: stdout stays JSON)
        lines = None if as_json else LogProgress("profile")
        result = profile_space(space, ds, n_archs=n_archs, n_calibration=calibration, runs=runs, warmup=warmup,
                               threads=threads, seed=seed, device_name=t.name, statistic=statistic, chain=chain,
                               rounds=rounds, space_predictions=space_predictions, workers=workers,
                               progress=None if lines is None else (lambda stage, done, total, label:
                                                                     lines(stage, done, total)))
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


def _profile_device(target: str, space_name: str, dataset: str | None, *, host: str | None, runtime: str,
                    precision: str, calibration_data: Path | None, ssh_options: tuple[str, ...], remote_python: str,
                    opset: int, connect_timeout: int, force: bool, runs: int, warmup: int, threads: int, n_archs: int | None,
                    seed: int, statistic: str | None, kernel_model: bool, as_json: bool) -> None:
    from ..errors import ConfigError
    from ..timing.device import (
        DEFAULT_PROFILE_ARCHS,
        ProfilePlan,
        check_calibration_data,
        profile_device,
    )
    from ..timing.remote import LocalSession, SshSession, check_host

    if precision == "int8" and calibration_data is None:
        raise ConfigError("--precision int8 needs --calibration-data FILE.npy (real inputs, N x C x H x W): int8 "
                          "engines without calibration time a network whose accuracy nobody checked")
    if calibration_data is not None and precision != "int8":
        raise ConfigError("--calibration-data applies to --precision int8 only")
    space, ds = resolve_space(space_name, dataset)
    sha = check_calibration_data(calibration_data, space, ds) if calibration_data is not None else None
    plan = ProfilePlan(target=target, space=space.name, dataset=ds, runtime=runtime, precision=precision, runs=runs,
                       warmup=warmup, threads=threads, seed=seed, opset=opset, calibration_sha256=sha,
                       statistic=statistic)
    session = (SshSession(check_host(host), ssh_options=ssh_options, python=remote_python,
                          connect_timeout=connect_timeout) if host is not None else LocalSession())
    n = DEFAULT_PROFILE_ARCHS if n_archs is None else n_archs
    if n < 5:  # before any timing: the fit needs 5
        raise ConfigError(f"--archs {n}: a device profile needs at least 5 timed archs (10-30 give a usable model)")
    with session:
        if as_json or not stderr_is_terminal():  # a log gets plain progress lines (--json: stdout stays JSON)
            lines = None if as_json else LogProgress("profile")
            res = profile_device(space, ds, plan, session, n_archs=n, force=force, calibration=calibration_data,
                                 kernel_model=kernel_model,
                                 progress=None if lines is None else (lambda stage, done, total, label:
                                                                       lines(stage, done, total)))
        else:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("{task.description}"), BarColumn(),
                          TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console(),
                          transient=True) as bar:
                tasks = {"timing": bar.add_task("timing on " + session.where, total=n)}

                def cb(stage: str, done: int, total: int, label: str) -> None:
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(stage, total=total)
                    bar.update(tasks[stage], completed=done, total=total)

                res = profile_device(space, ds, plan, session, n_archs=n, force=force, progress=cb,
                                     calibration=calibration_data, kernel_model=kernel_model)
    fit = res.fit
    doc = {"target": fit.target, "where": session.where, "journal": str(res.journal),
           "measured_now": res.measured_now, "measured_before": res.measured_before, "retaken": res.retaken,
           "n_measured": fit.n_measured,
           "method": fit.method, "cv": fit.cv, "table": str(fit.table), "target_file": str(fit.target_file),
           "facts": res.facts, "warnings": list(res.warnings), "note": fit.note, "seconds": round(res.seconds, 1)}
    if as_json:
        echo_json(doc)
        return
    c = console()
    f = res.facts
    c.print(f"{session.where}: {f.get('model') or f.get('cpu_model') or '?'}, {runtime} {f.get('runtime_version')}"
            + (f", L4T {f['l4t']} (JetPack {f.get('jetpack') or '?'})" if f.get("l4t") else "")
            + (f", nvpmodel {f['nvpmodel']}" if f.get("nvpmodel") else ""))
    for w in res.warnings:
        c.print(f"[yellow]warning:[/] {w}")
    c.print(f"timed {res.measured_now} archs now, {res.measured_before} from the journal {res.journal}"
            + (f"; retook {res.retaken} timing(s) disturbed by load" if res.retaken else ""))
    print_fit(c, fit)
    c.print(f"wrote {fit.target_file} and {fit.table} in {res.seconds:.0f} s; search with: "
            f"edgenas search --target {fit.target}")
