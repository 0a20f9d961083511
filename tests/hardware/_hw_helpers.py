"""Helpers for hardware tests: the fixture and writers of small (possibly broken) tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "hw_nb201_cifar10_hwnasbench_50.csv"


def fixture_rows() -> list[dict[str, str]]:
    """Rows of the 50-arch HW-NAS-Bench fixture (verbatim upstream values)."""
    lines = [ln for ln in FIXTURE.read_text().splitlines() if not ln.startswith("#")]
    return list(csv.DictReader(lines))


def good_meta(**over: object) -> dict:
    meta = {"schema_version": 1, "kind": "arch_latency", "space": "nb201", "dataset": "cifar10", "units": "ms",
            "rows": 3, "columns": {"dev": {"device": "d", "runtime": "tensorrt", "precision": "fp32", "batch": 1}},
            "source": "test", "license": "CC0"}
    meta.update(over)
    return meta


def write_arch_table(path: Path, meta: dict | None = None, body: str = "index,dev\n0,1.5\n1,2.5\n2,\n") -> Path:
    path.write_text("# " + json.dumps(meta if meta is not None else good_meta()) + "\n" + body)
    return path
