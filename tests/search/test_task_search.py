"""A search for a task from the user's data: the task is resolved once, recorded, and priced at its shape."""

from __future__ import annotations

import json

import numpy as np
import pytest

import edgenas
from edgenas.errors import DatasetError
from edgenas.search.config import SearchConfig, config_task, load_config, resolve_task
from edgenas.spaces import DatasetSpec, get_space


@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, x=rng.integers(0, 256, (20, 16, 16), dtype=np.uint8), y=np.arange(20) % 4)
    return path


def test_labeled_data_defines_the_task(tiny_npz) -> None:
    space = get_space("nb201")
    assert resolve_task(space, SearchConfig(data=str(tiny_npz))) == DatasetSpec("tiny", 4, 32, 1)
    assert resolve_task(space, SearchConfig(data=str(tiny_npz), resolution=64, dataset="mine")) == \
        DatasetSpec("mine", 4, 64, 1)
    # a benchmark dataset named with labeled data keeps the benchmark task (the data are proxy inputs)
    assert resolve_task(space, SearchConfig(data=str(tiny_npz), dataset="cifar10")) == space.dataset("cifar10")


def test_search_on_a_task_is_priced_as_an_estimate_and_resumable(tiny_npz, tmp_path) -> None:
    out = tmp_path / "run"
    res = edgenas.search(targets=["raspi4"], space="fbnet", data=str(tiny_npz), evaluations=3, population=3,
                         proxy="params", workers=1, noise_seeds=0, proxy_resolution=16, out=str(out))
    assert res.config.task == DatasetSpec("tiny", 4, 32, 1)
    pareto = json.loads((out / "pareto.json").read_text())
    assert pareto["task"] == {"name": "tiny", "num_classes": 4, "input_size": 32, "channels": 1}
    assert "scaled by each arch's MACs" in pareto["latency_estimates"]["raspi4"]
    assert all(m["latency_source"]["raspi4"] == "estimate" for m in pareto["members"])
    assert any("ESTIMATED" in n for n in res.notes)
    assert any("proxies score 16 x 16 px" in n for n in res.notes)
    cfg = load_config(out / "config.json")
    assert config_task(cfg) == DatasetSpec("tiny", 4, 32, 1)
    again = edgenas.search(targets=["raspi4"], space="fbnet", data=str(tiny_npz), evaluations=3, population=3,
                           proxy="params", workers=1, noise_seeds=0, proxy_resolution=16, out=str(out), resume=True)
    assert again.n_scored == 0 and again.n_reused == 3


def test_bad_data_is_refused_before_any_run_folder(tmp_path) -> None:
    (tmp_path / "t.npy").write_text("hi")
    with pytest.raises(DatasetError, match="not a readable .npy"):
        edgenas.search(targets=["jetson"], data=str(tmp_path / "t.npy"), out=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
    with pytest.raises(DatasetError, match="multiple of 4"):
        edgenas.search(targets=["jetson"], resolution=30, out=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_an_unguarded_script_scores_in_process(tmp_path, monkeypatch) -> None:
    import sys
    import types

    from edgenas.search.executors import LocalExecutor, _unguarded_main_script

    script = tmp_path / "plain.py"
    script.write_text("import edgenas\nedgenas.search(targets=['jetson'])\n")
    guarded = tmp_path / "guarded.py"
    guarded.write_text("import edgenas\nif __name__ == '__main__':\n    edgenas.search(targets=['jetson'])\n")
    fake = types.ModuleType("__main__")
    monkeypatch.setitem(sys.modules, "__main__", fake)
    fake.__file__ = str(script)
    assert _unguarded_main_script() and LocalExecutor(workers=2).workers == 1
    fake.__file__ = str(guarded)
    assert not _unguarded_main_script() and LocalExecutor(workers=2).workers == 2
    fake.__file__ = str(script)
    fake.__spec__ = types.SimpleNamespace(name="edgenas.__main__")  # python -m edgenas: never re-run by spawn
    assert not _unguarded_main_script()


def test_a_failed_first_try_leaves_no_store_behind(tmp_path) -> None:
    from edgenas.search.config import SearchConfig
    from edgenas.search.run import run_search
    from tests.search._fakes import fakes

    kw = fakes()

    def boom(archs):
        raise RuntimeError("worker lost")

    kw["scorer"].score = boom
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="worker lost"):
        run_search(SearchConfig(evaluations=4, population=4, noise_seeds=0, out=str(out)), **kw)
    assert not out.exists()
    res = run_search(SearchConfig(evaluations=4, population=4, noise_seeds=0, out=str(out)), **fakes())
    assert res.n_scored == 4


def test_a_five_class_96_px_task_exports_1x3x96x96_to_1x5_priced_at_96_px(tmp_path) -> None:
    from click.testing import CliRunner
    from PIL import Image

    from edgenas.cli import cli

    rng = np.random.default_rng(0)
    for k in range(5):
        (tmp_path / "imgs" / f"c{k}").mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(tmp_path / "imgs" / f"c{k}" / f"{i}.png")
    run = tmp_path / "run"
    r = CliRunner().invoke(cli, ["search", "--target", "jetson", "--data", str(tmp_path / "imgs"), "--resolution", "96",
                                 "--proxy", "flops", "--evaluations", "4", "--population", "2", "--noise-seeds", "0",
                                 "--workers", "1", "--batch-size", "4", "--out", str(run), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads((run / "pareto.json").read_text())
    assert doc["task"] == {"name": "imgs", "num_classes": 5, "input_size": 96, "channels": 3}
    assert "at 96 px, 5 classes" in doc["latency_estimates"]["jetson-tx2"]
    assert all(m["latency_source"]["jetson-tx2"] == "estimate" for m in doc["members"])
    r = CliRunner().invoke(cli, ["export", str(run), "--out", str(tmp_path / "export")])
    assert r.exit_code == 0, r.output
    entry = json.loads((tmp_path / "export" / "export.json").read_text())["models"][0]
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "export" / entry["files"]["onnx"]), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == [1, 3, 96, 96] and sess.get_outputs()[0].shape == [1, 5]
