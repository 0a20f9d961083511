"""Where edgenas finds its shipped data (targets, latency tables, benchmark ground truth)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["benchmarks_dir", "latency_tables_dir", "repo_root", "targets_dir"]


def repo_root() -> Path:
    """The checkout holding ``edgenas/`` (data folders live beside the package)."""
    return Path(__file__).resolve().parent.parent


def _dir(env: str, name: str) -> Path:
    override = os.environ.get(env)
    return Path(override) if override else repo_root() / name


def targets_dir() -> Path:
    """``targets/`` (override with ``EDGENAS_TARGETS_DIR``)."""
    return _dir("EDGENAS_TARGETS_DIR", "targets")


def latency_tables_dir() -> Path:
    """``latency_tables/`` (override with ``EDGENAS_LATENCY_TABLES_DIR``)."""
    return _dir("EDGENAS_LATENCY_TABLES_DIR", "latency_tables")


def benchmarks_dir() -> Path:
    """``benchmarks/`` ground-truth data (override with ``EDGENAS_BENCHMARKS_DIR``)."""
    return _dir("EDGENAS_BENCHMARKS_DIR", "benchmarks")
