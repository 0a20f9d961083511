from __future__ import annotations

import json

import pytest
import torch

from edgenas.errors import ExportError
from edgenas.export.onnx import build_eval_model
from edgenas.export.torch_export import export_torch, load_exported
from edgenas.spaces import get_space

from .conftest import ARCHS


def test_round_trip_rebuilds_the_exact_model(tmp_path):
    space = get_space("nb201")
    arch = space.parse(ARCHS[0])
    res = export_torch(space, arch, "cifar100", tmp_path, seed=3)
    cfg = json.loads(res.config_path.read_text())
    assert cfg["arch"] == space.format(arch) and cfg["num_classes"] == 100
    loaded = load_exported(tmp_path)
    ref = build_eval_model(space, arch, "cifar100", seed=3)
    other = build_eval_model(space, arch, "cifar100", seed=4)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), ref(x))
        assert not torch.equal(loaded(x), other(x))  # weights come from the file, not a fresh init


def test_load_exported_errors(tmp_path):
    with pytest.raises(ExportError, match="model.json"):
        load_exported(tmp_path)
    space = get_space("nb201")
    export_torch(space, space.parse(ARCHS[1]), "cifar10", tmp_path)
    (tmp_path / "model.pt").write_bytes(b"garbage")
    with pytest.raises(ExportError, match="cannot load weights"):
        load_exported(tmp_path)
