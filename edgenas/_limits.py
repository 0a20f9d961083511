"""Upper bounds checked before any work starts (a typo must not start a run of days or exhaust
memory): the one source of the limits of budgets, counts, seeds, batches and workers.

:mod:`edgenas.search.config` re-exports them; the CLI options, ``edgenas.search(...)``, the proxy
engine and the exporter all check against these.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError

__all__ = ["BUDGET_BOUNDS", "MAX_BATCH", "MAX_CALIBRATION_SAMPLES", "MAX_EVALUATIONS", "MAX_LATENCY_MS",
           "MAX_MACS_M", "MAX_PARAMS_M", "MAX_RUNS", "MAX_SEED", "MAX_THREADS", "MAX_TIMEOUT_S", "MAX_WORKERS",
           "MIN_MEASURED_MS", "MIN_WORKSPACE_MIB", "check_float", "check_int"]

MAX_EVALUATIONS = 1_000_000
MAX_BATCH = 4096
MAX_WORKERS = 256
MAX_SEED = 2**63 - 1
#: validate: timed / warm-up runs, intra-op threads, seconds allowed for a remote run
MAX_RUNS = 1_000_000
MAX_THREADS = 1024
MAX_TIMEOUT_S = 86_400.0
#: export: TensorRT builder workspace (MiB) at least; int8 calibration images at most
MIN_WORKSPACE_MIB = 16
MAX_CALIBRATION_SAMPLES = 100_000
#: budget upper bounds (a budget above them is a typo, not a constraint): 1e6 ms = 17 minutes per
#: image; 1e6 M params = 1e12 parameters; 1e6 M MACs = 1e12 MACs per image
MAX_LATENCY_MS = 1e6
MAX_PARAMS_M = 1e6
MAX_MACS_M = 1e6
#: the smallest measured latency taken (1 us; tables store 6 decimals of ms, so a smaller one would be
#: written as 0, which every table loader refuses)
MIN_MEASURED_MS = 1e-3
#: budget field -> (bound, unit in messages)
BUDGET_BOUNDS = {"max_latency_ms": (MAX_LATENCY_MS, "ms"), "max_params_m": (MAX_PARAMS_M, "M params"),
                 "max_macs_m": (MAX_MACS_M, "M MACs")}


def check_int(name: str, v: Any, lo: int, hi: int, expected: str | None = None) -> None:
    """:class:`ConfigError` naming ``name`` unless ``v`` is an int in ``lo..hi`` (bools refused)."""
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ConfigError(f"{name}={v!r} is invalid; expected {expected or f'an integer {lo}..{hi:,}'}")


def check_float(name: str, v: Any, lo: float, hi: float, unit: str = "") -> None:
    """:class:`ConfigError` naming ``name`` unless ``v`` is a finite number in ``lo..hi`` (bools refused)."""
    import math

    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise ConfigError(f"{name}={v!r} is invalid; expected a number{' of ' + unit if unit else ''} in {lo:g}..{hi:g}")
