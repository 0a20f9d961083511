"""Shared test fixtures. Tests never need ../shared unless marked ``shared``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = Path(__file__).resolve().parent / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_shared = pytest.mark.skip(reason="../shared data not present beside the checkout")
    skip_gpu = pytest.mark.skip(reason="no CUDA device")
    skip_trt = pytest.mark.skip(reason="tensorrt not importable")
    has_gpu = None
    has_trt = None
    for item in items:
        if "shared" in item.keywords and not SHARED.is_dir():
            item.add_marker(skip_shared)
        if "gpu" in item.keywords:
            if has_gpu is None:
                import torch

                has_gpu = torch.cuda.is_available()
            if not has_gpu:
                item.add_marker(skip_gpu)
        if "tensorrt" in item.keywords:
            if has_trt is None:
                import importlib.util

                has_trt = importlib.util.find_spec("tensorrt") is not None
            if not has_trt:
                item.add_marker(skip_trt)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep user-level state (caches, runs) out of the real home directory."""
    monkeypatch.setenv("EDGENAS_HOME", str(tmp_path / "edgenas_home"))


@pytest.fixture
def test_device() -> str:
    """Device for tests that can use a GPU: EDGENAS_TEST_DEVICE (default cpu)."""
    return os.environ.get("EDGENAS_TEST_DEVICE", "cpu")


@pytest.fixture
def shared_data() -> Path:
    """Path to ../shared/data (tests using it must be marked ``shared``)."""
    return SHARED


@pytest.fixture
def data_dir() -> Path:
    """tests/data (small shipped fixtures with attribution)."""
    return DATA


def _torch_on_one_thread() -> Iterator[None]:
    # CI has 2 shared cores: intra-op threads under contention make small models several times slower
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_thread() -> Iterator[None]:
    """torch on one intra-op thread for the test (``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    yield from _torch_on_one_thread()


@pytest.fixture(scope="module")
def one_thread_module() -> Iterator[None]:
    """torch on one intra-op thread for a whole module."""
    yield from _torch_on_one_thread()
