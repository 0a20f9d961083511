"""Trained weights flow on: export exports them (export.json says so), validate reports accuracy beside latency."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

import edgenas
from edgenas.cli import cli
from tests.train.test_train import FAST

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A search on a 5-class 3-channel 16-px task with its pick trained for 2 epochs."""
    from PIL import Image

    from edgenas.search.config import SearchConfig
    from edgenas.search.run import run_search
    from tests.search._fakes import fakes

    tmp = tmp_path_factory.mktemp("texp")
    data = tmp / "five"
    rng = np.random.default_rng(1)
    for k in range(5):
        (data / f"k{k}").mkdir(parents=True)
        for i in range(6):
            a = rng.integers(0, 80, (16, 16, 3), dtype=np.uint8)
            a[:, 3 * k:3 * k + 3] = 255
            Image.fromarray(a).save(data / f"k{k}" / f"{i}.png")
    run = tmp / "run"
    torch.set_num_threads(1)
    kw = fakes()
    kw["cost_models"] = {"jetson-tx2": kw["cost_models"]["fake-tx2"]}  # a known target name for export's checks
    run_search(SearchConfig(data=str(data), resolution=16, evaluations=3, population=3, noise_seeds=0, out=str(run)),
               **kw)
    edgenas.train(str(run), data=str(data), epochs=2, **FAST)
    return run, data


def test_export_takes_the_trained_weights_and_says_so(trained_run, tmp_path) -> None:
    run, data = trained_run
    res = edgenas.export(str(run), out=str(tmp_path / "exp"))
    (m,) = res.manifest["models"]
    assert m["weights"] == "trained" and m["val_accuracy"] is not None and set(m["files"]) == {"onnx", "config",
                                                                                              "weights"}
    assert res.manifest["task"] == {"name": "five", "num_classes": 5, "input_size": 16, "channels": 3}
    assert not res.notes  # trained: no "untrained" note
    proto = onnx.load(str(tmp_path / "exp" / m["files"]["onnx"]))
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    out_dims = [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 16, 16] and out_dims == [1, 5]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["weights"] == "trained"
    # the exported torch weights are the trained ones
    trained = torch.load(run / "train" / "pick" / "model.pt", weights_only=True)
    exported = torch.load(tmp_path / "exp" / m["files"]["weights"], weights_only=True)
    assert all(torch.equal(trained[k], exported[k]) for k in trained)
    # random-init on request, said once
    res2 = edgenas.export(str(run), out=str(tmp_path / "exp2"), weights="random-init")
    assert res2.manifest["models"][0]["weights"] == "random-init" and len(res2.notes) == 1
    assert "untrained" in res2.notes[0]


def test_validate_reports_accuracy_of_torch_and_onnx(trained_run, tmp_path) -> None:
    run, data = trained_run
    edgenas.export(str(run), out=str(tmp_path / "exp"))
    res = CliRunner().invoke(cli, ["validate", str(tmp_path / "exp"), "--target", "cpu", "--runs", "3", "--warmup",
                                   "1", "--data", str(data)])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "exp" / "validation.json").read_text())  # next to the export by default
    rows = {r["format"]: r for r in doc["accuracy"]}
    assert set(rows) == {"torch", "onnx"} and all(r["n_images"] == 30 and r["weights"] == "trained" for r in rows.values())
    assert abs(rows["onnx"]["delta_torch_pp"]) <= 0.1 and 0 <= rows["torch"]["top1_pct"] <= 100
    assert "top-1 accuracy" in res.output and doc["models"][0]["parity_ok"]


def test_array_labels_against_named_classes_are_matched_by_position_and_said(trained_run, tmp_path, caplog) -> None:
    import logging

    from edgenas.export.accuracy import load_eval_images

    run, _ = trained_run
    x = np.random.default_rng(0).random((4, 3, 16, 16)).astype(np.float32)
    np.savez(tmp_path / "t.npz", x=x, y=np.array([0, 1, 2, 3]))
    with caplog.at_level(logging.WARNING, logger="edgenas.export.accuracy"):
        _, labels = load_eval_images(tmp_path / "t.npz", input_shape=(3, 16, 16), num_classes=5,
                                     classes=["k0", "k1", "k2", "k3", "k4"])
    assert list(labels) == [0, 1, 2, 3]
    assert "matched to the model's classes by position (0 = 'k0', 1 = 'k1'" in caplog.text


def test_export_train_validate_api_share_the_cli_defaults() -> None:
    import inspect

    from edgenas.export.run import ExportConfig, ValidateConfig
    from edgenas.train.recipe import TrainConfig

    for fn, cfg in ((edgenas.train, TrainConfig()), (edgenas.export, ExportConfig()), (edgenas.validate, ValidateConfig())):
        params = inspect.signature(fn).parameters
        for name, value in vars(cfg).items():
            assert name in params, (fn.__name__, name)  # every option of the command is a keyword of the call
            assert params[name].default == value, (fn.__name__, name)


def test_a_litert_export_of_a_trained_run_lists_its_torch_weights_too(trained_run, tmp_path, monkeypatch) -> None:
    """The LiteRT entry replaced the files dict the torch weights had just filled: model.pt / model.json were in
    the folder but not in export.json, and the next export into the folder refused it."""
    from edgenas.export import bundle, litert

    def fake_litert(space, cand, dataset, sub, precision, calib, **kw):  # the converter takes ~40 s per model
        (sub / "model.tflite").write_bytes(b"TFL3 stand-in")
        return {"files": {"litert": f"{sub.name}/model.tflite"}, "litert": {"stand_in": True}}

    monkeypatch.setattr(bundle, "_litert_model", fake_litert)
    monkeypatch.setattr(litert, "load_converter", lambda: None)  # CI has no converter installed
    run, _ = trained_run
    out = tmp_path / "lite"
    res = edgenas.export(str(run), out=str(out), format="litert")
    files = res.manifest["models"][0]["files"]
    assert set(files) == {"litert", "config", "weights"}
    assert all((out / f).is_file() for f in files.values())
    assert edgenas.export(str(run), out=str(out), format="litert").manifest["models"][0]["files"] == files
