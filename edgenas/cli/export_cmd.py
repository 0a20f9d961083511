"""``edgenas export``: Pareto members or an arch -> ONNX / TensorRT / PyTorch files + export.json."""

from __future__ import annotations

from pathlib import Path

import click

from ..search.config import MAX_BATCH, MAX_SEED
from ._common import console, dataset_option, echo_json, json_option, resolve_space, space_option


@click.command("export")
@click.argument("source")
@click.option("--rank", type=int, default=None, help="Pareto member to export (1 = best proxy score; default: the search's pick).")
@click.option("--all", "all_members", is_flag=True, help="Export every Pareto member.")
@space_option()
@dataset_option()
@click.option("--format", "fmt", type=click.Choice(["onnx", "tensorrt", "torch", "litert"]), default="onnx", show_default=True)
@click.option("--batch", "batch_size", type=click.IntRange(1, MAX_BATCH), default=1, show_default=True,
              help="Static batch size of the exported input.")
@click.option("--opset", type=click.IntRange(min=7), default=17, show_default=True)
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True,
              help="onnx: fp16 / int8 write model.fp16.onnx / model.int8.onnx beside the fp32 model.onnx; "
                   "tensorrt: the engine's precision. int8 needs --calibration-data.")
@click.option("--calibration-data", type=click.Path(path_type=Path), default=None,
              help="int8: images to calibrate on (class folders, .npy or .npz with x), preprocessed as for training.")
@click.option("--calibration-samples", type=click.IntRange(1, 100_000), default=None,
              help="int8: calibration images used at most (default 256, a seeded subset when there are more).")
@click.option("--target", "targets", multiple=True,
              help="Target(s) whose predicted latency goes into the ONNX metadata (repeatable).")
@click.option("--require-engine", is_flag=True,
              help="With --format tensorrt: fail (exit 2) if TensorRT is missing instead of writing trtexec.sh.")
@click.option("--workspace-mib", type=click.IntRange(min=16), default=1024, show_default=True,
              help="TensorRT builder workspace limit.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True, help="Weight-init seed of the exported model.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@json_option
def export(source: str, rank: int | None, all_members: bool, space_name: str, dataset: str | None, fmt: str,
           batch_size: int, opset: int, precision: str, calibration_data: Path | None, calibration_samples: int | None,
           targets: tuple[str, ...], require_engine: bool,
           workspace_mib: int, seed: int, out_dir: Path, as_json: bool) -> None:
    """Export SOURCE (RUN_DIR, pareto.json, or an arch string / index) to deployable files in --out.

    Weights are freshly initialised from --seed (edgenas searches without training); the files carry
    the architecture, so the model can be trained or deployed as is. Writes OUT/export.json.
    """
    from ..export.bundle import export_bundle
    from ..export.sources import resolve_candidates

    space_name, dataset = _run_space(source, space_name, dataset)
    space, ds = resolve_space(space_name, dataset)
    cands = resolve_candidates(source, space=space, dataset=ds, rank=rank, all_members=all_members)
    res = export_bundle(cands, space=space, dataset=ds, out_dir=out_dir, fmt=fmt, batch_size=batch_size, opset=opset,
                        precision=precision, predict_targets=targets, require_engine=require_engine,
                        workspace_mib=workspace_mib, seed=seed, calibration_data=calibration_data,
                        calibration_samples=calibration_samples)
    if as_json:
        echo_json({**res.manifest, "out_dir": str(res.out_dir), "notes": list(res.notes)})
        return
    from rich.table import Table

    con = console()
    for note in res.notes:
        con.print(f"[yellow]note:[/] {note}")
    t = Table(title=f"edgenas export -> {out_dir} ({fmt})")
    for col in ("rank", "arch", "files", "parity max abs", "parity max rel"):
        t.add_column(col)
    for m in res.manifest["models"]:
        par = m.get("parity") or {}
        t.add_row(str(m["rank"]), m["arch"], ", ".join(m["files"].values()),
                  f"{par['max_abs']:.2e}" if par else "-", f"{par['max_rel']:.2e}" if par else "-")
    con.print(t)


def _run_space(source: str, space_name: str, dataset: str | None) -> tuple[str, str | None]:
    """Space and dataset of a run folder / pareto.json SOURCE where --space / --dataset were not
    given (an explicit option that disagrees with the file still fails in resolve_candidates)."""
    from click.core import ParameterSource

    path = Path(source) / "pareto.json" if Path(source).is_dir() else Path(source)
    if not (path.suffix == ".json" and path.is_file()):
        return space_name, dataset
    from .._read import load_json
    from ..errors import EdgeNASError

    try:
        doc = load_json(path, what="pareto.json", allow_nan=True)
    except EdgeNASError:
        return space_name, dataset  # resolve_candidates reports the unreadable file
    if not isinstance(doc, dict):
        return space_name, dataset
    from ..errors import ConfigError
    from ..spaces import get_space

    for key in ("space", "dataset"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ConfigError(f"{str(path)!r}: field {key!r} is {doc[key]!r}; expected a {key} name")
    try:  # the file's own space and dataset must exist (an explicit option is checked by resolve_space)
        if doc.get("space"):
            file_space = get_space(doc["space"])
            if doc.get("dataset"):
                file_space.dataset(doc["dataset"])
    except EdgeNASError as exc:
        raise ConfigError(f"{str(path)!r}: {exc.message}") from None
    if click.get_current_context().get_parameter_source("space_name") is ParameterSource.DEFAULT:
        space_name = doc.get("space") or space_name
    if dataset is None and doc.get("dataset"):
        dataset = doc["dataset"]
    return space_name, dataset
