"""The ``edgenas`` command line. Each command lives in its own module and is imported lazily."""

from __future__ import annotations

from ._app import cli, main

__all__ = ["cli", "main"]
