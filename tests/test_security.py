"""Properties docs/security.md promises, checked over the source tree."""

from __future__ import annotations

import re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "edgenas"
SOURCES = sorted(PKG.rglob("*.py"))


def _code(p: Path) -> str:
    return p.read_text(encoding="utf-8")


def test_no_pickle_and_no_unsafe_loads() -> None:
    for p in SOURCES:
        text = _code(p)
        assert not re.search(r"^\s*(import|from)\s+(pickle|cPickle|dill|marshal|shelve)\b", text, re.M), p
        assert "allow_pickle=True" not in text, p
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, f"{p}: {line.strip()}"
        # YAML only through safe loaders: safe_load, or load with a SafeLoader subclass
        for call in re.findall(r"yaml\.(?:load|unsafe_load|full_load)\([^\n]*", text):
            assert "Loader=yaml_loader(" in call, f"{p}: {call}"
        if p.name != "_read.py":  # YAML is read through edgenas._read.load_yaml (checked file, depth, keys)
            assert "yaml.safe_load(" not in text, p


def test_ssh_and_scp_never_prompt_and_end_options_before_operands() -> None:
    text = _code(PKG / "timing" / "remote.py")  # the one ssh/scp implementation (validate and profile --host)
    assert text.count('"BatchMode=yes"') >= 2 and '"--"' in text
    assert '"BatchMode=yes"' not in _code(PKG / "export" / "validate.py")  # no second copy
    assert "StrictHostKeyChecking=no" not in text and "UserKnownHostsFile=/dev/null" not in text
    for p in SOURCES:
        assert "shell=True" not in _code(p), p


def test_yaml_loader_refuses_aliases_and_duplicate_keys(tmp_path) -> None:
    import pytest

    from edgenas.errors import ConfigError
    from edgenas.hardware.targets import load_target_file

    base = "device: d\nruntime: onnxruntime\n"
    (tmp_path / "a.yaml").write_text("name: a\n" + base + "provenance: &x hi\nprofile_hint: *x\n")
    with pytest.raises(ConfigError, match="anchors and aliases"):
        load_target_file(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("name: b\nname: b\n" + base)
    with pytest.raises(ConfigError, match="duplicate key 'name'"):
        load_target_file(tmp_path / "b.yaml")
    (tmp_path / "c.yaml").write_text("name: c\n" + base + "aliases: jetson\n")
    with pytest.raises(ConfigError, match="aliases 'jetson' is invalid; expected a list"):
        load_target_file(tmp_path / "c.yaml")
    (tmp_path / "d.yaml").write_bytes(b"name: d\n\xff\xfe")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_target_file(tmp_path / "d.yaml")
