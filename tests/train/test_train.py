"""``edgenas train``: the recipe, the split, resumable training with identical weights, model folders."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import edgenas
from edgenas.cli import cli
from edgenas.errors import ConfigError
from edgenas.train.data import AugmentedImages, split_indices
from edgenas.train.recipe import TrainConfig, lr_at
from edgenas.train.run import halving_rounds

FAST = {"batch_size": 8, "workers": 0, "warmup_epochs": 0.5}


def _toy_folder(root: Path, classes: int = 3, per: int = 8, size: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for k in range(classes):
        d = root / f"c{k}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per):
            a = rng.integers(0, 60, (size, size), dtype=np.uint8)
            a[2 * k:2 * k + 2, :] = 255  # the class is where the bright band is
            Image.fromarray(a).save(d / f"{i}.png")
    return root


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> tuple[Path, Path]:
    """A finished search (fake scores and latency) on an 8-px, 3-class grayscale task of nb201."""
    from edgenas.search.config import SearchConfig
    from edgenas.search.run import run_search
    from tests.search._fakes import fakes

    tmp = tmp_path_factory.mktemp("train")
    data = _toy_folder(tmp / "toy")
    run = tmp / "run"
    run_search(SearchConfig(data=str(data), resolution=8, evaluations=4, population=4, noise_seeds=0, out=str(run)),
               **fakes())
    return run, data


def test_lr_warms_up_then_decays_to_zero() -> None:
    cfg = TrainConfig(batch_size=256, warmup_epochs=1)
    lrs = [lr_at(cfg, s, 10, 5) for s in range(50)]
    assert lrs[0] == pytest.approx(0.1 / 11) and max(lrs) == pytest.approx(0.1)
    assert lrs[10] == pytest.approx(0.1) and lrs[-1] < 1e-3
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # cosine: never rises after the warm-up


def test_split_is_stratified_and_seeded() -> None:
    labels = np.repeat(np.arange(4), 10)
    tr, va = split_indices(labels, 0.2, seed=3)
    assert len(va) == 8 and np.bincount(labels[va]).tolist() == [2, 2, 2, 2]
    assert not set(tr) & set(va) and len(tr) + len(va) == 40
    assert (split_indices(labels, 0.2, seed=3)[1] == va).all() and not (split_indices(labels, 0.2, seed=4)[1] == va).all()


def test_augmentation_is_a_function_of_seed_epoch_and_index(tmp_path) -> None:
    from edgenas.data import open_data

    d = open_data(_toy_folder(tmp_path / "t"))
    ds = AugmentedImages(d, range(len(d)), resolution=12, channels=1, train=True, seed=1)
    a, ya = ds[3]
    b, _ = ds[3]
    ds.epoch = 1
    c, _ = ds[3]
    assert a.shape == (1, 12, 12) and ya == 0 and torch.equal(a, b) and not torch.equal(a, c)
    ev = AugmentedImages(d, range(len(d)), resolution=8, channels=3, train=False)
    assert ev[0][0].shape == (3, 8, 8)  # gray images for a 3-channel network: gray in every channel


def test_interrupted_training_resumes_to_identical_weights(toy_run, tmp_path) -> None:
    run, data = toy_run
    ref = edgenas.train(str(run), data=str(data), epochs=3, **FAST)
    assert ref.model_dir == run / "train" / "pick" and not ref.already_trained
    want = torch.load(ref.model_dir / "model.pt", weights_only=True)
    doc = json.loads((ref.model_dir / "train.json").read_text())
    assert len(doc["curve"]) == 3 and doc["recipe"]["lr"] == pytest.approx(0.1 * 8 / 256)
    assert doc["recipe"]["momentum"] == 0.9 and doc["recipe"]["nesterov"] and doc["recipe"]["label_smoothing"] == 0.1
    assert not (ref.model_dir / "checkpoint.pt").exists()
    # the same command again: nothing trained
    assert edgenas.train(str(run), data=str(data), epochs=3, **FAST).already_trained

    # the same run interrupted after its first epoch, then the same command
    other = tmp_path / "run2"
    import shutil

    shutil.copytree(run, other, ignore=shutil.ignore_patterns("train"))

    def stop(member, record) -> None:
        if record.epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        edgenas.train(str(other), data=str(data), epochs=3, on_epoch=stop, **FAST)
    assert (other / "train" / "pick" / "checkpoint.pt").exists() and not (other / "train" / "pick" / "model.pt").exists()
    res = edgenas.train(str(other), data=str(data), epochs=3, **FAST)
    assert res.resumed_from_epoch == 1
    got = torch.load(res.model_dir / "model.pt", weights_only=True)
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    # a different recipe does not silently continue another run's checkpoint
    with pytest.raises(KeyboardInterrupt):
        edgenas.train(str(other), data=str(data), epochs=3, rank=2, on_epoch=stop, **FAST)
    with pytest.raises(ConfigError, match="checkpoint of another training run"):
        edgenas.train(str(other), data=str(data), epochs=4, rank=2, **FAST)


def test_trained_model_loads_as_a_plain_module(toy_run) -> None:
    run, data = toy_run
    res = edgenas.train(str(run), data=str(data), epochs=3, **FAST)
    model = edgenas.load_model(str(res.model_dir))
    meta = json.loads((res.model_dir / "model.json").read_text())
    assert meta["weights"] == "trained" and meta["task"] == {"name": "toy", "num_classes": 3, "input_size": 8,
                                                              "channels": 1}
    with torch.no_grad():
        assert model(torch.rand(2, 1, 8, 8)).shape == (2, 3)


def test_train_cli_prints_one_line_per_epoch_off_a_tty(toy_run) -> None:
    run, data = toy_run
    res = CliRunner().invoke(cli, ["train", str(run), "--data", str(data), "--epochs", "2", "--rank", "1",
                                   "--batch-size", "8", "--workers", "0"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if " epoch " in ln]
    assert len(lines) == 2 and "img/s" in lines[0] and "ETA" in lines[0] and "val" in lines[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--epochs", "0"], "epochs=0 is invalid"),
    (["--arch", "1", "--rank", "1"], "give one of"),
    (["--lr", "-1"], "lr=-1.0 is invalid"),
    (["--amp", "on", "--device", "cpu"], "--amp on needs a CUDA device"),
])
def test_bad_train_options_are_one_clear_error(toy_run, args, message) -> None:
    run, data = toy_run
    res = CliRunner().invoke(cli, ["train", str(run), "--data", str(data), *args])
    assert res.exit_code == 2 and message in res.output


def test_data_of_another_task_is_refused(toy_run, tmp_path) -> None:
    run, _ = toy_run
    other = _toy_folder(tmp_path / "four", classes=4)
    with pytest.raises(Exception, match="4 classes but the run's task 'toy' has 3"):
        edgenas.train(str(run), data=str(other), epochs=1, **FAST)


def test_successive_halving_rounds() -> None:
    assert halving_rounds(1, 4) == [(1, 4)]
    assert halving_rounds(3, 4) == [(3, 2), (2, 4)]
    assert halving_rounds(10, 8) == [(10, 1), (5, 2), (3, 4), (2, 8)]


@pytest.mark.slow
def test_kill_9_during_training_then_the_same_command_gives_identical_weights(toy_run, tmp_path) -> None:
    import shutil

    run, data = toy_run
    ref = edgenas.train(str(run), data=str(data), epochs=3, **FAST)
    want = torch.load(ref.model_dir / "model.pt", weights_only=True)
    other = tmp_path / "killed"
    shutil.copytree(run, other, ignore=shutil.ignore_patterns("train"))
    cmd = [sys.executable, "-m", "edgenas", "train", str(other), "--data", str(data), "--epochs", "3",
           "--batch-size", "8", "--workers", "0", "--warmup-epochs", "0.5", "--threads", "1"]  # as the reference
    env = {**os.environ, "PYTHONPATH": str(Path(edgenas.__file__).parent.parent)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = other / "train" / "pick" / "checkpoint.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not (other / "train" / "pick" / "train.json").exists()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    got = torch.load(other / "train" / "pick" / "model.pt", weights_only=True)
    assert all(torch.equal(got[k], want[k]) for k in want)
    assert math.isfinite(json.loads((other / "train" / "pick" / "train.json").read_text())["val_accuracy"])


def test_rerank_trains_the_best_members_briefly_and_records_why(toy_run) -> None:
    run, data = toy_run
    res = edgenas.train(str(run), data=str(data), epochs=1, top=2, budget_epochs=1, **FAST)
    doc = json.loads((run / "train" / "rerank.json").read_text())
    assert doc["top"] == 2 and doc["rounds"] == [{"candidates": 2, "epochs": 1}]
    assert len(doc["runs"]) == 2 and {r["member"] for r in doc["runs"]} <= {"pick", "rank01", "rank02"}
    best = max(doc["runs"], key=lambda r: r["val_accuracy"])  # the first of equals: the proxy's order
    assert doc["winner_arch"] == res.arch == best["arch"]
    assert "best validation accuracy" in doc["why"] and res.rerank == doc
    assert (res.model_dir / "model.pt").exists()


@pytest.mark.parametrize("workers", [0, 1])
def test_an_unreadable_image_is_one_line_naming_it(toy_run, tmp_path, workers) -> None:
    """The reader checks a sample of the headers up front; a broken file it did not sample fails when a loader
    decodes it, and from a worker process torch used to put the worker's traceback in the message."""
    import shutil

    from edgenas.data import open_data

    run, _ = toy_run
    run = Path(shutil.copytree(run, tmp_path / "run"))  # the shared run stays untouched
    data = _toy_folder(tmp_path / "toy", per=30)
    files = open_data(data).files
    sampled = set(np.unique(np.linspace(0, len(files) - 1, num=64).astype(int)))
    bad = Path(files[min(set(range(len(files))) - sampled)])
    bad.write_bytes(b"")
    assert open_data(data).files == files  # not among the headers checked up front
    res = CliRunner().invoke(cli, ["train", str(run), "--data", str(data), "--epochs", "1", "--rank", "1",
                                   "--batch-size", "8", "--workers", str(workers)])
    assert res.exit_code == 2, res.output
    err = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and str(bad) in err[0] and "Traceback" not in res.output, res.output


def test_a_retrain_cut_before_its_record_is_never_taken_for_the_earlier_run(toy_run, tmp_path, monkeypatch) -> None:
    """A retrain with another recipe replaces model.pt, then train.json: killed between the two, the earlier
    run's train.json used to vouch for the new weights (the same command said 'already trained', export
    shipped them under the earlier run's accuracy)."""
    import shutil

    from edgenas.errors import ExportError
    from edgenas.train import run as run_mod

    run, data = toy_run
    other = tmp_path / "run"
    shutil.copytree(run, other, ignore=shutil.ignore_patterns("train"))
    first = edgenas.train(str(other), data=str(data), epochs=1, **FAST)
    write = run_mod.atomic_write_text

    def cut(path, text, *a, **k):  # noqa: ANN001, ANN002, ANN003
        if Path(path).name == "train.json":
            raise KeyboardInterrupt
        return write(path, text, *a, **k)

    monkeypatch.setattr(run_mod, "atomic_write_text", cut)
    with pytest.raises(KeyboardInterrupt):
        edgenas.train(str(other), data=str(data), epochs=1, lr=0.05, **FAST)
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="checkpoint of another training run"):  # not "already trained"
        edgenas.train(str(other), data=str(data), epochs=1, **FAST)
    again = edgenas.train(str(other), data=str(data), epochs=1, lr=0.05, **FAST)  # the cut run finishes
    assert not again.already_trained and again.model_dir == first.model_dir
    assert json.loads((again.model_dir / "train.json").read_text())["recipe"]["lr"] == 0.05
    # weights that are not the ones model.json was written with are refused, not loaded
    torch.save({k: v * 0 for k, v in torch.load(again.model_dir / "model.pt", weights_only=True).items()},
               again.model_dir / "model.pt")
    with pytest.raises(ExportError, match="model.pt' is not the weights model.json describes"):
        edgenas.load_model(again.model_dir)


def test_a_relative_data_path_from_another_folder_is_named(tmp_path, monkeypatch) -> None:
    from edgenas.search.config import SearchConfig
    from edgenas.search.run import run_search
    from tests.search._fakes import fakes

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    _toy_folder(Path("toy"))
    run_search(SearchConfig(data="toy", resolution=8, evaluations=4, population=4, noise_seeds=0, out="run"),
               **fakes())
    monkeypatch.chdir(tmp_path / "b")
    with pytest.raises(ConfigError, match="the run's --data 'toy' is relative to the folder its search ran in"):
        edgenas.train(str(tmp_path / "a" / "run"), epochs=1, **FAST)


def test_weights_trained_for_an_arch_off_the_front_export_from_their_folder(toy_run, tmp_path) -> None:
    """`train --arch` wrote weights no export could find (the run's export took the pick, random-init); the
    model folder is an export source now, and train says which command takes the weights."""
    import shutil

    from edgenas.cli.train_cmd import export_command

    run, data = toy_run
    run = Path(shutil.copytree(run, tmp_path / "run", ignore=shutil.ignore_patterns("train")))
    res = edgenas.train(str(run), data=str(data), arch="6111", epochs=1, **FAST)
    assert res.member.startswith("arch-")
    assert export_command(run, res) == f"edgenas export {res.model_dir}"
    exp = edgenas.export(str(res.model_dir), out=str(tmp_path / "e"))
    m = exp.manifest["models"][0]
    assert m["weights"] == "trained" and m["arch"] == res.arch
    got = edgenas.load_model(tmp_path / "e" / "rank01")
    want = edgenas.load_model(res.model_dir)
    assert all(torch.equal(a, b) for a, b in zip(got.state_dict().values(), want.state_dict().values()))
    assert export_command(run, type(res)(**{**res.__dict__, "member": "rank02"})) == f"edgenas export {run} --rank 2"
