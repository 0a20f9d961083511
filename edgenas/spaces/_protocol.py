"""The model protocol shared by every space's network (see ``SearchSpace.build_model`` and
docs/spaces.md); public as ``edgenas.spaces.FeatureNet``."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FeatureNet"]


class FeatureNet(nn.Module):
    """Base of built models: subclasses set ``stem``, ``cells`` (nn.ModuleList, one module per
    searchable layer), ``global_pooling`` and ``classifier``, and implement :meth:`head` (last
    features -> pre-pooling map). Rules for proxies (train mode, no dropout, non-in-place
    activations): docs/spaces.md."""

    stem: nn.Module
    cells: nn.ModuleList
    global_pooling: nn.Module
    classifier: nn.Module

    @property
    def blocks(self) -> nn.ModuleList:
        """Feature blocks: ``f_l = blocks[l-1](f_{l-1})`` with ``f_0 = stem(x)``."""
        return self.cells

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """Map the last block's output to the map that is pooled (e.g. BN-ReLU, 1x1 header)."""
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Stem output followed by each block's output."""
        feats = [self.stem(x)]
        for cell in self.cells:
            feats.append(cell(feats[-1]))
        return feats

    def forward_pre_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of shape (B, D) fed to ``classifier``."""
        h = self.stem(x)
        for cell in self.cells:
            h = cell(h)
        return self.global_pooling(self.head(h)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.forward_pre_logits(x))
