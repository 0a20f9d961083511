"""PyTorch export: state_dict (.pt) + a small JSON config that rebuilds the exact model with edgenas."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..spaces import Arch, SearchSpace
from .onnx import build_eval_model

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "TorchExport", "export_torch", "load_exported"]

CONFIG_NAME = "model.json"
WEIGHTS_NAME = "model.pt"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class TorchExport:
    """Files written by :func:`export_torch`."""

    config_path: Path
    weights_path: Path
    arch: str


def export_torch(space: SearchSpace, arch: Arch, dataset: Any, out_dir: Path | str, *, seed: int = 0,
                 model: Any = None, meta: dict[str, Any] | None = None) -> TorchExport:
    """Write ``model.pt`` (state_dict) and ``model.json`` (space, dataset / task, arch, versions) into ``out_dir``;
    ``model``: the network to write (e.g. trained), default one built from ``seed``."""
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build_eval_model(space, arch, dataset, seed=seed) if model is None else model
    ds = space.dataset(dataset)
    config = {
        "schema_version": SCHEMA_VERSION,
        "space": space.name,
        "dataset": ds.name,
        **({} if space.benchmark_dataset(ds) else {"task": asdict(ds)}),
        "arch": space.format(arch),
        "num_classes": ds.num_classes,
        "input_shape_chw": list(ds.input_shape),
        "build_options": {},
        "weights": WEIGHTS_NAME,
        "weights_file": WEIGHTS_NAME,
        "seed": seed,
        "edgenas_version": __version__,
        "torch_version": torch.__version__,
        **(meta or {}),
    }
    torch.save(model.state_dict(), out / WEIGHTS_NAME)
    (out / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    return TorchExport(out / CONFIG_NAME, out / WEIGHTS_NAME, config["arch"])


def load_exported(directory: Path | str) -> torch.nn.Module:
    """Rebuild an exported model (eval mode) from ``model.json`` + ``model.pt``; no search run needed
    (:func:`edgenas.train.model_io.load_model`).

    Raises:
        ExportError: missing or inconsistent files.
    """
    from ..train.model_io import load_model

    return load_model(directory)
