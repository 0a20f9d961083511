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
@click.option("--target", "targets", required=True, multiple=True,
              help="Target name or alias (see `edgenas targets`; repeat it for several); `macs`: MACs and params "
                   "only, no table needed.")
@click.option("--source", type=click.Choice(["auto", "lookup", "lut", "flops"]), default="auto", show_default=True,
              help="auto = measured lookup when the target has a per-arch table, else the per-op table.")
@json_option
def cost(archs: tuple[str, ...], archs_file: Path | None, space_name: str, dataset: str | None,
         targets: tuple[str, ...], source: str, as_json: bool) -> None:
    """Predict latency of ARCH... on each target; also report MACs and parameters."""
    from ..hardware.cost import get_cost_model

    space, ds = resolve_space(space_name, dataset)
    parsed = read_archs(space, archs, archs_file)
    # every target resolved and priced before anything is printed (a missing latency raises here)
    priced: list[tuple[str, Any, Any]] = []
    for t in dict.fromkeys(targets):
        model = None if t == MACS_TARGET else get_cost_model(t, space, ds, source=source)
        priced.append((t, model, None if model is None else model.predict_many(parsed)))
    rows = [row for t, model, latency in priced for row in _rows(space, ds, parsed, model, latency)]
    if as_json:
        echo_json(rows)
        return
    from rich.table import Table

    c, h, w = space.dataset(ds).input_shape
    for t, model, _ in priced:
        mine = [r for r in rows if r["target"] == (model.target.name if model is not None else t)]
        if model is None:
            tab = Table(title=f"{space.name} / {ds}: MACs at {c} x {h} x {w} (no latency table)")
            cols = ("arch", "MACs M", "params M")
        else:
            tab = Table(title=f"{model.target.name} ({model.target.runtime}, batch {model.target.batch_size}) - "
                              f"{model.description}")
            cols = ("arch", "latency ms", "source", "MACs M", "params M")
        for col in cols:
            tab.add_column(col)
        for r in mine:
            lat = (f"{r['latency_ms']:.3f}", r["source"]) if model is not None else ()
            tab.add_row(r["arch"], *lat, f"{r['macs_m']:.2f}", f"{r['params_m']:.3f}")
        console().print(tab)


def _rows(space: Any, ds: str, parsed: list, model: Any, latency: Any) -> list[dict[str, Any]]:
    """One JSON row per arch: MACs and params, and with a cost model its latency."""
    from ..hardware.size import arch_sizes

    rows = []
    for i, (a, (macs_m, params_m)) in enumerate(zip(parsed, arch_sizes(space, parsed, ds))):
        if model is None:  # --target macs: MACs at the task's resolution (the space's closed form where it has one)
            rows.append({"arch": str(a), "index": space.index(a), "target": MACS_TARGET, "space": space.name,
                         "dataset": ds, "input_shape": list(space.dataset(ds).input_shape), "macs_m": macs_m,
                         "params_m": params_m})
        else:
            rows.append({"arch": str(a), "index": space.index(a) if hasattr(space, "index") else None,
                         "target": model.target.name, "space": space.name, "dataset": ds,
                         "latency_ms": float(latency[i]), "source": model.source, "source_detail": model.description,
                         "batch_size": model.target.batch_size, "macs_m": macs_m, "params_m": params_m})
    return rows
