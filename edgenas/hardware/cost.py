"""Cost models: latency of an arch on a target, from a named source.

Sources (the one used is recorded in every prediction):

* ``lookup``: the measured value of the arch in the target's per-arch table (by official index).
* ``lut``: a per-op table summed over the arch's layers (``scale * sum + intercept_ms``). For a
  target with a per-op table file (``cpu`` after ``edgenas profile``) that table is used; for a
  target with only a per-arch table the per-op table is fitted at load time (NNLS, see
  :mod:`edgenas.hardware.fit`) on ``lut_fit_archs`` measured archs (default 1000, seeded).
* ``flops``: ``a * macs_m + c`` fitted (non-negative) on the measured archs, MACs counted
  as the search counts them (the space's closed form, or fvcore on built models).
* ``auto``: ``lookup`` when the target has a per-arch table for the space/dataset, else ``lut``.

A task of the user's (:class:`~edgenas.spaces.DatasetSpec` at another resolution, class count or channel
count than the space's benchmark datasets) is priced by an *estimate* (source ``estimate``, :class:`ScaledCostModel`): the nearest measured dataset's model scaled by the
ratio of the arch's MACs at the task's shape to its MACs at the measured shape. A table is never used
at another shape silently: the estimate says so in its ``description``, pareto.json and the output.

A missing measurement (e.g. an Edge TPU compile failure) raises :class:`MissingLatencyError`;
latency is never silently 0 ms.

Example:
    >>> model = get_cost_model("jetson", "nb201", "cifar10")
    >>> model.predict(get_space("nb201").from_index(0)).latency_ms  # doctest: +SKIP
    5.807419
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, LatencyTableError, MissingLatencyError
from .tables import ArchLatencyTable, OpLatencyTable, load_arch_table, load_op_table
from .targets import Target, load_target

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from ..spaces import SearchSpace

__all__ = ["SOURCES", "CostModel", "LatencyPrediction", "ScaledCostModel", "get_cost_model"]

SOURCES = ("auto", "lookup", "lut", "flops")


@dataclass(frozen=True)
class LatencyPrediction:
    """Latency of one arch: ``latency_ms`` (ms per forward pass at the target's batch) and its ``source``."""

    latency_ms: float
    source: str


@dataclass(frozen=True)
class CostModel:
    """Latency predictor for one (target, space, dataset, source).

    Attributes:
        target: the :class:`Target`.
        space: the search space.
        dataset: dataset name (fixes input size and classes).
        source: ``lookup``, ``lut`` or ``flops`` (``auto`` is resolved at construction).
        description: what exactly is behind the source (file, fit size), for reports.
    """

    target: Target
    space: SearchSpace
    dataset: str
    source: str
    description: str
    arch_table: ArchLatencyTable | None = field(default=None, repr=False)
    column: np.ndarray | None = field(default=None, repr=False)
    op_table: OpLatencyTable | None = field(default=None, repr=False)
    flops_coef: tuple[float, float] | None = None
    #: True when the latencies are estimates for a shape the table was not measured at
    estimate: bool = False

    def predict(self, arch: Any) -> LatencyPrediction:
        """Latency of one arch.

        Raises:
            MissingLatencyError: no measurement / no op entry for it.
        """
        return LatencyPrediction(float(self.predict_many([arch])[0]), self.source)

    def predict_many(self, archs: Sequence[Any], *, missing: str = "raise") -> np.ndarray:
        """(len(archs),) latencies in ms.

        Args:
            missing: ``"raise"`` (default) raises :class:`MissingLatencyError` for an arch without a
                value; ``"nan"`` returns NaN for it (a search can then drop it explicitly).
        """
        if missing not in ("raise", "nan"):
            raise ConfigError(f"missing={missing!r}; expected 'raise' or 'nan'")
        if self.source == "lookup":
            assert self.arch_table is not None and self.column is not None
            idx = np.array([_index(self.space, a) for a in archs], dtype=np.int64)
            pos = np.searchsorted(self.arch_table.index, idx)
            pos = np.minimum(pos, len(self.arch_table.index) - 1)
            found = (idx >= 0) & (self.arch_table.index[pos] == idx)
            out = np.where(found, self.column[pos], np.nan)
        elif self.source == "lut":
            assert self.op_table is not None
            out = self.op_table.predict_many(self.space, archs)
        else:
            assert self.flops_coef is not None
            a, c = self.flops_coef
            out = np.array([a * _macs(self.space, x, self.dataset) + c for x in archs])
        bad = ~np.isfinite(out)
        if bad.any() and missing == "raise":
            first = archs[int(np.argmax(bad))]
            raise MissingLatencyError(
                f"target {self.target.name!r} has no {self.source} latency for {self.space.name} arch {first} "
                f"on {self.dataset} ({int(bad.sum())} of {len(archs)} archs missing)",
                hint="the device could not run it (e.g. Edge TPU compile failure) or it is not in the table; "
                     "try --source lut for an estimate")
        return out


@dataclass(frozen=True)
class ScaledCostModel:
    """Latency of a task's arch estimated from a model measured at another shape:
    ``base(arch) * macs(arch, task) / macs(arch, base dataset)`` (source ``estimate``).

    Attributes:
        base: the cost model of the nearest measured dataset.
        task: the :class:`~edgenas.spaces.DatasetSpec` being priced.
        description: what was scaled from what, for reports.
    """

    base: CostModel
    task: Any
    description: str
    source: str = "estimate"
    estimate: bool = True

    @property
    def target(self) -> Target:
        return self.base.target

    @property
    def space(self) -> SearchSpace:
        return self.base.space

    @property
    def dataset(self) -> Any:
        return self.task

    def predict(self, arch: Any) -> LatencyPrediction:
        """Estimated latency of one arch (raises as the base model for an arch it has no value for)."""
        return LatencyPrediction(float(self.predict_many([arch])[0]), self.source)

    def predict_many(self, archs: Sequence[Any], *, missing: str = "raise") -> np.ndarray:
        base = self.base.predict_many(archs, missing=missing)
        ratio = np.array([_macs(self.space, a, self.task) / max(_macs(self.space, a, self.base.dataset), 1e-12)
                          for a in archs])
        return base * ratio


def _nearest_measured(t: Target, sp: SearchSpace, task: Any) -> str:
    """The benchmark dataset of ``sp`` with a table on ``t`` nearest ``task``: closest resolution (log
    ratio), then class count.

    Raises:
        LatencyTableError: the target has no table for any dataset of the space.
    """
    import math

    have = [d for d in sp.datasets if any(r.space == sp.name and r.dataset == d for r in t.tables)]
    if not have:
        t.table(sp.name, next(iter(sp.datasets)))  # raises with the profiling hint
    return min(have, key=lambda d: (abs(math.log(sp.datasets[d].input_size / task.input_size)),
                                    abs(sp.datasets[d].num_classes - task.num_classes)))


def _index(space: SearchSpace, arch: Any) -> int:
    idx = space.index(arch) if hasattr(space, "index") else None
    return -1 if idx is None else int(idx)


def _macs(space: SearchSpace, arch: Any, dataset: str) -> float:
    """MACs (millions) of ``arch``: the space's closed form or fvcore on built models, summed per
    position (:func:`edgenas.hardware.size.size_table`); any space, no per-space op list here."""
    from .size import size_table

    return size_table(space, dataset)(arch)[0]


def _measured(table: ArchLatencyTable, column: np.ndarray, space: SearchSpace, limit: int | None,
              seed: int) -> tuple[list[Any], np.ndarray]:
    ok = np.where(np.isfinite(column))[0]
    if limit is not None and limit < len(ok):
        ok = np.sort(np.random.default_rng(seed).choice(ok, size=limit, replace=False))
    return [space.from_index(int(i)) for i in table.index[ok]], column[ok]


def get_cost_model(target: str | Target, space: str | Any, dataset: Any, *, source: str = "auto",
                   lut_fit_archs: int | None = 1000, seed: int = 0) -> CostModel:
    """Build the cost model of ``target`` for ``space``/``dataset``.

    Args:
        target: name, alias or :class:`Target`.
        space: space name or instance.
        dataset: dataset of the space, or a task's :class:`~edgenas.spaces.DatasetSpec` (see the module
            docstring: the target's table for the task, else an estimate scaled by MACs).
        source: ``auto`` | ``lookup`` | ``lut`` | ``flops``.
        lut_fit_archs: for a fitted ``lut``/``flops``, how many measured archs to fit on
            (seeded sample; default 1000, which predicts as well as all 15,625 in
            tools/bench_latency.py and fits in about a second; None = all).
        seed: seed of that sample.

    Raises:
        UnknownNameError: unknown target or space.
        LatencyTableError: the target has no table for the space/dataset (hint: how to profile),
            or the table is corrupt/mismatched.
        ConfigError: unknown source.
    """
    from .._limits import MAX_SEED, check_int
    from ..spaces import SearchSpace, get_space

    if source not in SOURCES:
        raise ConfigError(f"unknown latency source {source!r}; expected one of {', '.join(SOURCES)}")
    if lut_fit_archs is not None:
        check_int("lut_fit_archs", lut_fit_archs, 2, 10**7)
    check_int("seed", seed, 0, MAX_SEED)
    t = target if isinstance(target, Target) else load_target(target)
    sp = space if isinstance(space, SearchSpace) else get_space(space)
    ds = sp.dataset(dataset)
    if not isinstance(dataset, str):
        bench = sp.benchmark_dataset(ds)
        if bench is not None:
            dataset = bench
        else:
            near = _nearest_measured(t, sp, ds)
            base = get_cost_model(t, sp, near, source=source, lut_fit_archs=lut_fit_archs, seed=seed)
            m = sp.datasets[near]
            return ScaledCostModel(base, ds, (
                f"estimate: {base.description} ({near}, {m.num_classes} classes at {m.input_size} px) scaled by "
                f"each arch's MACs at {ds.input_size} px, {ds.num_classes} classes, {ds.channels} channel"
                f"{'s' if ds.channels > 1 else ''}"))
    ref = t.table(sp.name, dataset)
    if source == "auto":
        source = "lookup" if ref.kind == "arch" else "lut"
    if ref.kind == "op":
        if source != "lut":
            raise LatencyTableError(
                f"target {t.name!r} has a per-op table for {sp.name}/{dataset}, so only --source lut works "
                f"(asked for {source!r})")
        op = load_op_table(ref.file, space=sp.name, dataset=dataset)
        _check_definition(op.meta, ref.file, sp)
        if op.kernels and "space_ms" in op.kernels:
            detail = f"kernel model of {ref.file.name} (stored for every {op.kernels['space_ms']['space']} arch)"
        elif op.kernels:
            detail = f"kernel model (onnxruntime kernel detection) of {ref.file.name}"
        else:
            detail = f"per-op table {ref.file.name}"
        return CostModel(t, sp, dataset, "lut", detail, op_table=op)
    table = load_arch_table(ref.file, space=sp.name, dataset=dataset)
    if ref.column is None:
        raise LatencyTableError(f"target {t.name!r}: table {ref.file.name} needs a 'column' in the target file")
    column_meta = (table.meta.get("columns") or {}).get(ref.column)
    _check_definition(column_meta if isinstance(column_meta, dict) else {}, ref.file, sp)
    column = table.column(ref.column)
    if source == "lookup":
        return CostModel(t, sp, dataset, "lookup", f"measured {ref.file.name}:{ref.column}",
                         arch_table=table, column=column)
    archs, y = _measured(table, column, sp, lut_fit_archs, seed)
    if source == "lut":
        from ._graph import keys_node_reads, prunes_dead_layers
        from .fit import fit_op_table

        prune = prunes_dead_layers(t.runtime)
        reads = keys_node_reads(t.runtime)
        # where nodes are keyed by their readers (TensorRT, Edge TPU), keying sums by their feeders
        # too adds nothing; elsewhere the feeder keys pay off from ~1000 fitted archs and overfit below
        # (see tools/bench_latency.py)
        op = fit_op_table(sp, dataset, archs, y, prune=prune, node_ops=prune and not reads and len(y) >= 1000,
                          reads=reads, meta={"target": t.name, "fitted_from": ref.file.name})
        return CostModel(t, sp, dataset, "lut", f"per-op table fitted on {len(y)} measured archs", op_table=op)
    from scipy.optimize import nnls

    macs = np.array([_macs(sp, a, dataset) for a in archs])
    w = 1.0 / y
    coef, _ = nnls(np.stack([macs, np.ones_like(macs)], 1) * w[:, None], y * w)
    return CostModel(t, sp, dataset, "flops", f"a*MACs+c fitted on {len(y)} measured archs",
                     flops_coef=(float(coef[0]), float(coef[1])))


def _check_definition(meta: dict, path: Path, space: SearchSpace) -> None:
    """A table measured on a user's space records its definition: once the definition changed (``spaces add
    --replace``), the table prices other networks than the space now builds."""
    from ..spaces.user import user_definition_hash

    recorded, now = meta.get("space_definition"), user_definition_hash(space)
    if recorded is not None and now is not None and recorded != now:
        raise LatencyTableError(
            f"latency table {str(path)!r} was measured on another definition of space {space.name!r} "
            f"(definition {recorded}, now {now}); expected a table of the space as it is defined now",
            hint="time the space again: `edgenas profile ... --force` or `edgenas fit ... --force`")
