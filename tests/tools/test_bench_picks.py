"""tools/bench_picks.py end to end on the shipped CIFAR-10 score table: one target, one budget."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCORES = ROOT / "benchmarks" / "scores" / "nb201_cifar10_b16_s0.csv.gz"


@pytest.mark.skipif(not SCORES.exists(), reason="score table not shipped")
def test_one_case_gaps_bounds_and_baselines(tmp_path: Path) -> None:
    out = tmp_path / "picks.json"
    cmd = [sys.executable, str(ROOT / "tools" / "bench_picks.py"), "--scores", f"cifar10={SCORES}",
           "--targets", "jetson-tx2,pixel2,not-a-target", "--percentiles", "50", "--seeds", "0", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, timeout=300)
    doc = json.loads(out.read_text())
    assert len(doc["cases"]) == 2 and len(doc["skipped"]) == 1 and "not-a-target" in doc["skipped"][0]
    from edgenas.spaces import get_space

    space = get_space("nb201")
    for case in doc["cases"]:
        assert not case["held_out"]  # cifar10 is the selection dataset
        for name, acc in case["acc"].items():
            assert case["gap_pp"][name] == pytest.approx(case["oracle_acc"] - acc)
            assert case["gap_pp"][name] >= 0.0, name  # everything picked is feasible
        for idx in (case["pick_index"], case["bound_index"], *case["baseline_index"].values()):
            assert not space.is_degenerate(space.from_index(idx))
    s = doc["summary"]["cifar10"]
    assert s["cases"] == 2 and 0.0 <= s["share_worse_than_max_flops"] <= 1.0
    q = doc["ranking"][0]["ranking"]
    assert set(q) == {"structure_prior", "flops", "params", "az_expressivity", "sed", "edgenas_transfer"}
    assert all(-1.0 <= v["kendall_tau"] <= 1.0 and 0.0 <= v["top10_precision"] <= 1.0 for v in q.values())
    merged = tmp_path / "merged.json"
    subprocess.run([sys.executable, str(ROOT / "tools" / "bench_picks.py"), "--merge", str(out), str(out),
                    "--out", str(merged)], check=True, capture_output=True, text=True, cwd=ROOT, timeout=120)
    m = json.loads(merged.read_text())
    mp = m["summary"]["cifar10"]["pick"]
    assert m["summary"]["cifar10"]["cases"] == 4 and (mp["median"], mp["worst"]) == (s["pick"]["median"], s["pick"]["worst"])
