"""Assertions shared by test modules."""

from __future__ import annotations

from typing import Any


def assert_one_error(r: Any, *needles: str) -> str:
    """A click result that is one clear user error: exit 2, one ``error:`` line on stderr holding ``needles``."""
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr
    return r.stderr
