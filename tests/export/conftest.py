"""Shared fixtures: one small exported NB201 model per test session (export is ~1 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

ARCHS = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
    "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # all-zero cell: output does not depend on x
)


@pytest.fixture(scope="session")
def exported_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgenas.export.bundle import export_bundle
    from edgenas.export.sources import Candidate
    from edgenas.spaces import get_space

    space = get_space("nb201")
    out = tmp_path_factory.mktemp("export") / "out"
    export_bundle([Candidate(space.parse(ARCHS[0]), 1)], space=space, dataset="cifar10", out_dir=out)
    return out


@pytest.fixture(scope="session")
def onnx_model(exported_dir: Path) -> Path:
    return exported_dir / "rank01" / "model.onnx"


@pytest.fixture(scope="session")
def calibration_npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 images (3 x 32 x 32, uniform in [0, 1]) with labels, as a user's .npz."""
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("cal") / "cal.npz"
    np.savez(path, x=rng.random((24, 3, 32, 32)).astype(np.float32), y=rng.integers(0, 10, 24))
    return path


@pytest.fixture(scope="session")
def int8_dir(tmp_path_factory: pytest.TempPathFactory, calibration_npz: Path) -> Path:
    """ARCHS[0] exported as int8 ONNX (model.int8.onnx beside the fp32 model.onnx)."""
    from edgenas.export.bundle import export_bundle
    from edgenas.export.sources import Candidate
    from edgenas.spaces import get_space

    space = get_space("nb201")
    out = tmp_path_factory.mktemp("export8") / "out"
    export_bundle([Candidate(space.parse(ARCHS[0]), 1)], space=space, dataset="cifar10", out_dir=out,
                  precision="int8", calibration_data=calibration_npz)
    return out
