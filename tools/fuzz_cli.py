#!/usr/bin/env python
"""Fuzz the CLI with N invalid inputs and count the outcomes (a table and JSON).

Draws cases from the strategies of ``tests/cli/fuzz_inputs.py`` (arch strings and indices, target
names and YAML files, latency tables, budgets and counts, ``--archs-file`` contents, output paths,
score tables and journals, stored JSON, user homes, Ray addresses, ``--data`` arrays and image
folders), round-robin over the families, each case in a fresh folder and ``$EDGENAS_HOME``, and
classifies every outcome: ``clear`` (exit 2, one ``error:`` line), ``traceback``, ``accepted``
(exit 0 on garbage), ``hang`` (still running after the per-case timeout) or ``unclear`` (another
exit code or message). Target: 0 tracebacks, 0 accepted, 0 hangs.

Example (docs/benchmarks.md):
    python tools/fuzz_cli.py --inputs 10000 --out benchmarks/results/fuzz_cli.json
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _run_share(seed: int, positions: list[int], names: list[str]) -> tuple[dict[str, Counter], list[dict]]:
    """Run the cases at ``positions`` (family = position modulo the number of families)."""
    import random

    from hypothesis.errors import NonInteractiveExampleWarning

    from tests.cli.fuzz_inputs import CASES, run_case

    warnings.simplefilter("ignore", NonInteractiveExampleWarning)
    random.seed(seed)
    counts: dict[str, Counter] = {name: Counter() for name in names}
    failures: list[dict] = []
    t0 = time.perf_counter()
    for n, i in enumerate(positions, start=1):
        name = names[i % len(names)]
        case = CASES[name].example()
        with tempfile.TemporaryDirectory() as d:
            outcome = run_case(case, Path(d))
        counts[name][outcome.kind] += 1
        if outcome.kind != "clear" and len(failures) < 200:
            failures.append({"family": name, "case": repr(case)[:400], "kind": outcome.kind, "detail": outcome.detail})
        if n % 500 == 0:
            print(f"[share {seed}] {n} inputs, {time.perf_counter() - t0:.0f} s, not clear: "
                  f"{sum(sum(v for k, v in c.items() if k != 'clear') for c in counts.values())}", flush=True)
    return counts, failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="processes (each draws its own share of the inputs)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--families", default=None, help="comma-separated families (default: all)")
    args = ap.parse_args(argv)

    from edgenas._json import write_json_atomic
    from tests.cli.fuzz_inputs import CASE_TIMEOUT_S, CASES

    names = sorted(CASES) if args.families is None else [n.strip() for n in args.families.split(",")]
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        ap.error(f"unknown families {unknown}; expected some of {sorted(CASES)}")
    t0 = time.perf_counter()
    shares = [(args.seed * 1000 + j, list(range(j, args.inputs, args.jobs)), names) for j in range(args.jobs)]
    if args.jobs == 1:
        parts = [_run_share(*shares[0])]
    else:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.jobs) as pool:
            parts = list(pool.map(_run_share, *zip(*shares)))
    counts: dict[str, Counter] = {name: Counter() for name in names}
    failures: list[dict] = []
    for part_counts, part_failures in parts:
        for name, c in part_counts.items():
            counts[name].update(c)
        failures += part_failures
    failures = failures[:200]
    total = Counter()
    for c in counts.values():
        total.update(c)
    print(f"\n{'family':>15} {'inputs':>7} {'clear':>7} {'traceback':>9} {'accepted':>8} {'hang':>5} {'unclear':>7}")
    for name in names:
        c = counts[name]
        print(f"{name:>15} {sum(c.values()):>7} {c['clear']:>7} {c['traceback']:>9} {c['accepted']:>8} {c['hang']:>5} "
              f"{c['unclear']:>7}")
    print(f"{'all':>15} {sum(total.values()):>7} {total['clear']:>7} {total['traceback']:>9} {total['accepted']:>8} "
          f"{total['hang']:>5} {total['unclear']:>7}")
    doc = {"schema_version": 1, "benchmark": "fuzz_cli", "inputs": args.inputs, "seed": args.seed,
           "what": "CLI invocations on invalid input; clear = exit 2 with one 'error:' line; hang = still running "
                   f"after {CASE_TIMEOUT_S:g} s",
           "totals": dict(total), "per_family": {k: dict(v) for k, v in counts.items()}, "failures": failures,
           "wall_s": round(time.perf_counter() - t0, 1),
           "made_by": "tools/fuzz_cli.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "host": {"python": platform.python_version(), "machine": platform.machine()}}
    write_json_atomic(args.out, doc)
    print(f"wrote {args.out}")
    return 0 if total["traceback"] == 0 and total["accepted"] == 0 and total["hang"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
