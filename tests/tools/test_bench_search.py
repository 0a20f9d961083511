"""tools/bench_search.py end to end on shipped data: the bounds' known values and the tool's own checks
(the search's reference-rule and final-rule scores equal the vectorised rules) on a small run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCORES = ROOT / "benchmarks" / "results" / "search_scores_nb201_cifar10_edgenas_fast_b16.csv"


def _bench(tmp_path: Path, scores: Path, proxy: str) -> dict:
    out = tmp_path / f"{proxy}.json"
    cmd = [sys.executable, str(ROOT / "tools" / "bench_search.py"), "--scores", str(scores), "--proxy", proxy,
           "--seeds", "1", "--percentiles", "50", "--evaluations", "60", "--population", "12",
           "--searchers", "nsga2", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.read_text())


@pytest.mark.skipif(not SCORES.exists(), reason="score table not shipped")
def test_ensemble_run_checks_its_rules_and_reports_the_known_bound(tmp_path: Path) -> None:
    doc = _bench(tmp_path, SCORES, "edgenas_fast")
    (row,) = doc["summary"]
    assert doc["schema_version"] == 3 and row["percentile"] == 50 and row["n_feasible_classes"] == 1695
    # every feasible class ranked together (the final rule): 0.587 pp below the oracle (README table)
    assert row["exhaustive_proxy_gap_pp"] == pytest.approx(0.5867, abs=1e-3)
    assert 0.0 <= row["gap_pp_mean"] and 0.0 < row["hv_share_mean"] <= 1.0 + 1e-9


def test_true_accuracy_as_proxy_has_no_gap_when_everything_is_scored(tmp_path: Path) -> None:
    doc = _bench(tmp_path, ROOT / "benchmarks" / "nb201" / "nb201_accuracy.csv", "cifar10_test")
    (row,) = doc["summary"]
    assert row["exhaustive_proxy_gap_pp"] == pytest.approx(0.0)
    assert row["gap_pp_mean"] >= 0.0
