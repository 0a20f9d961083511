"""`edgenas fit`: a target for your device from whole-model timings you measured any way you like."""

from __future__ import annotations

from pathlib import Path

import click

from ..search.config import MAX_SEED
from ._common import console, dataset_option, echo_json, json_option, print_fit, resolve_space, space_option


@click.command()
@click.option("--measurements", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV with columns arch,latency_ms (arch string or benchmark index; ms per image).")
@click.option("--target", "name", required=True, help="Name of the new target (a user target in $EDGENAS_HOME).")
@space_option()
@dataset_option()
@click.option("--runtime", default="onnxruntime", show_default=True,
              help="What ran the models: tensorrt | onnxruntime | tflite | tflite-edgetpu | pytorch | unknown "
                   "(compiled runtimes drop dead layers: the per-op models follow).")
@click.option("--device", "device_name", default=None, help="The hardware in words (default: the target name).")
@click.option("--force", is_flag=True, help="Replace this target's existing table for the space/dataset.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True, help="Seed of the cross-validation folds.")
@json_option
def fit(measurements: Path, name: str, space_name: str, dataset: str | None, runtime: str, device_name: str | None,
        force: bool, seed: int, as_json: bool) -> None:
    """Fit a latency model from measured archs, chosen by cross-validation, and save it as a target.

    The target is usable at once: edgenas search --target NAME, edgenas cost, edgenas targets.
    """
    from ..hardware.fewshot import fit_target, read_measurements

    space, ds = resolve_space(space_name, dataset)
    archs, ms = read_measurements(measurements, space)
    from ._common import LogProgress

    lines = None if as_json else LogProgress("fit")
    res = fit_target(space, ds, archs, ms, name=name, device=device_name or name, runtime=runtime,
                     source=measurements.name, force=force, seed=seed,
                     progress=None if lines is None else (lambda done, total: lines("kernel counts of every arch",
                                                                                    done, total)))
    doc = {"target": res.target, "method": res.method, "n_measured": res.n_measured, "cv": res.cv,
           "table": str(res.table), "target_file": str(res.target_file), "note": res.note}
    if as_json:
        echo_json(doc)
        return
    c = console()
    print_fit(c, res)
    c.print(f"wrote {res.target_file} and {res.table}; search with: edgenas search --target {res.target}")
