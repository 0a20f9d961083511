"""PyTorch export: state_dict (.pt) + a small JSON config that rebuilds the exact model with edgenas."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._version import __version__
from ..errors import ExportError
from ..spaces import Arch, SearchSpace, get_space
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


def export_torch(space: SearchSpace, arch: Arch, dataset: str, out_dir: Path | str, *, seed: int = 0) -> TorchExport:
    """Write ``model.pt`` (state_dict) and ``model.json`` (space, dataset, arch, versions) into ``out_dir``."""
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build_eval_model(space, arch, dataset, seed=seed)
    ds = space.dataset(dataset)
    config = {
        "schema_version": SCHEMA_VERSION,
        "space": space.name,
        "dataset": dataset,
        "arch": space.format(arch),
        "num_classes": ds.num_classes,
        "input_shape_chw": list(ds.input_shape),
        "build_options": {},
        "weights": WEIGHTS_NAME,
        "seed": seed,
        "edgenas_version": __version__,
        "torch_version": torch.__version__,
    }
    torch.save(model.state_dict(), out / WEIGHTS_NAME)
    (out / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")
    return TorchExport(out / CONFIG_NAME, out / WEIGHTS_NAME, config["arch"])


def load_exported(directory: Path | str) -> torch.nn.Module:
    """Rebuild an exported model (eval mode) from ``model.json`` + ``model.pt``; no search run needed.

    Raises:
        ExportError: missing or inconsistent files.
    """
    import torch

    d = Path(directory)
    cfg_path = d / CONFIG_NAME
    from .._read import load_json

    if not cfg_path.exists():
        raise ExportError(f"{str(d)!r} has no readable {CONFIG_NAME}; expected an 'edgenas export --format torch' dir")
    cfg = load_json(cfg_path, what="exported model config", max_bytes=16 * 2**20, error=ExportError)
    if not isinstance(cfg, dict) or not all(isinstance(cfg.get(k), str) for k in ("space", "arch", "dataset")) \
            or not isinstance(cfg.get("build_options", {}), dict):
        raise ExportError(f"{str(cfg_path)!r} is not an edgenas model config; expected an object with 'space', "
                          "'arch' and 'dataset' strings")
    if cfg.get("schema_version") != SCHEMA_VERSION:
        raise ExportError(f"{str(cfg_path)!r} has schema_version {cfg.get('schema_version')!r}; expected {SCHEMA_VERSION}")
    space = get_space(cfg["space"])
    model = space.build_model(space.parse(cfg["arch"]), cfg["dataset"], **cfg.get("build_options", {}))
    try:
        state = torch.load(d / cfg.get("weights", WEIGHTS_NAME), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - torch raises OSError, RuntimeError, UnpicklingError, ...
        raise ExportError(f"cannot load weights of {str(d)!r}: {str(exc).splitlines()[0]}") from None
    return model.eval()
