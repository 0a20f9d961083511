"""tools/peak_rss.py: the peak memory of a command's whole process tree, children included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "peak_rss.py"
# a parent holding ~150 MiB and a child holding ~250 MiB at the same time
CHILD = "import time; a = bytearray(250 << 20); time.sleep(1.0)"
PARENT = (f"import subprocess, sys, time; a = bytearray(150 << 20); "
          f"p = subprocess.Popen([sys.executable, '-c', {CHILD!r}]); p.wait(); sys.exit(3)")


def test_peak_rss_sums_the_tree_and_passes_the_exit_code() -> None:
    r = subprocess.run([sys.executable, str(TOOL), "--interval", "0.05", "--", sys.executable, "-c", PARENT],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3, r.stderr
    doc = json.loads(r.stderr.strip().splitlines()[-1])
    assert doc["exit_code"] == 3 and doc["processes"] == 2
    assert 250 <= doc["largest_rss_mib"] < 320
    assert 400 <= doc["rss_mib"] < 520 and 380 <= doc["pss_mib"] <= doc["rss_mib"]
