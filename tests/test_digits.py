"""Tests of helpers.digits: the digits split, subsampling and the small CNNs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers.cost import count_parameters
from helpers.digits import (
    NUM_CLASSES,
    DigitsData,
    Split,
    cnn_parameters,
    load_digits_split,
    make_cnn,
    separable_width_for_budget,
    subsample,
)
from helpers.layers import DepthwiseSeparableConv2d


@pytest.fixture(scope="module")
def data() -> DigitsData:
    return load_digits_split()


def test_split_shapes_ranges_and_sizes(data):
    sizes = [len(data.train), len(data.val), len(data.test)]
    assert sum(sizes) == 1797
    assert abs(len(data.val) - 0.2 * 1797) < NUM_CLASSES
    assert abs(len(data.test) - 0.2 * 1797) < NUM_CLASSES
    for split in (data.train, data.val, data.test):
        assert split.x.shape[1:] == (1, 8, 8)
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.int64
        assert float(split.x.min()) >= 0.0 and float(split.x.max()) <= 1.0
        assert float(split.x.max()) == 1.0
        assert set(split.y.tolist()) == set(range(NUM_CLASSES))


def test_split_is_stratified(data):
    for split in (data.train, data.val, data.test):
        counts = split.class_counts()
        shares = [c / len(split) for c in counts]
        assert max(shares) - min(shares) < 0.02, counts


def test_splits_are_disjoint_and_cover_the_data(data):
    from sklearn.datasets import load_digits

    rows = torch.cat([data.train.x, data.val.x, data.test.x]).reshape(-1, 64)
    original = torch.from_numpy(load_digits().data).float() / 16
    # same multiset of images: sort rows lexicographically via a weighted key
    key = torch.arange(64, dtype=torch.float64)
    assert torch.equal(torch.sort(rows.double() @ key).values,
                       torch.sort(original.double() @ key).values)


def test_split_is_fixed_by_the_seed():
    a, b, c = load_digits_split(seed=0), load_digits_split(seed=0), load_digits_split(seed=1)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert not torch.equal(a.train.y, c.train.y) or not torch.equal(a.train.x, c.train.x)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"val_fraction": 0}, ValueError, "val_fraction"),
    ({"test_fraction": 1.0}, ValueError, "test_fraction"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, ValueError, "below 1"),
    ({"val_fraction": "0.2"}, TypeError, "val_fraction"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 1.5}, TypeError, "seed"),
])
def test_load_digits_split_validates(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_digits_split(**kwargs)


@settings(max_examples=25, deadline=None)
@given(fraction=st.floats(0.01, 1.0), seed=st.integers(0, 1000))
def test_subsample_is_stratified_and_nested(data, fraction, seed):
    part = subsample(data.train, fraction, seed=seed)
    full = data.train.class_counts()
    counts = part.class_counts()
    for have, total in zip(counts, full, strict=True):
        assert have == max(1, round(fraction * total))
    smaller = subsample(data.train, fraction / 2, seed=seed)
    rows = {tuple(r) for r in part.x.reshape(len(part), -1).tolist()}
    assert all(tuple(r) in rows for r in smaller.x.reshape(len(smaller), -1).tolist())


def test_subsample_is_seeded_and_whole_fraction_is_identity(data):
    a = subsample(data.train, 0.3, seed=4)
    assert torch.equal(a.x, subsample(data.train, 0.3, seed=4).x)
    assert not torch.equal(a.x, subsample(data.train, 0.3, seed=5).x)
    assert subsample(data.train, 1.0) is data.train


@pytest.mark.parametrize("fraction, error", [(0, ValueError), (1.5, ValueError),
                                             (float("nan"), ValueError), (True, TypeError)])
def test_subsample_validates(data, fraction, error):
    with pytest.raises(error, match="fraction"):
        subsample(data.train, fraction)
    with pytest.raises(TypeError, match="split"):
        subsample(data.train.x, 0.5)


def test_split_validates():
    with pytest.raises(ValueError, match="shape"):
        Split(torch.zeros(3, 8, 8), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(TypeError, match="tensors"):
        Split([1], torch.zeros(1))


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
    ({"seed": -3}, ValueError, "seed"),
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
