"""A new space needs nothing outside its own class: a toy space written here (3 positions x 3 ops)
is scored by the proxies, priced by a user-made target (a measured table in $EDGENAS_HOME, FLOPs
fit), searched, exported to ONNX and loaded back, through the public API and the CLI only. If
hardware, search or export tested a space's name, this would fail."""

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
from edgenas.spaces import Arch, DatasetSpec, LayerSpec, SearchSpace, get_space, register_space

OPS = ("conv3", "conv1", "skip")
WIDTH = 8


class _Toy(nn.Module):
    """Stem, three blocks, pooled linear classifier (the model protocol of ``build_model``)."""

    def __init__(self, tokens: tuple[str, ...], num_classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, WIDTH, 3, padding=1), nn.ReLU())
        ops = {"conv3": lambda: nn.Sequential(nn.Conv2d(WIDTH, WIDTH, 3, padding=1), nn.ReLU()),
               "conv1": lambda: nn.Sequential(nn.Conv2d(WIDTH, WIDTH, 1), nn.ReLU()), "skip": nn.Identity}
        self.blocks = nn.ModuleList(ops[t]() for t in tokens)
        self.classifier = nn.Linear(WIDTH, num_classes)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for b in self.blocks:
            feats.append(b(feats[-1]))
        return feats

    def forward_pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[-1].mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_pre_logits(x))


class ToySpace(SearchSpace):
    name = "toy"
    description = "3 positions x {conv3, conv1, skip}: 27 archs"
    datasets = {"tiny": DatasetSpec("tiny", 4, 8)}  # noqa: RUF012

    @property
    def choices(self) -> tuple[tuple[str, ...], ...]:
        return (OPS,) * 3

    def parse(self, text: str) -> Arch:
        text = str(text).strip()
        if text.isdigit():
            return self.from_index(int(text))
        tokens = tuple(text.split("-"))
        if len(tokens) != 3 or any(t not in OPS for t in tokens):
            raise ArchError(f"malformed toy arch {text!r}; expected three of {', '.join(OPS)} joined by '-'")
        return Arch(self.name, tokens, "-".join(tokens))

    def format(self, arch: Arch) -> str:
        return "-".join(arch.tokens)

    def enumerate(self, *, limit: int = 1_000_000) -> Iterator[Arch]:
        for i in range(27):
            yield self.from_index(i)

    def index(self, arch: Arch) -> int | None:
        a, b, c = (OPS.index(t) for t in arch.tokens)
        return 9 * a + 3 * b + c

    def from_index(self, index: int) -> Arch:
        if not 0 <= index < 27:
            raise ArchError(f"toy index {index} out of range; expected 0..26")
        return self.arch((OPS[index // 9], OPS[index // 3 % 3], OPS[index % 3]))

    def layers(self, arch: Arch, dataset: str) -> list[LayerSpec]:
        r = self.dataset(dataset).input_size
        shape = (WIDTH, r, r)
        return [LayerSpec("stem", "conv3", (3, r, r), shape),
                *(LayerSpec(f"block{i}", t, shape, shape) for i, t in enumerate(arch.tokens)),
                LayerSpec("classifier", "linear", (WIDTH, 1, 1), (self.dataset(dataset).num_classes, 1, 1))]

    def build_model(self, arch: Arch, dataset: str, **options) -> nn.Module:
        return _Toy(arch.tokens, self.dataset(dataset).num_classes)


def _macs(arch: Arch) -> float:
    return sum({"conv3": 9, "conv1": 1, "skip": 0}[t] for t in arch.tokens) * WIDTH * WIDTH * 64 / 1e6


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[SearchSpace]:
    """Register the toy space and a user target ``toybox`` with a measured table in $EDGENAS_HOME."""
    from edgenas import spaces as spaces_pkg
    from edgenas._paths import edgenas_home

    register_space("toy")(ToySpace)
    space = get_space("toy")
    home = edgenas_home()
    (home / "targets").mkdir(parents=True)
    (home / "latency_tables").mkdir(parents=True)
    (home / "targets" / "toybox.yaml").write_text(
        "name: toybox\ndevice: a board on the desk\nruntime: onnxruntime\n"
        "tables:\n  toy:\n    tiny: {file: toy_tiny_toybox.csv, column: ms}\n")
    meta = {"schema_version": 1, "kind": "arch_latency", "space": "toy", "dataset": "tiny", "units": "ms",
            "rows": 27, "columns": {"ms": {"device": "toybox", "runtime": "onnxruntime"}},
            "source": "made up in the test: 0.2 ms + 0.05 ms per M MACs", "license": "MIT"}
    rows = [f"{space.index(a)},{0.2 + 0.05 * _macs(a) * 1e3:.6f}" for a in space.enumerate()]
    (home / "latency_tables" / "toy_tiny_toybox.csv").write_text(
        "# " + json.dumps(meta) + "\nindex,ms\n" + "\n".join(rows) + "\n")
    try:
        yield space
    finally:
        spaces_pkg._FACTORIES.remove("toy")
        spaces_pkg._INSTANCES.pop("toy", None)


def test_toy_space_scored_costed_searched_exported(toy: SearchSpace, tmp_path: Path) -> None:
    archs = list(toy.enumerate())
    scores = edgenas.score_archs(toy, archs[:4], "tiny", ["synflow", "naswot", "params"], batch_size=4)
    assert len(scores) == 4 and all(math.isfinite(s.scores["params"]) for s in scores)

    assert "toybox" in [t.name for t in edgenas.list_targets()]  # a user target beside the shipped ones
    model = edgenas.get_cost_model("toybox", toy, "tiny", source="flops")
    lat = {toy.format(a): model.predict(a).latency_ms for a in archs}
    assert lat["conv3-conv3-conv3"] > lat["conv1-conv1-conv1"] > lat["skip-skip-skip"]

    budget = float(np.median(list(lat.values())))
    result = edgenas.search(targets=["toybox"], space="toy", dataset="tiny", proxy="synflow", latency_source="flops",
                            max_latency_ms=budget, evaluations=8, population=4, workers=1, noise_seeds=0,
                            batch_size=4, out=str(tmp_path / "run"))
    assert result.pick is not None and result.front
    assert all(c.latency_ms["toybox"] <= budget for c in result.candidates)

    r = CliRunner().invoke(cli, ["export", str(tmp_path / "run"), "--out", str(tmp_path / "export")])
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "export" / "export.json").read_text())
    (model_entry,) = manifest["models"]
    assert model_entry["arch"] == result.pick.arch
    onnx_path = tmp_path / "export" / model_entry["files"]["onnx"]
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: np.random.default_rng(0).normal(size=(1, 3, 8, 8)).astype("f4")})
    assert out[0].shape == (1, 4)


def test_whole_space_score_table_resumes_and_feeds_a_search(toy: SearchSpace, tmp_path: Path) -> None:
    table = tmp_path / "toy_scores.csv.gz"
    cmd = ["proxies", "score", "--all", "--space", "toy", "--dataset", "tiny", "--proxy", "synflow,params",
           "--batch-size", "4", "--workers", "1", "--out", str(table), "--json"]
    r = CliRunner().invoke(cli, cmd)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["classes"], doc["scored"], doc["reused"], doc["rows"]) == (27, 27, 0, 27)
    first = table.read_bytes()
    # as after kill -9: the table gone, the journal cut after 10 scores with a torn last line
    journal = tmp_path / "toy_scores.csv.gz.journal.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:11]) + "\n" + lines[11][:20])
    table.unlink()
    doc = json.loads(CliRunner().invoke(cli, cmd).stdout)
    assert (doc["scored"], doc["reused"]) == (17, 10)
    assert table.read_bytes() == first
    # the torn line was cut, not appended onto: every line of the journal is a whole record
    assert [len(json.loads(ln)) for ln in journal.read_text().splitlines()][1:] == [3] * 27

    live = edgenas.search(targets=["toybox"], space="toy", dataset="tiny", proxy="synflow", latency_source="flops",
                          evaluations=10, population=4, workers=1, noise_seeds=0, batch_size=4,
                          out=str(tmp_path / "live"))
    looked_up = edgenas.search(targets=["toybox"], space="toy", dataset="tiny", proxy="synflow",
                               latency_source="flops", evaluations=10, population=4, workers=1, noise_seeds=0,
                               batch_size=4, score_table=str(table), out=str(tmp_path / "table"))
    assert [c.arch for c in looked_up.front] == [c.arch for c in live.front]
    assert [c.score for c in looked_up.candidates] == [c.score for c in live.candidates]
    bad = CliRunner().invoke(cli, ["proxies", "score", "--all", "--space", "toy", "--dataset", "tiny", "0"])
    assert bad.exit_code == 2 and "--out" in bad.output
