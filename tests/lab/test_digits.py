"""Tests of helpers.lab.digits: the digits split and subsampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.lab.digits import NUM_CLASSES, DigitsData, Split, load_digits_split, subsample


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


def test_fractions_may_be_numpy_scalars(data):
    assert len(subsample(data.train, np.float32(0.5))) == len(subsample(data.train, 0.5))
    split = load_digits_split(val_fraction=np.float64(0.2), test_fraction=np.float32(0.2))
    assert len(split.test) == len(load_digits_split().test)


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


def test_split_accepts_any_integer_labels_and_refuses_the_rest():
    x = torch.zeros(3, 1, 8, 8)
    for dtype in (torch.int32, torch.int16, torch.uint8):
        split = Split(x, torch.tensor([0, 9, 4], dtype=dtype))
        assert split.y.dtype == torch.int64 and split.y.tolist() == [0, 9, 4]
    from_numpy = Split(x.numpy(), np.array([1, 2, 3], dtype=np.int32))  # Windows' default
    assert from_numpy.y.dtype == torch.int64 and isinstance(from_numpy.x, torch.Tensor)
    with pytest.raises(TypeError, match="y must hold integer labels"):
        Split(x, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="y must hold labels 0..9"):
        Split(x, torch.tensor([0, 10, 1]))
    with pytest.raises(ValueError, match="y must hold labels 0..9"):
        Split(x, torch.tensor([0, -1, 1]))
    with pytest.raises(TypeError, match="x must hold floating"):
        Split(torch.zeros(3, 1, 8, 8, dtype=torch.int64), torch.tensor([0, 1, 2]))


def test_class_counts_refuses_labels_changed_in_place():
    split = Split(torch.zeros(2, 1, 8, 8), torch.tensor([0, 1]))
    split.y[1] = 10  # a tensor is mutable even in a frozen dataclass
    with pytest.raises(ValueError, match="labels must be 0..9"):
        split.class_counts()


def test_training_on_int32_labels_works():
    from helpers.lab.cnn import make_cnn
    from helpers.lab.train import train

    data = load_digits_split(seed=0)
    labels32 = Split(data.val.x, data.val.y.to(torch.int32))
    history = train(make_cnn("normal", 2, seed=0), labels32, None, epochs=1)
    assert history.epochs == 1


def test_split_refuses_uint64_labels_meta_tensors_and_nan_images():
    x, y = torch.zeros(3, 1, 8, 8), torch.tensor([0, 9, 4])
    with pytest.raises(TypeError, match="y must hold integer labels .* got dtype torch.uint64"):
        Split(x, np.array([0, 9, 4], dtype=np.uint64))
    with pytest.raises(TypeError, match="y must hold integer labels"):
        Split(x, torch.tensor([True, False, True]))
    with pytest.raises(ValueError, match="x must be a dense tensor on the CPU"):
        Split(torch.zeros(3, 1, 8, 8, device="meta"), y)
    with pytest.raises(ValueError, match="y must be a dense tensor on the CPU"):
        Split(x, torch.zeros(3, dtype=torch.int64, device="meta"))
    for bad in (float("nan"), float("inf")):
        images = x.clone()
        images[1, 0, 2, 3] = bad
        with pytest.raises(ValueError, match="x must hold finite pixel values"):
            Split(images, y)
    unsigned = Split(x.numpy(), np.array([0, 9, 4], dtype=np.uint32))
    assert unsigned.y.dtype == torch.int64 and unsigned.y.tolist() == [0, 9, 4]
