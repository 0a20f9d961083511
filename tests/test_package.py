"""Package-level properties: light import, registry semantics, error messages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgenas._registry import Registry
from edgenas._rng import derive_seed
from edgenas.errors import EdgeNASError, UnknownNameError


def test_import_is_light():
    code = (
        "import sys, edgenas, edgenas.spaces, edgenas.errors;"
        "heavy = [m for m in ('torch', 'onnx', 'onnxruntime', 'tensorrt', 'matplotlib') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_import_without_optional_deps():
    code = (
        "import sys; sys.modules['tensorrt'] = None; sys.modules['matplotlib'] = None;"
        "import edgenas; from edgenas.cli import cli; from click.testing import CliRunner;"
        "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0, r.output; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_registry_duplicate_and_suggestions():
    reg: Registry[int] = Registry("thing")
    reg.add("alpha", 1)
    with pytest.raises(EdgeNASError, match="already registered"):
        reg.add("alpha", 2)
    with pytest.raises(UnknownNameError, match="did you mean 'alpha'"):
        reg.get("alpah")
    assert reg.names("al*") == ["alpha"]


def test_derive_seed_is_stable_and_order_free():
    assert derive_seed(0, "a") == derive_seed(0, "a")
    assert derive_seed(0, "a") != derive_seed(1, "a") != derive_seed(0, "b")
    assert 0 <= derive_seed(123, "x", "y") < 2**63


def test_write_json_atomic_is_strict_and_leaves_no_temp_file(tmp_path):
    import json

    from edgenas._json import write_json_atomic

    out = tmp_path / "sub" / "result.json"
    write_json_atomic(out, {"kendall_tau": float("nan"), "latency_ms": [1.5, float("inf")]})
    assert json.loads(out.read_text()) == {"kendall_tau": None, "latency_ms": [1.5, None]}
    assert [p.name for p in out.parent.iterdir()] == ["result.json"]
