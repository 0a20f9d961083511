"""The footer every benchmark tool's JSON result shares: how it was made and how long it took."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from edgenas._json import write_json_atomic


def write_result(out: Path, doc: dict, *, tool: str, argv: Sequence[str] | None, t0: float) -> int:
    """Write ``doc`` with ``made_by`` (the tool's command line) and ``wall_s`` (since ``t0``,
    a ``time.perf_counter()`` reading) to ``out`` atomically; print where; return exit code 0."""
    doc = {**doc, "made_by": f"tools/{tool} " + " ".join(argv if argv is not None else sys.argv[1:]),
           "wall_s": round(time.perf_counter() - t0, 1)}
    write_json_atomic(out, doc)
    print(f"wrote {out}")
    return 0
