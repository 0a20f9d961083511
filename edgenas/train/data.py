"""Training and evaluation images of a task: a seeded stratified split and the recipe's augmentation.

torchvision cannot be installed beside this project's torch build, so the two transforms of the recipe
(random-resized-crop and horizontal flip) are written here on torch tensors. Each image's
augmentation is drawn from a generator seeded by (seed, epoch, image index): the same image gets the
same crop in the same epoch whichever worker process loads it, so training is reproducible and a
resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._rng import derive_seed
from ..data import ImageData
from ..errors import DatasetError

__all__ = ["AugmentedImages", "split_indices"]


def split_indices(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices: ``share`` of each class (at least one image of a class with two or more)
    held out, drawn with a generator seeded by ``seed``; both sorted."""
    rng = np.random.default_rng(derive_seed(seed, "split"))
    train: list[np.ndarray] = []
    val: list[np.ndarray] = []
    for k in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == k))
        n_val = 0 if len(idx) < 2 else max(1, int(round(share * len(idx))))
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _resize(x: Any, size: int) -> Any:
    import torch

    if tuple(x.shape[-2:]) == (size, size):
        return x
    return torch.nn.functional.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False,
                                           antialias=True)[0]


class AugmentedImages:
    """A map-style dataset (``torch.utils.data.Dataset`` protocol) of ``data``'s images ``indices``
    as (C, resolution, resolution) float tensors in [0, 1] with their labels.

    Args:
        train: apply random-resized-crop (area share ``crop_scale``..1, aspect 3/4..4/3) and, with
            ``flip``, a horizontal flip with probability 1/2; else a plain resize.
        seed: augmentation seed; set :attr:`epoch` before each epoch.
    """

    def __init__(self, data: ImageData, indices: Sequence[int], *, resolution: int, channels: int, train: bool,
                 crop_scale: float = 0.35, flip: bool = True, seed: int = 0) -> None:
        if data.labels is None:
            raise DatasetError(f"data {data.path!r} has no labels; expected one sub-folder per class (or y in the .npz)")
        self.data = data
        self.indices = np.asarray(indices, dtype=np.int64)
        self.resolution = resolution
        self.channels = channels
        self.train = train
        self.crop_scale = crop_scale
        self.flip = flip
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int) -> tuple[Any, int]:
        import torch

        i = int(self.indices[j])
        x = torch.from_numpy(self.data.load_native(i))
        if x.shape[0] != self.channels:
            x = x.expand(self.channels, -1, -1) if x.shape[0] == 1 else x.mean(dim=0, keepdim=True)
        if self.train:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            x = self._crop(x, rng)
            if self.flip and rng.random() < 0.5:
                x = torch.flip(x, dims=(-1,))
        else:
            x = _resize(x, self.resolution)
        return x.contiguous().float(), int(self.data.labels[i])  # type: ignore[index]

    def _crop(self, x: Any, rng: np.random.Generator) -> Any:
        h, w = x.shape[-2:]
        area = h * w
        for _ in range(10):
            target = area * rng.uniform(self.crop_scale, 1.0)
            ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw = int(round(math.sqrt(target * ratio)))
            ch = int(round(math.sqrt(target / ratio)))
            if 0 < cw <= w and 0 < ch <= h:
                top = int(rng.integers(0, h - ch + 1))
                left = int(rng.integers(0, w - cw + 1))
                return _resize(x[:, top:top + ch, left:left + cw], self.resolution)
        return _resize(x, self.resolution)  # no crop fitted: the whole image
