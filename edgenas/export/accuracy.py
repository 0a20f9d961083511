"""Top-1 accuracy of exported models on the user's labelled images, one small function per model format.

``validate --data DIR`` runs :func:`export_accuracy` over an export folder: every model file it
holds (fp32, fp16, int8; ONNX and LiteRT) on the same images, and each one's difference to the fp32
file of its format. Images come from the same loader as everywhere else
(:func:`edgenas.proxies.engine.load_data`: class folders, or .npy / .npz with ``x`` and ``y``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ValidationError

__all__ = ["export_accuracy", "litert_top1", "onnx_top1", "top1"]


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


#: manifest file keys that hold a model, and the function that scores each
_SCORERS = {"onnx": onnx_top1, "onnx_fp32": onnx_top1, "onnx_fp16": onnx_top1, "onnx_int8": onnx_top1,
            "litert": litert_top1, "litert_fp32": litert_top1}


def _precision_of(name: str) -> str:
    return "int8" if ".int8." in name else "fp16" if ".fp16." in name else "fp32"


def export_accuracy(export_dir: Path | str, data: Path | str) -> list[dict[str, Any]]:
    """Top-1 % of every model file in ``export_dir`` on the labelled images in ``data``.

    Returns one row per file: model dir, file, format (onnx / litert), precision, top1_pct, n_images and
    delta_pp (top-1 minus the fp32 file's of the same model and format; 0 for fp32 itself).

    Raises:
        ValidationError: no export.json, unlabelled data, or images of another shape than the models'.
    """
    from ..proxies.engine import load_data

    root = Path(export_dir)
    try:
        doc = json.loads((root / "export.json").read_text())
        models = doc["models"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ValidationError(f"--data needs an export folder with export.json; got {str(root)!r}") from None
    images, labels = load_data(data)
    if labels is None:
        raise ValidationError(f"--data {str(data)!r} has no labels; expected class folders or an .npz with x and y")
    rows: list[dict[str, Any]] = []
    for m in models:
        shape = m.get("input_shape")
        if shape and tuple(images.shape[1:]) != tuple(shape[1:]):
            raise ValidationError(f"--data images have shape (C, H, W) {tuple(images.shape[1:])}; the exported "
                                  f"models take {tuple(shape[1:])}")
        files = {k: v for k, v in (m.get("files") or {}).items() if k in _SCORERS}
        for key, rel in sorted(files.items(), key=lambda kv: (kv[0].split("_")[0], _precision_of(kv[1]))):
            fmt = key.split("_")[0]
            acc = _SCORERS[key](root / rel, images, labels)
            rows.append({"model": m.get("dir"), "file": rel, "format": fmt, "precision": _precision_of(rel),
                         "top1_pct": acc, "n_images": int(len(labels))})
    for r in rows:
        base = next((b for b in rows if b["model"] == r["model"] and b["format"] == r["format"]
                     and b["precision"] == "fp32"), None)
        r["delta_pp"] = None if base is None else r["top1_pct"] - base["top1_pct"]
    return rows
