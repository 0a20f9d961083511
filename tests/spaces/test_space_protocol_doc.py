"""A space written only from docs/spaces.md ("The space protocol"): a Python SearchSpace whose model is a
public ``edgenas.spaces.FeatureNet`` and whose ``layers()`` use the documented op vocabulary. It is scored
with the default proxy through the public API, searched with the MACs-only target (no table), the pick
trained on a task of its own images and exported to ONNX with the trained weights, through the CLI."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import edgenas
from edgenas.cli import cli
from edgenas.errors import ArchError
from edgenas.spaces import Arch, DatasetSpec, FeatureNet, LayerSpec, SearchSpace, get_space, register_space

OPS = ("conv", "mb", "skip")
WIDTH = 8


class _Block(nn.Module):
    """ConvBlock: [1x1 expand + BN + ReLU] -> 3x3 depthwise + BN + ReLU -> 1x1 project + BN, plus the input."""

    def __init__(self, exp: int) -> None:
        super().__init__()
        mid = WIDTH * exp
        parts: list[nn.Module] = [nn.Conv2d(WIDTH, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU()]
        parts += [nn.Conv2d(mid, mid, 3, padding=1, groups=mid, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
                  nn.Conv2d(mid, WIDTH, 1, bias=False), nn.BatchNorm2d(WIDTH)]
        self.body = nn.Sequential(*parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _Net(FeatureNet):
    def __init__(self, tokens: tuple[str, ...], ds: DatasetSpec, track: bool) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(ds.channels, WIDTH, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(WIDTH, track_running_stats=track), nn.ReLU())
        # one block per searchable layer; a skip returns its input itself
        self.cells = nn.ModuleList(nn.Identity() if t == "skip" else _Block(1 if t == "conv" else 3) for t in tokens)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(WIDTH, ds.num_classes)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return h


class DocSpace(SearchSpace):
    name = "docspace"
    description = "three layers of {ConvBlock e1, ConvBlock e3, Skip}, written from docs/spaces.md"
    datasets = {"tiny": DatasetSpec("tiny", 4, 8)}  # noqa: RUF012

    @property
    def choices(self) -> tuple[tuple[str, ...], ...]:
        return (OPS,) * 3

    def parse(self, text: str) -> Arch:
        tokens = tuple(str(text).split("-"))
        if len(tokens) != 3 or any(t not in OPS for t in tokens):
            raise ArchError(f"docspace arch {text!r}: expected 3 of {', '.join(OPS)} joined by '-'")
        return Arch(self.name, tokens, "-".join(tokens))

    def format(self, arch: Arch) -> str:
        return "-".join(arch.tokens)

    def iso_key(self, arch: Arch) -> str:
        return "-".join(t for t in arch.tokens if t != "skip") or "empty"

    def layers(self, arch: Arch, dataset: str) -> list[LayerSpec]:
        ds = self.dataset(dataset)
        r = ds.input_size
        shape = (WIDTH, r, r)
        out = [LayerSpec("stem", "ConvNorm", (ds.channels, r, r), shape, (("kernel", 3), ("stride", 1), ("group", 1)))]
        for i, t in enumerate(arch.tokens, 1):
            if t == "skip":
                out.append(LayerSpec(f"layer{i:02d}", "Skip", shape, shape, (("stride", 1),)))
            else:
                exp = 1 if t == "conv" else 3
                out.append(LayerSpec(f"layer{i:02d}", "ConvBlock", shape, shape,
                                     (("exp", exp), ("kernel", 3), ("stride", 1), ("group", 1))))
        out.append(LayerSpec("avgpool", "AvgP", shape, (WIDTH, 1, 1), (("kernel", r), ("stride", 1))))
        out.append(LayerSpec("classifier", "FC", (WIDTH, 1, 1), (ds.num_classes, 1, 1)))
        return out

    def build_model(self, arch: Arch, dataset: str, **options: object) -> torch.nn.Module:
        return _Net(arch.tokens, self.dataset(dataset), bool(options.get("bn_track_running_stats", True)))


@pytest.fixture
def docspace() -> Iterator[SearchSpace]:
    from edgenas import spaces as spaces_pkg

    register_space("docspace")(DocSpace)
    try:
        yield get_space("docspace")
    finally:
        spaces_pkg._FACTORIES.remove("docspace")
        spaces_pkg._INSTANCES.pop("docspace", None)


def test_a_space_written_from_the_docs_is_scored_searched_and_exported(docspace: SearchSpace, tmp_path: Path) -> None:
    from edgenas.search.config import default_proxy

    archs = [docspace.parse(t) for t in ("conv-conv-conv", "mb-mb-mb", "skip-conv-skip", "mb-skip-conv")]
    proxy = default_proxy("docspace")
    scores = edgenas.score_archs(docspace, archs, "tiny", [proxy, "sed"], batch_size=4)
    values = [s.scores[proxy] for s in scores]
    assert all(math.isfinite(v) for v in values) and len(set(values)) > 1
    assert all(s.n_warnings == 0 for s in scores)  # every component, sed included, reads this space
    assert len({s.scores["sed"] for s in scores}) == 4

    out = tmp_path / "run"
    r = CliRunner().invoke(cli, ["search", "--space", "docspace", "--target", "macs", "--evaluations", "6",
                                 "--population", "3", "--workers", "1", "--noise-seeds", "0", "--batch-size", "4",
                                 "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "pareto.json").read_text())
    assert doc["targets"] == [] and doc["pick"]
    r = CliRunner().invoke(cli, ["export", str(out), "--out", str(tmp_path / "export")])
    assert r.exit_code == 0, r.output
    (entry,) = json.loads((tmp_path / "export" / "export.json").read_text())["models"]
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "export" / entry["files"]["onnx"]), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(1, 3, 8, 8)).astype("f4")
    assert sess.run(None, {sess.get_inputs()[0].name: x})[0].shape == (1, 4)


def test_a_space_written_from_the_docs_trains_on_a_task_and_exports_the_trained_weights(
        docspace: SearchSpace, tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(3):  # a 3-class, 8-px RGB task: the class is where the bright band is
        (tmp_path / "imgs" / f"c{k}").mkdir(parents=True)
        for i in range(6):
            a = rng.integers(0, 60, (8, 8, 3), dtype=np.uint8)
            a[2 * k:2 * k + 2] = 255
            Image.fromarray(a).save(tmp_path / "imgs" / f"c{k}" / f"{i}.png")
    run = tmp_path / "run"
    r = CliRunner().invoke(cli, ["search", "--space", "docspace", "--target", "macs", "--data", str(tmp_path / "imgs"),
                                 "--evaluations", "4", "--population", "2", "--workers", "1", "--noise-seeds", "0",
                                 "--batch-size", "4", "--out", str(run), "--json"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["train", str(run), "--data", str(tmp_path / "imgs"), "--epochs", "1",
                                 "--batch-size", "8", "--workers", "0"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["export", str(run), "--out", str(tmp_path / "export")])
    assert r.exit_code == 0, r.output
    (entry,) = json.loads((tmp_path / "export" / "export.json").read_text())["models"]
    assert entry["weights"] == "trained"
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "export" / entry["files"]["onnx"]), providers=["CPUExecutionProvider"])
    x = rng.normal(size=(1, 3, 8, 8)).astype("f4")
    assert sess.run(None, {sess.get_inputs()[0].name: x})[0].shape == (1, 3)  # the task's classes, not the space's
