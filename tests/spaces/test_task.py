"""Every space builds for any task (classes, channels, resolution its strides allow), else one clear error."""

from __future__ import annotations

import pytest
import torch

from edgenas.errors import DatasetError
from edgenas.hardware.size import size_table
from edgenas.spaces import DatasetSpec, get_space
from edgenas.spaces.fbnet import setting_name


@pytest.mark.parametrize("space_name", ["nb201", "fbnet"])
@pytest.mark.parametrize("task", [DatasetSpec("five96", 5, 96, 3), DatasetSpec("digits", 10, 32, 1),
                                  DatasetSpec("two40", 2, 40, 3)])
def test_any_task_builds_with_its_shape(space_name, task) -> None:
    space = get_space(space_name)
    arch = space.sample(1)
    model = space.build_model(arch, task).eval()
    with torch.no_grad():
        y = model(torch.randn(2, task.channels, task.input_size, task.input_size))
    assert y.shape == (2, task.num_classes)
    layers = space.layers(arch, task)
    assert layers[0].in_shape == task.input_shape and layers[-1].out_shape[0] == task.num_classes


@pytest.mark.parametrize(("space_name", "ratio"), [pytest.param("nb201", 4.0, marks=pytest.mark.slow),
                                                   ("fbnet", 16 / 9)])
def test_macs_follow_the_task_resolution(space_name, ratio) -> None:
    space = get_space(space_name)
    arch = space.sample(2)
    a, b = DatasetSpec("t", 5, 48, 3), DatasetSpec("t", 5, 96, 3)
    if space_name == "fbnet":  # both in the ImageNet setting
        a, b = DatasetSpec("t", 5, 96, 3), DatasetSpec("t", 5, 128, 3)
    got = size_table(space, b)(arch)[0] / size_table(space, a)(arch)[0]
    assert got == pytest.approx(ratio, rel=0.08)  # convs scale with the pixel count; the classifier does not


def test_benchmark_dataset_is_recognised_only_when_exact() -> None:
    space = get_space("nb201")
    assert space.benchmark_dataset(DatasetSpec("cifar10", 10, 32, 3)) == "cifar10"
    assert space.benchmark_dataset(DatasetSpec("cifar10", 10, 64, 3)) is None
    assert space.task("cifar100", resolution=64) == DatasetSpec("cifar100", 100, 64, 3)


@pytest.mark.parametrize(("space_name", "task", "message"), [
    ("nb201", DatasetSpec("t", 5, 30, 3), "multiple of 4"),
    ("nb201", DatasetSpec("t", 5, 4, 3), "8..1024"),
    ("fbnet", DatasetSpec("t", 5, 2000, 3), "8..1024"),
    ("nb201", DatasetSpec("t", 1, 32, 3), "expected 2.."),
    ("fbnet", DatasetSpec("t", 5, 32, 2), "expected 1 or 3"),
])
def test_a_task_the_space_cannot_build_is_a_clear_error(space_name, task, message) -> None:
    with pytest.raises(DatasetError, match=message):
        get_space(space_name).build_model(get_space(space_name).sample(0), task)


def test_fbnet_setting_by_resolution() -> None:
    assert setting_name(DatasetSpec("t", 5, 64, 3)) == "cifar100"
    assert setting_name(DatasetSpec("t", 5, 96, 3)) == "imagenet"
    assert setting_name(DatasetSpec("imagenet", 1000, 64, 3)) == "imagenet"  # a benchmark keeps its own
    space = get_space("fbnet")
    last = space.layers(space.sample(0), DatasetSpec("t", 5, 96, 3))[-3]
    assert last.in_shape[1:] == (3, 3)  # total stride 32
