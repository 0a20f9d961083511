"""The one ``--data`` reader (edgenas.data): what it accepts, and one clear error per bad input."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from edgenas.cli import cli
from edgenas.data import open_data
from edgenas.errors import DatasetError
from edgenas.proxies.engine import make_inputs
from edgenas.spaces import DatasetSpec


def _folder(root: Path, classes: int = 3, per: int = 4, size: int = 12, mode: str = "RGB", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for k in range(classes):
        d = root / f"class{k}"
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per):
            shape = (size, size, 3) if mode == "RGB" else (size, size)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(d / f"{i}.png")
    return root


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header declares width x height (no pixel data needed to trigger the size check)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) +
                     chunk(b"IEND", b""))


def test_class_folders_give_labels_classes_and_channels(tmp_path) -> None:
    d = open_data(_folder(tmp_path / "rgb"))
    assert (len(d), d.num_classes, d.channels, d.size) == (12, 3, 3, (12, 12))
    assert d.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4 and d.classes == ("class0", "class1", "class2")
    g = open_data(_folder(tmp_path / "gray", mode="L"))
    assert g.channels == 1 and g.load([0, 5], size=16).shape == (2, 1, 16, 16)


def test_train_and_val_folders(tmp_path) -> None:
    _folder(tmp_path / "d" / "train", per=3)
    _folder(tmp_path / "d" / "val", per=2, seed=1)
    assert len(open_data(tmp_path / "d")) == 9
    assert len(open_data(tmp_path / "d", split="val")) == 6


def test_mixed_sizes_are_resized(tmp_path) -> None:
    root = _folder(tmp_path / "m", size=12)
    Image.fromarray(np.full((30, 20, 3), 200, np.uint8)).save(root / "class0" / "big.png")
    d = open_data(root)
    x = d.load(range(len(d)), size=16)
    assert x.shape == (13, 3, 16, 16) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1


def test_large_folder_is_streamed_not_loaded(tmp_path, monkeypatch) -> None:
    import edgenas.data as data_mod

    root = _folder(tmp_path / "big", classes=2, per=100, size=8)
    opened: list[str] = []
    real = data_mod._open_image
    monkeypatch.setattr(data_mod, "_open_image", lambda f: (opened.append(str(f)), real(f))[1])
    d = open_data(root)
    assert len(d) == 200 and len(opened) <= 64  # a sample of headers, not every image
    opened.clear()
    make_inputs(DatasetSpec("t", 2, 16, 3), seed=0, batch_size=4, data=d)
    assert len(opened) == 4  # only the batch is decoded


def test_one_by_one_rgb_images_are_nhwc(tmp_path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (5, 1, 1, 3), dtype=np.uint8)
    np.save(tmp_path / "a.npy", x)
    d = open_data(tmp_path / "a.npy")
    assert d.channels == 3 and d.size == (1, 1)


def test_fewer_images_than_the_batch_says_which_batch_works(tmp_path) -> None:
    np.save(tmp_path / "few.npy", np.random.default_rng(0).random((3, 3, 8, 8), dtype=np.float32))
    with pytest.raises(DatasetError, match="--batch-size 3 works"):
        make_inputs(DatasetSpec("t", 2, 8, 3), seed=0, batch_size=4, data=tmp_path / "few.npy")
    x, _ = make_inputs(DatasetSpec("t", 2, 8, 3), seed=0, batch_size=3, data=tmp_path / "few.npy")
    assert x.shape == (3, 3, 8, 8)


def test_labels_beyond_the_dataset_are_an_error_not_wrapped(tmp_path) -> None:
    np.savez(tmp_path / "d.npz", x=np.random.default_rng(0).random((6, 3, 8, 8)), y=np.arange(6))
    with pytest.raises(DatasetError, match="class label 5 .* 3 classes"):
        make_inputs(DatasetSpec("t", 3, 8, 3), seed=0, batch_size=6, data=tmp_path / "d.npz")


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, expected message part): every cause of a bad --data input."""
    out: dict[str, tuple[Path, str]] = {}
    rng = np.random.default_rng(0)
    good = rng.random((4, 3, 8, 8)).astype(np.float32)

    (tmp / "text.npy").write_text("hi")
    out["text npy"] = (tmp / "text.npy", "not a readable .npy")
    np.save(tmp / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    out["object array"] = (tmp / "obj.npy", "Python objects")
    import pickle

    (tmp / "pickled.npy").write_bytes(pickle.dumps(good))
    out["pickled npy"] = (tmp / "pickled.npy", "not a readable .npy")
    np.save(tmp / "trunc.npy", good)
    data = (tmp / "trunc.npy").read_bytes()
    (tmp / "trunc.npy").write_bytes(data[:-100])
    out["truncated npy"] = (tmp / "trunc.npy", "truncated or corrupt")
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 3, 1000, 333), }"
    header += b" " * (118 - len(header)) + b"\n"
    (tmp / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + b"\0" * 64)
    out["header of 1e12 elements"] = (tmp / "huge.npy", "truncated or corrupt")
    (tmp / "bad.npz").write_bytes(b"PK\x03\x04garbage")
    out["corrupt npz"] = (tmp / "bad.npz", "not a readable .npz")
    np.savez(tmp / "strlab.npz", x=good, y=np.array(["a", "b", "a", "b"]))
    out["string labels"] = (tmp / "strlab.npz", "expected integer class labels")
    np.savez(tmp / "nanlab.npz", x=good, y=np.array([0, 1, np.nan, 1]))
    out["NaN labels"] = (tmp / "nanlab.npz", "not whole numbers")
    np.save(tmp / "nan.npy", np.full((4, 3, 8, 8), np.nan, np.float32))
    out["all NaN"] = (tmp / "nan.npy", "non-finite")
    np.save(tmp / "const.npy", np.ones((4, 3, 8, 8), np.float32))
    out["constant"] = (tmp / "const.npy", "every value is 1")
    np.save(tmp / "over.npy", np.full((4, 3, 8, 8), 1e300))
    out["overflowing float32"] = (tmp / "over.npy", "non-finite")
    np.save(tmp / "complex.npy", good.astype(np.complex64))
    out["complex"] = (tmp / "complex.npy", "expected real numbers")
    np.save(tmp / "empty.npy", np.zeros((0, 3, 8, 8), np.float32))
    out["empty npy"] = (tmp / "empty.npy", "holds no images")
    bomb = tmp / "bomb"
    (bomb / "a").mkdir(parents=True)
    (bomb / "b").mkdir()
    _png_header_only(bomb / "a" / "0.png", 20000, 20000)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(bomb / "b" / "0.png")
    out["20000x20000 png"] = (bomb, "too large .Image size .400000000 pixels")
    both = _folder(tmp / "both", classes=2, per=1)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(both / "top.png")
    out["images at root and in class folders"] = (both, "both at its top")
    fifo_dir = tmp / "fifo"
    (fifo_dir / "a").mkdir(parents=True)
    (fifo_dir / "b").mkdir()
    os.mkfifo(fifo_dir / "a" / "0.png")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(fifo_dir / "b" / "0.png")
    out["fifo image"] = (fifo_dir, "not a regular file")
    (tmp / "undecodable").mkdir()
    (tmp / "undecodable" / "x.png").write_bytes(b"not a png")
    out["undecodable image"] = (tmp / "undecodable", "cannot read image")
    return out


CAUSES = ["text npy", "object array", "pickled npy", "truncated npy", "header of 1e12 elements", "corrupt npz",
          "string labels", "NaN labels", "all NaN", "constant", "overflowing float32", "complex", "empty npy",
          "20000x20000 png", "images at root and in class folders", "fifo image", "undecodable image"]


@pytest.mark.parametrize("cause", CAUSES)
def test_each_bad_input_is_one_clear_error(tmp_path, cause) -> None:
    path, message = _bad_inputs(tmp_path)[cause]
    with pytest.raises(DatasetError, match=message):
        open_data(path)


def test_bad_data_on_the_cli_is_one_line_exit_2(tmp_path) -> None:
    (tmp_path / "t.npy").write_text("hi")
    res = CliRunner().invoke(cli, ["proxies", "score", "6111", "--proxy", "naswot", "--batch-size", "4", "--data",
                                   str(tmp_path / "t.npy")])
    assert res.exit_code == 2 and "not a readable .npy" in res.output and "Traceback" not in res.output


def test_wide_gray_images_keep_their_values(tmp_path) -> None:
    """16-bit and float gray images used to be clipped to 8 bits by PIL (a mid-gray 16-bit PNG read as white,
    a float TIFF in [0, 1] as black)."""
    ramp = np.linspace(0, 1, 64, dtype=np.float64).reshape(8, 8)
    for k in range(2):
        d = tmp_path / f"c{k}"
        d.mkdir()
        Image.fromarray((ramp * 65535).round().astype(np.uint16)).save(d / "a.png")
        Image.fromarray(ramp.astype(np.float32), mode="F").save(d / "b.tiff")
    data = open_data(tmp_path)
    assert data.channels == 1
    modes = {Path(f).suffix: Image.open(f).mode for f in data.files}
    assert modes[".png"].startswith("I") and modes[".tiff"] == "F"
    for i, f in enumerate(data.files):
        x = data.load([i])[0, 0]
        assert x == pytest.approx(ramp, abs=1e-4), f
        assert data.load([i], 16)[0, 0].mean() == pytest.approx(0.5, abs=0.02)


def test_array_pixels_scale_by_their_type_or_are_refused(tmp_path) -> None:
    x16 = np.random.default_rng(0).integers(0, 65536, (6, 1, 8, 8)).astype(np.uint16)
    y = np.array([0, 1] * 3)
    np.savez(tmp_path / "u16.npz", x=x16, y=y)
    assert open_data(tmp_path / "u16.npz").load(range(6)) == pytest.approx(x16 / 65535.0, abs=1e-6)
    np.savez(tmp_path / "i64.npz", x=x16.astype(np.int64), y=y)
    with pytest.raises(DatasetError, match=r"i64.npz\[x\] has dtype int64; expected uint8 .0..255. or uint16"):
        open_data(tmp_path / "i64.npz")


def test_one_hot_labels_are_named_as_such(tmp_path) -> None:
    x = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "onehot.npz", x=x, y=np.eye(3)[[0, 1, 2, 0, 1, 2]])
    with pytest.raises(DatasetError, match=r"has shape \(6, 3\); expected one class index per image.*argmax"):
        open_data(tmp_path / "onehot.npz")
    np.savez(tmp_path / "column.npz", x=x, y=np.array([[0], [1], [2], [0], [1], [2]]))  # (N, 1) is fine
    assert list(open_data(tmp_path / "column.npz").labels) == [0, 1, 2, 0, 1, 2]


def test_labels_with_gaps_are_said(tmp_path, caplog) -> None:
    import logging

    x = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "gaps.npz", x=x, y=np.array([0, 3, 6, 0, 3, 6]))
    with caplog.at_level(logging.WARNING, logger="edgenas.data"):
        data = open_data(tmp_path / "gaps.npz")
    assert len(data.classes) == 7 and "labels run to 6, but 4 of those 7 classes have no image (e.g. 1, 2, 4, 5)" \
        in caplog.text
