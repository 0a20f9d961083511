"""Macro spaces from YAML: validation of every field, fbnet.yaml equal to the FBNet space, shipped spaces."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import yaml

from edgenas.errors import ConfigError
from edgenas.spaces import DatasetSpec, get_space
from edgenas.spaces.macro import MacroSpace, shipped_definition_names, shipped_definition_path

TOY = """
name: toy
act: relu
stem: {channels: 8, stride: 1}
blocks:
  a: {type: mbconv, kernel: 3, expansion: 2}
  f: {type: fused_mbconv, kernel: 3, expansion: 2, se: 0.25, act: swish}
  s: {type: skip}
stages:
  - {layers: 2, stride: 2, channels: [8, 16], blocks: [a, f, s], first_blocks: [a, f]}
head: {channels: 32}
datasets:
  digits: {num_classes: 10, input_size: 8, channels: 1}
"""


def _toy(**changes: object) -> dict:
    data = yaml.safe_load(TOY)
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        if value is None:
            del node[keys[-1]]
        else:
            node[int(keys[-1]) if isinstance(node, list) else keys[-1]] = value
    return data


def _onnx(model, shape):  # noqa: ANN001
    import onnx
    import torch

    buf = io.BytesIO()
    torch.onnx.export(model.eval(), (torch.zeros(shape),), buf, opset_version=17, dynamo=False)
    return onnx.load_from_string(buf.getvalue())


def _fbnet_pair(n: int) -> tuple:
    fb, yml = get_space("fbnet"), MacroSpace.shipped("fbnet")
    rng = np.random.default_rng(7)
    return fb, yml, [fb.sample(rng) for _ in range(n)]


def test_fbnet_yaml_equals_fbnet_layers_macs_params_on_100_archs() -> None:
    fb, yml, archs = _fbnet_pair(100)
    for a in archs:
        b = yml.parse(str(a))
        assert yml.format(b) == fb.format(a)
        for ds in ("cifar100", "imagenet"):
            assert yml.layers(b, ds) == fb.layers(a, ds)  # same op names, params, shapes: same LUT keys
            macs_y, params_y = yml.analytic_size(b, ds)
            macs_f, params_f = fb.analytic_size(a, ds)
            assert macs_y == pytest.approx(macs_f, rel=1e-12) and params_y == pytest.approx(params_f, rel=1e-12)
    assert yml.datasets == fb.datasets and yml.default_proxy == fb.default_proxy
    assert yml.cpu_batch_size == fb.cpu_batch_size and dict(yml.cpu_proxy_resolution) == dict(fb.cpu_proxy_resolution)


def _onnx_parity(n: int) -> None:
    import onnxruntime as ort
    import torch

    from edgenas.export.onnx import build_eval_model

    fb, yml, archs = _fbnet_pair(n)
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    for a in archs:
        m_f = build_eval_model(fb, a, "cifar100", seed=3)
        m_y = build_eval_model(yml, yml.parse(str(a)), "cifar100", seed=3)
        # same init order: the same weights from the same seed
        assert all(torch.equal(p, q) for p, q in zip(m_f.state_dict().values(), m_y.state_dict().values()))
        p_f, p_y = _onnx(m_f, (1, 3, 32, 32)), _onnx(m_y, (1, 3, 32, 32))
        assert [nd.op_type for nd in p_f.graph.node] == [nd.op_type for nd in p_y.graph.node]
        outs = [ort.InferenceSession(p.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {
            p.graph.input[0].name: x})[0] for p in (p_f, p_y)]
        np.testing.assert_array_equal(outs[0], outs[1])


def test_fbnet_yaml_onnx_parity_on_a_few_archs() -> None:
    _onnx_parity(2)


@pytest.mark.slow
def test_fbnet_yaml_onnx_parity_on_100_archs() -> None:
    _onnx_parity(100)


@pytest.mark.parametrize("name, datasets", [
    ("mobilenetv2", ("cifar10",)), ("mobilenetv3", ("cifar10",)), ("macro", ("cifar10",)),
    pytest.param("mobilenetv2", ("imagenet",), marks=pytest.mark.slow),
    pytest.param("mobilenetv3", ("imagenet",), marks=pytest.mark.slow),
])
def test_shipped_spaces_analytic_counts_equal_built_models(name: str, datasets: tuple[str, ...]) -> None:
    import torch

    from edgenas.hardware.flops import count_macs, count_params

    space = get_space(name)
    rng = np.random.default_rng(0)
    for ds in datasets:
        arch = space.sample(rng)
        model = space.build_model(arch, ds)
        macs_m, params_m = space.analytic_size(arch, ds)
        assert count_params(model)[0] == pytest.approx(params_m, abs=1e-9)
        assert count_macs(model, space.dataset(ds).input_shape)[0] == pytest.approx(macs_m, abs=1e-9)
        assert len(model.blocks) == space.n_layers
    # any task: 1 channel, 5 classes, 64 px
    task = DatasetSpec("task", 5, 64, channels=1)
    assert space.build_model(space.sample(rng), task)(torch.randn(1, 1, 64, 64)).shape == (1, 5)


def test_mobilenetv2_full_depth_matches_the_paper_network() -> None:
    # MobileNetV2 1.0 at 224 px: 300 M MACs, 3.5 M params (torchvision's mobilenet_v2 has 3,504,872)
    space = get_space("mobilenetv2")
    arch = space.arch(["e1_k3"] + ["e6_k3"] * 16)
    macs_m, params_m = space.analytic_size(arch, "imagenet")
    assert round(params_m * 1e6) == 3_504_872
    assert macs_m == pytest.approx(300.8, abs=0.1)


def test_toy_width_choices_fused_se_and_iso() -> None:
    import torch

    space = MacroSpace.from_yaml_text(TOY)
    assert space.choices == (("c8", "c16"), ("a", "f"), ("a", "f", "s"))
    a = space.parse("c16-f-s")
    lays = space.layers(a, "digits")
    assert lays[1].out_shape == (16, 4, 4) and dict(lays[1].params) == {
        "exp": 2, "kernel": 3, "stride": 2, "group": 1, "se": 0.25, "act": "swish", "fused": 1}
    assert lays[2].op == "Skip" and space.iso_key(a) != space.iso_key(space.parse("c8-f-s"))
    assert space.iso_key(a) == space.iso_key(space.parse("1-1-2"))
    assert space.build_model(a, "digits")(torch.randn(2, 1, 8, 8)).shape == (2, 10)


@pytest.mark.parametrize("changes, match", [
    ({"name": "Bad Name"}, r"field name: expected a lower-case name"),
    ({"stem__channels": 0}, r"field stem.channels: expected an integer 1..65536, got 0"),
    ({"stem__stride": 3}, r"field stem.stride: expected a stride of 1 or 2, got 3"),
    ({"stem__kernel": 4}, r"field stem.kernel: expected an odd kernel size"),
    ({"blocks__a__type": "conv"}, r"field blocks.a.type: expected one of mbconv, fused_mbconv, skip"),
    ({"blocks__a__kernel": 2}, r"field blocks.a.kernel: expected an odd kernel size"),
    ({"blocks__a__expansion": "6"}, r"field blocks.a.expansion: expected an integer"),
    ({"blocks__a__act": "gelu"}, r"field blocks.a.act: expected one of relu, relu6, hswish, swish, none"),
    ({"blocks__f__se": 1.5}, r"field blocks.f.se: expected a squeeze-excite ratio in \[0, 1\)"),
    ({"blocks__s__kernel": 3}, r"field blocks.s.kernel is not allowed for a skip block"),
    ({"blocks__a__colour": 1}, r"field blocks.a.colour is unknown"),
    ({"stages": []}, r"field stages: expected a non-empty list of stages"),
    ({"stages__0__layers": 0}, r"field stages\[0\].layers: expected an integer 1..256, got 0"),
    ({"stages__0__blocks": ["a", "zz"]}, r"field stages\[0\].blocks\[1\]: expected a block defined under blocks"),
    ({"stages__0__channels": [8, 8]}, r"field stages\[0\].channels: expected distinct channel choices"),
    ({"stages__0__channels": None}, r"field stages\[0\].channels is missing"),
    ({"head__channels": -1}, r"field head.channels: expected an integer 0..65536"),
    ({"datasets": {}}, r"field datasets: expected at least one dataset"),
    ({"datasets__digits__num_classes": 1}, r"field datasets.digits.num_classes: expected an integer 2..100000"),
    ({"datasets__digits__channels": 4}, r"field datasets.digits.channels: expected 1 or 3, got 4"),
    ({"datasets__digits__input_size": 4}, r"field datasets.digits.input_size: expected an integer 8..1024, got 4"),
    ({"cpu": {"batch_size": 1}}, r"field cpu.batch_size: expected an integer 2..4096, got 1"),
    ({"cpu": {"proxy_resolution": {"digits": 2000}}}, r"field cpu.proxy_resolution.digits: expected an integer 8..1024"),
    ({"blocks__a__groups": 3}, r"field blocks.a.groups: expected a divisor of every width it meets \(stages\[0\] "
                               r"gives it 8 channels\), got 3"),
    ({"datasets__digits__strides": [1, 2]}, r"field datasets.digits.strides: expected a list of 1 strides"),
    ({"arch_format": "digits"}, r"field arch_format: expected names \(digits needs one channel count"),
    ({"cpu": {"proxy_resolution": {"imagenet": 64}}}, r"field cpu.proxy_resolution.imagenet: expected a dataset"),
    ({"colour": 1}, r"field space.colour is unknown"),
])
def test_every_field_is_validated_with_one_line(changes: dict, match: str) -> None:
    from edgenas.spaces._macro_def import parse_definition

    with pytest.raises(ConfigError, match=match) as err:
        parse_definition(_toy(**changes))
    assert "\n" not in str(err.value)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml.*is not valid YAML"):
        MacroSpace(bad)
    with pytest.raises(ConfigError, match="space definition .*missing.yaml.* not found"):
        MacroSpace(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="no shipped space definition 'mobilenet'; did you mean"):
        MacroSpace.shipped("mobilenet")


def test_shipped_definitions_are_package_data() -> None:
    assert {"fbnet", "macro", "mobilenetv2", "mobilenetv3"} <= set(shipped_definition_names())
    for name in shipped_definition_names():
        assert MacroSpace(shipped_definition_path(name)).name == name
