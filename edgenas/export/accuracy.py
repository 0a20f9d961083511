"""Top-1 accuracy of exported models on the user's labelled images, one small function per model format.

``validate --data DIR`` runs :func:`export_accuracy` over an export folder: for each exported network its
torch model (the trained weights exported beside it, else the network rebuilt from the export's seed)
and every model file it holds (fp32, fp16, int8; ONNX and LiteRT), all on the same images, with each
file's difference to the torch model (``delta_torch_pp``) and to the fp32 file of its format
(``delta_pp``). Images come from the one checked ``--data`` reader (:func:`edgenas.data.open_data`:
class folders, or .npy / .npz with ``x`` and ``y``), resized to the exported task's input, with class
folders matched to the training classes by name.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import DatasetError, ValidationError

__all__ = ["export_accuracy", "litert_top1", "load_eval_images", "onnx_top1", "top1", "torch_top1"]


def top1(logits: Any, labels: Any) -> float:
    """Top-1 accuracy in percent of ``logits`` (N, classes) against integer ``labels`` (N,)."""
    import numpy as np

    return float(100.0 * np.mean(np.asarray(logits).argmax(axis=1) == np.asarray(labels)))


def onnx_top1(path: Path | str, images: Any, labels: Any) -> float:
    """Top-1 % of an ONNX model (any precision) on onnxruntime's CPU EP."""
    from .quantize import run_onnx

    return top1(run_onnx(path, images), labels)


def litert_top1(path: Path | str, images: Any, labels: Any) -> float:
    """Top-1 % of a ``.tflite`` (any precision) on the LiteRT interpreter."""
    from .litert import run_litert

    return top1(run_litert(path, images), labels)


def torch_top1(model: Any, images: Any, labels: Any, batch_size: int = 256) -> float:
    """Top-1 % of a torch network (eval mode, CPU)."""
    import numpy as np
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            out.append(model(torch.from_numpy(np.ascontiguousarray(images[i:i + batch_size]))).numpy())
    return top1(np.concatenate(out), labels)


#: manifest file keys that hold a model, and the function that scores each
_SCORERS = {"onnx": onnx_top1, "onnx_fp32": onnx_top1, "onnx_fp16": onnx_top1, "onnx_int8": onnx_top1,
            "litert": litert_top1, "litert_fp32": litert_top1}


def _precision_of(name: str) -> str:
    return "int8" if ".int8." in name else "fp16" if ".fp16." in name else "fp32"


def load_eval_images(path: str | Path, *, input_shape: tuple[int, int, int], num_classes: int,
                     classes: list[str] | None = None) -> tuple[Any, Any]:
    """(images (N, C, H, W) float32 in [0, 1] at ``input_shape``, labels (N,) as the model's class indices)
    of ``path``: class folders (its ``val/`` when it has one) or a ``.npz`` with ``x`` and ``y``. With
    ``classes`` (the training folders' names, from model.json) folders are matched by name.

    Raises:
        DatasetError: no labels, a class the model does not know, or more classes than the model has.
    """
    import numpy as np

    from ..data import open_data

    p = Path(path)
    data = open_data(p, split="val" if p.is_dir() and (p / "val").is_dir() else None)
    if data.labels is None:
        raise DatasetError(f"--data {str(p)!r} has no labels; expected class folders or an .npz with x and y")
    labels = data.labels
    if classes and data.files is not None:
        unknown = [c for c in data.classes if c not in classes]
        if unknown:
            raise DatasetError(f"--data {str(p)!r} has class {unknown[0]!r}, which the model was not trained on; "
                               f"expected classes of {', '.join(classes[:10])}")
        labels = np.array([classes.index(c) for c in data.classes], dtype=np.int64)[labels]
    elif classes and list(classes) != [str(i) for i in range(len(classes))]:
        logging.getLogger(__name__).warning(
            "--data %s holds class indices: matched to the model's classes by position (0 = %r, 1 = %r, ...)",
            p, classes[0], classes[1] if len(classes) > 1 else None)
    if int(labels.max()) >= num_classes:
        raise DatasetError(f"--data {str(p)!r} has {int(labels.max()) + 1} classes; the model has {num_classes}")
    c, h, _ = input_shape
    images = data.load(np.arange(len(data)), size=h)
    if images.shape[1] != c:  # gray images for a 3-channel network: the gray value in every channel
        images = np.repeat(images, c, axis=1) if images.shape[1] == 1 else images.mean(axis=1, keepdims=True)
    return np.ascontiguousarray(images, dtype=np.float32), labels


def export_accuracy(export_dir: Path | str, data: Path | str) -> list[dict[str, Any]]:
    """Top-1 % of every exported network's torch model and of every model file in ``export_dir`` on the
    labelled images in ``data``.

    Returns one row per model: model dir, file, format (torch / onnx / litert), precision, weights
    (trained / random-init), top1_pct, n_images, delta_pp (top-1 minus the fp32 file's of the same
    model and format; 0 for fp32 itself) and delta_torch_pp (top-1 minus its torch model's).

    Raises:
        ValidationError: no export.json, unlabelled data, or classes the models do not have.
    """
    from .._read import load_json
    from ..errors import EdgeNASError
    from ..spaces import DatasetSpec, get_space

    root = Path(export_dir)
    try:
        doc = load_json(root / "export.json", what="export.json", error=ValidationError)
        models = doc["models"]
        space = get_space(doc["space"])
        task = space.dataset(DatasetSpec(**doc["task"])) if isinstance(doc.get("task"), dict) else \
            space.dataset(doc["dataset"])
    except (KeyError, TypeError):
        raise ValidationError(f"--data needs an edgenas export folder with export.json; got {str(root)!r}") from None
    except EdgeNASError as exc:
        raise ValidationError(f"--data needs an edgenas export folder: {exc.message}") from None
    if not isinstance(models, list):
        raise ValidationError(f"{str(root / 'export.json')!r}: 'models' is not a list")
    rows: list[dict[str, Any]] = []
    cache: dict[Any, tuple[Any, Any]] = {}
    for m in models:
        if not isinstance(m, dict):
            raise ValidationError(f"{str(root / 'export.json')!r}: a model entry is not an object")
        torch_dir = root / str(m.get("dir", "")) if (root / str(m.get("dir", "")) / "model.json").is_file() else None
        classes = _classes(torch_dir)
        key = tuple(classes or ())
        if key not in cache:
            cache[key] = load_eval_images(data, input_shape=task.input_shape, num_classes=task.num_classes,
                                          classes=classes)
        images, labels = cache[key]
        weights = m.get("weights", "random-init")
        mine = [{"model": m.get("dir"), "file": f"{m.get('dir')}/model.pt" if torch_dir else "(rebuilt from --seed)",
                 "format": "torch", "precision": "fp32", "weights": weights,
                 "top1_pct": torch_top1(_torch_model(space, m, task, doc, torch_dir), images, labels),
                 "n_images": int(len(labels))}]
        files = {k: v for k, v in (m.get("files") or {}).items() if k in _SCORERS}
        for fkey, rel in sorted(files.items(), key=lambda kv: (kv[0].split("_")[0], _precision_of(kv[1]))):
            mine.append({"model": m.get("dir"), "file": rel, "format": fkey.split("_")[0],
                         "precision": _precision_of(rel), "weights": weights,
                         "top1_pct": _SCORERS[fkey](root / rel, images, labels), "n_images": int(len(labels))})
        for r in mine:
            base = next((b for b in mine if b["format"] == r["format"] and b["precision"] == "fp32"), None)
            r["delta_pp"] = None if base is None else r["top1_pct"] - base["top1_pct"]
            r["delta_torch_pp"] = r["top1_pct"] - mine[0]["top1_pct"]
        rows += mine
    return rows


def _classes(torch_dir: Path | None) -> list[str] | None:
    if torch_dir is None:
        return None
    from ..train.model_io import read_model_json

    classes = read_model_json(torch_dir).get("classes")
    return classes if isinstance(classes, list) and all(isinstance(c, str) for c in classes) else None


def _torch_model(space: Any, m: dict[str, Any], task: Any, doc: dict[str, Any], torch_dir: Path | None) -> Any:
    """The torch network of an exported model: its exported weights, else rebuilt from the export's seed."""
    from ..errors import EdgeNASError

    if torch_dir is not None:
        from ..train.model_io import load_model

        return load_model(torch_dir)
    from .onnx import build_eval_model

    try:
        arch = space.parse(str(m.get("arch")))
    except EdgeNASError as exc:
        raise ValidationError(f"export.json: {exc.message}") from None
    seed = doc.get("seed", 0)
    return build_eval_model(space, arch, task, seed=seed if isinstance(seed, int) else 0)
