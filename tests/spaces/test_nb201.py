"""NB201 space: parsing, index order, isomorphism, built network (vs the shipped benchmark fixture)."""

from __future__ import annotations

import csv
from collections import defaultdict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from edgenas.errors import ArchError, DatasetError, UnknownNameError
from edgenas.hardware.flops import count_flops_nb201, count_params
from edgenas.spaces import get_space, list_spaces
from edgenas.spaces.nb201 import NB201_OPS

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


@pytest.fixture(scope="module")
def fixture_rows(request):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "nb201_fixture.csv"
    return list(csv.DictReader(ln for ln in open(path) if not ln.startswith("#")))


def test_registry():
    assert "nb201" in list_spaces()
    with pytest.raises(UnknownNameError, match="nb20"):
        get_space("nb20")


def test_known_indices(space):
    assert space.format(space.from_index(6111)) == BEST_C10
    assert space.index(space.parse(BEST_C10)) == 6111
    assert str(space.parse("0")) == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    )


def test_index_and_iso_agree_with_benchmark_fixture(space, fixture_rows):
    ours, theirs = defaultdict(set), defaultdict(set)
    for r in fixture_rows:
        a = space.parse(r["arch_str"])
        assert space.index(a) == int(r["index"])
        assert space.format(a) == r["arch_str"]
        assert space.iso_key(a) == r["unique_str"]
        ours[space.iso_key(a)].add(r["index"])
        theirs[r["unique_str"]].add(r["index"])
    assert sorted(map(sorted, ours.values())) == sorted(map(sorted, theirs.values()))


def test_enumerate_is_index_order_and_complete(space):
    archs = list(space.enumerate())
    assert len(archs) == 15625 == space.size
    assert len({a.tokens for a in archs}) == 15625
    assert [space.index(a) for a in archs[:50]] == list(range(50))


def test_isomorphic_archs_share_key(space):
    # skip_connect into node 1 then 3x3 from node 1 == 3x3 directly from node 0, everything else none
    a = space.parse("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|")
    b = space.parse("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    c = space.parse("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|")
    assert space.iso_key(a) == space.iso_key(b) != space.iso_key(c)


@pytest.mark.parametrize(
    "bad, part",
    [
        ("|foo~0|+|none~0|none~1|+|none~0|none~1|none~2|", "'foo'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2"),
        ("|none~0|+|none~0|none~1|", "3 node groups"),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "~1"),
        ("garbage", "3 node groups"),
        ("", "3 node groups"),
        ("15625", "out of range"),
        ("|nor_conv_3x4~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nor_conv_3x3"),
    ],
)
def test_malformed_arch_names_bad_part(space, bad, part):
    with pytest.raises(ArchError) as exc:
        space.parse(bad)
    msg = str(exc.value)
    assert part in msg and "\n" not in msg


def test_unknown_dataset(space):
    with pytest.raises(DatasetError, match="cifar10"):
        space.dataset("cifar-10")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(NB201_OPS), min_size=6, max_size=6))
def test_parse_format_round_trip(tokens):
    space = get_space("nb201")
    a = space.arch(tokens)
    text = space.format(a)
    assert space.parse(text) == a
    assert space.format(space.parse(text)) == text
    assert space.from_index(space.index(a)) == a
    assert space.decode(space.encode(a)) == a


def test_sample_and_mutate_are_seeded(space):
    s1 = [space.sample(np.random.default_rng(3)) for _ in range(3)]
    s2 = [space.sample(np.random.default_rng(3)) for _ in range(3)]
    assert s1 == s2
    a = space.parse(BEST_C10)
    m = space.mutate(a, 0)
    assert sum(x != y for x, y in zip(a.tokens, m.tokens)) == 1
    assert space.mutate(a, 0) == m


@pytest.mark.parametrize("dataset, classes, res", [("cifar10", 10, 32), ("cifar100", 100, 32), ("ImageNet16-120", 120, 16)])
def test_forward_shapes(space, dataset, classes, res):
    model = space.build_model(space.parse(BEST_C10), dataset)
    out = model(torch.randn(2, 3, res, res))
    assert out.shape == (2, classes)
    feats = model.forward_features(torch.randn(2, 3, res, res))
    assert len(feats) == 1 + len(model.blocks) == 18
    assert feats[-1].shape[1:] == (64, res // 4, res // 4)


def test_params_and_flops_match_benchmark_fixture(space, fixture_rows):
    rows = [r for r in fixture_rows if r["params_m"]][:40]
    assert len(rows) == 40
    for r in rows:
        model = space.build_model(space.parse(r["arch_str"]), "cifar10")
        params_m, _ = count_params(model)
        assert params_m == pytest.approx(float(r["params_m"]), abs=1e-4)
        flops_m = count_flops_nb201(model, (3, 32, 32))
        assert flops_m == pytest.approx(float(r["flops_m"]), rel=1e-2)
        # the residual is a constant 1088 FLOPs per 32-px network (see edgenas.hardware.flops)
        assert float(r["flops_m"]) - flops_m == pytest.approx(0.001088, abs=1e-6)


def test_analytic_size_is_fvcore_on_the_built_model_bit_for_bit(space):
    from edgenas.hardware.flops import model_size
    from edgenas.spaces import DatasetSpec

    # every op on some edge (per-edge counts add up), at 32 px, 16 px and a 64-px grayscale task
    dead = "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|none~2|"
    for text, ds in [(BEST_C10, "cifar10"), (dead, "ImageNet16-120"), (BEST_C10, DatasetSpec("gray64", 7, 64, 1))]:
        a = space.parse(text)
        m = model_size(space.build_model(a, ds), space.dataset(ds).input_shape)
        assert space.analytic_size(a, ds) == (m.macs_m, m.params_m)


def test_layers_listing_has_shapes(space):
    layers = space.layers(space.parse(BEST_C10), "cifar10")
    edges = [lay for lay in layers if ".edge" in lay.position]
    assert len(edges) == 6 * 15
    assert edges[0].in_shape == (16, 32, 32) and edges[-1].out_shape == (64, 8, 8)
    assert layers[-1].out_shape == (10, 1, 1)
    assert len({lay.position for lay in layers}) == len(layers)


DEAD = "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"


def test_degenerate_archs_have_no_live_path(space):
    assert space.is_degenerate(space.parse(DEAD))
    assert space.is_degenerate(space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
    # live through node 1 only via a conv: not degenerate
    assert not space.is_degenerate(space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"))
    assert not space.is_degenerate(space.parse(BEST_C10))
    # brute force against the definition: every path from node 0 to node 3 crosses a none edge
    import itertools

    def reaches(tokens):
        edges = {(1, 0): tokens[0], (2, 0): tokens[1], (2, 1): tokens[2], (3, 0): tokens[3], (3, 1): tokens[4],
                 (3, 2): tokens[5]}
        paths = [[(1, 0), (2, 1), (3, 2)], [(1, 0), (3, 1)], [(2, 0), (3, 2)], [(3, 0)]]
        return any(all(edges[e] != "none" for e in p) for p in paths)

    dead = sum(not reaches(t) for t in itertools.product(NB201_OPS, repeat=6))
    assert dead == sum(space.is_degenerate(a) for a in space.enumerate()) == 341


def test_degenerate_arch_output_does_not_depend_on_the_input(space):
    torch.manual_seed(0)
    x1, x2 = torch.randn(2, 3, 32, 32), 5 * torch.randn(2, 3, 32, 32)
    for text, constant in ((DEAD, True), (BEST_C10, False)):
        model = space.build_model(space.parse(text), "cifar10").eval()
        with torch.no_grad():
            same = torch.allclose(model(x1), model(x2), atol=1e-6)
        assert same == constant, text


def test_fbnet_has_no_degenerate_arch():
    fb = get_space("fbnet")
    assert not fb.is_degenerate(fb.parse("-".join(["skip"] * 22)))
