"""A latency model of a new device from a few whole-model measurements (``edgenas fit``).

Given ``(arch, latency_ms)`` pairs measured any way the user likes, candidate models are compared
by k-fold cross-validation on the measured archs (share within +-10 % first, then MAPE), the best
is refitted on all of them, and the result becomes a user target in ``$EDGENAS_HOME``:

* ``macs``: ``a * MACs + c`` (non-negative, 1/y weighted): two parameters, the safe choice from
  very few archs;
* ``per-op-shape``: a non-negative per-op table keyed by op and shape (one cost per op type and
  stage), pruned of dead layers on compiled runtimes;
* ``per-op-position``: the same keyed by position too (many keys: needs many archs).

For an enumerable space with a benchmark index (NB201) the table stores a value for every arch
(the measured ones as measured, the rest predicted), so searches price by lookup; otherwise the
per-op table is stored (a ``macs`` choice then falls back to the best per-op model, and says so).
The table's header records the cross-validated error of every candidate.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_text
from .._paths import shipped_targets_dir, user_latency_tables_dir, user_targets_dir
from .._version import __version__
from ..errors import ConfigError
from ..spaces import Arch, SearchSpace
from ._graph import keys_node_reads, prunes_dead_layers
from .fit import fit_op_table, nnls_fit, score

__all__ = ["METHODS", "FitResult", "cross_validate", "fit_target", "read_measurements"]

METHODS = ("macs", "per-op-shape", "per-op-position")
#: enumerable spaces up to this size get a value for every arch (lookup); larger: a per-op table
MAX_LOOKUP_ARCHS = 20_000


@dataclass(frozen=True)
class FitResult:
    """``method`` chosen, ``cv`` {method: held-out report}, files written, archs used."""

    target: str
    method: str
    cv: dict[str, dict[str, float]]
    table: Path
    target_file: Path
    n_measured: int
    note: str | None = None


def read_measurements(path: str | Path, space: SearchSpace) -> tuple[list[Arch], np.ndarray]:
    """Archs and ms of a CSV with columns ``arch,latency_ms`` (arch string or benchmark index).

    Raises:
        ConfigError: unreadable file, missing columns, a bad arch or latency (naming the line).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read measurements {str(path)!r}: {getattr(exc, 'strerror', None) or exc}") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    rows = list(csv.DictReader(lines))
    if not rows or not {"arch", "latency_ms"} <= set(rows[0]):
        raise ConfigError(f"measurements {str(path)!r}: expected a CSV with columns arch,latency_ms")
    archs: list[Arch] = []
    ms: list[float] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, start=2):
        try:
            arch = space.parse(str(row["arch"]))
        except Exception as exc:  # noqa: BLE001 - ArchError and friends: report the line
            raise ConfigError(f"measurements {str(path)!r} line {n}: {exc}") from None
        try:
            v = float(row["latency_ms"])
        except (TypeError, ValueError):
            v = math.nan
        if not math.isfinite(v) or v <= 0:
            raise ConfigError(f"measurements {str(path)!r} line {n}: latency_ms {row['latency_ms']!r}; "
                              "expected a positive number of ms")
        key = space.format(arch)
        if key in seen:
            raise ConfigError(f"measurements {str(path)!r} line {n}: arch measured twice (first on line {seen[key]}); "
                              "expected each arch once (average repeated timings yourself)")
        seen[key] = n
        archs.append(arch)
        ms.append(v)
    return archs, np.asarray(ms, dtype=np.float64)


def _fitter(method: str, space: SearchSpace, dataset: str, runtime: str) -> Callable[[Sequence[Arch], np.ndarray],
                                                                                    Callable[[Sequence[Arch]], np.ndarray]]:
    if method == "macs":
        from .size import size_table

        sizes = size_table(space, dataset)

        def fit_macs(archs: Sequence[Arch], y: np.ndarray) -> Callable[[Sequence[Arch]], np.ndarray]:
            coef = nnls_fit(np.array([[sizes(a)[0]] for a in archs]), y)
            return lambda xs: np.array([coef[0] * sizes(a)[0] + coef[1] for a in xs])

        return fit_macs
    key = "shape" if method == "per-op-shape" else "position"
    prune, reads = prunes_dead_layers(runtime), keys_node_reads(runtime)

    def fit_ops(archs: Sequence[Arch], y: np.ndarray) -> Callable[[Sequence[Arch]], np.ndarray]:
        from ..errors import MissingLatencyError

        table = fit_op_table(space, dataset, archs, y, key=key, prune=prune, reads=reads)

        def predict(xs: Sequence[Arch]) -> np.ndarray:
            out = np.full(len(xs), np.nan)  # nan: an op the fitted archs never showed (no price)
            for i, a in enumerate(xs):
                try:
                    out[i] = table.predict_many(space, [a])[0]
                except MissingLatencyError:
                    pass
            return out

        return predict

    return fit_ops


def cross_validate(space: SearchSpace, dataset: str, archs: Sequence[Arch], y: np.ndarray, *, runtime: str,
                   folds: int = 5, seed: int = 0) -> dict[str, dict[str, float]]:
    """Held-out error of every method: k-fold CV on the measured archs (k = min(folds, n))."""
    n = len(archs)
    k = min(folds, n)
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=int)
    fold_of[order] = np.arange(n) % k
    out = {}
    for method in METHODS:
        fit = _fitter(method, space, dataset, runtime)
        pred = np.empty(n)
        for f in range(k):
            test = np.flatnonzero(fold_of == f)
            train = np.flatnonzero(fold_of != f)
            model = fit([archs[i] for i in train], y[train])
            pred[test] = model([archs[i] for i in test])
        unpriced = int(np.isnan(pred).sum())
        # an arch the model cannot price counts as a 100 % error, never as a good guess
        report = score(np.where(np.isnan(pred), 0.0, pred), y).as_dict()
        out[method] = {k2: round(v, 6) if isinstance(v, float) else v for k2, v in report.items()}
        out[method].update({"folds": k, "unpriced": unpriced})
    return out


def _best(cv: dict[str, dict[str, float]], allowed: Sequence[str]) -> str:
    return max(allowed, key=lambda m: (cv[m]["within_10"], -cv[m]["mape"]))


def fit_target(space: SearchSpace, dataset: str, archs: Sequence[Arch], y: np.ndarray, *, name: str, device: str,
               runtime: str, source: str, force: bool = False, seed: int = 0,
               facts: dict[str, Any] | None = None) -> FitResult:
    """Choose and fit a latency model, write its table and the target YAML to ``$EDGENAS_HOME``.

    ``facts`` (what the device runner reports: model, L4T, runtime version, power mode, clocks) go
    into the table header as ``device_facts``.

    Raises:
        ConfigError: fewer than 5 archs, a shipped target's name, an existing user table without ``force``.
    """
    from .targets import RUNTIMES

    if len(archs) < 5:
        raise ConfigError(f"{len(archs)} measured archs; expected at least 5 (10-20 give a usable model)")
    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime {runtime!r} is unknown; expected one of {', '.join(RUNTIMES)}")
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith((".", "-")):
        raise ConfigError(f"target name {name!r} is invalid; expected letters, digits, '-', '_' or '.'")
    if (shipped_targets_dir() / f"{name}.yaml").exists():
        raise ConfigError(f"target {name!r} is a shipped target; expected a new name (shipped tables are never replaced)")
    cv = cross_validate(space, dataset, archs, y, runtime=runtime, seed=seed)
    lookup = space.index(archs[0]) is not None and space.size <= MAX_LOOKUP_ARCHS
    method = _best(cv, METHODS if lookup else METHODS[1:])
    note = None
    if not lookup and _best(cv, METHODS) == "macs":
        note = (f"macs cross-validated best, but {space.name} is too large for a per-arch table: "
                f"stored the best per-op model ({method})")
    model = _fitter(method, space, dataset, runtime)(archs, y)
    tables_dir, targets_dir = user_latency_tables_dir(), user_targets_dir()
    meta_common = {"device": device, "runtime": runtime, "source": source, "method": method, "cv": cv,
                   "n_measured": len(archs), "made_by": f"edgenas {__version__} fit",
                   **({"device_facts": facts} if facts else {})}
    if lookup:
        table_path = tables_dir / f"{space.name}_{dataset}_{name}.csv"
        measured = {space.index(a): float(v) for a, v in zip(archs, y)}
        every = list(space.enumerate())
        pred = model(every)
        gaps = np.isnan(pred)
        if gaps.any():  # ops the measured archs never showed: those archs are priced by the MACs model
            note = (f"{method} has no price for {int(gaps.sum()):,} of {len(every):,} archs (ops none of the measured "
                    "archs showed); those are priced by the macs model: measure archs that use them to do better")
            macs_pred = _fitter("macs", space, dataset, runtime)(archs, y)([a for a, g in zip(every, gaps) if g])
            pred[gaps] = macs_pred
            meta_common["priced_by_macs"] = int(gaps.sum())
        meta = {"schema_version": 1, "kind": "arch_latency", "space": space.name, "dataset": dataset, "units": "ms",
                "rows": len(every), "columns": {name: meta_common}, "license": "the user's own measurements",
                "source": f"edgenas fit: {len(archs)} measured archs, the rest predicted by {method}"}
        body = [f"{space.index(a)},{measured.get(space.index(a), float(p)):.6f}" for a, p in zip(every, pred)]
        table_text = "# " + json.dumps(meta) + "\nindex," + name + "\n" + "\n".join(body) + "\n"
        ref = {"file": table_path.name, "column": name}
    else:
        from .fit import fit_op_table as _fit

        key = "shape" if method == "per-op-shape" else "position"
        table = _fit(space, dataset, archs, y, key=key, prune=prunes_dead_layers(runtime),
                     reads=keys_node_reads(runtime), meta=meta_common)
        table_path = tables_dir / f"{space.name}_{dataset}_{name}_ops.json"
        from .tables import _finite

        table_text = json.dumps(_finite(table.to_json()), indent=1, sort_keys=True, allow_nan=False) + "\n"
        ref = {"file": table_path.name}
    target_file = targets_dir / f"{name}.yaml"
    import yaml

    doc: dict[str, Any] = {}
    if target_file.exists():
        doc = yaml.safe_load(target_file.read_text()) or {}
        if not isinstance(doc, dict):
            raise ConfigError(f"target file {target_file} is not a mapping; expected a target YAML")
        if (doc.get("tables") or {}).get(space.name, {}).get(dataset) is not None and not force:
            raise ConfigError(f"target {name!r} already has a {space.name}/{dataset} table ({target_file}); "
                              "expected --force to replace it")
    if table_path.exists() and not force and not target_file.exists():
        raise ConfigError(f"{table_path} exists; expected --force to replace it")
    doc.update({"name": name, "device": doc.get("device") or device, "runtime": runtime,
                "provenance": doc.get("provenance") or f"edgenas fit from {source}"})
    doc.setdefault("tables", {}).setdefault(space.name, {})[dataset] = ref
    atomic_write_text(table_path, table_text)
    atomic_write_text(target_file, "# edgenas target made by `edgenas fit` (schema: edgenas/hardware/targets.py)\n"
                      + yaml.safe_dump(doc, sort_keys=False))
    return FitResult(name, method, cv, table_path, target_file, len(archs), note)
