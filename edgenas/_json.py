"""Strict JSON for results: NaN/inf never leak into files or stdout (they become null)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

__all__ = ["dumps", "json_safe", "write_json_atomic"]


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by None (recursively through dicts/lists)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text (``allow_nan=False`` after :func:`json_safe`)."""
    return json.dumps(json_safe(obj), indent=indent, allow_nan=False)


def write_json_atomic(path: Path, obj: Any, *, indent: int | None = 2) -> None:
    """Write strict JSON to ``path`` through a temporary file, so an interrupted run leaves no half file."""
    from ._io import atomic_write_text

    atomic_write_text(path, dumps(obj, indent=indent) + "\n")
