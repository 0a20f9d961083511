"""The training recipe: :class:`TrainConfig`, the one source of every ``edgenas train`` default.

The standard recipe (every knob an option): SGD with Nesterov momentum 0.9, peak learning rate
0.1 x batch / 256, linear warm-up then cosine decay to 0 (per step), weight decay 5e-4 on conv and
linear weights (not on BN and biases), label smoothing 0.1, random-resized-crop + horizontal flip on
the training images, plain resize for evaluation. Inputs are pixels in [0, 1] (no mean/std
normalisation: every space's stem conv is followed by batch norm, which absorbs an input shift and
scale), so the exported model takes images as they are.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from .._limits import MAX_BATCH, MAX_SEED, check_int
from ..errors import ConfigError

__all__ = ["TrainConfig", "lr_at"]

#: most epochs of one training run (a typo must not start a run of months)
MAX_EPOCHS = 10_000


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. Keyword names are those of ``edgenas train``.

    Attributes:
        epochs: training epochs of the final network.
        batch_size: images per step.
        lr: peak learning rate (``None`` = 0.1 x batch_size / 256).
        momentum: SGD momentum (Nesterov).
        nesterov: Nesterov momentum.
        weight_decay: L2 on conv / linear weights.
        label_smoothing: cross-entropy label smoothing.
        warmup_epochs: linear warm-up from 0 to ``lr`` (then cosine decay to 0); at most a quarter of
            the run.
        crop_scale: smallest area share of the random-resized crop (largest: 1).
        flip: random horizontal flips (turn off for data whose mirror image is another class).
        val_share: share of each class held out for validation when the data has no ``val/`` folder.
        seed: seed of the initialisation, the split, the order and the augmentation.
        device: ``auto``, ``cpu`` or ``cuda[:i]``.
        amp: mixed precision on CUDA (``auto`` = on with CUDA; never on CPU).
        workers: data-loading worker processes (``None`` = one per core beyond the first, at most 4).
        threads: torch intra-op threads of the training process (``None`` = torch's default; 1 on a
            shared or small CPU, where threads waiting on each other cost more than they give).
        top: with ``budget_epochs``, how many of the best feasible front members to train briefly.
        budget_epochs: epochs of the longest brief run of the re-rank (successive halving).
    """

    epochs: int = 30
    batch_size: int = 128
    lr: float | None = None
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup_epochs: float = 2.0
    crop_scale: float = 0.35
    flip: bool = True
    val_share: float = 0.1
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"
    workers: int | None = None
    threads: int | None = None
    top: int = 1
    budget_epochs: int = 3

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad value."""
        check_int("epochs", self.epochs, 1, MAX_EPOCHS)
        check_int("batch_size", self.batch_size, 2, MAX_BATCH)
        check_int("seed", self.seed, 0, MAX_SEED)
        check_int("top", self.top, 1, 100)
        check_int("budget_epochs", self.budget_epochs, 1, MAX_EPOCHS)
        if self.workers is not None:
            check_int("workers", self.workers, 0, 64)
        if self.threads is not None:
            check_int("threads", self.threads, 1, 1024)
        for name, lo, hi in (("momentum", 0.0, 0.999), ("weight_decay", 0.0, 1.0), ("label_smoothing", 0.0, 0.999),
                             ("warmup_epochs", 0.0, float(MAX_EPOCHS)), ("crop_scale", 0.01, 1.0),
                             ("val_share", 0.01, 0.9)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
                raise ConfigError(f"{name}={v!r} is invalid; expected a number in {lo:g}..{hi:g}")
        if self.lr is not None and (isinstance(self.lr, bool) or not isinstance(self.lr, (int, float))
                                    or not math.isfinite(self.lr) or not 0 < self.lr <= 10):
            raise ConfigError(f"lr={self.lr!r} is invalid; expected a number in (0, 10] (or none: 0.1 x batch/256)")
        if not (self.device == "auto" or self.device == "cpu" or str(self.device).startswith("cuda")):
            raise ConfigError(f"device {self.device!r} is invalid; expected auto, cpu or cuda[:i]")
        if self.amp not in ("auto", "on", "off"):
            raise ConfigError(f"amp {self.amp!r} is invalid; expected auto, on or off")

    @property
    def peak_lr(self) -> float:
        return float(self.lr) if self.lr is not None else 0.1 * self.batch_size / 256

    def recipe(self) -> dict[str, Any]:
        """What changes the trained weights (``train.json``'s ``recipe``; a resumed run must match it)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("device", "amp", "workers", "threads", "top", "budget_epochs")}
        d["lr"] = self.peak_lr
        d["optimizer"] = "sgd"
        d["schedule"] = "linear warm-up, cosine decay to 0 (per step)"
        d["augmentation"] = "random-resized-crop + horizontal flip" if self.flip else "random-resized-crop"
        return d


def lr_at(config: TrainConfig, step: int, steps_per_epoch: int, epochs: int) -> float:
    """Learning rate of global step ``step`` (0-based): linear warm-up, then cosine decay to 0. A pure
    function of the step, so a resumed run needs no scheduler state."""
    total = max(1, steps_per_epoch * epochs)
    # warm-up takes at most a quarter of a short run, so the cosine decay still reaches ~0
    warm = min(int(round(config.warmup_epochs * steps_per_epoch)), total // 4)
    peak = config.peak_lr
    if step < warm:
        return peak * (step + 1) / (warm + 1)
    progress = (step - warm) / max(1, total - warm)
    return peak * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def train_config_fields() -> tuple[str, ...]:
    return tuple(f.name for f in fields(TrainConfig))
