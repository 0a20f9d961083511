"""``edgenas export``: Pareto members or an arch -> ONNX / TensorRT / PyTorch files + export.json."""

from __future__ import annotations

from pathlib import Path

import click

from .._limits import MAX_BATCH, MAX_CALIBRATION_SAMPLES, MAX_SEED, MIN_WORKSPACE_MIB
from ..export.run import ExportConfig
from ._common import console, dataset_option, echo_json, json_option, space_option

_E = ExportConfig()  # every option default is read from ExportConfig: the CLI and edgenas.export are one call


@click.command("export")
@click.argument("source")
@click.option("--rank", type=int, default=None, help="Pareto member to export (1 = best proxy score; default: the search's pick).")
@click.option("--all", "all_members", is_flag=True, help="Export every Pareto member.")
@space_option()
@dataset_option()
@click.option("--format", "fmt", type=click.Choice(["onnx", "tensorrt", "torch", "litert"]), default=_E.format,
              show_default=True)
@click.option("--batch", "batch_size", type=click.IntRange(1, MAX_BATCH), default=_E.batch_size, show_default=True,
              help="Static batch size of the exported input.")
@click.option("--opset", type=click.IntRange(min=7), default=_E.opset, show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default=_E.precision, show_default=True,
              help="onnx: fp16 / int8 write model.fp16.onnx / model.int8.onnx beside the fp32 model.onnx; "
                   "tensorrt: the engine's precision. int8 needs --calibration-data.")
@click.option("--calibration-data", type=click.Path(path_type=Path), default=_E.calibration_data,
              help="int8: images to calibrate on (class folders, .npy or .npz with x), preprocessed as for training.")
@click.option("--calibration-samples", type=click.IntRange(1, MAX_CALIBRATION_SAMPLES), default=_E.calibration_samples,
              help="int8: calibration images used at most (default 256, a seeded subset when there are more).")
@click.option("--target", "targets", multiple=True,
              help="Target(s) whose predicted latency goes into the ONNX metadata (repeatable).")
@click.option("--require-engine", is_flag=True,
              help="With --format tensorrt: fail (exit 2) if TensorRT is missing instead of writing trtexec.sh.")
@click.option("--workspace-mib", type=click.IntRange(min=MIN_WORKSPACE_MIB), default=_E.workspace_mib, show_default=True,
              help="TensorRT builder workspace limit.")
@click.option("--weights", type=click.Choice(["auto", "trained", "random-init"]), default=_E.weights, show_default=True,
              help="auto: the weights `edgenas train` wrote into the run where it has them, else random-init; "
                   "trained: require them; random-init: the architecture with weights drawn from --seed.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=_E.seed, show_default=True,
              help="Weight-init seed of a random-init model.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@json_option
def export(source: str, rank: int | None, all_members: bool, space_name: str, dataset: str | None, fmt: str,
           batch_size: int, opset: int, precision: str, calibration_data: Path | None, calibration_samples: int | None,
           targets: tuple[str, ...], require_engine: bool, workspace_mib: int, seed: int, weights: str, out_dir: Path,
           as_json: bool) -> None:
    """Export SOURCE (RUN_DIR, pareto.json, or an arch string / index) to deployable files in --out.

    A run trained with `edgenas train` exports its trained weights (ONNX plus model.pt / model.json).
    Otherwise the network is untrained (weights drawn from --seed): the architecture only, to measure
    latency or to train elsewhere, not a classifier to deploy; the command says so. Writes
    OUT/export.json with each model's weights (trained | random-init) and validation accuracy.
    """
    from click.core import ParameterSource

    from ..export.run import ExportConfig, export_source

    given = click.get_current_context().get_parameter_source("space_name") is not ParameterSource.DEFAULT
    res = export_source(source, out=out_dir, space=space_name if given else None, dataset=dataset,
                        config=ExportConfig(rank=rank, all_members=all_members, format=fmt, batch_size=batch_size,
                                            opset=opset, precision=precision, targets=tuple(targets),
                                            require_engine=require_engine, workspace_mib=workspace_mib, seed=seed,
                                            weights=weights, calibration_data=calibration_data,
                                            calibration_samples=calibration_samples))
    if as_json:
        echo_json({**res.manifest, "out_dir": str(res.out_dir), "notes": list(res.notes)})
        return
    from rich.table import Table

    con = console()
    for note in res.notes:
        con.print(f"[yellow]note:[/] {note}")
    t = Table(title=f"edgenas export -> {out_dir} ({fmt})")
    for col in ("rank", "arch", "weights", "val acc %", "files", "parity max abs", "parity max rel"):
        t.add_column(col)
    for m in res.manifest["models"]:
        par = m.get("parity") or {}
        acc = m.get("val_accuracy")
        t.add_row(str(m["rank"]), m["arch"], m["weights"], "-" if acc is None else f"{acc:.2f}",
                  ", ".join(m["files"].values()),
                  f"{par['max_abs']:.2e}" if par else "-", f"{par['max_rel']:.2e}" if par else "-")
    con.print(t)
