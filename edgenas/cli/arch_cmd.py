"""``edgenas arch show``: canonical string, index, params, MACs and isomorphism class of archs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..hardware.flops import model_size
from ..spaces import Arch, SearchSpace
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


@click.group("arch")
def arch() -> None:
    """Inspect architectures."""


def describe(space: SearchSpace, a: Arch, dataset: str) -> dict[str, Any]:
    """The ``arch show`` record of one arch (stable JSON contract)."""
    model = space.build_model(a, dataset)
    size = model_size(model, space.dataset(dataset).input_shape, nb201_flops=space.benchmark_flops)
    rec: dict[str, Any] = {
        "arch": space.format(a),
        "space": space.name,
        "dataset": dataset,
        "index": space.index(a),
        "params_m": round(size.params_m, 6),
        "macs_m": round(size.macs_m, 6),
        "n_param_tensors": size.n_param_tensors,
        "iso_key": space.iso_key(a),
    }
    if size.flops_m_nb201 is not None:
        rec["flops_m_nb201"] = round(size.flops_m_nb201, 6)
    return rec


@arch.command("show")
@archs_options
@space_option()
@dataset_option()
@json_option
def show(archs: tuple[str, ...], archs_file: Path | None, space_name: str, dataset: str | None, as_json: bool) -> None:
    """Show ARCH... (arch strings or benchmark indices).

    MACs are multiply-accumulates per image counted by fvcore (BN folded, not counted);
    flops_m_nb201 follows the NAS-Bench-201 published convention.
    """
    space, ds = resolve_space(space_name, dataset)
    records = [describe(space, a, ds) for a in read_archs(space, archs, archs_file)]
    if as_json:
        echo_json(records)
        return
    from rich.table import Table

    t = Table(title=f"{space.name} / {ds}")
    cols = ["index", "arch", "params_m", "macs_m", "n_param_tensors", "iso_key"]
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in records:
        t.add_row(*(str(r[c]) if r[c] is not None else "-" for c in cols))
    console().print(t)
