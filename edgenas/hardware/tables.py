"""Latency tables on disk: measured per-arch tables and per-op tables.

Two formats, both plain text with units and provenance (never pickles).

**Arch table** (CSV, ``latency_tables/<space>_<dataset>_<source>.csv``)::

    # {"schema_version": 1, "kind": "arch_latency", "space": "nb201", "dataset": "cifar10",
    #  "units": "ms", "rows": 15625, "columns": {"edgegpu": {"device": ..., "runtime": ...,
    #  "precision": ..., "batch": 1}, ...}, "source": ..., "license": ...}
    index,edgegpu,raspi4,...
    0,5.807419,10.48198,...

One row per arch, keyed by the space's official index; one column per device setting; an empty
cell is a missing measurement (never 0 ms).

**Op table** (JSON, ``kind: "op_latency"``), generic over spaces; keys come from
:class:`edgenas.spaces.LayerSpec`::

    {"schema_version": 1, "kind": "op_latency", "space": "nb201", "dataset": "cifar10",
     "units": "ms", "key": "shape" | "position",
     "entries": {"<key>": {"median_ms": float, "p90_ms": float?, "runs": int?}, ...},
     "intercept_ms": float, "scale": float, "prune": bool (drop dead layers first; default true),
     "node_ops": bool (node sums keyed by what feeds them, see _graph.cost_layers; default false),
     "reads": bool (node layers keyed by what reads them, see _graph.cost_layers; default false),
     "device": ..., "runtime": ..., "precision": ..., "threads": ..., "source": ..., "license": ...,
     "end_to_end": [{"index": int, "arch": str, "median_ms": float, "p90_ms": float}, ...]  # optional}

``key: "shape"`` uses ``LayerSpec.key()`` (op + input/output shape + params), the natural key of a
per-op profiler; ``key: "position"`` prefixes it with the position with cell numbers removed
(``stage1.edge2<-0:nor_conv_3x3-in32x16x16-...``), for tables fitted from whole-model data where the
same op can cost differently at different places. Predicted latency =
``scale * sum(entries[key(layer)] for layer in space.layers(arch, dataset)) + intercept_ms``.

Optional ``"kernels"`` object (tables written by ``edgenas profile`` for onnxruntime): a kernel
model, ``{"entries": {"<kernel type>": ms}, "intercept_ms": float, "onnxruntime_version": str,
"cpu_model": str, "threads": int}``. When present it is the predictor: the arch's kernel counts
after onnxruntime's graph optimizations (:mod:`edgenas.hardware.kernels`) times the entries, plus
the intercept; the per-op entries stay as the fallback for an arch with a kernel type the
calibration archs never showed. ``kernels.space_ms`` (optional: ``{"space": "nb201", "n": 15625,
"order": "space index", "ms": [...], ...provenance}``) stores the kernel model's prediction for
every arch of a small space, computed once from the profiled host's kernel counts; pricing is then
a lookup (no onnxruntime run, and no dependence on the predicting host's onnxruntime or CPU).
``order`` is ``"space index"`` (the benchmark index, NB201) or ``"choices"`` (a space with arch
strings only, e.g. ``macro``: the arch's tokens read as a mixed-radix number, :func:`arch_rank`).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._limits import MAX_LATENCY_MS as _MAX_LATENCY_MS
from ..errors import LatencyTableError
from ._graph import cost_layers
from .space_order import ORDER_CHOICES, ORDER_INDEX, arch_at_rank, arch_rank, space_order

if TYPE_CHECKING:  # pragma: no cover
    from ..spaces import SearchSpace

log = logging.getLogger(__name__)

__all__ = [
    "SCHEMA_VERSION",
    "ArchLatencyTable",
    "OpLatencyTable",
    "arch_at_rank",
    "arch_rank",
    "layer_key",
    "load_arch_table",
    "load_op_table",
    "save_op_table",
    "space_order",
]

SCHEMA_VERSION = 1
_REQUIRED_ARCH = ("schema_version", "kind", "space", "dataset", "units", "rows", "columns", "source", "license")
_REQUIRED_OP = ("schema_version", "kind", "space", "dataset", "units", "key", "entries", "intercept_ms", "scale")
_CELL_RE = re.compile(r"\.cell\d+")


def layer_key(layer: Any, key: str = "shape") -> str:
    """Table key of a :class:`~edgenas.spaces.LayerSpec` under granularity ``key``."""
    if key == "shape":
        return layer.key()
    if key == "position":
        return f"{_CELL_RE.sub('', layer.position)}:{layer.key()}"
    raise LatencyTableError(f"unknown op-table key granularity {key!r}; expected 'shape' or 'position'")


@dataclass(frozen=True)
class ArchLatencyTable:
    """A measured per-arch table: ``values[:, j]`` is column ``columns[j]`` in ms, NaN = missing.

    Attributes:
        path: file it was read from.
        meta: the JSON header.
        index: (rows,) int official arch indices, sorted.
        columns: device-setting column names.
        values: (rows, len(columns)) float64 ms.
    """

    path: Path
    meta: dict[str, Any]
    index: np.ndarray
    columns: tuple[str, ...]
    values: np.ndarray = field(repr=False)

    def column(self, name: str) -> np.ndarray:
        """(rows,) ms of one column; raises for an unknown column."""
        if name not in self.columns:
            raise LatencyTableError(
                f"latency table {self.path.name} has no column {name!r}; columns: {', '.join(self.columns)}")
        return self.values[:, self.columns.index(name)]


def _check(cond: bool, path: Path, what: str) -> None:
    if not cond:
        raise LatencyTableError(f"bad latency table {path}: {what}")


def _check_common(meta: dict, path: Path, kind: str, space: str | None, dataset: str | None,
                  required: tuple[str, ...]) -> None:
    missing = [k for k in required if k not in meta]
    _check(not missing, path, f"header lacks {', '.join(missing)}")
    for key in ("kind", "space", "dataset", "units"):
        _check(isinstance(meta[key], str), path, f"header field {key!r} is {meta[key]!r}; expected a string")
    for key in ("source", "license"):  # provenance: where the numbers come from, and may they be used
        if key in required:
            _check(isinstance(meta[key], str) and bool(meta[key].strip()), path,
                   f"header field {key!r} is {meta[key]!r}; expected a non-empty string")
    _check(meta["schema_version"] == SCHEMA_VERSION, path,
           f"schema_version {meta['schema_version']!r}, expected {SCHEMA_VERSION}")
    _check(meta["kind"] == kind, path, f"kind {meta['kind']!r}, expected {kind!r}")
    _check(meta["units"] == "ms", path, f"units {meta['units']!r}, expected 'ms'")
    if space is not None:
        _check(meta["space"] == space, path, f"space {meta['space']!r}, expected {space!r}")
    if dataset is not None:
        _check(meta["dataset"] == dataset, path, f"dataset {meta['dataset']!r}, expected {dataset!r}")


def load_arch_table(path: Path, *, space: str | None = None, dataset: str | None = None) -> ArchLatencyTable:
    """Read and validate an arch table (see module docstring).

    Raises:
        LatencyTableError: unreadable file, bad header (schema, units, space, dataset), unknown or
            missing columns, row count not matching the header, non-numeric or negative values.
    """
    from .._read import parse_json, read_text

    path = Path(path)
    text = read_text(path, what="latency table", error=LatencyTableError)
    first, _, body = text.partition("\n")
    _check(first.startswith("# "), path, "first line must be '# {json metadata}'")
    meta = parse_json(first[2:], where=f"{str(path)!r} header", what="latency table", error=LatencyTableError)
    _check(isinstance(meta, dict), path, "header must be a JSON object")
    _check_common(meta, path, "arch_latency", space, dataset, _REQUIRED_ARCH)
    cols_meta, n_rows = meta["columns"], meta["rows"]
    _check(isinstance(cols_meta, dict) and bool(cols_meta) and all(isinstance(v, dict) for v in cols_meta.values()),
           path, f"header field 'columns' is {cols_meta!r}; expected {{column: {{device, runtime, ...}}}}")
    _check(isinstance(n_rows, int) and not isinstance(n_rows, bool) and n_rows >= 0, path,
           f"header field 'rows' is {n_rows!r}; expected a row count")
    reader = csv.reader(io.StringIO(body))
    try:
        head = next(reader)
    except StopIteration:
        raise LatencyTableError(f"bad latency table {path}: no column row") from None
    except csv.Error as exc:
        raise LatencyTableError(f"bad latency table {path}: column row: {exc}") from None
    _check(head[:1] == ["index"], path, "first column must be 'index'")
    cols = tuple(head[1:])
    known = set(meta["columns"])
    unknown = [c for c in cols if c not in known]
    _check(not unknown, path, f"columns not described in the header: {', '.join(unknown)}")
    absent = [c for c in known if c not in cols]
    _check(not absent, path, f"header columns missing from the table: {', '.join(absent)}")
    try:
        rows = [r for r in reader if r]
    except csv.Error as exc:  # e.g. a stray carriage return inside a cell
        raise LatencyTableError(f"bad latency table {path}: line {reader.line_num + 1}: {exc}") from None
    _check(len(rows) == meta["rows"], path, f"{len(rows)} rows, header says {meta['rows']}")
    for n, r in enumerate(rows, start=1):
        bad = next((v for v in r if v != "" and not _NUMBER.fullmatch(v)), None)
        if bad is not None or not _INDEX.fullmatch(r[0]):
            raise LatencyTableError(f"bad latency table {path}: row {n}: non-numeric value {bad or r[0]!r}; "
                                    "expected ASCII numbers (an empty cell = not measured)")
    index = np.array([int(r[0]) for r in rows], dtype=np.int64)
    try:
        values = np.array([[float(v) if v != "" else np.nan for v in r[1:]] for r in rows], dtype=np.float64)
    except ValueError:
        values = np.zeros((0, 0))
    _check(values.shape == (len(rows), len(cols)), path, "rows have differing numbers of cells")
    _check(not np.any(values < 0), path, "negative latency (use an empty cell for missing)")
    measured = values[~np.isnan(values)]
    _check(bool(np.all(np.isfinite(measured))), path, "infinite latency (use an empty cell for missing)")
    _check(not np.any(measured == 0), path, "zero latency (a measured model takes time; an empty cell = missing)")
    _check(not np.any(measured > MAX_LATENCY_MS), path,
           f"latency above {MAX_LATENCY_MS:g} ms (units are ms; an empty cell = missing)")
    size = _space_size(str(meta.get("space")))
    if size is not None and len(index):
        _check(int(index.max()) < size, path, f"arch index {int(index.max())} outside the space (0..{size - 1})")
    _check(len(np.unique(index)) == len(index), path, "duplicate arch index")
    order = np.argsort(index)
    return ArchLatencyTable(path, meta, index[order], cols, values[order])


#: cells of a per-arch table: plain ASCII decimals (``float`` would also take "１", "inf", "0x1")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?|-?\.[0-9]+([eE][+-]?[0-9]+)?")
_INDEX = re.compile(r"[0-9]{1,9}")
#: the largest latency a table may hold (1,000 s; anything above is a unit mistake) is the budget bound
MAX_LATENCY_MS = _MAX_LATENCY_MS


def _space_size(name: str) -> int | None:
    """Number of archs of a registered enumerable space (None when unknown or not enumerable)."""
    from ..spaces import get_space

    try:
        return int(get_space(name).size)
    except Exception:  # noqa: BLE001 - an unknown space is reported by the caller's checks
        return None


@dataclass(frozen=True)
class OpLatencyTable:
    """A per-op table (see module docstring).

    Attributes:
        meta: everything in the file except ``entries`` (device, runtime, threads, provenance, ...).
        entries: key -> median ms.
        key: ``"shape"`` or ``"position"`` granularity.
        intercept_ms: fitted constant added once per network.
        scale: fitted multiplier of the op sum.
    """

    meta: dict[str, Any]
    entries: dict[str, float]
    key: str = "shape"
    intercept_ms: float = 0.0
    scale: float = 1.0
    #: kernel model (see module docstring): {"entries": {kernel type: ms}, "intercept_ms": ..., ...}
    kernels: dict[str, Any] | None = None
    # per-instance memo of op sums by arch tokens (searches price the same archs many times)
    _sums: dict = field(default_factory=dict, compare=False, repr=False)
    # per-instance memo of kernel-model predictions by arch tokens (kernel detection costs ~0.35 s)
    _kernel_ms: dict = field(default_factory=dict, compare=False, repr=False)
    # per-instance memo of kernels.space_ms as an array, by space name
    _stored_ms: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def prune(self) -> bool:
        """Whether dead layers are dropped before summing (``meta["prune"]``, default True)."""
        return bool(self.meta.get("prune", True))

    @property
    def space(self) -> str:
        return str(self.meta["space"])

    @property
    def dataset(self) -> str:
        return str(self.meta["dataset"])

    def predict_many(self, space: SearchSpace, archs: Any) -> np.ndarray:
        """(len(archs),) predicted ms: the kernel model when the table has one, else
        ``scale * sum of entries + intercept_ms``.

        Raises:
            MissingLatencyError: an arch uses an op key the table lacks (never counted as 0 ms).
            DependencyError: a kernel-model table without onnxruntime / onnx installed.
        """
        if self.kernels:
            return self._predict_kernels(space, archs)
        return self.predict_ops(space, archs)

    def _predict_kernels(self, space: SearchSpace, archs: Any) -> np.ndarray:
        from .kernels import arch_kernels

        k = self.kernels or {}
        memo = self._kernel_ms
        stored = self._space_ms(space)
        out = np.empty(len(archs))
        position = _stored_position(space, (k.get("space_ms") or {}).get("order")) if stored is not None else None
        for i, a in enumerate(archs):
            ms = memo.get(a.tokens)
            if ms is None:
                if not memo:
                    self._warn_if_other_host()
                index = position(a) if position is not None else None
                if index is not None:
                    ms = float(stored[index])
                else:
                    counts = arch_kernels(space, a, self.dataset, threads=int(k.get("threads", 1)))
                    ms = self.kernel_ms(space, a, counts)
                memo[a.tokens] = ms
            out[i] = ms
        return out

    def kernel_ms(self, space: SearchSpace, arch: Any, counts: Mapping[str, int]) -> float:
        """Kernel-model latency of ``arch`` from its kernel counts: sum of count x entry + intercept;
        the per-op prediction when a kernel type has no entry (the calibration archs never showed it)."""
        k = self.kernels or {}
        entries = k["entries"]
        unknown = sorted(set(counts) - set(entries))
        if unknown:
            log.warning("kernel table %s/%s has no entry for %s (arch %s); using the per-op entries",
                        self.space, self.dataset, ", ".join(unknown), arch)
            return float(self.predict_ops(space, [arch])[0])
        return float(sum(entries[t] * n for t, n in counts.items()) + float(k.get("intercept_ms", 0.0)))

    def _space_ms(self, space: SearchSpace) -> np.ndarray | None:
        """The stored kernel-model prediction of every arch of ``space`` by index (``kernels.space_ms``), if any."""
        pre = (self.kernels or {}).get("space_ms")
        if pre is None or pre.get("space") != getattr(space, "name", None):
            return None
        ms = self._stored_ms.get(space.name)
        if ms is None:
            ms = self._stored_ms[space.name] = np.asarray(pre["ms"], dtype=float)
        if len(ms) != int(space.size):
            raise LatencyTableError(
                f"latency table {self.space}/{self.dataset}: kernels.space_ms has {len(ms)} values, expected one per "
                f"{space.name} arch ({space.size})", hint="re-run `edgenas profile` or tools/add_space_predictions.py")
        return ms

    def with_space_ms(self, space: SearchSpace, counts: Sequence[Mapping[str, int]], **provenance: Any) -> OpLatencyTable:
        """A copy whose kernel model stores its prediction for every arch of ``space`` (``counts``:
        kernel counts in :func:`space_order`, :func:`edgenas.hardware.kernels.space_kernel_counts`), so
        pricing an arch is a lookup instead of kernel detection on the predicting host."""
        if not self.kernels:
            raise LatencyTableError(f"latency table {self.space}/{self.dataset} has no kernel model to precompute")
        if len(counts) != int(space.size):
            raise ValueError(f"{len(counts)} kernel counts for a space of {space.size} archs")
        order = space_order(space)
        arch_at = space.from_index if order == ORDER_INDEX else (lambda i: arch_at_rank(space, i))
        ms = [round(self.kernel_ms(space, arch_at(i), c), 6) for i, c in enumerate(counts)]
        pre = {"space": space.name, "order": order, "n": len(ms), "units": "ms", **provenance, "ms": ms}
        return replace(self, kernels={**self.kernels, "space_ms": pre}, _sums={}, _kernel_ms={}, _stored_ms={})

    def _warn_if_other_host(self) -> None:
        """The table describes the profiled host (its timings, and its onnxruntime's kernels unless
        detected here); say so when this host differs."""
        from .._host import cpu_model

        k = self.kernels or {}
        table_ort = k.get("onnxruntime_version", self.meta.get("onnxruntime_version"))
        table_cpu = k.get("cpu_model", self.meta.get("cpu_model"))
        if table_cpu is None and table_ort is None:  # not a table profiled on a host (a device's, a fitted one)
            return
        if k:
            from .._imports import require

            ort_version: str | None = require("onnxruntime", purpose="kernel detection (cpu latency tables)").__version__
        else:  # a per-op table needs no onnxruntime to price: compare it only when installed
            try:
                import onnxruntime

                ort_version = onnxruntime.__version__
            except ImportError:
                ort_version = None
        here = cpu_model()
        if table_cpu not in (None, here) or (ort_version is not None and table_ort not in (None, ort_version)):
            _note_other_host(self.space, self.dataset, str(table_ort), str(table_cpu), str(ort_version), here)

    def predict_ops(self, space: SearchSpace, archs: Any) -> np.ndarray:
        """(len(archs),) per-op prediction ``scale * sum of entries + intercept_ms`` (no kernel model)."""
        from ..errors import MissingLatencyError

        out = np.empty(len(archs))
        entries, key, memo = self.entries, self.key, self._sums
        floor = float(self.meta.get("floor_ms", 0.0))  # a fitted table's "never runs in no time"
        if not memo and not self.kernels:
            self._warn_if_other_host()
        for i, a in enumerate(archs):
            total = memo.get(a.tokens)
            if total is not None:
                out[i] = self.scale * total + self.intercept_ms
                continue
            total = 0.0
            for layer in cost_layers(space, a, self.dataset, prune=self.prune,
                                     node_ops=bool(self.meta.get("node_ops", False)),
                                     reads=bool(self.meta.get("reads", False))):
                k = layer_key(layer, key)
                try:
                    total += entries[k]
                except KeyError:
                    raise MissingLatencyError(
                        f"op table for {self.space}/{self.dataset} has no entry for {k!r} (arch {a})",
                        hint="re-profile the target so the table covers every op of the space") from None
            memo[a.tokens] = total
            out[i] = self.scale * total + self.intercept_ms
        return np.maximum(out, floor) if floor > 0 else out

    def to_json(self) -> dict[str, Any]:
        """JSON object of the file format."""
        extra = self.meta.get("entry_stats", {})
        entries = {k: {"median_ms": v, **extra.get(k, {})} for k, v in sorted(self.entries.items())}
        meta = {k: v for k, v in self.meta.items() if k != "entry_stats"}
        out = {**meta, "schema_version": SCHEMA_VERSION, "kind": "op_latency", "units": "ms",
               "key": self.key, "intercept_ms": self.intercept_ms, "scale": self.scale, "entries": entries}
        if self.kernels:
            out["kernels"] = self.kernels
        return out


def load_op_table(path: Path, *, space: str | None = None, dataset: str | None = None) -> OpLatencyTable:
    """Read and validate a per-op JSON table.

    Raises:
        LatencyTableError: unreadable or non-JSON file, bad header, wrong space/dataset/units,
            malformed or negative entries.
    """
    from .._read import load_json

    path = Path(path)
    obj = load_json(path, what="op table", allow_nan=True, error=LatencyTableError)  # fields name a non-finite value
    _check(isinstance(obj, dict), path, "must be a JSON object")
    _check_common(obj, path, "op_latency", space, dataset, _REQUIRED_OP)
    _check(obj["key"] in ("shape", "position"), path, f"key {obj['key']!r}, expected 'shape' or 'position'")
    raw = obj["entries"]
    _check(isinstance(raw, dict) and raw, path, f"field 'entries' is {_short(raw)}; expected a non-empty object "
           "{op key: {median_ms: ...}}")
    entries: dict[str, float] = {}
    stats: dict[str, dict] = {}
    for k, v in raw.items():
        ms = v.get("median_ms") if isinstance(v, dict) else None
        _check(_ms(ms), path, f"entries[{k!r}].median_ms is {_short(ms)}; expected a finite number of ms "
               f"in 0..{MAX_LATENCY_MS:g}")
        entries[k] = float(ms)
        stats[k] = {s: x for s, x in v.items() if s != "median_ms"}
    # the fits are non-negative (NNLS): a negative intercept or a scale <= 0 is a corrupt file
    _check(_ms(obj["intercept_ms"]), path, f"field 'intercept_ms' is {_short(obj['intercept_ms'])}; expected a finite "
           f"number of ms in 0..{MAX_LATENCY_MS:g}")
    scale = obj["scale"]
    _check(_ms(scale) and scale > 0, path, f"field 'scale' is {_short(scale)}; expected a finite number > 0")
    floor = obj.get("floor_ms", 0.0)
    _check(_ms(floor), path, f"field 'floor_ms' is {_short(floor)}; expected a finite number of ms in "
           f"0..{MAX_LATENCY_MS:g}")
    kernels = obj.get("kernels")
    if kernels is not None:
        _check(isinstance(kernels, dict) and isinstance(kernels.get("entries"), dict) and bool(kernels["entries"]),
               path, f"field 'kernels' is {_short(kernels)}; expected an object with non-empty 'entries'")
        for k, v in kernels["entries"].items():
            _check(_ms(v), path, f"kernels.entries[{k!r}] is {_short(v)}; expected a finite number of ms "
                   f"in 0..{MAX_LATENCY_MS:g}")
        ic = kernels.get("intercept_ms", 0.0)
        _check(_ms(ic), path, f"kernels.intercept_ms is {_short(ic)}; expected a finite number of ms "
               f"in 0..{MAX_LATENCY_MS:g}")
        threads = kernels.get("threads", 1)
        _check(isinstance(threads, int) and not isinstance(threads, bool) and 1 <= threads <= 1024, path,
               f"kernels.threads is {_short(threads)}; expected an integer 1..1024")
        pre = kernels.get("space_ms")
        if pre is not None:
            ok = isinstance(pre, dict) and isinstance(pre.get("ms"), list) and pre.get("n") == len(pre["ms"])
            bad = next((i for i, v in enumerate(pre["ms"]) if not _ms(v)), None) if ok else None
            _check(ok and bad is None, path, "kernels.space_ms must hold n finite ms values in "
                   f"0..{MAX_LATENCY_MS:g}" + (f" (ms[{bad}] is {_short(pre['ms'][bad])})" if bad is not None else ""))
            order = pre.get("order", ORDER_INDEX)
            _check(order in (ORDER_INDEX, ORDER_CHOICES), path, f"kernels.space_ms.order is {_short(order)}; expected "
                   f"{ORDER_INDEX!r} or {ORDER_CHOICES!r}")
    meta = {k: v for k, v in obj.items() if k not in ("entries", "kernels")}
    meta["entry_stats"] = stats
    return OpLatencyTable(meta, entries, obj["key"], float(obj["intercept_ms"]), float(obj["scale"]), kernels)


def _stored_position(space: SearchSpace, order: str | None) -> Callable[[Any], int | None]:
    """arch -> its row in a ``kernels.space_ms`` list of ``order`` (tables before the field: index order)."""
    if order in (None, ORDER_INDEX):
        return space.index
    if order == ORDER_CHOICES:
        return lambda a: arch_rank(space, a)
    raise LatencyTableError(f"kernels.space_ms order {order!r} is unknown; expected {ORDER_INDEX!r} or "
                            f"{ORDER_CHOICES!r}", hint="re-run `edgenas profile` or tools/add_space_predictions.py")


def _ms(v: Any) -> bool:
    """A stored latency: a real number (not a bool), finite, 0..MAX_LATENCY_MS."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and bool(np.isfinite(v)) and 0 <= v <= MAX_LATENCY_MS


def _short(v: Any) -> str:
    """``repr`` of a bad value, cut to one short line."""
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _finite(obj: Any) -> Any:
    """NaN/inf (e.g. an undefined Kendall tau on a tiny check) become null: strict JSON."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def save_op_table(table: OpLatencyTable, path: Path) -> None:
    """Write ``table`` as JSON atomically (a temp file renamed into place)."""
    from .._io import atomic_write_text

    atomic_write_text(path, json.dumps(_finite(table.to_json()), indent=1, sort_keys=True, allow_nan=False) + "\n")


@lru_cache(maxsize=64)
def _note_other_host(space: str, dataset: str, table_ort: str, table_cpu: str, ort: str, cpu: str) -> None:
    # cached: said once per process and table, not once per priced model (validate prices every model)
    log.warning("latency table for %s/%s was profiled with onnxruntime %s on %r; this host has %s on %r: "
                "re-run `edgenas profile` for trustworthy numbers", space, dataset, table_ort, table_cpu, ort, cpu)
