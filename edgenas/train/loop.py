"""One network trained with the recipe, checkpointed every epoch, resumable after kill -9.

The state that changes the weights is all in the checkpoint (weights, BN statistics, SGD momentum,
epoch, curve) and everything random is a pure function of (seed, epoch, index): the learning rate of
a step, the order of an epoch, each image's crop and flip. A run killed at any moment and started again
with the same command continues from its last whole epoch, and on CPU its final weights are the
uninterrupted run's, bit for bit.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._io import atomic_write_bytes
from .._rng import derive_seed
from ..errors import ConfigError, DatasetError, EdgeNASError
from .data import AugmentedImages
from .model_io import state_dict_bytes
from .recipe import TrainConfig, lr_at

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..data import ImageData
    from ..spaces import Arch, DatasetSpec, SearchSpace

__all__ = ["CHECKPOINT_NAME", "EpochRecord", "TrainOutcome", "evaluate", "train_network"]

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass(frozen=True)
class EpochRecord:
    """One epoch: mean training loss / accuracy (augmented images), validation loss / accuracy, pace."""

    epoch: int
    epochs: int
    lr: float
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    images_per_s: float
    seconds: float
    eta_s: float


@dataclass(frozen=True)
class TrainOutcome:
    """A finished training run: the model (eval mode, CPU), its curve and timing."""

    model: Any
    curve: tuple[dict[str, float], ...]
    val_accuracy: float
    best_val_accuracy: float
    best_epoch: int
    seconds: float
    resumed_from_epoch: int
    device: str
    amp: bool
    extra: dict[str, Any] = field(default_factory=dict)


def _device(config: TrainConfig) -> tuple[str, bool]:
    import torch

    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but no CUDA device is available; expected cpu or auto")
    if config.amp == "on" and not device.startswith("cuda"):  # "auto" is off on a CPU; "on" asked for it
        raise ConfigError(f"--amp on needs a CUDA device; this run trains on {device!r} (expected --amp auto or off)")
    amp = device.startswith("cuda") and config.amp != "off"
    return device, amp


def _workers(config: TrainConfig) -> int:
    if config.workers is not None:
        return config.workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cores - 1))


def _worker_init(_: int) -> None:
    import torch

    torch.set_num_threads(1)  # a loader process decodes and crops one image at a time


def _loader(dataset: AugmentedImages, batches: list[list[int]], workers: int, pin: bool) -> Iterator[Any]:
    import torch

    loader = torch.utils.data.DataLoader(dataset, batch_sampler=batches, num_workers=workers, pin_memory=pin,
                                         persistent_workers=False, worker_init_fn=_worker_init if workers else None)
    try:
        yield from loader
    except EdgeNASError as e:
        raise _unwrapped(e) from None


def _unwrapped(e: EdgeNASError) -> EdgeNASError:
    """A worker's error as it was raised there: torch re-raises it with the worker's whole traceback as
    its message, which is not the one line the CLI promises."""
    lines = e.message.strip().splitlines()
    if len(lines) < 2 or "DataLoader worker" not in lines[0]:
        return e
    line = lines[-1]
    prefix = f"{type(e).__module__}.{type(e).__name__}: "
    line = line.removeprefix(prefix)
    hint = ("replace or remove the file, then run the same command again: training resumes from its last "
            "finished epoch") if isinstance(e, DatasetError) else e.hint
    return type(e)(line, hint=hint)


def evaluate(model: torch.nn.Module, dataset: AugmentedImages, *, batch_size: int = 256, device: str = "cpu",
             workers: int = 0, label_smoothing: float = 0.0) -> tuple[float, float]:
    """(mean cross-entropy, top-1 accuracy in %) of ``model`` on ``dataset`` (eval mode, no augmentation)."""
    import torch

    if len(dataset) == 0:
        return math.nan, math.nan
    batches = [list(range(i, min(i + batch_size, len(dataset)))) for i in range(0, len(dataset), batch_size)]
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for x, y in _loader(dataset, batches, workers, False):
            x, y = x.to(device), y.to(device)
            logits = model(x).float()
            loss_sum += float(torch.nn.functional.cross_entropy(logits, y, label_smoothing=label_smoothing,
                                                                reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            n += len(y)
    return loss_sum / n, 100.0 * correct / n


def _fresh_model(space: SearchSpace, arch: Arch, task: DatasetSpec, seed: int) -> Any:
    import torch

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(derive_seed(seed, "init") % (2**63))
        return space.build_model(arch, task)
    finally:
        torch.random.set_rng_state(state)


def _optimizer(model: Any, config: TrainConfig) -> Any:
    import torch

    decay = [p for p in model.parameters() if p.ndim > 1]
    plain = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": config.weight_decay},
                            {"params": plain, "weight_decay": 0.0}],
                           lr=config.peak_lr, momentum=config.momentum, nesterov=config.nesterov)


def train_network(*args: Any, **kwargs: Any) -> TrainOutcome:
    """:func:`_train_network` with ``config.threads`` torch threads (the caller's count restored after)."""
    import torch

    threads = kwargs["config"].threads
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train_network(*args, **kwargs)
    finally:
        torch.set_num_threads(before)


def _train_network(space: SearchSpace, arch: Arch, task: DatasetSpec, *, train_data: ImageData,
                  train_idx: np.ndarray, val_data: ImageData, val_idx: np.ndarray, config: TrainConfig,
                  epochs: int, out_dir: Path, fingerprint: dict[str, Any],
                  on_step: Callable[[int, int, int, float], None] | None = None,
                  on_epoch: Callable[[EpochRecord], None] | None = None) -> TrainOutcome:
    """Train ``arch`` for ``task`` for ``epochs`` epochs, checkpointing to ``out_dir/checkpoint.pt`` after
    every epoch (atomically) and resuming from it when its ``fingerprint`` matches.

    Raises:
        ConfigError: a checkpoint of another run in ``out_dir``; too few training images.
    """
    import torch

    device, amp = _device(config)
    n_train = len(train_idx)
    batch = min(config.batch_size, n_train)
    if batch < 2:
        raise ConfigError(f"{n_train} training image(s); expected at least 2 (add images or lower --val-share)")
    steps = n_train // batch
    workers = _workers(config)
    train_set = AugmentedImages(train_data, train_idx, resolution=task.input_size, channels=task.channels,
                                train=True, crop_scale=config.crop_scale, flip=config.flip, seed=config.seed)
    val_set = AugmentedImages(val_data, val_idx, resolution=task.input_size, channels=task.channels, train=False)
    model = _fresh_model(space, arch, task, config.seed)
    opt = _optimizer(model, config)
    curve: list[dict[str, float]] = []
    start, seconds_before = 0, 0.0
    ckpt_path = out_dir / CHECKPOINT_NAME
    fp_text = json.dumps(fingerprint, sort_keys=True)
    if ckpt_path.exists():
        try:
            ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many kinds on a damaged file
            raise ConfigError(f"cannot read checkpoint {str(ckpt_path)!r} ({str(exc).splitlines()[0][:80]}); "
                              "delete it to start over") from None
        if not isinstance(ckpt, dict) or ckpt.get("fingerprint") != fp_text:
            raise ConfigError(f"{str(out_dir)!r} holds the checkpoint of another training run (other arch, data or "
                              "recipe); expected the same options to resume it, or another --out / delete it")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start = int(ckpt["epoch"])
        curve = [dict(r) for r in ckpt["curve"]]
        seconds_before = float(ckpt["seconds"])
    model.to(device)
    # optimizer state follows the model to the device
    for st in opt.state.values():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                st[k] = v.to(device)
    scaler = torch.amp.GradScaler("cuda") if amp else None
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    t_run = time.perf_counter()
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        train_set.epoch = epoch
        order = np.random.default_rng(derive_seed(config.seed, "order", str(epoch))).permutation(n_train)
        batches = [order[i * batch:(i + 1) * batch].tolist() for i in range(steps)]
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for s, (x, y) in enumerate(_loader(train_set, batches, workers, device.startswith("cuda"))):
            lr = lr_at(config, epoch * steps + s, steps, epochs)
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            opt.zero_grad(set_to_none=True)
            if amp:
                with torch.autocast("cuda", dtype=torch.float16):
                    logits = model(x)
                    loss = loss_fn(logits.float(), y)
                scaler.scale(loss).backward()  # type: ignore[union-attr]
                scaler.step(opt)  # type: ignore[union-attr]
                scaler.update()  # type: ignore[union-attr]
            else:
                logits = model(x)
                loss = loss_fn(logits, y)
                loss.backward()
                opt.step()
            loss_sum += loss.detach().item() * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
            if on_step is not None:
                on_step(epoch, s + 1, steps, loss_sum / seen)
        val_loss, val_acc = evaluate(model, val_set, device=device, workers=workers,
                                     label_smoothing=config.label_smoothing)
        dt = time.perf_counter() - t0
        record = {"epoch": epoch + 1, "lr": lr_at(config, (epoch + 1) * steps - 1, steps, epochs),
                  "train_loss": loss_sum / max(1, seen), "train_accuracy": 100.0 * correct / max(1, seen),
                  "val_loss": val_loss, "val_accuracy": val_acc, "seconds": dt}
        curve.append(record)
        elapsed = seconds_before + time.perf_counter() - t_run
        cpu_model = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        atomic_write_bytes(ckpt_path, state_dict_bytes({
            "fingerprint": fp_text, "epoch": epoch + 1, "model": cpu_model,
            "optimizer": _cpu_state(opt.state_dict()), "curve": curve, "seconds": elapsed}))
        if on_epoch is not None:
            done = epoch + 1 - start
            per = (time.perf_counter() - t_run) / done
            on_epoch(EpochRecord(epoch + 1, epochs, record["lr"], record["train_loss"], record["train_accuracy"],
                                 val_loss, val_acc, seen / dt if dt > 0 else math.nan, dt, per * (epochs - epoch - 1)))
    model.to("cpu").eval()
    finite = [r for r in curve if math.isfinite(r["val_accuracy"])]
    best = max(finite, key=lambda r: r["val_accuracy"]) if finite else {"val_accuracy": math.nan, "epoch": 0}
    return TrainOutcome(model, tuple(curve), curve[-1]["val_accuracy"] if curve else math.nan,
                        best["val_accuracy"], int(best["epoch"]), seconds_before + time.perf_counter() - t_run,
                        start, device, amp)


def _cpu_state(state: Any) -> Any:
    import torch

    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {k: _cpu_state(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu_state(v) for v in state)
    return state

