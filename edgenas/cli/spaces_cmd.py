"""``edgenas spaces``: list the search spaces, add a definition file, show one space."""

from __future__ import annotations

from typing import Any

import click

from ..spaces import get_space, list_spaces, shipped_space_names
from ._common import console, echo_json, json_option


@click.group("spaces", invoke_without_command=True)
@json_option
@click.pass_context
def spaces(ctx: click.Context, as_json: bool) -> None:
    """List search spaces, their size and datasets (`spaces add FILE.yaml`, `spaces show NAME`)."""
    if ctx.invoked_subcommand is not None:
        return
    shipped = set(shipped_space_names())
    rows = []
    for name in list_spaces():
        sp = get_space(name)
        rows.append({
            "name": name,
            "size": sp.size,
            "datasets": {d: {"num_classes": s.num_classes, "input_size": s.input_size} for d, s in sp.datasets.items()},
            "description": sp.description,
            "origin": "shipped" if name in shipped else "user",
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
        name = r["name"] + ("" if r["origin"] == "shipped" else " (yours)")
        t.add_row(name, f"{r['size']:,}", ds, r["description"])
    console().print(t)


@spaces.command("add")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--replace", is_flag=True, help="Overwrite a different definition already added under its name.")
@json_option
def add(file: str, replace: bool, as_json: bool) -> None:
    """Validate a space definition FILE.yaml and add it to $EDGENAS_HOME/spaces (by the name it defines)."""
    from .._paths import user_spaces_dir
    from ..proxies.base import list_proxies
    from ..proxies.ensemble import list_ensembles
    from ..spaces.user import add_space_file

    name = add_space_file(file, taken=frozenset(shipped_space_names()), replace=replace,
                          proxies=frozenset(list_proxies()) | frozenset(list_ensembles()))
    sp = get_space(name)
    info = {"name": name, "path": str(user_spaces_dir() / f"{name}.yaml"), "size": sp.size,
            "datasets": list(sp.datasets)}
    if as_json:
        echo_json(info)
        return
    console().print(f"added space {name!r} ({sp.size:,} archs; datasets {', '.join(sp.datasets)}) to {info['path']}; "
                    f"use it with --space {name}")


def space_info(name: str) -> dict[str, Any]:
    """What `spaces show` prints: definition, size, datasets, positions and the resolved search defaults."""
    from ..search.config import DEFAULT_BATCH_CPU, DEFAULT_BATCH_GPU, DEFAULT_PROXY

    sp = get_space(name)
    d = getattr(sp, "definition", None)
    return {
        "name": sp.name,
        "origin": "shipped" if sp.name in shipped_space_names() else "user",
        "description": sp.description,
        "size": sp.size,
        "positions": len(sp.choices),
        "choices": [list(c) for c in sp.choices],
        "datasets": {k: {"num_classes": v.num_classes, "input_size": v.input_size, "channels": v.channels}
                     for k, v in sp.datasets.items()},
        "tasks": "any DatasetSpec (classes, 1 or 3 channels, input size >= the total stride)" if d is not None
                 else "its datasets only",
        "defaults": {
            "proxy": sp.default_proxy or DEFAULT_PROXY,
            "gpu_batch_size": DEFAULT_BATCH_GPU,
            "cpu_batch_size": sp.cpu_batch_size or DEFAULT_BATCH_CPU,
            "cpu_proxy_resolution": {k: sp.cpu_proxy_resolution.get(k, v.input_size) for k, v in sp.datasets.items()},
        },
        "definition": d.source if d is not None else None,
    }


@spaces.command("show")
@click.argument("name")
@json_option
def show(name: str, as_json: bool) -> None:
    """Show space NAME: its definition, size, datasets and the search defaults it resolves to."""
    info = space_info(name)
    if as_json:
        echo_json(info)
        return
    con = console()
    con.print(f"[bold]{info['name']}[/bold] ({info['origin']}): {info['description']}")
    con.print(f"archs: {info['size']:,} ({info['positions']} positions); tasks: {info['tasks']}")
    for k, v in info["datasets"].items():
        con.print(f"dataset {k}: {v['num_classes']} classes, {v['channels']} x {v['input_size']} x {v['input_size']}")
    df = info["defaults"]
    res = ", ".join(f"{k} {v} px" for k, v in df["cpu_proxy_resolution"].items())
    con.print(f"defaults: proxy {df['proxy']}; batch {df['cpu_batch_size']} on CPU, {df['gpu_batch_size']} on GPU; "
              f"proxy input on CPU: {res}")
    if info["definition"] is not None:
        con.print("definition:")
        click.echo(info["definition"].rstrip("\n"))
    else:
        con.print("definition: Python (" + type(get_space(name)).__module__ + ")")
