"""``train_run``: train a search run's pick (or a named member) on the user's images, optionally after
re-ranking the best front members by brief training (successive halving).

Writes ``RUN_DIR/train/<member>/`` with ``model.pt`` (state_dict), ``model.json`` and ``train.json``
(curve, best validation accuracy, recipe, seconds); a re-rank also writes ``RUN_DIR/train/rerank.json``
(every brief run's validation accuracy, and why the winner won). ``<member>`` is ``pick``, ``rankNN``
(a front member) or ``arch-<index>`` (any arch of the space).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_text
from .._json import dumps
from ..errors import ConfigError, DatasetError, EdgeNASError
from ..spaces import Arch, DatasetSpec, SearchSpace, get_space
from .loop import CHECKPOINT_NAME, EpochRecord, train_network
from .model_io import WEIGHTS_NAME, write_model_dir
from .recipe import TrainConfig

__all__ = ["TRAIN_JSON", "TrainResult", "trained_models", "train_run"]

TRAIN_JSON = "train.json"
RERANK_JSON = "rerank.json"


@dataclass(frozen=True)
class TrainResult:
    """A trained member of a run.

    Attributes:
        member: ``pick``, ``rankNN`` or ``arch-<index>``.
        arch: canonical arch string.
        model_dir: the folder with ``model.pt``, ``model.json``, ``train.json``.
        val_accuracy: top-1 % on the validation images after the last epoch.
        best_val_accuracy: the best epoch's.
        seconds: training wall time (all sessions of a resumed run).
        resumed_from_epoch: epochs found in a checkpoint (0 = fresh start).
        already_trained: the folder held a finished run of the same recipe: nothing was trained.
        rerank: the re-rank record (``None`` without ``top`` > 1).
    """

    member: str
    arch: str
    model_dir: Path
    val_accuracy: float
    best_val_accuracy: float
    seconds: float
    resumed_from_epoch: int = 0
    already_trained: bool = False
    rerank: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Split:
    train: Any
    train_idx: np.ndarray
    val: Any
    val_idx: np.ndarray
    description: str


def _run_task(run_dir: Path) -> tuple[SearchSpace, DatasetSpec, Any]:
    from ..search.config import config_task, load_config

    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"run folder {str(run_dir)!r} has no config.json; expected the --out folder of 'edgenas search'")
    cfg = load_config(run_dir / "config.json")
    try:
        return get_space(cfg.space), config_task(cfg), cfg
    except EdgeNASError as exc:
        raise ConfigError(f"{str(run_dir / 'config.json')!r}: {exc.message}") from None


def _split(data: str, task: DatasetSpec, config: TrainConfig) -> _Split:
    from ..data import open_data
    from .data import split_indices

    train = open_data(data, split="train")
    if train.labels is None:
        raise DatasetError(f"data {data!r} has no labels; expected one sub-folder per class (or x and y in a .npz)")
    if train.num_classes != task.num_classes:
        raise DatasetError(f"data {data!r} has {train.num_classes} classes but the run's task {task.name!r} has "
                           f"{task.num_classes}; expected the data the search was run for")
    if Path(data).is_dir() and (Path(data) / "train").is_dir() and (Path(data) / "val").is_dir():
        val = open_data(data, split="val")
        if val.classes != train.classes:
            raise DatasetError(f"data {data!r}: val/ has classes {list(val.classes)[:5]} but train/ has "
                               f"{list(train.classes)[:5]}; expected the same class folders")
        return _Split(train, np.arange(len(train)), val, np.arange(len(val)),
                      f"train/ ({len(train)} images) and val/ ({len(val)} images)")
    tr, va = split_indices(train.labels, config.val_share, config.seed)
    return _Split(train, tr, train, va, f"seeded stratified split of {len(train)} images: {len(tr)} train, "
                                        f"{len(va)} val ({config.val_share:g} of each class, seed {config.seed})")


def _members(run_dir: Path, space: SearchSpace, task: DatasetSpec) -> tuple[list[Arch], Arch | None]:
    """(front members best score first, pick) of the run's pareto.json."""
    from ..export.sources import _load_pareto

    path = run_dir / "pareto.json"
    if not path.is_file():
        raise ConfigError(f"run folder {str(run_dir)!r} has no pareto.json; expected a finished 'edgenas search'")
    doc = _load_pareto(path)

    def parse(m: Any, what: str) -> Arch:
        text = m.get("arch") if isinstance(m, dict) else None
        if isinstance(text, bool) or not isinstance(text, (str, int)):
            raise ConfigError(f"{str(path)!r}: {what}.arch is {text!r}; expected an arch string of space {space.name}")
        try:
            return space.parse(str(text))
        except EdgeNASError as exc:
            raise ConfigError(f"{str(path)!r}: {what}.arch: {exc.message}") from None

    members = [(parse(m, f"members[{i}]"), None) for i, m in enumerate(doc["members"])]
    pick = (parse(doc["pick"], "pick"), None) if doc.get("pick") is not None else None
    live = [a for a, _ in members if not space.is_degenerate(a)]
    if not live:
        raise ConfigError(f"{str(path)!r} has no live member to train")
    return live, (pick[0] if pick is not None else None)


def _member_name(space: SearchSpace, arch: Arch, members: list[Arch], pick: Arch | None) -> str:
    key = space.format(arch)
    if pick is not None and space.format(pick) == key:
        return "pick"
    for k, a in enumerate(members, 1):
        if space.format(a) == key:
            return f"rank{k:02d}"
    idx = space.index(arch)
    return f"arch-{idx}" if idx is not None else "arch-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def _fingerprint(space: SearchSpace, arch: Arch, task: DatasetSpec, config: TrainConfig, epochs: int, data: str,
                 split: _Split) -> dict[str, Any]:
    return {"space": space.name, "arch": space.format(arch), "task": asdict(task), "data": str(Path(data).resolve()),
            "recipe": {**config.recipe(), "epochs": epochs}, "n_train": int(len(split.train_idx)),
            "n_val": int(len(split.val_idx))}


def _train_one(space: SearchSpace, arch: Arch, task: DatasetSpec, split: _Split, config: TrainConfig, epochs: int,
               data: str, out_dir: Path, member: str, *, on_epoch: Callable[[str, EpochRecord], None] | None,
               on_step: Callable[[str, int, int, int, float], None] | None,
               write_model: bool = True) -> TrainResult:
    fingerprint = _fingerprint(space, arch, task, config, epochs, data, split)
    done = out_dir / TRAIN_JSON
    if done.is_file():
        try:
            prev = json.loads(done.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            prev = None
        if isinstance(prev, dict) and prev.get("fingerprint") == fingerprint and \
                (not write_model or (out_dir / WEIGHTS_NAME).is_file()):
            return TrainResult(member, space.format(arch), out_dir, _float(prev.get("val_accuracy")),
                               _float(prev.get("best_val_accuracy")), _float(prev.get("seconds")), already_trained=True)
        # other options: train anew; the finished model stays in place until the new one replaces it
    out_dir.mkdir(parents=True, exist_ok=True)
    outcome = train_network(
        space, arch, task, train_data=split.train, train_idx=split.train_idx, val_data=split.val,
        val_idx=split.val_idx, config=config, epochs=epochs, out_dir=out_dir, fingerprint=fingerprint,
        on_step=None if on_step is None else (lambda e, s, n, loss: on_step(member, e, s, n, loss)),
        on_epoch=None if on_epoch is None else (lambda r: on_epoch(member, r)))
    if write_model:
        done.unlink(missing_ok=True)  # an earlier run's record must not vouch for the weights replaced next
        write_model_dir(out_dir, outcome.model, space=space, arch=arch, task=task, weights="trained",
                        val_accuracy=_num(outcome.val_accuracy), seed=config.seed, classes=list(split.train.classes))
    record = {
        "schema_version": 1, "member": member, "arch": space.format(arch), "space": space.name, "task": asdict(task),
        "data": str(data), "split": split.description, "recipe": {**config.recipe(), "epochs": epochs},
        "val_accuracy": _num(outcome.val_accuracy), "best_val_accuracy": _num(outcome.best_val_accuracy),
        "best_epoch": outcome.best_epoch, "seconds": round(outcome.seconds, 3), "device": outcome.device,
        "amp": outcome.amp, "resumed_from_epoch": outcome.resumed_from_epoch, "curve": list(outcome.curve),
        "fingerprint": fingerprint,
    }
    atomic_write_text(done, dumps(record))  # written last: its presence means the run finished
    (out_dir / CHECKPOINT_NAME).unlink(missing_ok=True)
    return TrainResult(member, space.format(arch), out_dir, outcome.val_accuracy, outcome.best_val_accuracy,
                       outcome.seconds, outcome.resumed_from_epoch)


def _float(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def _num(v: float) -> float | None:
    return None if not math.isfinite(v) else round(float(v), 4)


def halving_rounds(k: int, budget_epochs: int) -> list[tuple[int, int]]:
    """Successive halving of ``k`` candidates: [(candidates trained, epochs each), ...], the number of
    candidates halving (rounded up) and the epochs doubling each round, the last round at
    ``budget_epochs``; one round when ``k`` is 1."""
    n_rounds = max(1, math.ceil(math.log2(k))) if k > 1 else 1
    out = []
    n = k
    for r in range(n_rounds):
        out.append((n, max(1, budget_epochs // 2 ** (n_rounds - 1 - r))))
        n = max(1, math.ceil(n / 2))
    return out


def train_run(run_dir: str | Path, *, arch: str | None = None, rank: int | None = None, data: str | None = None,
              config: TrainConfig | None = None,
              on_epoch: Callable[[str, EpochRecord], None] | None = None,
              on_step: Callable[[str, int, int, int, float], None] | None = None,
              on_note: Callable[[str], None] | None = None) -> TrainResult:
    """Train the pick of ``run_dir`` (or ``arch`` / front member ``rank``) on ``data`` (default: the run's).

    With ``config.top`` > 1 the ``top`` best front members are first trained briefly by successive
    halving (:func:`halving_rounds`, ``config.budget_epochs`` at most) and the one with the best
    validation accuracy is trained for ``config.epochs``.

    Raises:
        ConfigError, DatasetError: bad run folder, options or data (before any training).
    """
    config = config or TrainConfig()
    config.validate()
    run_dir = Path(run_dir)
    space, task, search_cfg = _run_task(run_dir)
    if data is None and search_cfg.data is not None and not Path(search_cfg.data).is_absolute() \
            and not Path(search_cfg.data).exists():
        raise ConfigError(f"the run's --data {search_cfg.data!r} is relative to the folder its search ran in and is not "
                          f"found from {str(Path.cwd())!r}; expected --data PATH to the same images")
    data = data if data is not None else search_cfg.data
    if data is None:
        raise ConfigError(f"run {str(run_dir)!r} was searched without --data; expected --data DIR (one sub-folder "
                          "per class) to train on")
    if arch is not None and (rank is not None or config.top > 1):
        raise ConfigError("give one of --arch, --rank or --top")
    split = _split(str(data), task, config)
    members, pick = _members(run_dir, space, task)
    root = run_dir / "train"
    rerank = None
    if arch is not None:
        chosen = space.parse(str(arch))
        if space.is_degenerate(chosen):
            raise ConfigError(f"arch {arch!r} is degenerate (output independent of the input); nothing to train")
    elif rank is not None:
        if not 1 <= rank <= len(members):
            raise ConfigError(f"--rank {rank} is out of range; the run has {len(members)} live members (1..{len(members)})")
        chosen = members[rank - 1]
    elif config.top > 1:
        chosen, rerank = _rerank(space, task, split, config, str(data), members[:config.top], root, members, pick,
                                 on_epoch=on_epoch, on_step=on_step, on_note=on_note)
    else:
        chosen = pick if pick is not None else members[0]
    member = _member_name(space, chosen, members, pick)
    result = _train_one(space, chosen, task, split, config, config.epochs, str(data), root / member, member,
                        on_epoch=on_epoch, on_step=on_step)
    return replace(result, rerank=rerank)


def _rerank(space: SearchSpace, task: DatasetSpec, split: _Split, config: TrainConfig, data: str,
            candidates: list[Arch], root: Path, members: list[Arch], pick: Arch | None, *,
            on_epoch: Any, on_step: Any, on_note: Callable[[str], None] | None) -> tuple[Arch, dict[str, Any]]:
    rounds = halving_rounds(len(candidates), config.budget_epochs)
    alive = list(candidates)
    log: list[dict[str, Any]] = []
    for r, (n, epochs) in enumerate(rounds, 1):
        alive = alive[:n]
        scored = []
        for a in alive:
            name = _member_name(space, a, members, pick)
            res = _train_one(space, a, task, split, config, epochs, data, root / "rerank" / f"{name}-e{epochs}",
                             name, on_epoch=on_epoch, on_step=on_step, write_model=False)
            scored.append((res.val_accuracy if math.isfinite(res.val_accuracy) else -1.0, a, name))
            log.append({"round": r, "member": name, "arch": space.format(a), "epochs": epochs,
                        "val_accuracy": _num(res.val_accuracy)})
        # stable: ties keep the proxy's order
        scored.sort(key=lambda t: -t[0])
        alive = [a for _, a, _ in scored]
        if on_note is not None:
            on_note(f"re-rank round {r}: {len(scored)} trained {epochs} epoch(s); best {scored[0][2]} "
                    f"{scored[0][0]:.2f} % val")
    winner = alive[0]
    wname = _member_name(space, winner, members, pick)
    last = [e for e in log if e["round"] == len(rounds)]
    why = (f"{wname} has the best validation accuracy ({last[0]['val_accuracy']} %) after "
           f"{rounds[-1][1]} epoch(s) among the {len(last)} member(s) left by successive halving of the "
           f"{len(candidates)} best-scoring front members")
    record = {"schema_version": 1, "top": len(candidates), "budget_epochs": config.budget_epochs,
              "rounds": [{"candidates": n, "epochs": e} for n, e in rounds], "runs": log, "winner": wname,
              "winner_arch": space.format(winner), "why": why,
              "training_free_pick": _member_name(space, pick, members, pick) if pick is not None else None}
    atomic_write_text(root / RERANK_JSON, dumps(record))
    return winner, record


def trained_models(run_dir: str | Path) -> dict[str, Path]:
    """{arch string: model folder} of every finished training of a run (``RUN_DIR/train/<member>/`` with
    ``model.pt``, ``model.json`` and ``train.json``); the pick's folder wins for an arch trained twice."""
    root = Path(run_dir) / "train"
    out: dict[str, Path] = {}
    if not root.is_dir():
        return out
    for d in sorted(root.iterdir(), key=lambda p: (p.name != "pick", p.name)):
        if not ((d / TRAIN_JSON).is_file() and (d / WEIGHTS_NAME).is_file() and (d / "model.json").is_file()):
            continue
        try:
            arch = json.loads((d / "model.json").read_text(encoding="utf-8")).get("arch")
        except (OSError, ValueError, RecursionError, AttributeError):
            continue
        if isinstance(arch, str):
            out.setdefault(arch, d)
    return out
