"""Where a kernel lands: its span, "same" padding and the output size, against PyTorch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import examples
from hypothesis import given
from hypothesis import strategies as st

from helpers.core.geometry import conv_output_size, kernel_span, resolve_padding, same_padding

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@examples(300)
@given(
    size=st.integers(1, 20),
    kernel_size=st.integers(1, 7),
    stride=st.integers(1, 4),
    padding=st.one_of(st.integers(0, 4), st.sampled_from(["valid", "same"])),
    dilation=st.integers(1, 3),
)
def test_conv_output_size_matches_torch(size, kernel_size, stride, padding, dilation):
    if padding == "same":
        stride = 1
    x = torch.zeros(1, 1, size, 1)
    weight = torch.zeros(1, 1, kernel_size, 1)
    pad_total = {"valid": 0, "same": dilation * (kernel_size - 1)}.get(padding, None)
    if pad_total is None:
        pad_total = 2 * padding
    if dilation * (kernel_size - 1) + 1 > size + pad_total:  # does not fit: both refuse
        with pytest.raises(RuntimeError):
            F.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation)
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv_output_size(size, kernel_size, stride, padding, dilation)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = F.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation)
    assert conv_output_size(size, kernel_size, stride, padding, dilation) == out.shape[2]


@examples(100)
@given(kernel_size=st.integers(1, 8), dilation=st.integers(1, 4), size=st.integers(1, 12))
def test_same_padding_is_torchs(kernel_size, dilation, size):
    before, after = same_padding(kernel_size, dilation)
    assert before + after == kernel_span(kernel_size, dilation) - 1 and after - before in (0, 1)
    x = torch.randn(1, 1, size, size)
    weight = torch.randn(1, 1, kernel_size, kernel_size)
    with warnings.catch_warnings():  # "same" with an even kernel warns about a copy
        warnings.simplefilter("ignore", UserWarning)
        want = F.conv2d(x, weight, padding="same", dilation=dilation)
    got = F.conv2d(F.pad(x, (before, after, before, after)), weight, dilation=dilation)
    torch.testing.assert_close(got, want)


def test_resolve_padding():
    assert resolve_padding("valid", (3, 3), (2, 2), (1, 1)) == ((0, 0), (0, 0))
    assert resolve_padding("same", (2, 3), (1, 1), (1, 2)) == ((0, 1), (2, 2))
    assert resolve_padding((1, np.int64(2)), (3, 3), (1, 1), (1, 1)) == ((1, 1), (2, 2))
    # strided "same": the one policy, symmetric zeros (torchvision's)
    assert resolve_padding("same", (3, 3), (2, 1), (1, 1)) == ((1, 1), (1, 1))
    assert resolve_padding("same", (4, 5), 2, 1) == ((1, 1), (2, 2))
    assert resolve_padding(1, 3) == ((1, 1), (1, 1))  # ints for kernel, stride, dilation
    with pytest.raises(ValueError, match="got 'full'"):
        resolve_padding("full", (3, 3), (1, 1), (1, 1))


def test_conv_output_size_examples():
    assert conv_output_size(8, 3) == 6  # the book's 8x8 input with 3x3 filters
    assert conv_output_size(224, 3, stride=2, padding=1) == 112
    assert conv_output_size(7, 3, padding="same", dilation=2) == 7
    assert conv_output_size(7, 3, padding="valid") == 5
    assert kernel_span(3) == 3 and kernel_span(3, 18) == 37
    assert conv_output_size(np.int64(8), np.int32(3)) == 6
    assert conv_output_size(8, 3, stride=2, padding="same") == 4  # ceil(8 / 2)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: conv_output_size(0, 3), ValueError, r"size must be a positive int, got 0"),
        (lambda: conv_output_size(5, 3, stride=0), ValueError, r"stride must be a positive int"),
        (lambda: conv_output_size(5, 3, padding=-1), ValueError,
         r"padding must be a non-negative int, got -1"),
        (lambda: conv_output_size(5, 3, padding="full"), ValueError, r"got 'full'"),
        (lambda: resolve_padding("same", "3", 1, 1), TypeError, "kernel_size must be"),
        (lambda: conv_output_size(2, 3), ValueError, r"kernel spans 3 pixels.*larger"),
        (lambda: conv_output_size(5, 2.0), TypeError, r"kernel_size must be a positive int"),
        (lambda: kernel_span(3, 0), ValueError, r"dilation must be a positive int"),
        (lambda: same_padding(0), ValueError, r"kernel_size must be a positive int"),
    ],
)
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
