"""``edgenas validate``: measure exported models on a runtime / device, compare with the cost model."""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

import click

from .._limits import MAX_RUNS, MAX_SEED, MAX_THREADS, MAX_TIMEOUT_S
from ..export.run import ValidateConfig
from ._common import console, echo_json, json_option

_V = ValidateConfig()  # every option default is read from ValidateConfig: the CLI and edgenas.validate are one call


def _finite_timeout(ctx: Any, param: Any, value: float) -> float:
    if not math.isfinite(value):  # click's FloatRange lets nan through
        raise click.BadParameter(f"{value!r} is not a number of seconds in 1..{MAX_TIMEOUT_S:g}")
    return value


@click.command("validate")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--target", required=True, help="Target whose predicted latency to compare with (e.g. cpu, jetson).")
@click.option("--runtime", type=click.Choice(["onnxruntime", "tensorrt", "trtexec", "litert"]), default=_V.runtime,
              help="onnxruntime (CPU EP), litert (.tflite on the LiteRT interpreter), tensorrt (Python API + libcudart "
                   "on the device) or trtexec (on the device). Default: litert for a LiteRT export, else onnxruntime; "
                   "a runtime other than the one the target's table was measured with gets one warning.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default=_V.precision, show_default=True,
              help="tensorrt/trtexec engine precision (TensorRT 11: must already be in the ONNX; int8: give the "
                   "calibrated model.int8.onnx of export --precision int8).")
@click.option("--runs", type=click.IntRange(1, MAX_RUNS), default=_V.runs, show_default=True, help="Timed runs.")
@click.option("--warmup", type=click.IntRange(0, MAX_RUNS), default=_V.warmup, show_default=True,
              help="Warm-up runs (trtexec: milliseconds).")
@click.option("--threads", type=click.IntRange(1, MAX_THREADS), default=None, help="Intra-op threads (default: target's, else 1).")
@click.option("--host", default=None, help="USER@HOST: run on this device over SSH (BatchMode; keys must be set up).")
@click.option("--here", is_flag=True,
              help="This machine is the target (e.g. run on the Jetson itself); needed for a target other than cpu "
                   "without --host.")
@click.option("--ssh-option", "ssh_options", multiple=True, help="Extra ssh/scp -o KEY=VALUE (e.g. Port=2222).")
@click.option("--remote-python", default=_V.remote_python, show_default=True, help="Python on the device.")
@click.option("--timeout", type=click.FloatRange(1, MAX_TIMEOUT_S), default=_V.timeout, show_default=True,
              callback=_finite_timeout,
              help="Seconds allowed for the remote run.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=_V.seed, show_default=True, help="Seed of the random input.")
@click.option("--paired/--no-paired", default=None,
              help="Also time each model paired with the table's reference arch (onnxruntime, 1 thread; default: "
                   "when the target's table was profiled that way). Gives the latency in the table's units, "
                   "free of the host's speed drift.")
@click.option("--data", "data", type=click.Path(path_type=Path), default=None,
              help="Labelled held-out images (class folders, or .npz with x and y): also report the top-1 accuracy of "
                   "each exported network's torch model and of every exported file (ONNX, LiteRT; every precision), "
                   "with the differences to torch and to fp32.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Report file (default: validation.json next to the export: in the export folder, or beside "
                   "the .onnx).")
@json_option
def validate(model: Path, target: str, runtime: str | None, precision: str, runs: int, warmup: int, threads: int | None,
             host: str | None, here: bool, ssh_options: tuple[str, ...], remote_python: str, timeout: float,
             seed: int, paired: bool | None, data: Path | None, out_file: Path | None, as_json: bool) -> None:
    """Measure MODEL (a .onnx file or an export directory) and write validation.json next to it.

    With --data DIR: also the top-1 accuracy of the torch model and of every exported model on DIR.

    Exit 1 when a model's output parity fails; exit 2 on bad input (one line on stderr).
    """
    from ..export.run import validate_export

    config = ValidateConfig(runtime=runtime, precision=precision, runs=runs, warmup=warmup, threads=threads, host=host,
                            here=here, ssh_options=tuple(ssh_options), remote_python=remote_python, timeout=timeout,
                            seed=seed, paired=paired, data=None if data is None else str(data))
    if out_file is None:
        out_file = (model if model.is_dir() else model.parent) / "validation.json"
    doc = validate_export(model, target=target, out=out_file, config=config,
                          on_warning=lambda text: click.echo(f"warning: {text}", err=True))
    results = doc["models"] if isinstance(doc, dict) else doc
    accuracy = doc.get("accuracy") if isinstance(doc, dict) else None
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
    for col in ("model", "file", "format", "precision", "weights", "top-1 %", "vs torch (pp)", "vs fp32 (pp)"):
        t.add_column(col, justify="left" if col in ("model", "file") else "right")
    for r in rows:
        t.add_row(str(r["model"]), r["file"], r["format"], r["precision"], r.get("weights", "-"),
                  f"{r['top1_pct']:.2f}", f"{r['delta_torch_pp']:+.2f}",
                  "-" if r["delta_pp"] is None else f"{r['delta_pp']:+.2f}")
    con = console()
    con.print(t)
    if any(r.get("weights") != "trained" for r in rows):
        con.print("[yellow]note:[/] untrained (random-init) model(s): their accuracy is chance level")


from ..export.validate import HOST_TARGETS, _profiled_here  # noqa: E402,F401
from ..export.validate import check_where as _check_where  # noqa: E402
