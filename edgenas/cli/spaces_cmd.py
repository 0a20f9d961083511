"""``edgenas spaces``: list the registered search spaces."""

from __future__ import annotations

import click

from ..spaces import get_space, list_spaces
from ._common import console, echo_json, json_option


@click.command("spaces")
@json_option
def spaces(as_json: bool) -> None:
    """List search spaces, their size and datasets."""
    rows = []
    for name in list_spaces():
        sp = get_space(name)
        rows.append({
            "name": name,
            "size": sp.size,
            "datasets": {d: {"num_classes": s.num_classes, "input_size": s.input_size} for d, s in sp.datasets.items()},
            "description": sp.description,
        })
    if as_json:
        echo_json(rows)
        return
    from rich.table import Table

    t = Table(title="search spaces")
    for col in ("name", "archs", "datasets (classes, input px)", "description"):
        t.add_column(col)
    for r in rows:
        ds = ", ".join(f"{d} ({v['num_classes']}, {v['input_size']})" for d, v in r["datasets"].items())
        t.add_row(r["name"], f"{r['size']:,}", ds, r["description"])
    console().print(t)
