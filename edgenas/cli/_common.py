"""Options and helpers shared by several commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from .._json import dumps
from ..errors import ArchError
from ..spaces import Arch, SearchSpace, get_space, list_spaces


def space_option(default: str = "nb201") -> Callable:
    return click.option("--space", "space_name", default=default, show_default=True,
                        help=f"Search space ({', '.join(list_spaces())}) or a space definition FILE.yaml.")


def dataset_option() -> Callable:
    return click.option("--dataset", default=None,
                        help="Dataset of the space (nb201: cifar10 | cifar100 | ImageNet16-120; "
                             "default: the space's first).")


def archs_options(f: Callable) -> Callable:
    f = click.argument("archs", nargs=-1)(f)
    f = click.option("--archs-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="File with one arch per line ('#' comments allowed).")(f)
    return f


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON only.")


def resolve_space(space_name: str, dataset: str | None) -> tuple[SearchSpace, str]:
    """The space and a validated dataset name (the space's first dataset by default)."""
    space = get_space(space_name)
    ds = dataset or next(iter(space.datasets))
    space.dataset(ds)
    return space, ds


def read_archs(space: SearchSpace, archs: Sequence[str], archs_file: Path | None) -> list[Arch]:
    """Parse archs from arguments and/or a file; at least one is required."""
    texts = list(archs)
    if archs_file is not None:
        from .._read import read_text

        lines = read_text(archs_file, what="--archs-file", max_bytes=64 * 2**20).splitlines()
        texts += [ln.split("#", 1)[0].strip() for ln in lines]
        texts = [t for t in texts if t]
    if not texts:
        raise ArchError("no architecture given: pass ARCH arguments or --archs-file FILE")
    return [space.parse(t) for t in texts]


def echo_json(obj: Any) -> None:
    """Print strict JSON (NaN/inf become null) to stdout."""
    click.echo(dumps(obj))


def console() -> Any:
    from rich.console import Console

    return Console()


def print_fit(c: Any, fit: Any) -> None:
    """The cross-validated error of every latency model of an ``edgenas fit`` / ``profile`` result (* = stored)."""
    for m, r in fit.cv.items():
        mark = "*" if m == fit.method else " "
        c.print(f"{mark} {m:>15}: {r['folds']}-fold held-out: within ±10 % {100 * r['within_10']:.0f} %, "
                f"MAPE {r['mape']:.1f} %, tau {r['kendall_tau']:.3f}")
    if fit.note:
        c.print(f"note: {fit.note}")


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (a progress bar draws there; a log gets plain lines instead)."""
    import sys

    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class LogProgress:
    """Plain progress lines on stderr for a log, where a progress bar shows nothing until the end:
    one line when a stage starts, then at most one every ``every`` seconds, and one when it ends.

    Called as ``progress(stage, done, total, detail="")``.
    """

    def __init__(self, command: str, every: float = 20.0, clock: Callable[[], float] | None = None) -> None:
        import time

        self.command = command
        self.every = every
        self._clock = clock or time.monotonic
        self._t0 = self._clock()
        self._last: dict[str, float] = {}
        self._ended: set[str] = set()

    def __call__(self, stage: str, done: int, total: int, detail: str = "") -> None:
        now = self._clock()
        last = self._last.get(stage)
        end = total > 0 and done >= total
        if stage in self._ended or not (last is None or end or now - last >= self.every):
            return
        self._last[stage] = now
        if end:
            self._ended.add(stage)
        click.echo(f"{self.command}: {stage} {done:,}/{total:,}{detail} ({now - self._t0:.0f} s)", err=True)
