"""FBNet space: parsing, shapes, built networks vs hand-computed params/MACs, `arch show` contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from edgenas.cli import cli
from edgenas.errors import ArchError, DatasetError
from edgenas.hardware.flops import model_size
from edgenas.spaces import get_space, list_spaces
from edgenas.spaces.fbnet import BLOCKS, hwnasbench_key

# HELP fbnet_cifar100 sample 0 (op_indices "7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 5")
MIXED = ("k5_e6-skip-k3_e1_g2-skip-k5_e1-skip-skip-skip-k5_e6-k5_e1-k3_e1_g2-k5_e1-k5_e6-k3_e6-k3_e3-k5_e6-"
         "k3_e6-k3_e3-k5_e1-k3_e3-k5_e1-k5_e1_g2")
MIXED_INDICES = "7 8 1 8 4 8 8 8 7 4 1 4 7 3 2 7 3 2 4 2 4 5"

# The HW-NAS-Bench definition, written out independently of the space module.
STAGE_LAYERS = [1, 4, 4, 4, 4, 4, 1]
STAGE_CHANNELS = [16, 24, 32, 64, 112, 184, 352]
SETTINGS = {  # input px, stem stride, stage strides, header channels, classes
    "cifar100": (32, 1, [1, 1, 2, 2, 1, 2, 1], 1504, 100),
    "imagenet": (224, 2, [1, 2, 2, 2, 1, 2, 1], 1984, 1000),
}
BLOCK_HP = {  # kernel, expansion, groups
    "k3_e1": (3, 1, 1), "k3_e1_g2": (3, 1, 2), "k3_e3": (3, 3, 1), "k3_e6": (3, 6, 1),
    "k5_e1": (5, 1, 1), "k5_e1_g2": (5, 1, 2), "k5_e3": (5, 3, 1), "k5_e6": (5, 6, 1),
}


def slots(dataset):
    """(c_in, c_out, input px, stride) of each of the 22 layers."""
    px, stem_s, strides, _, _ = SETTINGS[dataset]
    r, c_prev, out = px // stem_s, 16, []
    for n, c, s in zip(STAGE_LAYERS, STAGE_CHANNELS, strides):
        for i in range(n):
            out.append((c_prev if i == 0 else c, c, r, s if i == 0 else 1))
            r //= s if i == 0 else 1
        c_prev = c
    return out


def conv_params(c_in, c_out, k, groups=1):
    return c_in // groups * c_out * k * k


def bn_params(c):
    return 2 * c  # affine weight + bias


def block_params_macs(token, c_in, c_out, r_in, stride):
    """Closed-form (params, MACs) of one block; MACs exclude BN, residual adds and ReLUs."""
    r_out = r_in // stride
    if token == "skip":
        if stride == 1 and c_in == c_out:
            return 0, 0
        return conv_params(c_in, c_out, 1) + bn_params(c_out), c_in * c_out * r_out * r_out
    k, e, g = BLOCK_HP[token]
    mid = c_in * e
    params = (conv_params(c_in, mid, 1, g) + bn_params(mid)  # grouped 1x1 expand
              + mid * k * k + bn_params(mid)  # depthwise kxk
              + conv_params(mid, c_out, 1, g) + bn_params(c_out))  # grouped 1x1 project
    macs = (c_in // g * mid * r_in * r_in  # expand runs at the input resolution
            + mid * k * k * r_out * r_out
            + mid // g * c_out * r_out * r_out)
    return params, macs


def expected_params_macs(tokens, dataset):
    px, stem_s, _, header, classes = SETTINGS[dataset]
    r1 = px // stem_s
    params = conv_params(3, 16, 3) + bn_params(16)
    macs = 3 * 16 * 9 * r1 * r1
    for t, (ci, co, r, s) in zip(tokens, slots(dataset)):
        p, m = block_params_macs(t, ci, co, r, s)
        params, macs = params + p, macs + m
    r_last = slots(dataset)[-1][2]
    params += conv_params(352, header, 1) + bn_params(header) + header * classes + classes
    # header 1x1 conv, global average pool (fvcore: 1 per input element), linear without bias
    macs += 352 * header * r_last**2 + header * r_last**2 + header * classes
    return params, macs


@pytest.fixture(scope="module")
def space():
    return get_space("fbnet")


def test_registered():
    assert "fbnet" in list_spaces()


def test_parse_forms_agree(space):
    a = space.parse(MIXED)
    assert space.format(a) == str(a) == MIXED
    assert space.parse(MIXED_INDICES) == a
    assert space.parse(MIXED.replace("-", ", ")) == a
    assert space.parse(MIXED.replace("-", " ")) == a
    assert space.parse("[" + MIXED_INDICES.replace(" ", ", ") + "]") == a
    assert space.op_indices(a) == [int(i) for i in MIXED_INDICES.split()]


@pytest.mark.parametrize(
    "bad, parts",
    [
        (MIXED.replace("k3_e1_g2", "k7_e1", 1), ["'k7_e1'", "layer 3", "k3_e1_g2"]),
        (MIXED.rsplit("-", 1)[0], ["21 blocks", "expected 22"]),
        (MIXED + "-skip", ["23 blocks", "expected 22"]),
        ("garbage", ["'garbage'", "layer 1"]),
        ("", ["0 blocks", "expected 22"]),
        ("9 " * 22, ["'9'", "op index 0-8"]),
    ],
)
def test_bad_arch_names_bad_part(space, bad, parts):
    with pytest.raises(ArchError) as exc:
        space.parse(bad)
    msg = str(exc.value)
    assert "\n" not in msg
    for p in parts:
        assert p in msg


def test_unknown_dataset(space):
    with pytest.raises(DatasetError, match="imagenet"):
        space.dataset("ImageNet16-120")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(BLOCKS), min_size=22, max_size=22), st.sampled_from(["-", " ", ",", ", "]))
def test_parse_format_round_trip(tokens, sep):
    space = get_space("fbnet")
    a = space.arch(tokens)
    text = space.format(a)
    assert space.parse(text) == a and space.format(space.parse(text)) == text
    assert space.parse(sep.join(tokens)) == a
    assert space.decode(space.encode(a)) == a
    assert space.iso_key(a) == text
    assert space.index(a) is None


def test_sample_and_mutate_are_seeded(space):
    s1 = [space.sample(np.random.default_rng(3)) for _ in range(3)]
    assert s1 == [space.sample(np.random.default_rng(3)) for _ in range(3)]
    m = space.mutate(s1[0], 0, n_changes=2)
    assert sum(x != y for x, y in zip(s1[0].tokens, m.tokens)) == 2
    assert space.size == 9**22


@pytest.mark.parametrize("dataset", ["cifar100", "imagenet"])
@pytest.mark.parametrize("tokens", [("skip",) * 22, ("k3_e1",) * 22, tuple(MIXED.split("-"))],
                         ids=["all-skip", "all-k3_e1", "mixed"])
def test_params_and_macs_match_closed_form(space, dataset, tokens):
    model = space.build_model(space.arch(tokens), dataset)
    px = SETTINGS[dataset][0]
    size = model_size(model, (3, px, px))
    params, macs = expected_params_macs(tokens, dataset)
    assert round(size.params_m * 1e6) == params
    assert size.macs_m * 1e6 == pytest.approx(macs, abs=0.5)
    # fvcore skips only the residual adds: one per conv block that keeps its shape
    n_residual = sum(t != "skip" and ci == co and st == 1 for t, (ci, co, _, st) in zip(tokens, slots(dataset)))
    assert dict(size.unsupported_ops) == ({"aten::add": n_residual} if n_residual else {})
    # the analytic per-layer MACs used by cost models agree with the built model
    layer_macs = sum(space.layer_macs_m(lay) for lay in space.layers(space.arch(tokens), dataset))
    assert layer_macs * 1e6 == pytest.approx(macs, abs=0.5)
    # and the analytic size the search uses instead of tracing
    a_macs, a_params = space.analytic_size(space.arch(tokens), dataset)
    assert a_macs * 1e6 == pytest.approx(macs, abs=0.5) and round(a_params * 1e6) == params
    assert (a_macs, a_params) == (size.macs_m, size.params_m)  # integer sums: fvcore's values bit for bit


def test_all_skip_cifar_numbers_by_hand(space):
    # skips that project: 16->24, 24->32, 32->64, 64->112, 112->184, 184->352 (1x1 conv + BN each)
    proj = sum(a * b + 2 * b for a, b in [(16, 24), (24, 32), (32, 64), (64, 112), (112, 184), (184, 352)])
    assert proj == 97280
    assert expected_params_macs(("skip",) * 22, "cifar100")[0] == 464 + proj + 532416 + 150500 == 780660


@pytest.mark.parametrize("dataset", ["cifar100", "imagenet"])
def test_forward_shapes_and_layer_listing(space, dataset):
    px, _, _, header, classes = SETTINGS[dataset]
    a = space.parse(MIXED)
    model = space.build_model(a, dataset)
    x = torch.randn(2 if px == 32 else 1, 3, px, px)  # one 224-px image keeps the test fast
    with torch.no_grad():
        assert model(x).shape == (len(x), classes)
        feats = model.forward_features(x)
        assert model.forward_pre_logits(x).shape == (len(x), header)
    assert len(feats) == 1 + len(model.blocks) == 23
    layers = space.layers(a, dataset)
    assert [lay.position for lay in layers[1:23]] == [f"layer{i:02d}" for i in range(1, 23)]
    assert [tuple(f.shape[1:]) for f in feats] == [lay.out_shape for lay in layers[:23]]
    assert [(lay.in_shape[0], lay.out_shape[0], lay.in_shape[1]) for lay in layers[1:23]] == [
        s[:3] for s in slots(dataset)
    ]
    assert layers[-1].out_shape == (classes, 1, 1)


def test_layer_keys_mirror_hwnasbench_grammar(space):
    layers = space.layers(space.parse(MIXED), "cifar100")
    assert hwnasbench_key(layers[0]) == "ConvNorm_H32_W32_Cin3_Cout16_kernel3_stride1_group1"
    assert hwnasbench_key(layers[1]) == "ConvBlock_H32_W32_Cin16_Cout16_exp6_kernel5_stride1_group1"
    assert hwnasbench_key(layers[2]) == "Skip_H32_W32_Cin16_Cout24_stride1"
    assert hwnasbench_key(layers[6]) == "Skip_H32_W32_Cin24_Cout32_stride2"  # stride-2 skip is a 1x1 conv
    assert hwnasbench_key(layers[-3]) == "ConvNorm_H4_W4_Cin352_Cout1504_kernel1_stride1_group1"
    assert hwnasbench_key(layers[-2]) == "AvgP_H4_W4_Cin1504_Cout1504_kernel4_stride1"
    assert hwnasbench_key(layers[-1]) == "FC_Cin1504_Cout100"
    assert layers[1].key() == "ConvBlock-in16x32x32-out16x32x32-exp6-kernel5-stride1-group1"
    # same block at same-shaped layers of one stage shares a LUT key
    same = space.layers(space.arch(("k3_e3",) * 22), "cifar100")
    assert same[3].key() == same[4].key() != same[2].key()


def test_layer_modules_match_layer_shapes_and_model_params(space):
    a = space.parse(MIXED)
    total = 0
    for lay in space.layers(a, "cifar100"):
        m = space.layer_module(lay).eval()
        x = torch.randn(1, lay.in_shape[0]) if lay.op == "FC" else torch.randn(1, *lay.in_shape)
        with torch.no_grad():
            y = m(x)
        assert tuple(y.shape[1:]) == (lay.out_shape if y.dim() == 4 else (lay.out_shape[0],)), lay.position
        total += sum(p.numel() for p in m.parameters())
    assert total == sum(p.numel() for p in space.build_model(a, "cifar100").parameters())


def test_bn_option(space):
    model = space.build_model(space.parse(MIXED), "cifar100", bn_track_running_stats=False)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.running_mean is None for m in bns)


def test_arch_show_json_contract():
    res = CliRunner().invoke(cli, ["arch", "show", MIXED, MIXED_INDICES, "--space", "fbnet", "--dataset", "cifar100",
                                   "--json"])
    assert res.exit_code == 0, res.output
    recs = json.loads(res.output)
    assert len(recs) == 2 and recs[0] == recs[1]
    r = recs[0]
    assert r["arch"] == MIXED and r["space"] == "fbnet" and r["dataset"] == "cifar100"
    assert r["index"] is None and r["iso_key"] == MIXED
    params, macs = expected_params_macs(tuple(MIXED.split("-")), "cifar100")
    assert r["params_m"] == pytest.approx(params / 1e6, abs=1e-6)
    assert r["macs_m"] == pytest.approx(macs / 1e6, abs=1e-6)
    model = get_space("fbnet").build_model(get_space("fbnet").parse(MIXED), "cifar100")
    assert r["n_param_tensors"] == len(list(model.parameters()))


def test_arch_show_bad_block_is_one_line_exit_2():
    res = CliRunner().invoke(cli, ["arch", "show", MIXED.replace("skip", "skp", 1), "--space", "fbnet"])
    assert res.exit_code == 2
    assert "'skp'" in res.output and "layer 2" in res.output
