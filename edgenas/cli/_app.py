"""Top-level click group: lazy subcommands and uniform one-line errors (exit code 2)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from .._version import __version__
from ..errors import EdgeNASError

# name -> "module:attribute"; a command whose module is absent is simply not listed
_COMMANDS: dict[str, str] = {
    "spaces": "edgenas.cli.spaces_cmd:spaces",
    "arch": "edgenas.cli.arch_cmd:arch",
    "proxies": "edgenas.cli.proxies_cmd:proxies",
    "targets": "edgenas.cli.targets_cmd:targets",
    "cost": "edgenas.cli.cost_cmd:cost",
    "profile": "edgenas.cli.profile_cmd:profile",
    "fit": "edgenas.cli.fit_cmd:fit",
    "search": "edgenas.cli.search_cmd:search",
    "train": "edgenas.cli.train_cmd:train",
    "export": "edgenas.cli.export_cmd:export",
    "validate": "edgenas.cli.validate_cmd:validate",
}


#: longest word of an error line shown whole (a 100,000-character arch string is echoed in part)
_LONGEST_WORD = 200


def _fail(message: str, hint: str | None = None, code: int = 2) -> None:
    words = str(message).split()  # one line, always
    msg = " ".join(w if len(w) <= _LONGEST_WORD else f"{w[:80]}...[{len(w):,} characters]...{w[-20:]}" for w in words)
    if hint:
        msg += f" (hint: {' '.join(hint.split())})"
    click.echo(f"error: {msg}", err=True)
    sys.exit(code)


class EdgeNASGroup(click.Group):
    """Lazily imports subcommands; turns every error into one line on stderr and exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n, ref in _COMMANDS.items() if importlib.util.find_spec(ref.split(":")[0]) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        ref = _COMMANDS.get(cmd_name)
        if ref is None or cmd_name not in self.list_commands(ctx):
            return None
        module, attr = ref.split(":")
        return getattr(importlib.import_module(module), attr)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from ..errors import UnknownNameError

            raise UnknownNameError("command", name, self.list_commands(ctx))
        return super().resolve_command(ctx, args)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        debug = os.environ.get("EDGENAS_DEBUG") == "1"
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except EdgeNASError as exc:
            if debug:
                raise
            _fail(exc.message, exc.hint, exc.exit_code)
        except (KeyboardInterrupt, click.exceptions.Abort):
            _fail("interrupted", code=130)
        except click.ClickException as exc:
            if debug:
                raise
            _fail(exc.format_message(), code=2)
        except OSError as exc:
            if debug:
                raise
            where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
            _fail(f"{exc.strerror or exc}{where}", code=2)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=EdgeNASGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="edgenas")
def cli() -> None:
    """edgenas: find neural networks you can ship to an edge device.

    Training-free accuracy proxies x measured latency tables -> Pareto front under your budgets.
    Set EDGENAS_DEBUG=1 for full tracebacks.
    """


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that cleanup runs as for Ctrl-C (workers stopped,
    the store closed, nothing half-written)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def main() -> None:
    """Console-script entry point."""
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    cli.main(prog_name="edgenas")
