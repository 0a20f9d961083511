from __future__ import annotations

import pytest

from edgenas.errors import ValidationError
from edgenas.export.validate import check_input_shape, collect_models, validate_model


def test_validate_local_onnxruntime(onnx_model):
    r = validate_model(onnx_model, target="cpu", runs=5, warmup=2, threads=1)
    m = r.measured_ms
    assert 0 < m["min"] <= m["p50"] <= m["p90"] <= m["p99"]
    assert r.parity_reference == "torch" and r.parity_ok and r.parity_max_abs < 1e-4
    assert r.arch.startswith("|nor_conv_3x3~0|") and r.runtime == "onnxruntime" and r.host == "localhost"
    assert 0 < r.measured_cpu_ms["min"] <= r.measured_cpu_ms["p50"] <= r.measured_cpu_ms["p90"]
    if r.predicted_ms is None:
        assert r.error_pct is None and r.error_cpu_pct is None
    else:
        assert r.error_pct == pytest.approx(100 * (r.predicted_ms - m["p50"]) / m["p50"])
        c = r.measured_cpu_ms["p50"]
        assert r.error_cpu_pct == pytest.approx(100 * (r.predicted_ms - c) / c)


def test_collect_models(exported_dir, onnx_model, tmp_path):
    assert collect_models(exported_dir) == [onnx_model]
    assert collect_models(onnx_model) == [onnx_model]
    with pytest.raises(ValidationError, match="not found"):
        collect_models(tmp_path / "missing")
    with pytest.raises(ValidationError, match="holds no ONNX"):
        collect_models(tmp_path)


def test_check_input_shape():
    check_input_shape((1, 3, 32, 32), model="m", dataset_shape=(3, 32, 32), batch_size=1)
    with pytest.raises(ValidationError, match=r"dataset expects \[3, 16, 16\]"):
        check_input_shape((1, 3, 32, 32), model="m", dataset_shape=(3, 16, 16), batch_size=None)
    with pytest.raises(ValidationError, match="batch_size 1"):
        check_input_shape((8, 3, 32, 32), model="m", dataset_shape=None, batch_size=1)
    with pytest.raises(ValidationError, match="not static"):
        check_input_shape(("N", 3, 32, 32), model="m", dataset_shape=None, batch_size=None)


def test_missing_runtime_is_a_validation_error(onnx_model, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ValidationError, match="trtexec not found"):
        validate_model(onnx_model, target="cpu", runtime="trtexec", runs=2, warmup=0)


def test_paired_timing_against_the_shipped_cpu_table(onnx_model):
    from edgenas.export.validate import table_reference
    from edgenas.spaces import get_space

    ref = table_reference("cpu", get_space("nb201"), "cifar10")
    assert ref is not None and ref[1] > 0  # the shipped table was profiled with paired timing
    r = validate_model(onnx_model, target="cpu", runs=6, warmup=1, threads=1)  # paired by default
    assert r.paired_reference == ref[0] and r.measured_paired_ms > 0
    if r.predicted_ms is not None:
        assert r.error_paired_pct == pytest.approx(100 * (r.predicted_ms - r.measured_paired_ms) / r.measured_paired_ms)
    off = validate_model(onnx_model, target="cpu", runs=2, warmup=0, threads=1, paired=False)
    assert off.measured_paired_ms is None and off.paired_reference is None


def test_paired_timing_needs_one_thread_and_a_paired_table(onnx_model):
    with pytest.raises(ValidationError, match="--paired needs"):
        validate_model(onnx_model, target="cpu", runs=2, warmup=0, threads=2, paired=True)
    with pytest.raises(ValidationError, match="--paired needs"):
        validate_model(onnx_model, target="jetson", runs=2, warmup=0, threads=1, paired=True)


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.onnx", "rank01/../../x.onnx"])
def test_manifest_paths_stay_inside_the_export_folder(tmp_path, name):
    import json


    (tmp_path / "export.json").write_text(json.dumps({"models": [{"files": {"onnx": name}}]}))
    with pytest.raises(ValidationError, match="files.onnx .* is invalid; expected a path inside the export folder"):
        collect_models(tmp_path)


def test_validate_int8_onnx_runs_the_int8_file(int8_dir):
    (model,) = collect_models(int8_dir)
    assert model.name == "model.int8.onnx"
    r = validate_model(model, target="cpu", runs=3, warmup=1, threads=1, paired=False)
    assert r.precision == "int8" and r.parity_ok and r.runtime == "onnxruntime"
    # quantized, so not the fp32 model's output, but near it in scale
    assert 1e-4 < r.parity_max_rel < 1.0


def test_litert_metadata_carries_a_user_task_and_trained_weights(tmp_path):
    """A trained LiteRT export of a task of the user's (--data): validate must see that task and the trained
    weights, as it does for ONNX, not look the task name up among the space's datasets."""
    import json

    from edgenas.export.validate import litert_metadata, meta_task
    from edgenas.spaces import get_space

    (tmp_path / "pick").mkdir()
    tflite = tmp_path / "pick" / "model.int8.tflite"
    tflite.write_bytes(b"")  # litert_metadata reads only export.json
    task = {"name": "digits", "num_classes": 10, "input_size": 224, "channels": 1}
    arch = "-".join(["k3_e1"] * 22)
    doc = {"space": "fbnet", "dataset": "digits", "task": task, "seed": 0,
           "models": [{"arch": arch, "dir": "pick", "weights": "trained", "input_shape": [1, 1, 224, 224],
                       "files": {"litert": "pick/model.int8.tflite", "litert_fp32": "pick/model.tflite"}}]}
    (tmp_path / "export.json").write_text(json.dumps(doc))
    meta = litert_metadata(tflite)
    assert meta["weights"] == "trained" and meta["precision"] == "int8"
    spec = meta_task(get_space("fbnet"), meta)
    assert (spec.num_classes, spec.input_shape) == (10, (1, 224, 224))
    del doc["task"], doc["models"][0]["weights"]  # an export of a space dataset: as before
    doc["dataset"] = "imagenet"
    (tmp_path / "export.json").write_text(json.dumps(doc))
    meta = litert_metadata(tflite)
    assert "task" not in meta and "weights" not in meta
    assert meta_task(get_space("fbnet"), meta).num_classes == 1000
