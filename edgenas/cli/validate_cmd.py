"""``edgenas validate``: measure exported models on a runtime / device, compare with the cost model."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import click

from ..search.config import MAX_SEED
from ._common import console, echo_json, json_option

#: bounds of the timing options (a bigger value is a typo that would run for days)
MAX_RUNS = 1_000_000
MAX_THREADS = 1024
MAX_TIMEOUT_S = 86_400.0


def _finite_timeout(ctx: Any, param: Any, value: float) -> float:
    if not math.isfinite(value):  # click's FloatRange lets nan through
        raise click.BadParameter(f"{value!r} is not a number of seconds in 1..{MAX_TIMEOUT_S:g}")
    return value


@click.command("validate")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--target", required=True, help="Target whose predicted latency to compare with (e.g. cpu, jetson).")
@click.option("--runtime", type=click.Choice(["onnxruntime", "tensorrt", "trtexec", "litert"]), default=None,
              help="onnxruntime (CPU EP), litert (.tflite on the LiteRT interpreter), tensorrt (Python API + libcudart "
                   "on the device) or trtexec (on the device). Default: litert for a LiteRT export, else onnxruntime; "
                   "a runtime other than the one the target's table was measured with gets one warning.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True,
              help="tensorrt/trtexec engine precision (TensorRT 11: must already be in the ONNX; int8: give the "
                   "calibrated model.int8.onnx of export --precision int8).")
@click.option("--runs", type=click.IntRange(1, MAX_RUNS), default=100, show_default=True, help="Timed runs.")
@click.option("--warmup", type=click.IntRange(0, MAX_RUNS), default=20, show_default=True,
              help="Warm-up runs (trtexec: milliseconds).")
@click.option("--threads", type=click.IntRange(1, MAX_THREADS), default=None, help="Intra-op threads (default: target's, else 1).")
@click.option("--host", default=None, help="USER@HOST: run on this device over SSH (BatchMode; keys must be set up).")
@click.option("--here", is_flag=True,
              help="This machine is the target (e.g. run on the Jetson itself); needed for a target other than cpu "
                   "without --host.")
@click.option("--ssh-option", "ssh_options", multiple=True, help="Extra ssh/scp -o KEY=VALUE (e.g. Port=2222).")
@click.option("--remote-python", default="python3", show_default=True, help="Python on the device.")
@click.option("--timeout", type=click.FloatRange(1, MAX_TIMEOUT_S), default=600.0, show_default=True,
              callback=_finite_timeout,
              help="Seconds allowed for the remote run.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True, help="Seed of the random input.")
@click.option("--paired/--no-paired", default=None,
              help="Also time each model paired with the table's reference arch (onnxruntime, 1 thread; default: "
                   "when the target's table was profiled that way). Gives the latency in the table's units, "
                   "free of the host's speed drift.")
@click.option("--data", "data", type=click.Path(path_type=Path), default=None,
              help="Labelled held-out images (class folders, or .npz with x and y): also report the top-1 accuracy of "
                   "every exported precision (ONNX, LiteRT) and its difference to fp32.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=Path("validation.json"),
              show_default=True)
@json_option
def validate(model: Path, target: str, runtime: str | None, precision: str, runs: int, warmup: int, threads: int | None,
             host: str | None, here: bool, ssh_options: tuple[str, ...], remote_python: str, timeout: float,
             seed: int, paired: bool | None, data: Path | None, out_file: Path, as_json: bool) -> None:
    """Measure MODEL (a .onnx file or an export directory) and write validation.json.

    Exit 1 when a model's output parity fails; exit 2 on bad input (one line on stderr).
    """
    from .._io import check_output_file
    from ..export.validate import collect_models, default_runtime, runtime_mismatch, validate_model

    check_output_file(out_file)  # before any measurement: never replace /dev/null or a folder
    _check_where(target, host, here)
    runtime = runtime or default_runtime(model)
    if data is not None and not model.is_dir():
        from ..errors import ConfigError

        raise ConfigError(f"--data scores every file of an export folder; expected the folder, got {str(model)!r}")
    results = [validate_model(m, target=target, runtime=runtime, runs=runs, warmup=warmup, threads=threads,
                              host=host, ssh_options=ssh_options, remote_python=remote_python, seed=seed,
                              timeout=timeout, precision=precision, paired=paired).to_dict()
               for m in collect_models(model)]
    from .._io import atomic_write_text
    from .._json import dumps

    mismatch = runtime_mismatch(target, runtime)
    if mismatch:  # after measuring: a failed run shows its error alone
        click.echo(f"warning: {mismatch}", err=True)
    accuracy = None
    if data is not None:
        from ..export.accuracy import export_accuracy

        accuracy = export_accuracy(model, data)
    doc: Any = results if accuracy is None else {"models": results, "accuracy": accuracy}
    atomic_write_text(out_file, dumps(doc) + "\n")  # all models measured: write the file in one step
    if as_json:
        echo_json(doc)
    else:
        _report(results, out_file)
        if accuracy is not None:
            _report_accuracy(accuracy, data)
    if not all(r["parity_ok"] for r in results):
        raise SystemExit(1)


def _report(results: list[dict], out_file: Path) -> None:
    from rich.table import Table

    r0 = results[0]
    t = Table(title=f"edgenas validate: target {r0['target']}, {r0['runtime']} on {r0['host']}, "
                    f"{r0['threads']} thread(s), {r0['runs']} runs after {r0['warmup']} warm-up")
    for col in ("model", "p50 ms", "p90 ms", "p99 ms", "cv %", "predicted ms", "error %", "parity max abs"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in results:
        m = r["measured_ms"]
        t.add_row(Path(r["model"]).parent.name + "/" + Path(r["model"]).name,
                  f"{m['p50']:.3f}", f"{m['p90']:.3f}", f"{m['p99']:.3f}", f"{100 * r['cv']:.1f}",
                  "-" if r["predicted_ms"] is None else f"{r['predicted_ms']:.3f}",
                  "-" if r["error_pct"] is None else f"{r['error_pct']:+.1f}",
                  ("[green]" if r["parity_ok"] else "[red]") + f"{r['parity_max_abs']:.1e}")
    con = console()
    con.print(t)
    errs = [abs(r["error_pct"]) for r in results if r["error_pct"] is not None]
    if errs:
        con.print(f"median |error| {statistics.median(errs):.1f} % over {len(errs)} model(s)")
        errs_cpu = [abs(r["error_cpu_pct"]) for r in results if r.get("error_cpu_pct") is not None]
        if errs_cpu:  # 1-thread onnxruntime: the same against the inference thread's CPU time (ignores preemption)
            con.print(f"median |error| against thread CPU time {statistics.median(errs_cpu):.1f} %")
        errs_paired = [abs(r["error_paired_pct"]) for r in results if r.get("error_paired_pct") is not None]
        if errs_paired:
            within = sum(e <= 10 for e in errs_paired)
            con.print(f"median |error| against paired timing (table units) {statistics.median(errs_paired):.1f} %, "
                      f"{within}/{len(errs_paired)} within 10 %")
            # what the two errors measure, so a large wall-clock error beside a small paired one is read right
            con.print("  wall-clock error: the predicted ms against this host's clock now (it moves with the CPU's "
                      "load, frequency and turbo state); paired error: each model timed alternately with the "
                      "table's reference arch and priced as ratio x the reference's ms when profiled (table units), "
                      "which cancels this host's speed drift. A small paired error with a large wall-clock error "
                      "means the table ranks archs right and this host runs at another speed than when profiled.")
    else:
        con.print("no latency prediction for this target (cost model or table missing)")
    noisy = [r for r in results if r["cv"] > 0.1]
    if noisy:  # a CV above 10 % means something else is using the device (or thermals): re-run before trusting
        con.print(f"[yellow]warning:[/] {len(noisy)} model(s) with coefficient of variation > 10 %: noisy device")
    con.print(f"wrote {out_file}")


def _report_accuracy(rows: list[dict], data: Path) -> None:
    from rich.table import Table

    t = Table(title=f"top-1 accuracy on {data} ({rows[0]['n_images'] if rows else 0} images)")
    for col in ("model", "file", "format", "precision", "top-1 %", "vs fp32 (pp)"):
        t.add_column(col, justify="left" if col in ("model", "file") else "right")
    for r in rows:
        t.add_row(str(r["model"]), r["file"], r["format"], r["precision"], f"{r['top1_pct']:.2f}",
                  "-" if r["delta_pp"] is None else f"{r['delta_pp']:+.2f}")
    console().print(t)


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


def _check_where(target: str, host: str | None, here: bool) -> None:
    """Refuse to time a model on this machine against another device's predictions: the comparison
    would say nothing about either (a TX2 table against this CPU read as +190 %)."""
    from ..errors import ConfigError
    from ..hardware.targets import load_target

    t = load_target(target)
    if host is None and not here and t.name not in HOST_TARGETS and not _profiled_here(t):
        raise ConfigError(f"target {t.name!r} ({t.device}) is not this machine; expected --host USER@BOARD to time "
                          "it there, --here when running on that device, or --target cpu for this machine")
