"""``edgenas proxies``: list training-free proxies and ensembles; score architectures with them."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path
from typing import Any

import click

from ..errors import UnknownNameError
from ..search.config import MAX_BATCH, MAX_SEED, MAX_WORKERS
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

log = logging.getLogger(__name__)

_NOT_PROXIES = frozenset({"base", "engine", "ensemble"})

ENSEMBLE_NOTE = (
    "ensemble scores are ranks within the {n} arch(s) given; they change if the set of archs changes"
)


def load_proxies() -> None:
    """Import every proxy module of ``edgenas.proxies`` so all proxies are registered.

    One file per proxy: a module that fails to import is skipped with a logged warning, so one
    broken proxy does not hide the others.
    """
    import edgenas.proxies as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name in _NOT_PROXIES:
            continue
        try:
            importlib.import_module(f"edgenas.proxies.{info.name}")
        except Exception as exc:  # noqa: BLE001 - keep listing the proxies that do import
            log.warning("proxy module edgenas.proxies.%s failed to import: %s", info.name, exc)


def split_names(text: str) -> tuple[list[str], list[str], list[str]]:
    """(requested names, single proxies to compute, ensembles) from ``a,b,c``.

    Raises:
        UnknownNameError: for a name that is neither a proxy nor an ensemble.
    """
    from ..proxies.base import PROXIES
    from ..proxies.ensemble import ENSEMBLES, ensemble_components

    load_proxies()
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UnknownNameError("proxy", text, [*PROXIES.names(), *ENSEMBLES.names()])
    singles: list[str] = []
    ensembles: list[str] = []
    for n in names:
        if n in ENSEMBLES:
            ensembles.append(n)
            needed = list(ensemble_components(n))
        elif n in PROXIES:
            needed = [n]
        else:
            raise UnknownNameError("proxy", n, [*PROXIES.names(), *ENSEMBLES.names()])
        for c in needed:
            if c not in PROXIES:
                raise UnknownNameError("proxy", c, PROXIES.names())
            if c not in singles:
                singles.append(c)
    return names, singles, ensembles


@click.group("proxies")
def proxies() -> None:
    """Training-free accuracy proxies (higher = better) and rank ensembles."""


@proxies.command("list")
@json_option
def list_cmd(as_json: bool) -> None:
    """List single proxies and ensemble recipes."""
    from ..proxies.base import PROXIES
    from ..proxies.ensemble import ENSEMBLES

    from ..search.config import default_proxies

    load_proxies()
    defaults = default_proxies()
    rows: list[dict[str, Any]] = []
    for name in PROXIES.names():
        spec = PROXIES.get(name)
        rows.append({"name": name, "kind": "single", "needs": spec.needs, "description": spec.description,
                     "reference": spec.reference})
    for name in ENSEMBLES.names():
        rec = ENSEMBLES.get(name)
        rows.append({"name": name, "kind": "ensemble", "needs": "population", "components": list(rec.components),
                     "aggregation": rec.aggregation, "weights": [float(w) for w in rec.component_weights],
                     "description": rec.description, "reference": rec.reference})
    for r in rows:
        r["search_default_for"] = sorted(sp for sp, p in defaults.items() if p == r["name"])
    if as_json:
        echo_json(rows)
        return
    from rich.table import Table

    t = Table(title="proxies (higher = better); ensembles rank within a population",
              caption="search default per space: " + ", ".join(f"{sp} {p}" for sp, p in sorted(defaults.items()))
              + " (edgenas search --proxy NAME to choose)")
    for c in ("name", "kind", "needs", "default for", "description"):
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(r["name"], r["kind"], r["needs"], ", ".join(r["search_default_for"]) or "-", r["description"])
    console().print(t)


@proxies.command("score")
@archs_options
@space_option()
@dataset_option()
@click.option("--proxy", "proxy_names", default="vkdnw", show_default=True,
              help="Comma-separated proxies and/or ensembles (see `edgenas proxies list`).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, MAX_SEED), help="Run seed (init and inputs).")
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda[:i].")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(2, MAX_BATCH), help="Input batch size B.")
@click.option("--proxy-resolution", "resolution", default=None, type=int,
              help="Reduced-resolution mode: feed model proxies H=W=N px inputs instead of the "
                   "dataset's (e.g. 64 for fbnet/imagenet on CPU; see README 'FBNet space').")
@click.option("--data", "data_path", default=None, type=click.Path(path_type=Path),
              help="Real images (.npy/.npz array or image folder) instead of Gaussian inputs.")
@click.option("--all", "whole_space", is_flag=True,
              help="Score every isomorphism class of the space (enumerable spaces, e.g. nb201) and write a score "
                   "table to --out (CSV, .gz compresses) that `edgenas search --score-table` reads; resumable.")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="With --all: the score table to write.")
@click.option("--executor", default="local", show_default=True, help="With --all: local | ray.")
@click.option("--workers", type=click.IntRange(0, MAX_WORKERS), default=0, show_default=True,
              help="With --all: worker processes (local: 0 = one per core) or Ray tasks in flight (0 = two per CPU).")
@click.option("--ray-address", default=None, help="With --executor ray: auto or HOST:PORT (default: a local instance).")
@json_option
def score_cmd(archs: tuple[str, ...], archs_file: Path | None, space_name: str, dataset: str | None,
              proxy_names: str, seed: int, device: str, batch_size: int, resolution: int | None,
              data_path: Path | None, whole_space: bool, out_path: Path | None, executor: str, workers: int,
              ray_address: str | None, as_json: bool) -> None:
    """Score ARCH... (arch strings or benchmark indices) with training-free proxies.

    Ensemble recipes (e.g. vkdnw_agg) are ranks *within the archs given*: score a population.
    With --all, every class of the space is scored into a table that searches reuse by lookup.
    """
    import numpy as np

    from ..proxies.engine import check_resolution, score_archs
    from ..proxies.ensemble import aggregate, ensemble_components

    if not whole_space:  # options that only --all reads: given without it they would be silently ignored
        ctx = click.get_current_context()
        given = [f"--{p.replace('_', '-')}" for p in ("out_path", "executor", "workers", "ray_address")
                 if ctx.get_parameter_source(p) is click.core.ParameterSource.COMMANDLINE]
        if given:
            names = {"--out-path": "--out"}
            raise click.UsageError(f"{names.get(given[0], given[0])} is read only with --all; expected --all, or "
                                   "scores printed for the archs given")
    space, ds = resolve_space(space_name, dataset)
    if resolution is not None:
        check_resolution(resolution)
    if data_path is not None:
        from .._read import check_input_path

        check_input_path(data_path, what="--data")
    names, singles, ensembles = split_names(proxy_names)
    from ..search.config import check_proxy_for_space

    for n in names:
        check_proxy_for_space(space, n)
    if whole_space:
        _score_all(space, ds, singles, out_path, archs or archs_file, seed=seed, device=device,
                   batch_size=batch_size, data=None if data_path is None else str(data_path), resolution=resolution,
                   executor=executor, workers=workers, ray_address=ray_address, as_json=as_json)
        return
    parsed = read_archs(space, archs, archs_file)
    results = score_archs(space, parsed, ds, singles, seed=seed, device=device, batch_size=batch_size,
                          data=None if data_path is None else str(data_path), resolution=resolution)
    input_size = resolution or space.dataset(ds).input_size
    records: list[dict[str, Any]] = []
    for a, r in zip(parsed, results):
        rec: dict[str, Any] = {"arch": r.arch, "index": space.index(a), "scores": {}, "seconds": {},
                               "n_warnings": r.n_warnings, "batch_size": batch_size,
                               "proxy_resolution": input_size}
        for n in names:
            if n not in ensembles:
                rec["scores"][n] = float(r.scores[n])
                rec["seconds"][n] = float(r.seconds[n])
        extra = {c: float(r.scores[c]) for c in singles if c not in names}
        if extra:
            rec["component_scores"] = extra
        records.append(rec)
    note = ENSEMBLE_NOTE.format(n=len(parsed))
    for e in ensembles:
        comps = ensemble_components(e)
        table = {c: np.array([r.scores[c] for r in results]) for c in comps}
        values = aggregate(e, table)
        for rec, r, v in zip(records, results, values):
            rec["scores"][e] = float(v)
            rec["seconds"][e] = float(sum(r.seconds[c] for c in comps))
            rec["note"] = note
    if as_json:
        echo_json(records)
        return
    if ensembles:
        click.echo(f"note: {note}", err=True)
    from rich.table import Table

    t = Table(title=f"{space.name} / {ds} / seed {seed} / batch {batch_size} / {input_size} px")
    t.add_column("index")
    t.add_column("arch", overflow="fold")
    for n in names:
        t.add_column(n, justify="right")
    t.add_column("seconds", justify="right")
    for rec in records:
        t.add_row("-" if rec["index"] is None else str(rec["index"]), rec["arch"],
                  *(f"{rec['scores'][n]:.6g}" for n in names),
                  f"{sum(v for k, v in rec['seconds'].items() if k not in ensembles):.3f}")
    console().print(t)


def _score_all(space: Any, dataset: str, components: list[str], out: Path | None, archs_given: Any, *,
               as_json: bool, workers: int, device: str, **kw: Any) -> None:
    import os

    from ..errors import ConfigError
    from ..search.executors import list_executors
    from ..search.score_table import score_space

    if out is None:
        raise ConfigError("--all needs --out FILE (the score table to write, e.g. nb201_cifar10_scores.csv.gz)")
    if archs_given:
        raise ConfigError("--all scores the whole space; expected no ARCH arguments or --archs-file with it")
    from .._io import check_output_file

    check_output_file(out)  # a FIFO, a folder or a device is refused before hours of scoring
    check_output_file(out.with_name(out.name + ".journal.jsonl"))
    if kw["executor"] not in list_executors():
        from ..errors import UnknownNameError

        raise UnknownNameError("executor", kw["executor"], list_executors())
    if kw["ray_address"] is not None and kw["executor"] != "ray":
        raise ConfigError(f"--ray-address {kw['ray_address']!r} needs --executor ray; expected --executor ray or no "
                          "--ray-address")
    from ..search.executors import check_ray_address

    check_ray_address(kw["ray_address"])
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if kw["executor"] == "local":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        workers = 1 if device.startswith("cuda") else (workers or max(1, min(8, cores)))
    from ._common import LogProgress

    lines = None if as_json else LogProgress("proxies score --all")
    res = score_space(space, dataset, components, out, device=device, workers=workers, **kw,
                      progress=None if lines is None else (lambda done, total: lines("classes scored", done, total)))
    doc = {"out": str(res.out), "classes": res.n_classes, "scored": res.n_scored, "reused": res.n_reused,
           "rows": res.n_rows, "components": components}
    if as_json:
        echo_json(doc)
    else:
        click.echo(f"wrote {res.out}: {res.n_rows:,} archs ({res.n_classes:,} classes; {res.n_scored:,} scored now, "
                   f"{res.n_reused:,} from the journal); search with --score-table {res.out}")
