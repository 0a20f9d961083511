"""`edgenas cost`: latency (and MACs/params) of archs on a target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..search.config import MACS_TARGET
from ._common import (
    archs_options,
    console,
    dataset_option,
    echo_json,
    json_option,
    read_archs,
    resolve_space,
    space_option,
)


@click.command()
@archs_options
@space_option()
@dataset_option()
@click.option("--target", required=True,
              help="Target name or alias (see `edgenas targets`); `macs`: MACs and params only, no table needed.")
@click.option("--source", type=click.Choice(["auto", "lookup", "lut", "flops"]), default="auto", show_default=True,
              help="auto = measured lookup when the target has a per-arch table, else the per-op table.")
@json_option
def cost(archs: tuple[str, ...], archs_file: Path | None, space_name: str, dataset: str | None, target: str,
         source: str, as_json: bool) -> None:
    """Predict latency of ARCH... on a target; also report MACs and parameters."""
    from ..hardware.cost import get_cost_model
    from ..hardware.size import arch_sizes

    space, ds = resolve_space(space_name, dataset)
    parsed = read_archs(space, archs, archs_file)
    if target == MACS_TARGET:
        _print_sizes(space, ds, parsed, as_json)
        return
    model = get_cost_model(target, space, ds, source=source)
    latency = model.predict_many(parsed)  # raises MissingLatencyError before anything is printed
    rows = []
    for a, ms, (macs_m, params_m) in zip(parsed, latency, arch_sizes(space, parsed, ds)):
        rows.append({"arch": str(a), "index": space.index(a) if hasattr(space, "index") else None,
                     "target": model.target.name, "space": space.name, "dataset": ds,
                     "latency_ms": float(ms), "source": model.source, "source_detail": model.description,
                     "batch_size": model.target.batch_size, "macs_m": macs_m, "params_m": params_m})
    if as_json:
        echo_json(rows)
        return
    from rich.table import Table

    tab = Table(title=f"{model.target.name} ({model.target.runtime}, batch {model.target.batch_size}) - "
                      f"{model.description}")
    for col in ("arch", "latency ms", "source", "MACs M", "params M"):
        tab.add_column(col)
    for r in rows:
        tab.add_row(r["arch"], f"{r['latency_ms']:.3f}", r["source"], f"{r['macs_m']:.2f}", f"{r['params_m']:.3f}")
    console().print(tab)


def _print_sizes(space: Any, ds: str, parsed: list, as_json: bool) -> None:
    """``--target macs``: MACs at the task's resolution and params (the space's closed form where it has one)."""
    from ..hardware.size import arch_sizes

    rows = []
    for a, (macs_m, params_m) in zip(parsed, arch_sizes(space, parsed, ds)):
        rows.append({"arch": str(a), "index": space.index(a), "target": MACS_TARGET, "space": space.name,
                     "dataset": ds, "input_shape": list(space.dataset(ds).input_shape), "macs_m": macs_m,
                     "params_m": params_m})
    if as_json:
        echo_json(rows)
        return
    from rich.table import Table

    c, h, w = space.dataset(ds).input_shape
    tab = Table(title=f"{space.name} / {ds}: MACs at {c} x {h} x {w} (no latency table)")
    for col in ("arch", "MACs M", "params M"):
        tab.add_column(col)
    for r in rows:
        tab.add_row(r["arch"], f"{r['macs_m']:.2f}", f"{r['params_m']:.3f}")
    console().print(tab)
