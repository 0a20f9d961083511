"""``edgenas fit`` refuses, before the fit, measurements its own table could not hold and an existing
user target it cannot read; what it writes passes its own loaders."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas.cli import cli
from tests._asserts import assert_one_error


def _measurements(path: Path, bad: str | None = None) -> Path:
    rows = [f"{i * 37},{1.0 + (i * 37 % 11) / 10:.3f}" for i in range(1, 9)]
    if bad is not None:
        rows[3] = f"{3 * 37},{bad}"
    path.write_text("\ufeffarch, latency_ms\n" + "\n".join(rows) + "\n")  # a BOM and a space in the header: taken
    return path


def _fit(home: Path, csv: Path, *extra: str):
    return CliRunner().invoke(cli, ["fit", "--measurements", str(csv), "--target", "mine", *extra],
                              env={"EDGENAS_HOME": str(home)})


@pytest.mark.parametrize("bad", ["2000000", "1e-300", "0", "-1", "inf", "nan", "x" * 200_000])
def test_latency_out_of_range_is_refused_up_front(tmp_path: Path, bad: str) -> None:
    needle = "field larger than field limit" if len(bad) > 100 else f"latency_ms {bad!r}"
    assert_one_error(_fit(tmp_path / "home", _measurements(tmp_path / "m.csv", bad)), "m.csv", "line 5", needle)
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("body, needle", [
    (b"name: mine\nname: mine\n", "duplicate key"),
    (b"name: [\n", "not valid YAML"),
    (b"!!python/object/apply:os.system [true]\n", "not valid YAML"),
    (b"name: mine\ndevice: d\nruntime: onnxruntime\ntables: [1]\n", "tables"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_an_unreadable_existing_target_is_refused_before_the_fit(tmp_path: Path, body: bytes, needle: str) -> None:
    home = tmp_path / "home"
    (home / "targets").mkdir(parents=True)
    (home / "targets" / "mine.yaml").write_bytes(body)
    t0 = time.perf_counter()
    assert_one_error(_fit(home, _measurements(tmp_path / "m.csv")), "mine.yaml", needle)
    assert time.perf_counter() - t0 < 5  # refused before the cross-validated fit (~15 s)
    assert (home / "targets" / "mine.yaml").read_bytes() == body and not (home / "latency_tables").exists()
