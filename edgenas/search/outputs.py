"""Run-folder outputs, each written atomically (temporary file + rename).

* ``pareto.json``: ``{"schema_version": 1, "proxy": ..., "targets": [...], "budgets": {...},
  "members": [...], "pick": {...}, "pick_rule": ...}``, members best proxy score first (see
  :meth:`Candidate.record`); ``pick`` is the recommended arch (:func:`~edgenas.search.run.pick_candidate`).
* ``candidates.csv``: every scored candidate, one row each, with a ``#`` header giving units.
* ``config.json``: the fully resolved :class:`SearchConfig` (``run_search(SearchConfig(**cfg))``
  re-runs it).
* ``pareto.png``: the shown score (:func:`score_shown`: predicted accuracy where the proxy is an
  accuracy prior, else the percentile among the scored candidates) vs latency on the first target
  (MACs in a MACs-only search), budget line, front highlighted, pick marked (skipped with a note
  when matplotlib is missing).
* ``space.yaml``: the definition of a user's space (``config.space_definition`` is its hash), so the
  run can be resumed, exported or trained elsewhere after ``edgenas spaces add space.yaml``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import atomic_write_bytes, atomic_write_text
from .._json import dumps
from .._version import __version__
from ..errors import ConfigError
from .config import SearchConfig, config_dict, config_from_dict, config_task

if TYPE_CHECKING:  # pragma: no cover
    from .result import SearchResult

__all__ = ["SCHEMA_VERSION", "RunFiles", "ScoreShown", "objectives", "read_run", "score_shown", "write_outputs"]

#: version of the run folder's files (pareto.json, config.json) and of ``--json`` output
SCHEMA_VERSION = 1


def _json(obj: Any) -> str:
    return dumps(obj) + "\n"


def objectives(config: Any) -> list[dict[str, str]]:
    """The objective columns of a search: the score (max), latency on every target, extra ones (min)."""
    return [{"name": "score", "direction": "max"},
            *({"name": f"latency_ms[{t}]", "direction": "min"} for t in sorted(config.targets)),
            *({"name": o, "direction": "min"} for o in config.extra_objectives)]


@dataclass(frozen=True)
class ScoreShown:
    """The score a user sees: ``predicted_accuracy_pct`` where the proxy is an accuracy prior that
    predicts it, else ``percentile``: the share (0-100) of the run's scored candidates that score
    lower (ties count half), so 100 is the best candidate and 50 the median one.

    Attributes:
        name: ``predicted_accuracy_pct`` or ``percentile``.
        label: the axis / column title.
        values: ``{iso_key: value}`` of every scored candidate (``None`` where the proxy failed).
    """

    name: str
    label: str
    values: dict[str, float | None]


def score_shown(result: SearchResult) -> ScoreShown:
    """What the run's scores mean to a user (see :class:`ScoreShown`)."""
    import numpy as np

    cfg = result.config
    cands = result.candidates
    target = _prior_target(cfg.proxy)
    if target is not None and target.startswith("-log(100 - "):
        # the prior's score is -log(100 - accuracy %), so accuracy = 100 - exp(-score)
        return ScoreShown("predicted_accuracy_pct", f"predicted accuracy % ({cfg.proxy})",
                          {c.iso_key: (100.0 - math.exp(-c.score)) if math.isfinite(c.score) else None
                           for c in cands})
    fin = np.sort(np.array([c.score for c in cands if math.isfinite(c.score)], dtype=float))
    n = fin.size
    vals: dict[str, float | None] = {}
    for c in cands:
        if not math.isfinite(c.score) or n == 0:
            vals[c.iso_key] = None
            continue
        below = float(np.searchsorted(fin, c.score, side="left"))
        equal = float(np.searchsorted(fin, c.score, side="right")) - below
        vals[c.iso_key] = 100.0 * (below + 0.5 * (equal - 1)) / max(n - 1, 1)
    return ScoreShown("percentile", f"{cfg.proxy}: percentile among the {n} scored candidates", vals)


def _prior_target(proxy: str | None) -> str | None:
    """The fitted target of an accuracy-prior ensemble (``None`` for anything else)."""
    from ..proxies.ensemble import get_ensemble, list_ensembles

    if proxy not in list_ensembles() or get_ensemble(proxy).prior is None:
        return None
    from ..proxies.prior import load_prior

    return load_prior(get_ensemble(proxy).prior).target


def _components(result: SearchResult) -> list[str]:
    """An ensemble's component columns (empty for a single proxy, whose raw score is the score)."""
    for c in result.candidates:
        keys = list(c.raw_scores)
        return [] if keys == [result.config.proxy] else keys
    return []


def write_outputs(result: SearchResult) -> tuple[dict[str, Path], list[str]]:
    """Write the four output files of a finished search; returns ({name: path}, notes)."""
    cfg = result.config
    run_dir = Path(result.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    notes: list[str] = []
    targets = sorted(cfg.targets)

    shown = score_shown(result)

    def record(c: Any) -> dict[str, Any]:
        return {**c.record(cfg.proxy), "score_shown": shown.values.get(c.iso_key)}

    pareto = {
        "schema_version": SCHEMA_VERSION,
        "edgenas_version": __version__,
        "space": cfg.space, "dataset": cfg.dataset, "task": asdict(config_task(cfg)), "proxy": cfg.proxy,
        "targets": targets,
        "budgets": {"max_latency_ms": cfg.max_latency_ms, "max_params_m": cfg.max_params_m,
                    "max_macs_m": cfg.max_macs_m},
        "objectives": objectives(cfg),
        "n_candidates": len(result.candidates),
        "score_shown": {"name": shown.name, "label": shown.label},
        "members": [record(c) for c in result.front],
        "pick": record(result.pick) if result.pick is not None else None,
        "pick_rule": pick_rule(cfg.pick_top_share, cfg.pick_within_noise),
    }
    if result.latency_estimates:
        pareto["latency_estimates"] = dict(result.latency_estimates)
    files["pareto.json"] = run_dir / "pareto.json"
    atomic_write_text(files["pareto.json"], _json(pareto))

    buf = io.StringIO()
    buf.write(f"# edgenas {__version__} search candidates: every scored arch, evaluation order.\n")
    buf.write(f"# score: {cfg.proxy} (higher is better; empty = proxy failed); latency_ms_<target>: ms per "
              "image; macs_m: MACs per image, millions (fvcore, BN folded); params_m: millions; "
              "proxy_seconds: proxy wall time; reused: 1 if taken from the run store.\n")
    comps = _components(result)
    if comps:
        buf.write("# score: the ensemble ranked within all candidates below; search_score: ranked against the "
                  "reference population (the first candidates), which guided the search.\n")
    front_keys = {c.iso_key for c in result.front}
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["order", "index", "arch", "iso_key", "score", *(["search_score"] if comps else []), *comps,
                *(f"latency_ms_{t}" for t in targets), *(f"latency_source_{t}" for t in targets),
                "macs_m", "params_m", "proxy_seconds", "reused", "on_front", "pick"])
    for c in result.candidates:
        def num(v: float | None) -> str:
            return "" if v is None or not math.isfinite(v) else repr(float(v))

        w.writerow([c.order, "" if c.index is None else c.index, c.arch, c.iso_key, num(c.score),
                    *([num(c.search_score)] if comps else []), *(num(c.raw_scores.get(k)) for k in comps),
                    *(repr(c.latency_ms[t]) for t in targets), *(c.latency_source[t] for t in targets),
                    repr(float(c.macs_m)), repr(float(c.params_m)), repr(float(c.seconds)), int(c.reused),
                    int(c.iso_key in front_keys), int(result.pick is not None and c.iso_key == result.pick.iso_key)])
    files["candidates.csv"] = run_dir / "candidates.csv"
    atomic_write_text(files["candidates.csv"], buf.getvalue())

    if cfg.space_definition is not None:
        from ..spaces import get_space

        files["space.yaml"] = run_dir / "space.yaml"
        atomic_write_text(files["space.yaml"], get_space(cfg.space).definition.source)
    files["config.json"] = run_dir / "config.json"
    atomic_write_text(files["config.json"], _json({"schema_version": SCHEMA_VERSION,
                                                   "edgenas_version": __version__, **config_dict(cfg)}))

    try:
        png = _plot(result, targets[0] if targets else None, shown)
    except ImportError:
        notes.append("pareto.png skipped: matplotlib is not installed (pip install 'edgenas[plot]')")
    else:
        files["pareto.png"] = run_dir / "pareto.png"
        atomic_write_bytes(files["pareto.png"], png)
    return files, notes


def _plot(result: SearchResult, target: str | None, shown: ScoreShown) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # Figure directly: no pyplot global state

    cfg = result.config
    fig = Figure(figsize=(6.4, 4.4), dpi=110)
    ax = fig.add_subplot(1, 1, 1)

    def cost(c: Any) -> float:  # no target: a MACs-only search, plotted against MACs
        return c.latency_ms[target] if target is not None else c.macs_m

    y = shown.values
    cands = [c for c in result.candidates if y.get(c.iso_key) is not None]
    ax.scatter([cost(c) for c in cands], [y[c.iso_key] for c in cands], s=10, c="0.65",
               label=f"scored ({len(result.candidates)})")
    front = [c for c in result.front if y.get(c.iso_key) is not None]
    front_sorted = sorted(front, key=cost)
    ax.plot([cost(c) for c in front_sorted], [y[c.iso_key] for c in front_sorted], "o-", color="C3",
            drawstyle="steps-post",
            ms=5, label=f"Pareto front ({len(result.front)})")
    pick = result.pick
    if pick is not None and y.get(pick.iso_key) is not None:
        ax.scatter([cost(pick)], [y[pick.iso_key]], marker="*", s=220, color="C2",
                   edgecolors="k", zorder=5, label="pick")
    limit = cfg.budgets.latency_limit(target) if target is not None else cfg.max_macs_m
    if limit is not None:
        ax.axvline(limit, color="C0", ls="--", label=f"budget {limit:g} {'ms' if target is not None else 'M MACs'}")
    ax.set_xlabel(f"latency on {target} (ms)" if target is not None else "MACs (millions, at the task's resolution)")
    ax.set_ylabel(f"{shown.label} (higher is better)", fontsize=8)
    ax.set_title(f"{cfg.space} / {cfg.dataset}: {cfg.searcher}, seed {cfg.seed}")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _read_json(path: Path) -> Any:
    from .._read import load_json

    if not path.exists():
        raise ConfigError(f"{str(path)!r} not found; expected a finished run folder (edgenas search --out DIR)")
    return load_json(path, what="run file", allow_nan=True)  # fields are checked by their readers


@dataclass(frozen=True)
class RunFiles:
    """A finished run folder, parsed: the config, every candidate as ``Candidate`` keywords, the
    front and the pick as ``(iso_key, score_spread)``, and the files present."""

    config: SearchConfig
    candidates: list[dict[str, Any]]
    front: list[tuple[str, Any]]
    pick: tuple[str, Any] | None
    files: dict[str, Path]


def read_run(run_dir: Path) -> RunFiles:
    """Parse ``config.json``, ``candidates.csv`` and ``pareto.json`` of a finished run folder.

    Raises:
        ConfigError: a file missing or malformed, naming the file and the field.
    """
    config = config_from_dict(_read_json(run_dir / "config.json"), where=f"{str(run_dir / 'config.json')!r}")
    pareto = _read_json(run_dir / "pareto.json")
    path = run_dir / "candidates.csv"
    from .._read import csv_rows, read_text

    lines = [ln for ln in read_text(path, what="run file").splitlines() if not ln.startswith("#")]
    targets = sorted(config.targets)

    def num(row: dict[str, str], key: str) -> float | None:
        v = row.get(key)
        if v is None:
            raise ConfigError(f"{str(path)!r}: column {key!r} missing")
        try:
            return float(v) if v != "" else None
        except ValueError:
            raise ConfigError(f"{str(path)!r}: column {key!r} holds {v!r}; expected a number") from None

    def text(row: dict[str, str], key: str) -> str:
        v = row.get(key)
        if v is None:
            raise ConfigError(f"{str(path)!r}: column {key!r} missing")
        return v

    table = csv_rows(lines, where=repr(str(path)), what="run file")
    rows = [dict(zip(table[0], r)) for r in table[1:] if r] if table else []
    comps = [k for k in (rows[0] if rows else {}) if k not in _CSV_FIXED and not k.startswith("latency_")]
    cands: list[dict[str, Any]] = []
    for row in rows:
        score = num(row, "score")
        index = text(row, "index")
        try:
            order, index_value = int(text(row, "order")), None if index == "" else int(index)
        except ValueError:
            raise ConfigError(f"{str(path)!r}: order/index {row.get('order')!r}/{index!r}; expected integers") from None
        cands.append({
            "arch": text(row, "arch"), "index": index_value, "iso_key": text(row, "iso_key"),
            "score": -math.inf if score is None else score,
            "raw_scores": {k: num(row, k) for k in comps} if comps else {config.proxy: score},
            "latency_ms": {t: num(row, f"latency_ms_{t}") for t in targets},
            "latency_source": {t: text(row, f"latency_source_{t}") for t in targets},
            "macs_m": num(row, "macs_m"), "params_m": num(row, "params_m"), "seconds": num(row, "proxy_seconds"),
            "order": order, "reused": text(row, "reused") == "1",
            "search_score": num(row, "search_score") if "search_score" in row else None,
        })
    keys = {c["iso_key"] for c in cands}
    where = str(run_dir / "pareto.json")

    def member(m: Any, what: str) -> tuple[str, Any]:
        if not isinstance(m, dict) or not isinstance(m.get("iso_key"), str) or m["iso_key"] not in keys:
            raise ConfigError(f"{where!r}: {what} is not a candidate of candidates.csv")
        spread = m.get("score_spread")
        if spread is not None and not (isinstance(spread, dict) and _spread_ok(spread)):
            raise ConfigError(f"{where!r}: {what}.score_spread is {str(spread)[:80]!r}; expected an object with "
                              "seeds, scores (lists), std and range (numbers)")
        return m["iso_key"], spread

    if not isinstance(pareto, dict) or not isinstance(pareto.get("members"), list):
        raise ConfigError(f"{where!r}: field 'members' missing; expected a list")
    front = [member(m, f"members[{i}]") for i, m in enumerate(pareto["members"])]
    pick = member(pareto["pick"], "pick") if pareto.get("pick") is not None else None
    files = {name: run_dir / name for name in ("pareto.json", "candidates.csv", "config.json", "pareto.png")
             if (run_dir / name).exists()}
    return RunFiles(config, cands, front, pick, files)


def _spread_ok(spread: dict) -> bool:
    """Whether a stored ``score_spread`` has the fields and types edgenas writes."""
    def is_num(v: Any) -> bool:
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))

    return (isinstance(spread.get("seeds"), list) and isinstance(spread.get("scores"), list)
            and all(is_num(v) for v in spread["scores"]) and is_num(spread.get("std"))
            and is_num(spread.get("range")))


_CSV_FIXED = {"order", "index", "arch", "iso_key", "score", "search_score", "macs_m", "params_m", "proxy_seconds",
              "reused", "on_front", "pick"}


def pick_rule(share: float | None, within_noise: float | None = None) -> str:
    """How the pick was chosen, in words (pareto.json ``pick_rule``)."""
    if within_noise is not None:
        return (f"most MACs among the candidates whose score is within {within_noise:g} init-seed standard "
                "deviations of the best (where the scorer could change its seed)")
    if not share:
        return "the best-scoring candidate"
    return f"most MACs among the best-scoring {share:.1%} of the candidates (at least one)"
