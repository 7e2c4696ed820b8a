"""Tests of helpers.lab.images: the offline photo and the classic filters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from helpers.lab import images


@pytest.mark.parametrize("name", images.PHOTOS)
def test_load_photo_shape_range_and_layout(name):
    photo = images.load_photo(name, width=64)
    assert photo.ndim == 3 and photo.shape[0] == 3 and photo.shape[2] == 64
    assert photo.shape[1] == 43  # 427 / 640 * 64, rounded
    assert photo.dtype == np.float64
    assert 0.0 <= photo.min() and photo.max() <= 1.0
    assert photo.std() > 0.05  # a real picture, not a flat array
    assert photo.flags["C_CONTIGUOUS"]


def test_load_photo_is_deterministic_and_channels_differ():
    a, b = images.load_photo(), images.load_photo()
    assert np.array_equal(a, b)
    assert not np.allclose(a[0], a[2])  # red and blue differ: a colour photo


def test_load_photo_validates_arguments():
    with pytest.raises(ValueError, match="name"):
        images.load_photo("cat.jpg")
    with pytest.raises(TypeError, match="name"):
        images.load_photo(3)
    with pytest.raises(ValueError, match="width"):
        images.load_photo(width=4)
    with pytest.raises(ValueError, match="width"):
        images.load_photo(width=10_000)
    with pytest.raises(TypeError, match="width"):
        images.load_photo(width=12.5)


@pytest.mark.parametrize("kernel", [images.box_blur(), images.box_blur(5), images.sharpen()])
def test_smoothing_and_sharpening_filters_keep_a_flat_image(kernel):
    assert kernel.ndim == 2 and kernel.shape[0] == kernel.shape[1]
    assert np.isclose(kernel.sum(), 1.0)


def test_sobel_filters_kill_flat_images_and_see_their_edges():
    for kernel in (images.sobel_x(), images.sobel_y()):
        assert np.isclose(kernel.sum(), 0.0)
    ramp = np.tile(np.arange(6.0), (6, 1))  # brightness grows left to right
    x = torch.from_numpy(ramp)[None, None]
    gx = F.conv2d(x, torch.from_numpy(images.sobel_x())[None, None])
    gy = F.conv2d(x, torch.from_numpy(images.sobel_y())[None, None])
    assert torch.all(gx > 0) and torch.all(gy == 0)


@given(st.integers(1, 9))
def test_box_blur_is_a_mean(size):
    kernel = images.box_blur(size)
    assert kernel.shape == (size, size)
    assert np.allclose(kernel, 1.0 / size**2)


def test_filters_validate_arguments():
    with pytest.raises(ValueError, match="size"):
        images.box_blur(0)
    with pytest.raises(TypeError, match="size"):
        images.box_blur(2.0)


def test_a_huge_box_blur_is_refused_before_it_is_allocated():
    assert images.box_blur(images.MAX_FILTER_SIZE).shape == (640, 640)
    with pytest.raises(ValueError, match="size must be at most 640"):
        images.box_blur(10**5)
