"""Subprocess entry for the kill -9 / resume test: a search with a slow fake proxy.

usage: python -m tests.search._run_fake OUT LOG DELAY_S EVALUATIONS [--resume]
"""

from __future__ import annotations

import sys

from edgenas.search import run_search
from tests.search._fakes import FakeLatency, FakeScorer, fake_size


def main(argv: list[str]) -> None:
    out, log, delay, n = argv[0], argv[1], float(argv[2]), int(argv[3])
    run_search(targets=("fake",), evaluations=n, population=16, max_latency_ms=6.0, seed=3, out=out,
               resume="--resume" in argv, scorer=FakeScorer(delay_s=delay, log_path=log),
               cost_models={"fake-tx2": FakeLatency()}, size=fake_size)


if __name__ == "__main__":
    main(sys.argv[1:])
