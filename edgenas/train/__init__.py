"""Training a searched network on the user's images: the recipe (:class:`TrainConfig`), the resumable
loop, model folders (``model.pt`` + ``model.json``) and the brief-training re-rank.

``edgenas.train(...)`` (the function, :func:`edgenas.api.train`) is ``edgenas train``.
"""

from __future__ import annotations

from .recipe import TrainConfig

__all__ = ["TrainConfig", "TrainResult", "load_model", "train_run"]


def __getattr__(name: str):  # noqa: ANN202 - lazy: torch is imported only when training
    if name == "TrainResult" or name == "train_run":
        from . import run

        return getattr(run, name)
    if name == "load_model":
        from .model_io import load_model

        return load_model
    raise AttributeError(f"module 'edgenas.train' has no attribute {name!r}")
