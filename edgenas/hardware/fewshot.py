"""A latency model of a new device from a few whole-model measurements (``edgenas fit``).

Given ``(arch, latency_ms)`` pairs measured any way the user likes, candidate models are compared
by k-fold cross-validation on the measured archs (share within +-10 % first, then MAPE), the best
is refitted on all of them, and the result becomes a user target in ``$EDGENAS_HOME``:

* ``macs``: ``a * MACs + c`` (non-negative, 1/y weighted): two parameters, the safe choice from
  very few archs;
* ``per-op-shape``: a non-negative per-op table keyed by op and shape (one cost per op type and
  stage), pruned of dead layers on compiled runtimes;
* ``per-op-position``: the same keyed by position too (many keys: needs many archs);
* ``op-prior``: what the shipped devices already know: each shipped per-arch table of the space and
  dataset gives a per-op-shape table of its device (fitted on its own archs, :func:`op_prior`), and the
  new device's table is a non-negative combination of those plus a constant. One weight per shipped
  device, whatever the number of op keys, and every op is priced. Offered only where shipped per-arch
  tables exist for the space and dataset (NB201); elsewhere the other candidates compete alone.
* ``kernels``: one non-negative cost per kernel type of onnxruntime's optimized graph (the device
  runner's ``--kernels`` counts: fused convs, layout reorders, unfused element-wise ops) plus a
  constant. On onnxruntime (CPU) the kernels an arch runs depend on how its ops are wired, which
  no per-op table sees. Offered only with the device's kernel counts for the measured archs, and
  only when this host's onnxruntime optimizes those archs into the same kernels (it then counts
  every other arch of the space here, :func:`edgenas.hardware.kernels.space_kernel_counts`).

For an enumerable space with a benchmark index (NB201) the table stores a value for every arch
(the measured ones as measured, the rest predicted), so searches price by lookup; otherwise the
per-op table is stored (a ``macs`` or ``op-prior`` choice then falls back to the best per-op model, and
says so).
The table's header records the cross-validated error of every candidate (and, for ``op-prior``, the
weight of each shipped device).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_text
from .._paths import shipped_targets_dir, user_latency_tables_dir, user_targets_dir
from .._version import __version__
from ..errors import ConfigError
from ..spaces import Arch, SearchSpace
from ._graph import cost_layers, keys_node_reads, prunes_dead_layers
from .fit import fit_kernel_costs, fit_op_table, nnls_fit, score
from .tables import OpLatencyTable, layer_key

__all__ = ["METHODS", "FitResult", "KernelCounter", "OpPrior", "available_methods", "choose_and_fit", "cross_validate",
           "fit_target", "op_prior", "read_measurements"]

METHODS = ("macs", "per-op-shape", "per-op-position", "op-prior", "kernels")
#: predictions are floored at this share of the fastest measured arch (a table holds positive latencies only)
PREDICTION_FLOOR_SHARE = 0.01
#: enumerable spaces up to this size get a value for every arch (lookup); larger: a per-op table
MAX_LOOKUP_ARCHS = 20_000
#: the prior's per-op tables are fitted on every PRIOR_STRIDE-th arch (by benchmark index) of the space
PRIOR_STRIDE = 4

#: kernel counts (device runner ``--kernels`` keys) of archs, by ``space.format(arch)``
KernelRows = Mapping[str, Mapping[str, int]]
#: this host's kernel counts of archs, in order (``progress(done, total)`` while counting many)
KernelCounter = Callable[[Sequence[Arch], Callable[[int, int], None] | None], list[dict[str, int]]]


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
    from .._limits import MAX_LATENCY_MS, MIN_MEASURED_MS
    from .._read import csv_rows, read_text

    path = Path(path)
    where = repr(str(path))
    text = read_text(path, what="measurements", max_bytes=64 * 2**20)
    numbered = [(n, ln) for n, ln in enumerate(text.splitlines(), start=1)
                if ln.strip() and not ln.lstrip().startswith("#")]
    table = csv_rows([ln for _, ln in numbered], where=where, what="measurements")
    header = [c.strip() for c in table[0]] if table else []
    if not {"arch", "latency_ms"} <= set(header) or len(table) < 2:
        raise ConfigError(f"measurements {where}: expected a CSV with columns arch,latency_ms and one row per arch")
    col_arch, col_ms = header.index("arch"), header.index("latency_ms")
    archs: list[Arch] = []
    ms: list[float] = []
    seen: dict[str, int] = {}
    for (n, _), cells in zip(numbered[1:], table[1:]):
        if len(cells) != len(header):  # a missing or an extra cell: the columns cannot be trusted
            raise ConfigError(f"measurements {where} line {n}: {len(cells)} cells; expected {len(header)} "
                              f"({','.join(header)})")
        try:
            arch = space.parse(cells[col_arch].strip())
        except Exception as exc:  # noqa: BLE001 - ArchError and friends: report the line
            raise ConfigError(f"measurements {where} line {n}: {exc}") from None
        try:
            v = float(cells[col_ms])
        except (TypeError, ValueError):
            v = math.nan
        if not math.isfinite(v) or not MIN_MEASURED_MS <= v <= MAX_LATENCY_MS:
            raise ConfigError(f"measurements {where} line {n}: latency_ms {cells[col_ms]!r}; expected a number of ms "
                              f"in {MIN_MEASURED_MS:g}..{MAX_LATENCY_MS:g}")
        key = space.format(arch)
        if key in seen:
            raise ConfigError(f"measurements {str(path)!r} line {n}: arch measured twice (first on line {seen[key]}); "
                              "expected each arch once (average repeated timings yourself)")
        seen[key] = n
        archs.append(arch)
        ms.append(v)
    return archs, np.asarray(ms, dtype=np.float64)


@dataclass(frozen=True)
class OpPrior:
    """Per-op-shape tables of shipped devices, each fitted on that device's own per-arch table.

    Attributes:
        space, dataset: what the tables cover.
        keys: op-table keys (:func:`~edgenas.hardware.tables.layer_key`, ``"shape"``), one per column.
        targets: shipped target names, one per row of ``ms``.
        devices: their hardware (``Target.device``: batch sizes of one device share it).
        ms: (len(targets), len(keys) + 1) ms per occurrence of each key; the last column is a constant.
        prune, reads: cost-layer settings the tables were fitted with (those of the new device's runtime).
        sources: {table file name: its license}.
        fitted_on: archs each table was fitted on (every :data:`PRIOR_STRIDE`-th live arch it has).
    """

    space: str
    dataset: str
    keys: tuple[str, ...]
    targets: tuple[str, ...]
    devices: tuple[str, ...]
    ms: np.ndarray = field(repr=False)
    prune: bool = False
    reads: bool = False
    sources: dict[str, str] = field(default_factory=dict)
    fitted_on: tuple[int, ...] = ()

    def without(self, devices: Iterable[str]) -> OpPrior | None:
        """The prior without the tables of ``devices`` (hardware names or target names); None if none is left."""
        drop = set(devices)
        keep = [i for i, (t, d) in enumerate(zip(self.targets, self.devices)) if t not in drop and d not in drop]
        if not keep:
            return None
        return OpPrior(self.space, self.dataset, self.keys, tuple(self.targets[i] for i in keep),
                       tuple(self.devices[i] for i in keep), self.ms[keep], self.prune, self.reads, self.sources,
                       tuple(self.fitted_on[i] for i in keep))

    def device_ms(self, space: SearchSpace, archs: Sequence[Arch]) -> np.ndarray:
        """(len(archs), len(targets)) ms each prior device's table predicts; a row of NaN for an arch with
        an op key the tables lack."""
        pos = {k: j for j, k in enumerate(self.keys)}
        x = np.zeros((len(archs), len(self.keys) + 1))
        x[:, -1] = 1.0
        bad = np.zeros(len(archs), dtype=bool)
        for i, c in enumerate(_key_counts(space, self.dataset, archs, self.prune, self.reads)):
            for k, v in c.items():
                j = pos.get(k)
                if j is None:
                    bad[i] = True
                    break
                x[i, j] = v
        out = x @ self.ms.T
        out[bad] = np.nan
        return out


#: op-key counts by (space, dataset, key, prune, reads) and arch tokens (enumerable spaces only: bounded)
_COUNTS: dict[tuple[str, str, str, bool, bool], dict[tuple[str, ...], dict[str, int]]] = {}


def _key_counts(space: SearchSpace, dataset: str, archs: Sequence[Arch], prune: bool, reads: bool,
                key: str = "shape") -> list[dict[str, int]]:
    """How often each op-table key occurs in each arch (``fit.feature_matrix``'s counts, memoized)."""
    memo = _COUNTS.setdefault((space.name, dataset, key, prune, reads), {}) if space.size <= MAX_LOOKUP_ARCHS else {}
    out = []
    for a in archs:
        c = memo.get(a.tokens)
        if c is None:
            c = {}
            for layer in cost_layers(space, a, dataset, prune=prune, reads=reads):
                k = sys.intern(layer_key(layer, key))  # one copy of each key string across archs
                c[k] = c.get(k, 0) + 1
            memo[a.tokens] = c
        out.append(c)
    return out


def op_prior(space: SearchSpace, dataset: str, runtime: str, *, exclude: Iterable[str] = ()) -> OpPrior | None:
    """The prior of ``op-prior`` for a device on ``runtime``: a per-op-shape table of every shipped device
    with a per-arch table of (space, dataset), fitted (1/y weighted NNLS) on every :data:`PRIOR_STRIDE`-th
    live arch of it, counting layers as ``runtime`` runs them. None where no such table ships (e.g. FBNet,
    whose shipped tables are per-op) or every one is excluded.

    Args:
        exclude: hardware names (``Target.device``) or target names left out, e.g. the device being
            evaluated and its other batch sizes.
    """
    full = _op_prior_all(space.name, dataset, prunes_dead_layers(runtime), keys_node_reads(runtime))
    if full is None:
        return None
    return full.without(exclude)


@lru_cache(maxsize=16)
def _op_prior_all(space_name: str, dataset: str, prune: bool, reads: bool) -> OpPrior | None:
    from ..spaces import get_space
    from .tables import load_arch_table
    from .targets import list_targets

    space = get_space(space_name)
    if space.size > MAX_LOOKUP_ARCHS:
        return None
    columns: list[tuple[str, str, Path, str]] = []
    for t in list_targets(shipped_targets_dir()):
        for ref in t.tables:
            if ref.space == space_name and ref.dataset == dataset and ref.kind == "arch" and ref.exists and ref.column:
                columns.append((t.name, t.device, ref.file, ref.column))
    if not columns:
        return None
    every = np.arange(0, space.size, PRIOR_STRIDE)
    archs = [space.from_index(int(i)) for i in every]
    live = np.array([not space.is_degenerate(a) for a in archs])
    every, archs = every[live], [a for a, ok in zip(archs, live) if ok]
    counts = _key_counts(space, dataset, archs, prune, reads)
    keys = tuple(sorted({k for c in counts for k in c}))
    pos = {k: j for j, k in enumerate(keys)}
    x = np.zeros((len(archs), len(keys)))
    for i, c in enumerate(counts):
        for k, v in c.items():
            x[i, pos[k]] = v
    tables: dict[Path, Any] = {}
    names, devices, rows, n_fit, sources = [], [], [], [], {}
    for name, device, path, column in columns:
        if path not in tables:
            tables[path] = load_arch_table(path, space=space_name, dataset=dataset)
        table = tables[path]
        at = np.searchsorted(table.index, every)
        found = (at < len(table.index)) & (table.index[np.minimum(at, len(table.index) - 1)] == every)
        y = np.full(len(every), np.nan)
        y[found] = table.column(column)[at[found]]
        ok = np.isfinite(y)
        if ok.sum() < 2 * (len(keys) + 1):  # too few measured archs to fit a table from
            continue
        names.append(name)
        devices.append(device)
        rows.append(nnls_fit(x[ok], y[ok]))
        n_fit.append(int(ok.sum()))
        sources[path.name] = str(table.meta.get("license", ""))
    if not rows:
        return None
    return OpPrior(space_name, dataset, keys, tuple(names), tuple(devices), np.array(rows), prune, reads, sources,
                   tuple(n_fit))


def available_methods(space: SearchSpace, dataset: str, runtime: str, *, exclude: Iterable[str] = (),
                      kernels: bool = False) -> tuple[str, ...]:
    """The candidates of :data:`METHODS` that can be fitted here (``op-prior`` needs :func:`op_prior`,
    ``kernels`` the device's kernel counts of the measured archs)."""
    drop = set() if kernels else {"kernels"}
    if op_prior(space, dataset, runtime, exclude=exclude) is None:
        drop.add("op-prior")
    return tuple(m for m in METHODS if m not in drop)


def _fit_kernel_costs(space: SearchSpace, kernels: KernelRows, archs: Sequence[Arch], y: np.ndarray
                      ) -> tuple[dict[str, float], float]:
    """Cost per kernel type (>= 0, ms) and a constant: 1/y weighted NNLS on the archs' kernel counts."""
    return fit_kernel_costs([kernels[space.format(a)] for a in archs], y)


def _kernel_predict(space: SearchSpace, kernels: KernelRows, costs: dict[str, float], constant: float,
                    archs: Sequence[Arch]) -> np.ndarray:
    # nan: no counts for the arch, or a kernel type none of the fitted archs ran (no price for it)
    out = np.full(len(archs), np.nan)
    for i, a in enumerate(archs):
        row = kernels.get(space.format(a))
        if row is not None and all(t in costs for t in row):
            out[i] = sum(costs[t] * n for t, n in row.items()) + constant
    return out


def _prior_weights(prior: OpPrior, space: SearchSpace, archs: Sequence[Arch], y: np.ndarray) -> np.ndarray:
    """Non-negative weights (len(prior.targets) + 1,) of the prior devices' predictions, then a constant."""
    p = prior.device_ms(space, archs)
    ok = np.all(np.isfinite(p), axis=1)
    if not ok.any():
        return np.zeros(len(prior.targets) + 1)
    return nnls_fit(p[ok], np.asarray(y, dtype=np.float64)[ok])


def _fitter(method: str, space: SearchSpace, dataset: str, runtime: str, *, exclude: Iterable[str] = (),
            kernels: KernelRows | None = None
            ) -> Callable[[Sequence[Arch], np.ndarray], Callable[[Sequence[Arch]], np.ndarray]]:
    if method == "kernels":
        if kernels is None:
            raise ConfigError("the kernels model needs the device's kernel counts (device runner --kernels)")
        rows = kernels

        def fit_kernels(archs: Sequence[Arch], y: np.ndarray) -> Callable[[Sequence[Arch]], np.ndarray]:
            costs, constant = _fit_kernel_costs(space, rows, archs, y)
            return lambda xs: _kernel_predict(space, rows, costs, constant, xs)

        return fit_kernels
    if method == "op-prior":
        prior = op_prior(space, dataset, runtime, exclude=exclude)
        if prior is None:
            raise ConfigError(f"no shipped per-arch latency table of {space.name}/{dataset} to build a prior from")

        def fit_prior(archs: Sequence[Arch], y: np.ndarray) -> Callable[[Sequence[Arch]], np.ndarray]:
            coef = _prior_weights(prior, space, archs, y)
            return lambda xs: prior.device_ms(space, xs) @ coef[:-1] + coef[-1]

        return fit_prior
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
        table = fit_op_table(space, dataset, archs, y, key=key, prune=prune, reads=reads)
        entries = table.entries

        def predict(xs: Sequence[Arch]) -> np.ndarray:
            # table.predict_many's sum, from memoized counts; nan: an op the fitted archs never showed (no price)
            out = np.full(len(xs), np.nan)
            for i, c in enumerate(_key_counts(space, dataset, xs, prune, reads, key)):
                if all(k in entries for k in c):
                    out[i] = table.scale * sum(entries[k] * v for k, v in c.items()) + table.intercept_ms
            return out

        return predict

    return fit_ops


def cross_validate(space: SearchSpace, dataset: str, archs: Sequence[Arch], y: np.ndarray, *, runtime: str,
                   folds: int = 5, seed: int = 0, exclude: Iterable[str] = (),
                   kernels: KernelRows | None = None) -> dict[str, dict[str, float]]:
    """Held-out error of every available method: k-fold CV on the measured archs (k = min(folds, n)).

    Each method is scored as it would be stored: in a space priced by lookup, an arch whose ops the
    fold's archs never showed is priced by the fold's ``macs`` model (as :func:`fit_target` prices
    it); elsewhere it counts as a 100 % error, never as a good guess.

    Args:
        exclude: devices left out of the ``op-prior`` prior (see :func:`op_prior`).
        kernels: the device's kernel counts of (at least) every measured arch: adds ``kernels``.
    """
    n = len(archs)
    if kernels is not None and any(space.format(a) not in kernels for a in archs):
        kernels = None  # counts of some measured archs are missing: no kernels candidate
    k = min(folds, n)
    order = np.random.default_rng(seed).permutation(n)
    fold_of = np.empty(n, dtype=int)
    fold_of[order] = np.arange(n) % k
    lookup = space.index(archs[0]) is not None and space.size <= MAX_LOOKUP_ARCHS
    out = {}
    exclude = tuple(exclude)
    preds: dict[str, np.ndarray] = {}
    for method in available_methods(space, dataset, runtime, exclude=exclude, kernels=kernels is not None):
        fit = _fitter(method, space, dataset, runtime, exclude=exclude, kernels=kernels)
        pred = np.empty(n)
        for f in range(k):
            test = np.flatnonzero(fold_of == f)
            train = np.flatnonzero(fold_of != f)
            model = fit([archs[i] for i in train], y[train])
            pred[test] = model([archs[i] for i in test])
        preds[method] = pred
        unpriced = int(np.isnan(pred).sum())
        fallback = preds["macs"] if lookup and method != "macs" else np.zeros(n)
        report = score(np.where(np.isnan(pred), fallback, pred), y).as_dict()
        out[method] = {k2: round(v, 6) if isinstance(v, float) else v for k2, v in report.items()}
        out[method].update({"folds": k, "unpriced": unpriced})
    return out


def _best(cv: dict[str, dict[str, float]], allowed: Sequence[str]) -> str:
    return max((m for m in allowed if m in cv), key=lambda m: (cv[m]["within_10"], -cv[m]["mape"]))


def choose_and_fit(space: SearchSpace, dataset: str, archs: Sequence[Arch], y: np.ndarray, *, runtime: str,
                   seed: int = 0, exclude: Iterable[str] = (), kernels: KernelRows | None = None
                   ) -> tuple[Callable[[Sequence[Arch]], np.ndarray], str]:
    """(predict, method): the model `edgenas fit` chooses by cross-validation, fitted on all ``archs``.

    ``predict`` prices archs whose ops the measured archs never showed with the ``macs`` model, as
    the stored table does. ``kernels``: kernel counts of the measured archs and of the archs to be
    priced (by ``space.format``), for the ``kernels`` candidate.
    """
    exclude = tuple(exclude)
    cv = cross_validate(space, dataset, archs, y, runtime=runtime, seed=seed, exclude=exclude, kernels=kernels)
    method = _best(cv, METHODS)
    model = _fitter(method, space, dataset, runtime, exclude=exclude, kernels=kernels)(archs, y)
    macs = _fitter("macs", space, dataset, runtime)(archs, y) if method != "macs" else model

    def predict(xs: Sequence[Arch]) -> np.ndarray:
        pred = np.asarray(model(xs), dtype=np.float64)
        return np.where(np.isnan(pred), macs(xs), pred) if np.isnan(pred).any() else pred

    return predict, method


def host_kernel_counter(space: SearchSpace, dataset: str, *, workers: int = 0) -> KernelCounter:
    """This host's kernel counts (:func:`edgenas.hardware.kernels.space_kernel_counts`, ``workers``
    processes, 0 = one per core) of archs of an indexed space."""
    from .kernels import space_kernel_counts

    if workers <= 0:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    def count(archs: Sequence[Arch], progress: Callable[[int, int], None] | None = None) -> list[dict[str, int]]:
        idx = [space.index(a) for a in archs]
        many = len(idx) > 200  # spawning workers costs seconds: worth it for the whole space only
        return [dict(c) for c in space_kernel_counts(space, dataset, idx, workers=workers if many else 1,
                                                     progress=progress)]

    return count


def _check_kernels(space: SearchSpace, archs: Sequence[Arch], kernels: KernelRows | None,
                   counter: KernelCounter | None) -> tuple[KernelRows | None, str | None]:
    """The device's kernel counts when this host reproduces them for every measured arch, else (None, why)."""
    if kernels is None:
        return None, None
    missing = [a for a in archs if space.format(a) not in kernels]
    if missing:
        return None, (f"kernels model not offered: {len(missing)} of {len(archs)} measured archs have no kernel counts "
                      "(timed by an older device runner); measure them again to offer it")
    if counter is None:
        return None, "kernels model not offered: no kernel counter on this host for this space"
    try:
        here = counter(archs, None)
    except Exception as exc:  # noqa: BLE001 - a missing onnxruntime here, an unbuildable arch: no candidate
        return None, f"kernels model not offered: this host cannot count kernels ({type(exc).__name__}: {exc})"
    bad = [a for a, c in zip(archs, here) if dict(c) != dict(kernels[space.format(a)])]
    if bad:
        from importlib.metadata import PackageNotFoundError, version

        try:
            ort_version = version("onnxruntime")
        except PackageNotFoundError:
            ort_version = "?"
        return None, (f"kernels model not offered: this host's onnxruntime {ort_version} optimizes {len(bad)} of "
                      f"{len(archs)} measured archs into other kernels than the device reported (first: "
                      f"{space.format(bad[0])}); fit on a host with the device's onnxruntime version and CPU family")
    return kernels, None


def _check_measured(space: SearchSpace, archs: Sequence[Arch], y: np.ndarray) -> None:
    """Refuse a measured latency the written table could not hold (its loader takes MIN..MAX ms)."""
    from .._limits import MAX_LATENCY_MS, MIN_MEASURED_MS

    y = np.asarray(y, dtype=np.float64)
    if len(y) != len(archs):
        raise ConfigError(f"{len(archs)} archs but {len(y)} latencies; expected one latency per arch")
    bad = np.flatnonzero(~((y >= MIN_MEASURED_MS) & (y <= MAX_LATENCY_MS)))
    if bad.size:
        i = int(bad[0])
        raise ConfigError(f"measured latency {y[i]!r} ms of arch {space.format(archs[i])} is out of range; expected "
                          f"{MIN_MEASURED_MS:g}..{MAX_LATENCY_MS:g} ms")
    if len(y) and np.ptp(y) == 0:  # nothing to fit: every model would be a constant (and a degenerate fit)
        raise ConfigError(f"every measured latency is {y[0]:g} ms; expected timings of archs that differ in "
                          "latency (time archs of different sizes)")


def _existing_target(target_file: Path, table_path: Path, space: str, dataset: str, force: bool,
                     source: str | None = None) -> dict[str, Any]:
    """The user target ``target_file`` that a fit adds a table to ({} when new), read and checked
    before any fitting: it must load as a target, and may not hold this table unless ``force``. A table
    without its target that a fit of the same ``source`` wrote is that fit cut between its two writes: the
    same command replaces it."""
    from .._read import load_yaml
    from .targets import load_target_file

    if not target_file.exists() and not target_file.is_symlink():
        if table_path.exists() and not force and (source is None or _table_source(table_path) != source):
            raise ConfigError(f"{table_path} exists; expected --force to replace it")
        return {}
    doc = load_yaml(target_file, what="target file")
    load_target_file(target_file)  # every field checked as any later command will
    if not isinstance(doc, dict):
        raise ConfigError(f"target file {target_file} is not a mapping; expected a target YAML")
    if ((doc.get("tables") or {}).get(space) or {}).get(dataset) is not None and not force:
        raise ConfigError(f"target {target_file.stem!r} already has a {space}/{dataset} table ({target_file}); "
                          "expected --force to replace it")
    return doc


def _table_source(table_path: Path) -> str | None:
    """The ``source`` a fitted table's header records (``None``: unreadable, or not written by a fit)."""
    try:
        with open(table_path, encoding="utf-8") as f:
            head = f.readline(1 << 20) if table_path.suffix == ".csv" else f.read(64 << 20)
        doc = json.loads(head.removeprefix("# "))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    columns = doc.get("columns")
    if isinstance(columns, dict):  # a per-arch table: the fitted column's own header
        found = {c.get("source") for c in columns.values() if isinstance(c, dict)}
        return next(iter(found)) if len(found) == 1 and isinstance(next(iter(found)), str) else None
    src = doc.get("source")
    return src if isinstance(src, str) else None


def _check_written_table(table_path: Path, text: str, space: str, dataset: str) -> None:
    """Load the table a fit is about to write with the loader every later command uses: edgenas
    never writes a table it would then refuse."""
    import tempfile

    from ..errors import LatencyTableError
    from .tables import load_arch_table, load_op_table

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d) / table_path.name
        tmp.write_text(text, encoding="utf-8")
        try:
            (load_op_table if tmp.suffix == ".json" else load_arch_table)(tmp, space=space, dataset=dataset)
        except LatencyTableError as exc:
            raise ConfigError(f"the fitted table for {table_path.name} does not pass its own check "
                              f"({exc.message.replace(str(tmp), 'the table')}); expected measurements "
                              "a model can fit (nothing was written)") from None


def _check_written_target(target_file: Path, text: str) -> None:
    """Load the target YAML a fit is about to write with the target loader (see _check_written_table)."""
    import tempfile

    from .targets import load_target_file

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d) / target_file.name
        tmp.write_text(text, encoding="utf-8")
        try:
            load_target_file(tmp)
        except ConfigError as exc:
            raise ConfigError(f"the target file {target_file.name} a fit would write does not pass its own check "
                              f"({exc.message.replace(str(tmp), 'it')}); nothing was written") from None


#: archs drawn to find the op keys of a space too large to enumerate
KEY_SAMPLE_ARCHS = 4_000


def _complete_op_table(space: SearchSpace, dataset: str, table: OpLatencyTable, archs: Sequence[Arch], y: np.ndarray,
                       *, seed: int = 0) -> tuple[OpLatencyTable, str | None]:
    """``table`` with a price for every op key of the space and a floor, and a note on what was filled.

    A per-op fit prices only the keys the measured archs showed: an arch with any other op would have
    no price (the search counts it as not meeting a budget). Those keys are priced by the MACs model of
    the same measurements (ms per million MACs of the op), as the per-arch tables price their gaps; and
    since NNLS may price ops, and the constant, at 0, every prediction is floored at 1 % of the fastest
    measured arch. The keys are those of every arch of a space of at most :data:`MAX_LOOKUP_ARCHS`, else
    of :data:`KEY_SAMPLE_ARCHS` seeded random archs (a key no drawn arch shows stays unpriced).
    """
    from .._rng import as_rng
    from .flops import count_macs
    from .size import size_table

    prune, node_ops, reads = table.prune, bool(table.meta.get("node_ops", False)), bool(table.meta.get("reads", False))
    if space.size <= MAX_LOOKUP_ARCHS:
        pool: Iterable[Arch] = space.enumerate()
    else:
        rng = as_rng(seed)
        pool = (space.sample(rng) for _ in range(KEY_SAMPLE_ARCHS))
    unseen: dict[str, Any] = {}
    for a in pool:
        for layer in cost_layers(space, a, dataset, prune=prune, node_ops=node_ops, reads=reads):
            k = layer_key(layer, table.key)
            if k not in table.entries:
                unseen.setdefault(k, layer)
    sizes = size_table(space, dataset)
    rate = float(nnls_fit(np.array([[sizes(a)[0]] for a in archs]), np.asarray(y, dtype=np.float64))[0])
    priced: dict[str, float] = {}
    for k, layer in unseen.items():
        try:
            macs_m, _ = count_macs(space.layer_module(layer), tuple(layer.in_shape))
        except Exception:  # noqa: BLE001 - a layer with no module of its own (a graph node) stays unpriced
            continue
        priced[k] = rate * macs_m
    floor = max(PREDICTION_FLOOR_SHARE * float(np.min(y)), 1e-6)
    meta = {**table.meta, "floor_ms": round(floor, 6)}
    note = None
    if unseen:
        meta["priced_by_macs"] = {"keys": len(priced), "ms_per_macs_m": round(rate, 9),
                                  "what": "op keys none of the measured archs showed, priced by the MACs model"}
        note = (f"{len(priced):,} of {len(table.entries) + len(unseen):,} op keys appear in none of the measured "
                "archs and are priced by the macs model: measure archs that use them to do better")
        if len(priced) < len(unseen):
            note += f" ({len(unseen) - len(priced):,} could not be priced)"
    return replace(table, meta=meta, entries={**table.entries, **priced}), note


def fit_target(space: SearchSpace, dataset: str, archs: Sequence[Arch], y: np.ndarray, *, name: str, device: str,
               runtime: str, source: str, force: bool = False, seed: int = 0,
               facts: dict[str, Any] | None = None, kernels: KernelRows | None = None,
               kernel_counter: KernelCounter | None = None,
               progress: Callable[[int, int], None] | None = None, extra_meta: dict[str, Any] | None = None
               ) -> FitResult:
    """Choose and fit a latency model, write its table and the target YAML to ``$EDGENAS_HOME``.

    ``facts`` (what the device runner reports: model, L4T, runtime version, power mode, clocks) go
    into the table header as ``device_facts``; ``extra_meta`` (e.g. how the timings were taken) too.

    ``kernels``: the device's kernel counts of the measured archs (device runner ``--kernels``, by
    ``space.format``). The ``kernels`` candidate is offered when ``kernel_counter`` (default: this
    host's onnxruntime, :func:`host_kernel_counter`) reproduces them; when chosen, every arch of the
    space is counted with it (NB201: minutes; ``progress(done, total)``).

    Raises:
        ConfigError: fewer than 5 archs, a shipped target's name, an existing user table without ``force``.
    """
    from .targets import RUNTIMES, is_shipped_name

    if len(archs) < 5:
        raise ConfigError(f"{len(archs)} measured archs; expected at least 5 (10-20 give a usable model)")
    if runtime not in RUNTIMES:
        raise ConfigError(f"runtime {runtime!r} is unknown; expected one of {', '.join(RUNTIMES)}")
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith((".", "-")):
        raise ConfigError(f"target name {name!r} is invalid; expected letters, digits, '-', '_' or '.'")
    if is_shipped_name(name):
        raise ConfigError(f"target {name!r} is a shipped target or alias; expected a new name (shipped tables are "
                          "never replaced)")
    _check_measured(space, archs, y)
    lookup = space.index(archs[0]) is not None and space.size <= MAX_LOOKUP_ARCHS
    tables_dir, targets_dir = user_latency_tables_dir(), user_targets_dir()
    table_path = (tables_dir / f"{space.name}_{dataset}_{name}.csv" if lookup
                  else tables_dir / f"{space.name}_{dataset}_{name}_ops.json")
    target_file = targets_dir / f"{name}.yaml"
    doc = _existing_target(target_file, table_path, space.name, dataset, force, source)
    if kernels is not None and not lookup:  # it would have to count every arch a search meets
        kernels, note = None, (f"kernels model not offered: {space.name} is too large to store a price for every "
                               "arch; the per-op candidates compete")
    else:
        if kernels is not None and kernel_counter is None:
            kernel_counter = host_kernel_counter(space, dataset)
        kernels, note = _check_kernels(space, archs, kernels, kernel_counter)
    cv = cross_validate(space, dataset, archs, y, runtime=runtime, seed=seed, kernels=kernels)
    method = _best(cv, METHODS if lookup else ("per-op-shape", "per-op-position"))
    if not lookup and _best(cv, METHODS) != method:
        too_large = (f"{_best(cv, METHODS)} cross-validated best, but {space.name} is too large for a per-arch "
                     f"table: stored the best per-op model ({method})")
        note = f"{note}; {too_large}" if note else too_large
    every = list(space.enumerate()) if lookup else []
    if method == "kernels":
        assert kernels is not None and kernel_counter is not None  # a candidate only with both
        import onnxruntime as ort

        from .._host import cpu_model

        counted = kernel_counter(every, progress)
        kernels = {**{space.format(a): c for a, c in zip(every, counted)}, **kernels}
        costs, constant = _fit_kernel_costs(space, kernels, archs, y)
        meta_kernels = {"what": "one non-negative cost per kernel type of onnxruntime's optimized graph plus a "
                                "constant (1/y weighted NNLS on the measured archs)",
                        "costs_ms": {t: round(c, 6) for t, c in sorted(costs.items())},
                        "constant_ms": round(constant, 6),
                        "counted_with": {"onnxruntime_version": ort.__version__, "cpu_model": cpu_model()},
                        "check": f"this host reproduced the device's kernel counts of all {len(archs)} measured archs"}
    model = _fitter(method, space, dataset, runtime, kernels=kernels)(archs, y)
    from ..spaces.user import user_definition_hash

    definition = user_definition_hash(space)
    meta_common = {"device": device, "runtime": runtime, "source": source, "method": method, "cv": cv,
                   **({"space_definition": definition} if definition else {}),
                   "n_measured": len(archs), "made_by": f"edgenas {__version__} fit",
                   **({"device_facts": facts} if facts else {}), **(extra_meta or {})}
    if method == "kernels":
        meta_common["kernels"] = meta_kernels
    license_text = "the user's own measurements"
    if method == "op-prior":
        prior = op_prior(space, dataset, runtime)
        assert prior is not None  # op-prior is a candidate only when there is one
        coef = _prior_weights(prior, space, archs, y)
        meta_common["prior"] = {
            "what": "non-negative weights of shipped devices' per-op-shape tables (fitted on every "
                    f"{PRIOR_STRIDE}th live arch of their per-arch tables), plus a constant in ms",
            "weights": {t: round(float(w), 6) for t, w in zip(prior.targets, coef[:-1]) if w > 0},
            "constant_ms": round(float(coef[-1]), 6), "tables": dict(prior.sources)}
        license_text += "; the prior is derived from shipped tables: " + "; ".join(
            f"{f}: {lic}" for f, lic in sorted(prior.sources.items()))
    if lookup:
        measured = {space.index(a): float(v) for a, v in zip(archs, y)}
        pred = model(every)
        gaps = np.isnan(pred)
        if gaps.any():  # ops the measured archs never showed: those archs are priced by the MACs model
            gap_note = (f"{method} has no price for {int(gaps.sum()):,} of {len(every):,} archs (ops or kernels none of "
                        "the measured archs showed); those are priced by the macs model: measure archs that use them "
                        "to do better")
            note = f"{note}; {gap_note}" if note else gap_note
            macs_pred = _fitter("macs", space, dataset, runtime)(archs, y)([a for a, g in zip(every, gaps) if g])
            pred[gaps] = macs_pred
            meta_common["priced_by_macs"] = int(gaps.sum())
        # a network never runs in no time: a fit pricing an arch at <= 0 (e.g. no live op and a zero
        # constant) gets 1 % of the fastest measured arch, so the table holds only positive latencies
        floor = max(PREDICTION_FLOOR_SHARE * float(np.min(y)), 1e-6)  # 1e-6: the table's 6 decimals
        low = ~(pred > floor)
        if low.any():
            pred[low] = floor
            meta_common["floored"] = {"archs": int(low.sum()), "ms": round(floor, 6)}
        meta = {"schema_version": 1, "kind": "arch_latency", "space": space.name, "dataset": dataset, "units": "ms",
                "rows": len(every), "columns": {name: meta_common}, "license": license_text,
                "source": f"edgenas fit: {len(archs)} measured archs, the rest predicted by {method}"}
        body = [f"{space.index(a)},{measured.get(space.index(a), float(p)):.6f}" for a, p in zip(every, pred)]
        table_text = "# " + json.dumps(meta) + "\nindex," + name + "\n" + "\n".join(body) + "\n"
        ref = {"file": table_path.name, "column": name}
    else:
        from .fit import fit_op_table as _fit

        key = "shape" if method == "per-op-shape" else "position"
        table = _fit(space, dataset, archs, y, key=key, prune=prunes_dead_layers(runtime),
                     reads=keys_node_reads(runtime), meta=meta_common)
        table, gap_note = _complete_op_table(space, dataset, table, archs, y, seed=seed)
        if gap_note:
            note = f"{note}; {gap_note}" if note else gap_note
        from .tables import _finite

        table_text = json.dumps(_finite(table.to_json()), indent=1, sort_keys=True, allow_nan=False) + "\n"
        ref = {"file": table_path.name}
    import yaml

    _check_written_table(table_path, table_text, space.name, dataset)
    doc.update({"name": name, "device": doc.get("device") or device, "runtime": runtime,
                "provenance": doc.get("provenance") or f"edgenas fit from {source}"})
    doc.setdefault("tables", {}).setdefault(space.name, {})[dataset] = ref
    target_text = ("# edgenas target made by `edgenas fit` (schema: edgenas/hardware/targets.py)\n"
                   + yaml.safe_dump(doc, sort_keys=False))
    _check_written_target(target_file, target_text)
    atomic_write_text(table_path, table_text)
    atomic_write_text(target_file, target_text)
    return FitResult(name, method, cv, table_path, target_file, len(archs), note)
