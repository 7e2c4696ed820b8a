"""Tests of helpers.lab.cnn: the small CNN of the experiments and its parameter budget."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers.core.cost import count_parameters
from helpers.core.layers import DepthwiseSeparableConv2d
from helpers.core.models import ConvBNReLU
from helpers.lab.cnn import cnn_parameters, make_cnn, separable_width_for_budget
from helpers.lab.digits import NUM_CLASSES


@pytest.mark.parametrize("kind", ["normal", "separable"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_cnn_output_shape_and_parameter_count(kind, batch_norm):
    model = make_cnn(kind, 6, batch_norm=batch_norm, seed=0)
    assert model(torch.rand(5, 1, 8, 8)).shape == (5, NUM_CLASSES)
    assert count_parameters(model) == cnn_parameters(kind, 6, batch_norm=batch_norm)
    separable = [m for m in model.modules() if isinstance(m, DepthwiseSeparableConv2d)]
    assert len(separable) == (2 if kind == "separable" else 0)
    bn = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bool(bn) == batch_norm


@pytest.mark.parametrize("width", [1, 4, 8, 16])
def test_cnn_parameter_formula(width):
    w, k2, c = width, 9, NUM_CLASSES
    stem = k2 * w + 2 * w  # conv (no bias) + batch norm
    normal = stem + (k2 * w * 2 * w + 4 * w) + (k2 * 4 * w * w + 4 * w) + (2 * w * c + c)
    separable = stem + (k2 * w + 2 * w + 2 * w * w + 4 * w) \
        + (k2 * 2 * w + 4 * w + 4 * w * w + 4 * w) + (2 * w * c + c)
    assert cnn_parameters("normal", width) == normal
    assert cnn_parameters("separable", width) == separable


def test_twins_have_the_same_widths():
    normal, separable = make_cnn("normal", 8), make_cnn("separable", 8)
    shapes = []
    for model in (normal, separable):
        x, out = torch.rand(2, 1, 8, 8), []
        for layer in model:
            x = layer(x)
            out.append(tuple(x.shape))
        shapes.append(out)
    assert shapes[0][-1] == shapes[1][-1]
    assert set(shapes[0]) == set(shapes[1])


def test_seeded_models_are_reproducible_and_leave_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = make_cnn("separable", 4, seed=7)
    after = torch.rand(3)
    assert torch.equal(before, after)
    b, c = make_cnn("separable", 4, seed=7), make_cnn("separable", 4, seed=8)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(),
                                                         strict=True))


@pytest.mark.parametrize("kwargs, error, name", [
    ({"kind": "depthwise"}, ValueError, "kind"), ({"width": 0}, ValueError, "width"),
    ({"width": 2.0}, TypeError, "width"), ({"batch_norm": 1}, TypeError, "batch_norm"),
    ({"seed": -3}, ValueError, "seed"), ({"num_classes": 0}, ValueError, "num_classes"),
])
def test_make_cnn_validates(kwargs, error, name):
    with pytest.raises(error, match=name):
        make_cnn(**kwargs)


@settings(max_examples=15, deadline=None)
@given(target=st.integers(100, 60_000), batch_norm=st.booleans())
def test_width_for_budget_is_the_closest(target, batch_norm):
    width = separable_width_for_budget(target, batch_norm=batch_norm)
    best = abs(cnn_parameters("separable", width, batch_norm=batch_norm) - target)
    for other in (width - 1, width + 1):
        if other >= 1:
            assert abs(cnn_parameters("separable", other, batch_norm=batch_norm) - target) >= best


def test_width_for_budget_matches_the_normal_network():
    target = cnn_parameters("normal", 8)
    width = separable_width_for_budget(target)
    assert width > 8
    assert abs(cnn_parameters("separable", width) - target) / target < 0.05


def test_width_for_budget_validates():
    with pytest.raises(ValueError, match="target_params"):
        separable_width_for_budget(0)
    with pytest.raises(TypeError, match="target_params"):
        separable_width_for_budget(1000.0)
    with pytest.raises(ValueError, match="max_width"):
        separable_width_for_budget(10**9, max_width=8)
    with pytest.raises(ValueError, match="max_width=1000000000 gives a network above"):
        separable_width_for_budget(1000, max_width=10**9)


def test_normal_blocks_are_the_models_conv_bn_relu():
    """The normal CNN is made of ConvBNReLU's layers, flattened (names 0, 1, 2, ...),
    initialised by PyTorch's own initialiser in float64 and rounded to float32."""
    model = make_cnn("normal", 4, seed=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.set_default_dtype(torch.float64)
        try:
            stem = ConvBNReLU(1, 4)
        finally:
            torch.set_default_dtype(torch.float32)
    assert torch.get_default_dtype() == torch.float32
    assert model[0].weight.dtype == torch.float32
    assert [type(m) for m in model[:3]] == [type(m) for m in stem]
    assert torch.equal(model[0].weight, stem[0].weight.float())
    assert model[0].bias is None and make_cnn("normal", 4, batch_norm=False)[0].bias is not None
    assert model(torch.rand(8, 1, 8, 8)).shape == (8, NUM_CLASSES)
    assert make_cnn("separable", 4, num_classes=3)(torch.rand(2, 1, 8, 8)).shape == (2, 3)


# --- many seeds at once -------------------------------------------------------


@pytest.mark.parametrize("kind", ["normal", "separable"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_ensemble_computes_each_member_exactly(kind, batch_norm):
    from helpers.lab.cnn import make_cnn_ensemble, stack_cnns

    seeds = [3, 0, 7]
    members = [make_cnn(kind, 4, batch_norm=batch_norm, seed=s).double().eval()
               for s in seeds]
    ensemble = make_cnn_ensemble(kind, 4, seeds, batch_norm=batch_norm).double().eval()
    assert count_parameters(ensemble) == len(seeds) * count_parameters(members[0])
    x = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    with torch.no_grad():
        together = ensemble(x)
        alone = torch.stack([m(x) for m in members], dim=1)
        assert together.shape == (6, 3, NUM_CLASSES)
        assert torch.allclose(together, alone, atol=1e-12)
        # the same as stacking the members by hand, and members never mix:
        # changing one member's input weights changes only its own logits
        stacked = stack_cnns(members).eval()
        assert torch.allclose(stacked(x), alone, atol=1e-12)
        stacked[1].weight[:4].add_(1.0)  # first member's stem
        changed = stacked(x)
    assert not torch.allclose(changed[:, 0], alone[:, 0])
    assert torch.allclose(changed[:, 1:], alone[:, 1:], atol=1e-12)


def test_ensemble_validates():
    from helpers.lab.cnn import make_cnn_ensemble, stack_cnns

    with pytest.raises(ValueError, match="seeds"):
        make_cnn_ensemble("normal", 4, [])
    with pytest.raises(TypeError, match="seeds"):  # an int is not a list of seeds
        make_cnn_ensemble("normal", 4, 3)
    with pytest.raises(ValueError, match="same kind and width"):
        stack_cnns([make_cnn("normal", 4), make_cnn("normal", 5)])
    with pytest.raises(ValueError, match="models"):
        stack_cnns([])


def test_huge_networks_are_refused_before_anything_is_allocated():
    from helpers.lab.cnn import MAX_PARAMETERS

    with pytest.raises(ValueError, match="above the limit"):
        make_cnn("normal", 10**5)  # would be 540 billion parameters
    with pytest.raises(ValueError, match="above the limit"):
        make_cnn("separable", 10**4, seed=0)
    with pytest.raises(ValueError, match="parameters"):  # its layers refuse on meta too
        cnn_parameters("normal", 10**5)
    assert cnn_parameters("normal", 43) < MAX_PARAMETERS


def test_stack_cnns_refuses_what_it_cannot_stack_clearly():
    from helpers.lab.cnn import stack_cnns

    a = make_cnn("normal", 2, seed=0)
    cases = [
        (a, TypeError, "models must be a list"),
        ([a, "model"], TypeError, r"models\[1\] must be a make_cnn model"),
        ([a, nn.Sequential()], TypeError, r"models\[1\]"),
        ([a, make_cnn("separable", 2)], ValueError, "same kind and width"),
        ([a, make_cnn("normal", 2, batch_norm=False)], ValueError, "same kind and width"),
        ([a, make_cnn("normal", 2, num_classes=3)], ValueError, "same kind and width"),
        ([a, make_cnn("normal", 2).double()], ValueError, "same dtype"),
        ([nn.Sequential(nn.Linear(2, 2), nn.Dropout())] * 2, TypeError,
         "cannot stack a Dropout"),
        ([stack_cnns([a, a])], TypeError, "cannot stack a _Replicate"),
    ]
    for models, error, message in cases:
        with pytest.raises(error, match=message):
            stack_cnns(models)


def test_ensemble_seeds_may_be_numpy_and_huge_ensembles_are_refused():
    import numpy as np

    from helpers.lab.cnn import MAX_PARAMETERS, make_cnn_ensemble

    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        expected = make_cnn_ensemble("normal", 2, [3, 4]).eval()(x)
        for seeds in (np.array([3, 4]), (np.int64(3), np.int32(4)), torch.tensor([3, 4])):
            assert torch.equal(make_cnn_ensemble("normal", 2, seeds).eval()(x), expected)
    for bad in ([True, 1], [1.0], np.array([0.5])):
        with pytest.raises(TypeError, match=r"seeds\[0\]"):
            make_cnn_ensemble("normal", 2, bad)
    with pytest.raises(ValueError, match="seed"):
        make_cnn("normal", 2, seed=2**64)
    members = MAX_PARAMETERS // cnn_parameters("normal", 64) + 1
    with pytest.raises(ValueError, match="seeds"):  # refused before building any member
        make_cnn_ensemble("normal", 64, list(range(members)))
