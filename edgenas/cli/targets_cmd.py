"""`edgenas targets`: list target devices and what they cover."""

from __future__ import annotations

import click

from ._common import console, echo_json, json_option


@click.command()
@json_option
def targets(as_json: bool) -> None:
    """List target devices, their runtime and the spaces that have a latency table."""
    from ..hardware.targets import list_targets

    rows = []
    for t in list_targets():
        rows.append({
            "name": t.name, "aliases": list(t.aliases), "device": t.device, "runtime": t.runtime,
            "precision": t.precision, "batch_size": t.batch_size, "threads": t.threads,
            "spaces": list(t.spaces),
            "tables": [{"space": r.space, "dataset": r.dataset, "kind": r.kind, "file": r.file.name,
                        "column": r.column, "present": r.exists, "fit": _fit_report(r)} for r in t.tables],
            "provenance": t.provenance,
            "profile_hint": t.profile_hint or None,
        })
    if as_json:
        echo_json(rows)
        return
    from rich.table import Table

    tab = Table(title="edgenas targets")
    for col in ("name", "aliases", "device", "runtime", "batch", "covers"):
        tab.add_column(col)
    for r in rows:
        covers = ", ".join(sorted(
            f"{x['space']}/{x['dataset']}" + (f" (fit: {x['fit']['method']}, held-out ±10 % "
                                              f"{100 * x['fit']['within_10']:.0f} %)" if x["fit"] else "")
            for x in r["tables"] if x["present"]))
        if not covers:
            covers = f"[yellow]no table - {r['profile_hint'] or 'run edgenas profile'}[/yellow]"
        tab.add_row(r["name"], ", ".join(r["aliases"]), r["device"], r["runtime"], str(r["batch_size"]), covers)
    console().print(tab)


def _fit_report(ref: object) -> dict | None:
    """The cross-validated error stored by `edgenas fit` in a table's header, if any."""
    from .._read import load_json, parse_json, read_first_line
    from ..errors import EdgeNASError

    path = ref.file  # type: ignore[attr-defined]
    try:
        if ref.kind == "arch":  # type: ignore[attr-defined]
            head = parse_json(read_first_line(path)[2:], where=repr(str(path)))
            meta = ((head.get("columns") if isinstance(head, dict) else None) or {}).get(ref.column, {})  # type: ignore[attr-defined]
        else:  # op tables keep their metadata at the top level
            meta = load_json(path, max_bytes=2_000_000)
    except (EdgeNASError, AttributeError):
        return None
    if not isinstance(meta, dict):
        return None
    method, cv = meta.get("method"), meta.get("cv")
    if not isinstance(cv, dict) or not isinstance(cv.get(method), dict):
        return None
    return {"method": method, "n_measured": meta.get("n_measured"), **cv[method]}
