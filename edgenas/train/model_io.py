"""A network on disk: ``model.pt`` (a state_dict of tensors only, loaded with ``weights_only=True``) and
``model.json`` (space, arch, task, how the weights came to be), written atomically."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._io import atomic_write_bytes, atomic_write_text
from .._version import __version__
from ..errors import ExportError
from ..spaces import Arch, DatasetSpec, SearchSpace, get_space

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "load_model", "read_model_json", "state_dict_bytes", "write_model_dir"]

CONFIG_NAME = "model.json"
WEIGHTS_NAME = "model.pt"
SCHEMA_VERSION = 1


def state_dict_bytes(state: dict[str, Any]) -> bytes:
    """``torch.save`` of a dict of tensors (and plain values) to bytes, for an atomic write."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def write_model_dir(out_dir: Path | str, model: torch.nn.Module, *, space: SearchSpace, arch: Arch,
                    task: DatasetSpec, **meta: Any) -> Path:
    """Write ``model.pt`` then ``model.json`` (with ``meta``: ``weights``, ``seed``, ``val_accuracy``...)."""
    import torch

    out = Path(out_dir)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    blob = state_dict_bytes(state)
    atomic_write_bytes(out / WEIGHTS_NAME, blob)
    bench = space.benchmark_dataset(task)
    config = {
        "schema_version": SCHEMA_VERSION,
        "space": space.name,
        "dataset": task.name,
        "task": asdict(task),
        "arch": space.format(arch),
        "num_classes": task.num_classes,
        "input_shape_chw": list(task.input_shape),
        "input": "pixels in [0, 1], N x C x H x W" if bench is None else "as the benchmark dataset",
        "build_options": {},
        "weights_file": WEIGHTS_NAME,
        # the pair is two files: a write cut between them must not pass another run's weights as these
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
        **meta,
        "edgenas_version": __version__,
        "torch_version": torch.__version__,
    }
    atomic_write_text(out / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
    return out


def read_model_json(directory: Path | str) -> dict[str, Any]:
    """The checked ``model.json`` of a model folder.

    Raises:
        ExportError: missing, unreadable or not a model.json.
    """
    from .._read import load_json

    d = Path(directory)
    path = d / CONFIG_NAME
    if not path.exists():
        raise ExportError(f"{str(d)!r} has no readable {CONFIG_NAME}; expected a folder written by 'edgenas train' "
                          "or 'edgenas export --format torch'")
    cfg = load_json(path, what="model config", max_bytes=16 * 2**20, error=ExportError)
    if not isinstance(cfg, dict) or cfg.get("schema_version") != SCHEMA_VERSION:
        raise ExportError(f"{str(path)!r} is not a model.json of schema_version {SCHEMA_VERSION}")
    for key in ("space", "arch"):
        if not isinstance(cfg.get(key), str):
            raise ExportError(f"{str(path)!r}: field {key!r} is {cfg.get(key)!r}; expected a string")
    return cfg


def model_task(space: SearchSpace, cfg: dict[str, Any], where: str = "model.json") -> DatasetSpec:
    """The task of a model.json (``task`` object, or the benchmark ``dataset`` of older files)."""
    from ..errors import EdgeNASError

    try:
        if isinstance(cfg.get("task"), dict):
            return space.dataset(DatasetSpec(**cfg["task"]))
        return space.dataset(cfg.get("dataset"))
    except (TypeError, EdgeNASError) as exc:
        raise ExportError(f"{where}: bad task ({getattr(exc, 'message', exc)})") from None


def load_model(directory: Path | str) -> torch.nn.Module:
    """The network of a model folder (``train/<member>/`` of a run, or an export's torch folder) with its
    weights, in eval mode: a plain ``torch.nn.Module`` to fine-tune, evaluate or export.

    Raises:
        ExportError: missing or inconsistent files.
    """
    import torch

    d = Path(directory)
    cfg = read_model_json(d)
    from ..errors import EdgeNASError

    try:
        space = get_space(cfg["space"])
        arch = space.parse(cfg["arch"])
    except EdgeNASError as exc:
        raise ExportError(f"{str(d / CONFIG_NAME)!r}: {exc.message}") from None
    task = model_task(space, cfg, str(d / CONFIG_NAME))
    options = cfg.get("build_options") if isinstance(cfg.get("build_options"), dict) else {}
    model = space.build_model(arch, task, **options)
    weights = cfg.get("weights_file", cfg.get("weights", WEIGHTS_NAME))
    if not isinstance(weights, str) or "/" in weights or weights in ("trained", "random-init"):
        weights = WEIGHTS_NAME
    try:
        blob = (d / weights).read_bytes()
    except OSError as exc:
        raise ExportError(f"cannot load weights of {str(d)!r}: {exc.strerror}") from None
    sha = cfg.get("weights_sha256")
    if isinstance(sha, str) and hashlib.sha256(blob).hexdigest() != sha:
        raise ExportError(f"{str(d / weights)!r} is not the weights {CONFIG_NAME} describes (SHA-256 differs: a write "
                          "was cut off); expected the pair one run wrote: run the same `edgenas train` again")
    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001 - torch raises OSError, RuntimeError, UnpicklingError, ...
        raise ExportError(f"cannot load weights of {str(d)!r}: {str(exc).splitlines()[0]}") from None
    return model.eval()
