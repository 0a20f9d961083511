"""The user's images: one checked, lazy reader for every ``--data`` input.

Accepted inputs:

* a folder with one sub-folder per class (``root/<class>/*.png``), optionally split as
  ``root/train/<class>/...`` and ``root/val/<class>/...``; a folder of images without class folders
  is unlabeled (proxy inputs only);
* a ``.npy`` array, or a ``.npz`` with images under ``x`` (or ``images`` / ``data``) and optional
  integer labels under ``y`` (or ``labels``); N x C x H x W, N x H x W x C or N x H x W (grayscale).

Nothing is loaded whole: :func:`open_data` reads the folder listing and the image headers it needs
(a ``.npy`` is memory-mapped), :meth:`ImageData.load` decodes only the images asked for, resized to
the asked size (images of mixed sizes are fine). Every problem is a one-line :class:`DatasetError`
naming the file and what was expected, raised by :func:`open_data` before any run store or output
exists: special files (a FIFO would block), undecodable or oversized images, object / string /
complex / truncated arrays, headers declaring more data than the file holds, non-finite or constant
pixels, labels that are not integers.
"""

from __future__ import annotations

import logging
import os
import stat
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DatasetError

__all__ = ["IMAGE_SUFFIXES", "ImageData", "open_data"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".webp", ".gif", ".tif", ".tiff")
#: largest image accepted, in pixels (a 20000 x 20000 PNG would take 1.2 GB decoded)
MAX_IMAGE_PIXELS = 40_000_000
#: most images / classes of one data set
MAX_IMAGES = 50_000_000
MAX_CLASSES = 100_000
#: a ``.npz`` member is decompressed into memory: larger ones must be a ``.npy`` (memory-mapped)
MAX_NPZ_BYTES = 4 << 30
#: elements checked per chunk when scanning an array for non-finite values
_CHUNK = 1 << 24
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F", "P;L")
#: gray modes wider than 8 bits, read at full precision (PIL's ``convert("L")`` clips them)
_WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


@dataclass(frozen=True)
class _Folder:
    files: tuple[str, ...]


class ImageData:
    """A checked data set: ``len()`` images with ``channels`` channels and optional integer labels.

    Attributes:
        path: what was opened (folder or array file).
        labels: (N,) int64 class of each image, or ``None`` (unlabeled).
        classes: class names (folder names, or ``"0"`` .. ``"K-1"`` for arrays); empty if unlabeled.
        channels: 1 (grayscale) or 3.
        size: (H, W) of the images when all share it (arrays), else of the first image (folders).
    """

    def __init__(self, path: str, *, files: Sequence[str] | None, array_spec: tuple[str, str] | None,
                 labels: np.ndarray | None, classes: Sequence[str], channels: int, size: tuple[int, int],
                 layout: str = "nchw", n: int = 0, array: np.ndarray | None = None) -> None:
        self.path = path
        self.files = tuple(files) if files is not None else None
        self._array_spec = array_spec  # (file, npz member or "") to reopen in another process
        self.labels = labels
        self.classes = tuple(classes)
        self.channels = channels
        self.size = size
        self._layout = layout
        self._n = len(self.files) if self.files is not None else n
        self._array = array

    def __len__(self) -> int:
        return self._n

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __getstate__(self) -> dict[str, Any]:
        # worker processes reopen the memory map instead of receiving a pickled copy of the array
        state = dict(self.__dict__)
        if self._array_spec is not None and self._array_spec[1] == "":
            state["_array"] = None
        return state

    def _arr(self) -> np.ndarray:
        if self._array is None:
            file, _member = self._array_spec  # type: ignore[misc]
            self._array = np.load(file, mmap_mode="r", allow_pickle=False)
        return self._array

    def subset_labels(self, indices: Sequence[int]) -> np.ndarray | None:
        return None if self.labels is None else self.labels[np.asarray(indices, dtype=np.int64)]

    def load(self, indices: Sequence[int] | np.ndarray, size: int | None = None) -> np.ndarray:
        """Images ``indices`` as float32 (n, C, size, size) in [0, 1] (uint8 / uint16 data scaled; ``size=None``:
        the native size, which all must share). Resizing is bilinear (PIL for files, torch for arrays)."""
        idx = np.asarray(indices, dtype=np.int64)
        if self.files is not None:
            return np.stack([self._load_file(int(i), size) for i in idx]) if len(idx) else \
                np.zeros((0, self.channels, size or self.size[0], size or self.size[1]), np.float32)
        raw = np.asarray(self._arr()[np.sort(idx)] if len(idx) else self._arr()[:0])
        raw = raw[np.argsort(np.argsort(idx))] if len(idx) else raw
        x = _to_float_nchw(raw, self._layout)
        if size is not None and x.shape[-2:] != (size, size) and len(x):
            import torch

            x = torch.nn.functional.interpolate(torch.from_numpy(x), size=(size, size), mode="bilinear",
                                                align_corners=False, antialias=True).numpy()
        return np.ascontiguousarray(x, dtype=np.float32)

    def load_native(self, i: int) -> np.ndarray:
        """Image ``i`` at its own size as float32 (C, H, W) in [0, 1] (C = :attr:`channels`)."""
        if self.files is not None:
            return self._load_file(i, None, native=True)
        return np.ascontiguousarray(_to_float_nchw(np.asarray(self._arr()[i:i + 1]), self._layout)[0])

    def _load_file(self, i: int, size: int | None, *, native: bool = False) -> np.ndarray:
        from PIL import Image

        f = self.files[i]  # type: ignore[index]
        im = _open_image(f)
        with im:
            if size is None and not native and im.size != (self.size[1], self.size[0]):
                raise DatasetError(f"{f}: {im.size[0]}x{im.size[1]} px while others are "
                                   f"{self.size[1]}x{self.size[0]}; expected one size, or a resolution to resize to")
            if im.mode in _WIDE_MODES:
                # 16-bit / 32-bit / float gray: PIL's convert("L") would clip them to 8 bits
                im = Image.fromarray(_wide_gray(im, f), mode="F")
                if size is not None and im.size != (size, size):
                    im = im.resize((size, size), Image.BILINEAR)
                a = np.asarray(im, dtype=np.float32)
                if self.channels == 3:
                    a = np.repeat(a[..., None], 3, axis=2)
            else:
                im = im.convert("L" if self.channels == 1 else "RGB")
                if size is not None and im.size != (size, size):
                    im = im.resize((size, size), Image.BILINEAR)
                a = np.asarray(im, dtype=np.float32) / 255.0
        return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _wide_gray(im: Any, f: str | Path) -> np.ndarray:
    """A 16-bit, 32-bit integer or float gray image as float32 in [0, 1]: integers over 65535 (the 16-bit
    range, what PNG and TIFF store), floats as they are (a float image is taken to be in [0, 1])."""
    a = np.asarray(im)
    if im.mode == "F":
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise DatasetError(f"{f} has non-finite pixel values; expected finite pixels")
        return a
    a = a.astype(np.float64)
    if a.size and (a.min() < 0 or a.max() > 65535):
        raise DatasetError(f"{f} has {im.mode!r} pixels in {a.min():g}..{a.max():g}; expected 0..65535 "
                           "(16-bit) or an 8-bit image")
    return (a / 65535.0).astype(np.float32)


def open_data(path: str | Path, *, split: str | None = None) -> ImageData:
    """Open and check ``path`` (see the module docstring); ``split`` picks ``train`` or ``val`` of a
    folder that has them (``None``: ``train`` when present, else the whole folder).

    Raises:
        DatasetError: naming the path and what was expected.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        raise DatasetError(f"data {str(p)!r} not found or not supported; expected a .npy/.npz file "
                           "or an image folder") from None
    if stat.S_ISDIR(st.st_mode):
        root = p
        if (p / "train").is_dir() and (split in (None, "train")):
            root = p / "train"
        elif split == "val":
            if not (p / "val").is_dir():
                raise DatasetError(f"data {str(p)!r} has no val/ folder; expected {p}/val/<class>/...")
            root = p / "val"
        elif split == "train":
            pass  # no split in the folder: the whole folder
        return _open_folder(root)
    if not stat.S_ISREG(st.st_mode):
        raise DatasetError(f"data {str(p)!r} is not a regular file; expected a .npy/.npz file or an image folder")
    if p.suffix == ".npy":
        return _open_npy(p, st.st_size)
    if p.suffix == ".npz":
        return _open_npz(p)
    raise DatasetError(f"data {str(p)!r} not found or not supported; expected a .npy/.npz file or an image folder")


# -- folders ---------------------------------------------------------------------------------------
def _is_image(f: Path) -> bool:
    return f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")


def _open_folder(root: Path) -> ImageData:
    try:
        entries = sorted(e for e in root.iterdir() if not e.name.startswith("."))
    except OSError as exc:
        raise DatasetError(f"cannot read image folder {str(root)!r}: {exc.strerror}") from None
    top = [e for e in entries if _is_image(e)]
    dirs = [e for e in entries if e.is_dir()]
    class_files: list[tuple[str, list[Path]]] = []
    for d in dirs:
        fs = sorted(f for f in d.rglob("*") if _is_image(f) and not any(s.startswith(".") for s in f.parts))
        if fs:
            class_files.append((d.name, fs))
    if top and class_files:
        raise DatasetError(f"image folder {str(root)!r} has images both at its top ({top[0].name}) and in class "
                           f"folders ({class_files[0][0]}/); expected one or the other")
    if not top and not class_files:
        raise DatasetError(f"image folder {str(root)!r} has no images ({', '.join(IMAGE_SUFFIXES)})")
    if class_files and len(class_files) < 2:
        raise DatasetError(f"image folder {str(root)!r} has one class folder ({class_files[0][0]}/); expected "
                           "one folder per class, at least 2")
    if len(class_files) > MAX_CLASSES:
        raise DatasetError(f"image folder {str(root)!r} has {len(class_files):,} class folders; expected at most "
                           f"{MAX_CLASSES:,}")
    files = top if top else [f for _, fs in class_files for f in fs]
    if len(files) > MAX_IMAGES:
        raise DatasetError(f"image folder {str(root)!r} has {len(files):,} images; expected at most {MAX_IMAGES:,}")
    labels = None if top else np.concatenate(
        [np.full(len(fs), k, dtype=np.int64) for k, (_, fs) in enumerate(class_files)])
    # channels and size from a spread sample of headers (a large folder is not opened whole)
    sample = np.unique(np.linspace(0, len(files) - 1, num=min(len(files), 64)).astype(int))
    gray = True
    size = (0, 0)
    for j, i in enumerate(sample):
        with _open_image(files[int(i)]) as im:
            gray = gray and im.mode in _GRAY_MODES
            if j == 0:
                size = (im.size[1], im.size[0])
    return ImageData(str(root), files=[str(f) for f in files], array_spec=None, labels=labels,
                     classes=[name for name, _ in class_files], channels=1 if gray else 3, size=size)


def _open_image(f: str | Path) -> Any:
    """A PIL image of ``f`` (header read, pixels not yet decoded), checked: a regular file, an image
    PIL can read, at most :data:`MAX_IMAGE_PIXELS` pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        st = os.stat(f)
    except OSError as exc:
        raise DatasetError(f"cannot read image {str(f)!r}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise DatasetError(f"image {str(f)!r} is not a regular file; expected an image file")
    try:
        im = Image.open(f)
    except Image.DecompressionBombError as exc:
        raise DatasetError(f"image {str(f)!r} is too large ({str(exc).split(',')[0]}); expected at most "
                           f"{MAX_IMAGE_PIXELS:,} pixels") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DatasetError(f"cannot read image {str(f)!r}: {exc}; expected a PNG/JPEG/BMP/... image") from None
    w, h = im.size
    if w < 1 or h < 1 or w * h > MAX_IMAGE_PIXELS:
        im.close()
        raise DatasetError(f"image {str(f)!r} is {w}x{h} px; expected at most {MAX_IMAGE_PIXELS:,} pixels")
    try:
        im.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        im.close()
        raise DatasetError(f"cannot decode image {str(f)!r}: {exc}") from None
    return im


# -- arrays ----------------------------------------------------------------------------------------
def _read_header(fp: Any, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    from numpy.lib import format as npf

    try:
        version = npf.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = npf.read_array_header_1_0(fp)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npf.read_array_header_2_0(fp)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, EOFError, OSError, SyntaxError, TypeError) as exc:
        raise DatasetError(f"{where} is not a readable .npy array ({exc}); expected an array saved with numpy.save")\
            from None
    if dtype.hasobject:
        raise DatasetError(f"{where} holds Python objects (dtype {dtype}); expected a numeric array")
    return tuple(int(s) for s in shape), bool(fortran), dtype


def _check_image_dtype(dtype: np.dtype, where: str) -> None:
    if dtype.kind not in "buif" or dtype.fields is not None:
        raise DatasetError(f"{where} has dtype {dtype}; expected real numbers (uint8 pixels or floats)")
    if dtype.kind in "iu" and not (dtype.kind == "u" and dtype.itemsize in (1, 2)):
        # no fixed pixel range: 0..255 and 0..65535 both occur in int64 arrays, and guessing would
        # silently scale one of them wrong
        raise DatasetError(f"{where} has dtype {dtype}; expected uint8 (0..255) or uint16 (0..65535) pixels, "
                           "or floats in [0, 1] (convert with x.astype('uint8') or x / 255.0)")


def _open_npy(p: Path, file_size: int) -> ImageData:
    where = str(p)
    with open(p, "rb") as fp:
        shape, fortran, dtype = _read_header(fp, where)
        offset = fp.tell()
    _check_image_dtype(dtype, where)
    n_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if offset + n_bytes != file_size:
        raise DatasetError(f"{where} declares shape {shape} ({n_bytes:,} bytes) but holds {file_size - offset:,} "
                           "bytes; the file is truncated or corrupt")
    layout, n, ch, size = _layout(shape, where)
    arr = np.load(p, mmap_mode="r", allow_pickle=False)
    _check_values(arr, layout, where)
    return ImageData(where, files=None, array_spec=(where, ""), labels=None, classes=(), channels=ch, size=size,
                     layout=layout, n=n)


def _open_npz(p: Path) -> ImageData:
    where = str(p)
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DatasetError(f"{where} is not a readable .npz ({exc}); expected a file saved with numpy.savez") \
            from None
    with zf:
        names = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
        key = next((k for k in ("x", "images", "data") if k in names), None)
        if key is None:
            raise DatasetError(f"{where}: no image array in .npz; expected a key 'x', 'images' or 'data', "
                               f"got {sorted(names)[:5]}")
        x = _npz_member(zf, names[key], where)
        lkey = next((k for k in ("y", "labels") if k in names), None)
        y = None if lkey is None else _npz_member(zf, names[lkey], where)
    _check_image_dtype(x.dtype, f"{where}[{key}]")
    layout, n, ch, size = _layout(x.shape, f"{where}[{key}]")
    _check_values(x, layout, f"{where}[{key}]")
    labels, classes = (None, ()) if y is None else _labels(y, n, f"{where}[{lkey}]")
    return ImageData(where, files=None, array_spec=(where, key), labels=labels, classes=classes, channels=ch,
                     size=size, layout=layout, n=n, array=x)


def _npz_member(zf: zipfile.ZipFile, name: str, where: str) -> np.ndarray:
    info = zf.getinfo(name)
    if info.file_size > MAX_NPZ_BYTES:
        raise DatasetError(f"{where}: {name} is {info.file_size / 2**30:.1f} GiB uncompressed; expected at most "
                           f"{MAX_NPZ_BYTES >> 30} GiB in a .npz (save the images as a .npy: it is memory-mapped)")
    try:
        with zf.open(name) as fp:
            shape, fortran, dtype = _read_header(fp, f"{where}:{name}")
            n_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if n_bytes > info.file_size:
                raise DatasetError(f"{where}: {name} declares shape {shape} ({n_bytes:,} bytes) but holds fewer; "
                                   "the file is truncated or corrupt")
            data = fp.read(n_bytes)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise DatasetError(f"{where}: cannot read {name} ({exc}); the .npz is corrupt") from None
    if len(data) != n_bytes:
        raise DatasetError(f"{where}: {name} is truncated ({len(data):,} of {n_bytes:,} bytes)")
    arr = np.frombuffer(data, dtype=dtype)
    return arr.reshape(shape, order="F" if fortran else "C")


def _layout(shape: tuple[int, ...], where: str) -> tuple[str, int, int, tuple[int, int]]:
    """(layout, N, channels, (H, W)) of an image array shape; NCHW vs NHWC by which reading has
    1 or 3 channels, and square images when both do (a 1x1 RGB image is NHWC, not 1 x 1 x 3)."""
    if len(shape) == 3:
        n, h, w = shape
        layout, ch = "nhw", 1
    elif len(shape) == 4:
        n = shape[0]
        nchw = shape[1] in (1, 3)
        nhwc = shape[3] in (1, 3)
        if nchw and nhwc:
            nchw = shape[2] == shape[3] or shape[1] != shape[2]
            nhwc = not nchw
        if nchw:
            layout, ch, h, w = "nchw", shape[1], shape[2], shape[3]
        elif nhwc:
            layout, ch, h, w = "nhwc", shape[3], shape[1], shape[2]
        else:
            raise DatasetError(f"{where} has shape {shape}; expected N x C x H x W or N x H x W x C with C = 1 or 3")
    else:
        raise DatasetError(f"{where} has shape {shape}; expected (N, C, H, W), (N, H, W, C) or (N, H, W)")
    if n < 1:
        raise DatasetError(f"{where} holds no images (shape {shape}); expected at least one")
    if n > MAX_IMAGES or h < 1 or w < 1 or h * w > MAX_IMAGE_PIXELS:
        raise DatasetError(f"{where} has shape {shape}; expected at most {MAX_IMAGES:,} images of at most "
                           f"{MAX_IMAGE_PIXELS:,} pixels")
    return layout, n, ch, (h, w)


def _to_float_nchw(raw: np.ndarray, layout: str) -> np.ndarray:
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np.dtype(raw.dtype).newbyteorder("="), 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        x = raw.astype(np.float32) / np.float32(scale)
    if layout == "nhwc":
        x = x.transpose(0, 3, 1, 2)
    elif layout == "nhw":
        x = x[:, None]
    return x


def _check_values(arr: np.ndarray, layout: str, where: str) -> None:
    """Every pixel finite as float32, not all one value (scanned in chunks: memory stays bounded)."""
    flat = arr.reshape(-1) if arr.flags.c_contiguous or arr.flags.f_contiguous else np.asarray(arr).reshape(-1)
    lo, hi = np.inf, -np.inf
    for start in range(0, flat.size, _CHUNK):
        with np.errstate(over="ignore", invalid="ignore"):
            chunk = np.asarray(flat[start:start + _CHUNK]).astype(np.float32)
        if not np.isfinite(chunk).all():
            raise DatasetError(f"{where} has non-finite values (NaN, inf, or beyond float32) near element "
                               f"{start + int(np.argmin(np.isfinite(chunk))):,}; expected finite pixel values")
        lo, hi = min(lo, float(chunk.min())), max(hi, float(chunk.max()))
    if lo == hi:
        raise DatasetError(f"{where}: every value is {lo:g}; expected images (pixels that vary)")


def _labels(y: np.ndarray, n: int, where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    y = np.asarray(y)
    if y.dtype.kind not in "buif" or y.dtype.fields is not None:
        raise DatasetError(f"{where} has dtype {y.dtype}; expected integer class labels 0..K-1")
    if y.ndim > 1 and not (y.ndim == 2 and 1 in y.shape):
        raise DatasetError(f"{where} has shape {y.shape}; expected one class index per image, a 1-D array of "
                           "integers 0..K-1 (one-hot labels: y.argmax(1))")
    y = y.reshape(-1)
    if len(y) != n:
        raise DatasetError(f"{where}: {len(y)} labels for {n} images; expected one label per image")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise DatasetError(f"{where} has labels that are not whole numbers (e.g. "
                               f"{y[~(np.isfinite(y) & (y == np.round(y)))][0]!r}); expected integers 0..K-1")
    if y.min() < 0 or y.max() >= MAX_CLASSES:
        raise DatasetError(f"{where} has label {int(y.min()) if y.min() < 0 else int(y.max())}; expected integers "
                           f"0..{MAX_CLASSES - 1}")
    y = y.astype(np.int64)
    k = int(y.max()) + 1
    present = np.unique(y)
    if len(present) < 2:
        raise DatasetError(f"{where} has a single class ({int(y[0])}); expected at least 2 classes")
    if len(present) < k:  # labels are class indices 0..K-1: a gap is a class with no image, still an output
        missing = sorted(set(range(k)) - set(present.tolist()))
        logging.getLogger(__name__).warning(
            "%s: labels run to %d, but %d of those %d classes have no image (e.g. %s); the network gets an output for "
            "each", where, k - 1, len(missing), k, ", ".join(map(str, missing[:5])))
    return y, tuple(str(i) for i in range(k))
