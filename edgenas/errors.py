"""One error hierarchy for edgenas.

Every error a user can cause derives from :class:`EdgeNASError`. The CLI turns these into a
one-line message (plus an optional hint) and exit code 2; the traceback is shown only when
``EDGENAS_DEBUG=1``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ArchError",
    "ConfigError",
    "DatasetError",
    "DependencyError",
    "DeviceError",
    "EdgeNASError",
    "ExportError",
    "InfeasibleError",
    "LatencyTableError",
    "MissingLatencyError",
    "ProxyError",
    "UnknownNameError",
    "ValidationError",
    "did_you_mean",
]


class EdgeNASError(Exception):
    """Base class of all user-facing edgenas errors.

    Args:
        message: one line saying what is wrong, naming the bad value and what is expected.
        hint: optional one-line suggestion of what to do next.
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Close matches of ``name`` among ``choices`` (case-insensitive)."""
    choices = [str(c) for c in choices]
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(str(name).lower(), list(lowered), n=n, cutoff=0.5)
    return [lowered[h] for h in hits]


class UnknownNameError(EdgeNASError, KeyError):
    """A registry lookup failed (unknown space, proxy, target, dataset, ...)."""

    def __init__(self, kind: str, name: str, choices: Iterable[str]) -> None:
        choices = sorted(choices)
        close = did_you_mean(name, choices)
        if close:
            msg = f"unknown {kind} {name!r}; did you mean {', '.join(repr(c) for c in close)}?"
        else:
            msg = f"unknown {kind} {name!r}; expected one of: {', '.join(choices)}"
        EdgeNASError.__init__(self, msg)
        self.kind = kind
        self.name = name
        self.choices = choices

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.message


class ArchError(EdgeNASError, ValueError):
    """An architecture string is malformed or not a member of the search space."""


class DatasetError(EdgeNASError, ValueError):
    """A dataset is not supported by a search space."""


class ProxyError(EdgeNASError, RuntimeError):
    """A proxy could not produce a finite score."""


class DependencyError(EdgeNASError, ImportError):
    """An optional dependency is missing."""


class LatencyTableError(EdgeNASError, ValueError):
    """A latency table file is corrupt, has a bad header, or does not match its use."""


class MissingLatencyError(EdgeNASError, KeyError):
    """A latency table has no entry for a requested arch/op (never treated as 0 ms)."""

    def __str__(self) -> str:
        return self.message


class ConfigError(EdgeNASError, ValueError):
    """A configuration value (budget, option, config file) is invalid."""


class InfeasibleError(EdgeNASError, RuntimeError):
    """No architecture satisfies the given constraints."""


class ExportError(EdgeNASError, RuntimeError):
    """Export failed (checker, parity, engine build)."""


class DeviceError(EdgeNASError, RuntimeError):
    """A device could not be reached or could not run a model (ssh, missing runtime, full disk)."""


class ValidationError(DeviceError):
    """On-device validation failed (bad model, unreachable host, missing runtime)."""
