"""``run_search``: the hardware-constrained multi-objective search, end to end.

Flow: resolve the config (:func:`~edgenas.search.config.resolve_config`) -> price archs with the
targets' cost models (cheap) -> refuse budgets nothing satisfies (before any file is written) ->
open/resume the run store -> the searcher proposes feasible archs -> each new isomorphism class,
represented by its cheapest feasible member, is scored by the proxy and committed to SQLite at once
-> the Pareto front of (proxy score up, latency on every target down) over all scored candidates and
the pick -> ``pareto.json``, ``candidates.csv``, ``config.json``, ``pareto.png`` in the run folder.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .._rng import derive_seed
from ..errors import ConfigError
from ..spaces import Arch, SearchSpace, get_space
from .config import MACS_TARGET, SearchConfig, config_dict, macs_only, resolve_config, resolve_task
from .evaluator import SearchContext
from .picks import noise_std, pick_candidate, pick_in_noise_band, score_spread
from .problem import CostEvaluator, LatencyModel, check_feasible
from .result import Candidate, SearchProgress, SearchResult
from .scoring import ProxyScorer, Scorer, proxy_key
from .searchers import get_searcher
from .store import CandidateStore, check_writable

__all__ = ["STORE_NAME", "default_run_dir", "run_search"]

STORE_NAME = "candidates.sqlite"


def default_run_dir(config: SearchConfig, dataset: str, target_names: Sequence[str], *, resume: bool) -> Path:
    """``runs/<space>-<dataset>-<targets>-<proxy>-s<seed>``; a fresh run gets ``-2``, ``-3``... if
    the folder exists (a resume uses the base name)."""
    where = "+".join(target_names) or MACS_TARGET
    base = Path("runs") / f"{config.space}-{dataset}-{where}-{config.proxy}-s{config.seed}"
    if resume or not base.exists():
        return base
    i = 2
    while Path(f"{base}-{i}").exists():
        i += 1
    return Path(f"{base}-{i}")


def run_search(
    config: SearchConfig | None = None,
    *,
    resume: bool = False,
    on_progress: Callable[[SearchProgress], None] | None = None,
    on_candidate: Callable[[Candidate], None] | None = None,
    scorer: Scorer | None = None,
    cost_models: Mapping[str, LatencyModel] | None = None,
    size: Callable[[Arch], tuple[float, float]] | None = None,
    write_outputs: bool = True,
    **overrides: Any,
) -> SearchResult:
    """Search ``config.space`` for the Pareto front of proxy score vs latency under the budgets.

    Args:
        config: the search definition; keyword ``overrides`` replace its fields
            (``run_search(targets=("jetson",), max_latency_ms=5)``).
        resume: continue the run in ``config.out``: stored candidates are reused, not rescored.
            Without it, an existing run folder with a store is refused.
        on_progress: called after every candidate with a :class:`SearchProgress`.
        on_candidate: called with every :class:`Candidate` as it is evaluated.
        scorer: replaces the proxy scorer (tests, precomputed score tables).
        cost_models: {target name: model with ``predict(arch)``}; default: the targets' cost models.
        size: arch -> (macs_m, params_m); default: an :class:`AdditiveSizeTable` of the space.
        write_outputs: write the run folder (store + files); False keeps everything in memory.

    Returns:
        a :class:`SearchResult`.

    Raises:
        ConfigError, UnknownNameError: bad options (nothing is written).
        InfeasibleError: no arch meets the budgets (nothing is written).
    """
    t_start = time.perf_counter()
    config = replace(config or SearchConfig(), **overrides)
    if cost_models is not None and not config.targets:
        config = replace(config, targets=tuple(cost_models))
    config = macs_only(config)
    config.validate()
    if not isinstance(resume, bool):  # "no" would be true
        raise ConfigError(f"resume={resume!r} is invalid; expected True or False")
    for what, fn in (("on_progress", on_progress), ("on_candidate", on_candidate)):
        if fn is not None and not callable(fn):  # else it fails after the first score, with a store made
            raise ConfigError(f"{what}={fn!r} is invalid; expected a function (or None)")
    get_searcher(config.searcher)  # an unknown name fails here, before any file is written
    from .._read import check_input_path

    for what, path in (("--data", config.data), ("--score-table", config.score_table)):
        if path is not None:  # contents are read later; a missing path fails before any store is made
            check_input_path(path, what=what, folder_ok=what == "--data")
    space = get_space(config.space)
    task = resolve_task(space, config)  # opens and checks --data: before any file is written
    dataset = task.name
    targets = _resolve_targets(config, space, task) if cost_models is None else dict(cost_models)
    if cost_models is not None and len(targets) != len(config.targets):
        config = replace(config, targets=tuple(targets))
    config = resolve_config(config, canonical_targets=tuple(targets), task=task)
    device = config.device
    if scorer is None and config.score_table is not None:
        from .scoring import TableScorer, known_proxies

        ensemble = config.proxy if config.proxy in known_proxies()[1] else None
        scorer = TableScorer(space=space, path=config.score_table, ensemble=ensemble,
                             columns=() if ensemble else (config.proxy,), dataset=dataset)
    if scorer is not None:
        config = replace(config, proxy=scorer.proxy)
    else:
        scorer = ProxyScorer(space=space, dataset=task, proxy=config.proxy, seed=config.seed,
                             device=device, batch_size=config.batch_size, data=config.data,
                             resolution=config.proxy_resolution, workers=config.workers,
                             executor=config.executor, ray_address=config.ray_address)
    warm = getattr(scorer, "warm", None)
    if warm is not None:
        warm()  # worker start-up overlaps with pricing the space below
    store = made_dir = None
    try:
        if size is None:
            from .problem import AdditiveSizeTable

            size = AdditiveSizeTable(space, task)
        cost = CostEvaluator(space, targets, size)
        n_feasible = check_feasible(space, cost, config.budgets, config.seed)
        from .problem import loose_budget_note

        loose = loose_budget_note(space, cost, config.budgets, config.seed, list(targets))

        run_dir = Path(config.out) if config.out else default_run_dir(config, dataset, list(targets), resume=resume)
        config = replace(config, out=str(run_dir))
        if write_outputs:
            store_path = run_dir / STORE_NAME
            if resume and not store_path.exists():
                raise ConfigError(f"nothing to resume in {str(run_dir)!r}: no {STORE_NAME}; drop --resume to start")
            if not resume and store_path.exists():
                raise ConfigError(
                    f"run folder {str(run_dir)!r} already holds a search; pass --resume to continue it or another --out"
                )
            if not resume and (run_dir / "pareto.json").exists():  # e.g. a copied run folder, its trained pick in it
                raise ConfigError(
                    f"run folder {str(run_dir)!r} holds the results of another search (pareto.json) but no "
                    f"{STORE_NAME} to continue; expected another --out (or delete the folder)")
            made_dir = not run_dir.exists()
            check_writable(run_dir)
            pkey = proxy_key(scorer.config)
            store = CandidateStore(store_path, key=(space.name, dataset, pkey, config.seed, str(config.data or "gaussian")))
            if resume:  # ./DATA, DATA/ and its absolute path are one --data: the stored spelling keys the rows
                config = replace(config, data=store.stored_data_spelling(config.data))
            # proxy_resolution only when set, so runs stored before the option existed still resume
            fingerprint = _fingerprint(config)
            fingerprint["proxy_config"] = dict(scorer.config)
            try:
                store.check_config(fingerprint)
            except ConfigError:
                store.close()
                raise

        rng = np.random.default_rng(derive_seed(config.seed, "search", config.searcher))
        progress_state = {"t0": time.perf_counter()}

        def _on_tick() -> None:
            if on_progress is None:
                return
            # the finished run's rule (ensembles ranked within every candidate), so "best" is the
            # score the final table shows for the same candidates
            front = ctx.front(ctx.final_candidates())
            on_progress(SearchProgress(
                n_evaluated=config.evaluations - ctx.remaining, n_budget=config.evaluations,
                n_reused=ctx.n_reused + sum(p[3] for p in ctx._pending), front_size=len(front),
                elapsed_s=time.perf_counter() - progress_state["t0"],
                best_score=front[0].score if front and math.isfinite(front[0].score) else None,
            ))
    except BaseException:
        close = getattr(scorer, "close", None)
        if close is not None:
            close()
        if store is not None:  # e.g. Ctrl-C while the store was checked: an empty one must not block the rerun
            _close_store(store, drop=not resume, run_dir=run_dir, made_dir=bool(made_dir))
        raise

    ctx = SearchContext(space=space, config=config, cost=cost, scorer=scorer, store=store, rng=rng,
                        device=device, on_candidate=on_candidate, on_tick=_on_tick)
    drop_store = False
    try:
        get_searcher(config.searcher)(ctx)
        final = ctx.final_candidates()
        front = ctx.front(final)
        pick = pick_candidate(final, config.pick_top_share)
        if config.noise_seeds:
            front, pick = score_spread(ctx, final, front, pick, n_seeds=config.noise_seeds)
            if config.pick_within_noise is not None:
                pick = pick_in_noise_band(ctx, final, front, pick, z=config.pick_within_noise,
                                          n_seeds=config.noise_seeds)
    except BaseException:
        # an error or Ctrl-C before the first score (e.g. unusable --data): a store made by this call
        # holds nothing to resume and would block the corrected rerun, so it goes
        drop_store = store is not None and not resume
        raise
    finally:
        close = getattr(scorer, "close", None)
        if close is not None:
            close()
        if store is not None:
            _close_store(store, drop=drop_store, run_dir=run_dir, made_dir=bool(made_dir))
    files: dict[str, Path] = {}
    notes: list[str] = []
    result = SearchResult(config, tuple(front), tuple(final), run_dir, ctx.n_scored, ctx.n_reused,
                          time.perf_counter() - t_start, pick=pick,
                          latency_estimates={n: m.description for n, m in targets.items() if getattr(m, "estimate", False)})
    if write_outputs:
        from .outputs import write_outputs as _write

        files, notes = _write(result)
    few = ([f"only {n_feasible:,} feasible arch classes meet the budgets, fewer than --evaluations "
            f"{config.evaluations:,}: the search could score at most those"]
           if n_feasible is not None and n_feasible < config.evaluations else [])
    notes = [*few, *([loose] if loose else []), *getattr(scorer, "notes", ()), *_task_notes(config, task, targets),
             *_coverage_notes(targets, space), *_degenerate_notes(ctx), *_pick_notes(front, pick, config, final),
             *notes]
    return replace(result, files=files, notes=tuple(notes), wall_s=time.perf_counter() - t_start)


#: front members (best first) whose score spread across init seeds is measured
def _resolve_targets(config: SearchConfig, space: SearchSpace, dataset: Any) -> dict[str, LatencyModel]:
    """{canonical target name: cost model}, in the order of ``config.targets``."""
    from ..hardware.cost import get_cost_model
    from ..hardware.targets import load_target

    out: dict[str, LatencyModel] = {}
    for name in config.targets:
        target = load_target(name)
        out[target.name] = get_cost_model(target, space, dataset, source=config.latency_source)
    return out


def _close_store(store: CandidateStore, *, drop: bool, run_dir: Path, made_dir: bool) -> None:
    """Close ``store``; with ``drop``, remove it (and the folder this run made) when it holds nothing."""
    try:
        empty = drop and store.count() == 0
    except Exception:  # noqa: BLE001 - an unreadable store is kept for the user to look at
        empty = False
    store.close()
    if empty:
        _drop_empty_run(run_dir, made_dir)


def _drop_empty_run(run_dir: Path, made_dir: bool) -> None:
    """Remove the empty store a failed run made (and its folder when this run made it and it is empty)."""
    for name in (STORE_NAME, STORE_NAME + "-wal", STORE_NAME + "-shm", STORE_NAME + "-journal"):
        try:
            (run_dir / name).unlink()
        except FileNotFoundError:
            pass
        except OSError:
            return
    if made_dir:
        try:
            run_dir.rmdir()  # only when empty
        except OSError:
            pass


def _task_notes(config: SearchConfig, task: Any, targets: Mapping[str, LatencyModel]) -> list[str]:
    """Notes on the task: latency estimated from a table at another shape; proxies at another resolution."""
    out = []
    for name, model in targets.items():
        if getattr(model, "estimate", False):
            out.append(f"{name}: latency ESTIMATED for {task.name} ({task.num_classes} classes, {task.channels}x"
                       f"{task.input_size}x{task.input_size}): {model.description} (marked 'estimate' in pareto.json)")
    pr = config.proxy_resolution
    if pr is not None and pr != task.input_size:
        out.append(f"proxies score {pr} x {pr} px inputs while the network is built, priced and trained for "
                   f"{task.input_size} x {task.input_size} px (latency and MACs are at {task.input_size} px)")
    return out


def _fingerprint(config: SearchConfig) -> dict[str, Any]:
    """What a resumed run must share with the stored one: everything that changes scores or the
    search, not speed (device, workers) nor what is only read off the scores (noise, pick)."""
    out = {k: v for k, v in config_dict(config).items()
           if k not in ("device", "out", "workers", "executor", "ray_address", "noise_seeds", "pick_top_share",
                         "pick_within_noise")
           # only when set, so runs stored before these options existed still resume
           and not (k in ("proxy_resolution", "space_definition") and v is None)}
    out["cost_source"] = out.pop("latency_source")  # the stored runs' name of the field
    return out


def _pick_notes(front: Sequence[Candidate], pick: Candidate | None, config: SearchConfig,
                final: Sequence[Candidate]) -> list[str]:
    """One note when the pick is not the best-scoring front member: what it is and why (and one when
    the noise-band rule could not apply)."""
    pooled = noise_std(front)
    fallback = []
    if config.pick_within_noise is not None and pooled is None:
        fallback = [(f"pick_within_noise={config.pick_within_noise:g}: no init-seed spread was measured (the scorer "
                     "cannot change its seed, e.g. a score table), so the pick_top_share rule chose the pick")]
    if pick is None or not front or pick.iso_key == front[0].iso_key:
        return fallback
    std = (front[0].score_spread or {}).get("std")
    noise = f"; the best score's spread across init seeds is {std:.3g}" if std is not None else ""
    where = "on the front" if any(m.iso_key == pick.iso_key for m in front) else "not on the front"
    if config.pick_within_noise is not None and pooled is not None:
        width = config.pick_within_noise * pooled
        n = sum(1 for c in final if math.isfinite(c.score) and c.score >= front[0].score - width - 1e-12)
        why = (f"the largest ({pick.macs_m:.1f} M MACs) of the {n} candidates within {config.pick_within_noise:g} "
               f"init-seed standard deviations ({width:.3g}) of the best score")
        noise = ""
    else:
        k = max(1, math.ceil((config.pick_top_share or 0.0) * len(final) - 1e-9))
        why = f"the largest ({pick.macs_m:.1f} M MACs) of the {k} best-scoring candidates"
    return [*fallback, (f"pick (index {pick.index}): {why}, score {pick.score:.4g} vs best {front[0].score:.4g}"
                        f"{noise}; {where} (pick in pareto.json)")]


def _degenerate_notes(ctx: SearchContext) -> list[str]:
    """One note when the search met degenerate archs (they were skipped, not scored)."""
    n = len(ctx.degenerate_keys)
    if not n:
        return []
    return [(f"skipped {n} degenerate {ctx.space.name} arch class{'es' if n > 1 else ''} (no live path from "
             "input to output: the output cannot depend on the input); never scored, never on the front")]


def _coverage_notes(targets: Mapping[str, LatencyModel], space: SearchSpace) -> list[str]:
    """One note per target priced by a measured table that does not cover the whole space."""
    out = []
    for name, model in targets.items():
        column = getattr(model, "column", None)
        if getattr(model, "source", None) != "lookup" or column is None:
            continue
        n = int(np.isfinite(column).sum())
        if n < space.size:
            out.append(f"{name}: measured latency for {n:,} of {space.size:,} {space.name} archs; the others count "
                       "as infeasible (--latency-source lut prices them with a per-op model fitted on the measured)")
    return out
