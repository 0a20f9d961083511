"""MACs / params wrappers against closed-form values."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgenas.hardware.flops import count_flops_nb201, count_macs, count_params, model_size


def test_conv_macs_closed_form():
    # Conv2d(3, 2, 3) on 224x224, no padding: out 2 x 222 x 222, 3*3*3 MACs per output (+bias not a MAC)
    model = nn.Sequential(nn.Conv2d(3, 2, 3, bias=False))
    macs_m, _ = count_macs(model, (3, 224, 224))
    assert macs_m * 1e6 == pytest.approx(2 * 222 * 222 * 27, abs=0.5)


def test_bn_is_not_counted_and_unsupported_ops_reported():
    model = nn.Sequential(nn.Conv2d(3, 4, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2))
    macs_m, skipped = count_macs(model, (3, 8, 8))
    assert macs_m * 1e6 == pytest.approx(4 * 64 * 3)
    assert "aten::avg_pool2d" in skipped


def test_linear_and_params():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    size = model_size(model, (3, 2, 2))
    assert size.params_m * 1e6 == 12 * 5 + 5
    assert size.n_param_tensors == 2
    assert size.macs_m * 1e6 == 60


def test_nb201_convention_counts_pool_bn_relu():
    model = nn.Sequential(nn.ReLU(), nn.Conv2d(2, 2, 1, bias=False), nn.BatchNorm2d(2), nn.AvgPool2d(3, 1, 1))
    # relu 2*4*4 + conv 2*2*16 + bn 2*(2*16) + pool 9*(2*16)
    assert count_flops_nb201(model, (2, 4, 4)) * 1e6 == pytest.approx(32 + 64 + 64 + 288)


def test_counting_restores_train_mode():
    model = nn.Sequential(nn.Conv2d(1, 1, 1))
    model.train()
    count_macs(model, (1, 2, 2))
    count_flops_nb201(model, (1, 2, 2))
    assert model.training
    assert count_params(model) == (2e-6, 2)
    assert not torch.is_grad_enabled() is False
