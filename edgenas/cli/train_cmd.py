"""``edgenas train``: train a search run's pick (or a front member) on your images with the standard recipe."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from ..train.recipe import TrainConfig
from ._common import echo_json, json_option

_D = TrainConfig()  # every option default is read from TrainConfig: the CLI and the API are one call


@click.command("train")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--arch", default=None, help="Train this arch (string or index) instead of the run's pick.")
@click.option("--rank", type=int, default=None, help="Train this front member (1 = best proxy score).")
@click.option("--data", default=None,
              help="Images: one sub-folder per class, optionally under train/ and val/ (default: the run's --data).")
@click.option("--epochs", type=int, default=_D.epochs, show_default=True, help="Training epochs.")
@click.option("--batch-size", type=int, default=_D.batch_size, show_default=True, help="Images per step.")
@click.option("--lr", type=float, default=_D.lr, help="Peak learning rate (default 0.1 x batch / 256).")
@click.option("--momentum", type=float, default=_D.momentum, show_default=True, help="SGD momentum.")
@click.option("--nesterov/--no-nesterov", default=_D.nesterov, show_default=True, help="Nesterov momentum.")
@click.option("--weight-decay", type=float, default=_D.weight_decay, show_default=True,
              help="Weight decay of conv and linear weights.")
@click.option("--label-smoothing", type=float, default=_D.label_smoothing, show_default=True)
@click.option("--warmup-epochs", type=float, default=_D.warmup_epochs, show_default=True,
              help="Linear warm-up, then cosine decay to 0.")
@click.option("--crop-scale", type=float, default=_D.crop_scale, show_default=True,
              help="Smallest area share of the random-resized crop.")
@click.option("--flip/--no-flip", default=_D.flip, show_default=True,
              help="Random horizontal flips (off for data whose mirror image is another class, e.g. digits).")
@click.option("--val-share", type=float, default=_D.val_share, show_default=True,
              help="Share of each class held out for validation when the data has no val/ folder.")
@click.option("--seed", type=int, default=_D.seed, show_default=True,
              help="Seed of the initialisation, split, order and augmentation.")
@click.option("--device", default=_D.device, show_default=True, help="auto | cpu | cuda[:i].")
@click.option("--amp", default=_D.amp, show_default=True, type=click.Choice(["auto", "on", "off"]),
              help="Mixed precision on CUDA.")
@click.option("--workers", type=int, default=_D.workers,
              help="Data-loading worker processes (default: one per core beyond the first, at most 4).")
@click.option("--threads", type=int, default=_D.threads,
              help="Torch threads of the training process (default: torch's; 1 on a shared or small CPU).")
@click.option("--top", type=int, default=_D.top, show_default=True,
              help="Re-rank: train the K best front members briefly (successive halving) and keep the best.")
@click.option("--budget-epochs", type=int, default=_D.budget_epochs, show_default=True,
              help="Re-rank: epochs of the last (longest) brief round.")
@json_option
def train(run_dir: str, arch: str | None, rank: int | None, data: str | None, as_json: bool, **options: Any) -> None:
    """Train the pick of RUN_DIR (an `edgenas search` folder) on your images.

    Recipe: SGD with Nesterov momentum 0.9, lr 0.1 x batch/256 with warm-up and cosine decay, weight decay
    5e-4, label smoothing 0.1, random-resized-crop + flip. A checkpoint is written after every epoch: after
    Ctrl-C or kill -9 the same command resumes. Writes RUN_DIR/train/<member>/model.pt, model.json and
    train.json; `edgenas export RUN_DIR` then exports the trained weights.
    """
    from ..api import train as api_train

    printer = _Progress(quiet=as_json)
    try:
        res = api_train(run_dir, arch=arch, rank=rank, data=data, on_epoch=printer.epoch, on_step=printer.step,
                        on_note=printer.note, **options)
    finally:
        printer.close()
    if as_json:
        echo_json({"member": res.member, "arch": res.arch, "model_dir": str(res.model_dir),
                   "val_accuracy": res.val_accuracy, "best_val_accuracy": res.best_val_accuracy,
                   "seconds": round(res.seconds, 3), "resumed_from_epoch": res.resumed_from_epoch,
                   "already_trained": res.already_trained, "rerank": res.rerank})
        return
    if res.already_trained:
        click.echo(f"{res.member} is already trained with these options: {res.model_dir}")
    if res.rerank is not None:
        click.echo(f"re-rank: {res.rerank['why']}")
    click.echo(f"{res.member} ({res.arch}): val accuracy {res.val_accuracy:.2f} % (best {res.best_val_accuracy:.2f} %), "
               f"{res.seconds:.0f} s; weights in {res.model_dir}; `{export_command(run_dir, res)}` exports them")


def export_command(run_dir: Any, res: Any) -> str:
    """The export command that takes this training's weights: the run for its pick, ``--rank K`` for a front
    member (a re-rank winner), the model folder for an arch off the front."""
    import shlex

    if res.member == "pick":
        return f"edgenas export {shlex.quote(str(run_dir))}"
    if res.member.startswith("rank") and res.member[4:].isdigit():
        return f"edgenas export {shlex.quote(str(run_dir))} --rank {int(res.member[4:])}"
    return f"edgenas export {shlex.quote(str(res.model_dir))}"


def _fmt_s(s: float) -> str:
    s = max(0.0, s)
    return f"{int(s // 60)}m{int(s % 60):02d}s" if s >= 60 else f"{s:.0f}s"


class _Progress:
    """A bar per epoch on a TTY (rich), one plain line per epoch otherwise (logs, CI)."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty() and not quiet
        self._bar: Any = None
        self._task: Any = None
        self._t0 = time.perf_counter()

    def step(self, member: str, epoch: int, step: int, steps: int, loss: float) -> None:
        if not self.tty:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]:.3f}"), TimeRemainingColumn(),
                                 console=Console(stderr=True), transient=True)
            self._bar.start()
        desc = f"{member} epoch {epoch + 1}"
        if self._task is None or step == 1:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._task = self._bar.add_task(desc, total=steps, loss=loss)
        self._bar.update(self._task, completed=step, loss=loss)

    def epoch(self, member: str, r: Any) -> None:
        if self.quiet:
            return
        line = (f"{member} epoch {r.epoch}/{r.epochs}  loss {r.train_loss:.3f}  train {r.train_accuracy:.1f} %  "
                f"val {r.val_accuracy:.2f} %  {r.images_per_s:.0f} img/s  lr {r.lr:.4f}  ETA {_fmt_s(r.eta_s)}")
        if self._bar is not None:
            self._bar.console.print(line)
        else:
            click.echo(line, err=True)

    def note(self, text: str) -> None:
        if not self.quiet:
            click.echo(f"note: {text}", err=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
