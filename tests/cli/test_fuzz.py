"""Property-based fuzzing of every command's inputs: invalid input is always one clear error.

A quick profile runs here (CI); ``tools/fuzz_cli.py`` runs the same strategies on 10,000 inputs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.cli.fuzz_inputs import CASES, run_case

QUICK = settings(max_examples=25, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])


#: families added for the checked reader: fewer quick cases each (a case runs a CLI command of ~0.5-3 s)
FILE_FAMILIES = ("score_table", "score_journal", "stored_json", "user_home", "ray_address", "data_input")


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_input_is_one_clear_error(name: str) -> None:
    @(QUICK if name not in FILE_FAMILIES else settings(QUICK, max_examples=6))
    @given(case=CASES[name])
    def check(case) -> None:
        with tempfile.TemporaryDirectory() as d:
            outcome = run_case(case, Path(d))
        assert outcome.kind == "clear", f"{case.what} {case.args!r}: {outcome.kind}: {outcome.detail}"

    check()
