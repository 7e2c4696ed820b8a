"""Tests of the chapter 4-5 exercise checkers: right answers pass, typical
mistakes fail with a message that names the mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers.checks.separable import (
    _reference_pointwise,
    _reference_separable,
    check_pointwise_matmul,
    check_separable_macs,
    check_separable_module,
)
from helpers.layers import DepthwiseSeparableConv2d

# ----------------------------------------------------------------------------- pointwise


def good_pointwise(x, weight):
    c, h, w = x.shape
    return (weight @ x.reshape(c, h * w)).reshape(weight.shape[0], h, w)


@settings(max_examples=30, deadline=None)
@given(c_in=st.integers(1, 6), c_out=st.integers(1, 6), h=st.integers(1, 6),
       w=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_reference_pointwise_is_the_matrix_product_and_einsum(c_in, c_out, h, w, seed):
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((c_in, h, w)), rng.standard_normal((c_out, c_in))
    want = np.einsum("oc,chw->ohw", weight, x)
    np.testing.assert_allclose(_reference_pointwise(x, weight), want, atol=1e-10)
    np.testing.assert_allclose(good_pointwise(x, weight), want, atol=1e-10)


def test_pointwise_right_answers_pass():
    assert check_pointwise_matmul(good_pointwise)
    assert check_pointwise_matmul(lambda x, w: np.einsum("oc,chw->ohw", w, x))
    # float32 and torch tensors are accepted too
    assert check_pointwise_matmul(lambda x, w: good_pointwise(x, w).astype(np.float32))
    assert check_pointwise_matmul(lambda x, w: torch.from_numpy(good_pointwise(x, w)))


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda x, w: (x.reshape(-1, x.shape[0]) @ w.T).reshape(w.shape[0], *x.shape[1:]),
         "does not move the channels last"),
        (lambda x, w: (w @ x.reshape(x.shape[0], -1)), "back to (C_out, H, W)"),
        (lambda x, w: np.einsum("oc,chw->hwo", w, x), "channels-last"),
        (lambda x, w: w @ x, "raised"),
        (lambda x, w: [1, 2, 3], "return a NumPy array"),
        (lambda x, w: good_pointwise(x, w) + 0.1, "wrong values"),
    ],
)
def test_pointwise_mistakes_fail_with_a_hint(answer, phrase):
    result = check_pointwise_matmul(answer)
    assert not result
    assert phrase in result.message


def test_pointwise_transposed_weight_is_named():
    result = check_pointwise_matmul(lambda x, w: good_pointwise(x, w.T.copy())
                                    if w.shape[0] == w.shape[1] else good_pointwise(x, w))
    assert not result and "transposed" in result.message


def test_checkers_refuse_non_callables():
    for checker in (check_pointwise_matmul, check_separable_module, check_separable_macs):
        with pytest.raises(TypeError, match="must be"):
            checker(42)


# ----------------------------------------------------------------------------- module


class GoodSeparable(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, bias=True):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size,
                                   padding=kernel_size // 2, groups=in_channels, bias=bias)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class SeedSeparable(nn.Module):  # the tutorial's class: no padding
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, groups=in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class NoGroups(GoodSeparable):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__(in_channels, out_channels, kernel_size)
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size,
                                   padding=kernel_size // 2)


class WrongOrder(GoodSeparable):
    def forward(self, x):
        return self.depthwise(x) + self.pointwise(x)


class WithReLU(GoodSeparable):
    def forward(self, x):
        return self.pointwise(torch.relu(self.depthwise(x)))


class NoAttributes(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.steps = nn.Sequential(nn.Conv2d(in_channels, in_channels, kernel_size,
                                             padding=kernel_size // 2, groups=in_channels),
                                   nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x):
        return self.steps(x)


def test_separable_right_answers_pass():
    assert check_separable_module(GoodSeparable)
    assert check_separable_module(DepthwiseSeparableConv2d)  # the book's own layer
    assert check_separable_module(lambda m, n, k: GoodSeparable(m, n, k, bias=False))


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (SeedSeparable, "padding="),
        (NoGroups, "groups="),
        (WrongOrder, "nothing else"),
        (WithReLU, "nothing else"),
        (NoAttributes, "self.depthwise"),
        (lambda m, n, k: "not a module", "not an nn.Module"),
    ],
)
def test_separable_mistakes_fail_with_a_hint(answer, phrase):
    result = check_separable_module(answer)
    assert not result
    assert phrase in result.message


def test_separable_wrong_pointwise_kernel_is_named():
    class BigPointwise(GoodSeparable):
        def __init__(self, m, n, k):
            super().__init__(m, n, k)
            self.pointwise = nn.Conv2d(m, n, 3, padding=1)

    result = check_separable_module(BigPointwise)
    assert not result and "1x1" in result.message


# ----------------------------------------------------------------------------- MACs


def test_macs_right_answer_passes():
    assert check_separable_macs(lambda m, n, k, h, w: (k * k * m + m * n) * h * w)


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (lambda m, n, k, h, w: k * k * m * n * h * w, "normal convolution"),
        (lambda m, n, k, h, w: k * k * m * h * w, "only the depthwise"),
        (lambda m, n, k, h, w: m * n * h * w, "only the pointwise"),
        (lambda m, n, k, h, w: k * k * m + m * n, "parameter count"),
        (lambda m, n, k, h, w: float((k * k * m + m * n) * h * w), "return an int"),
        (lambda m, n, k, h, w: 1 // 0, "ZeroDivisionError"),
    ],
)
def test_macs_mistakes_fail_with_a_hint(answer, phrase):
    result = check_separable_macs(answer)
    assert not result
    assert phrase in result.message


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 5), n=st.integers(1, 5), k=st.sampled_from([1, 3, 5]),
       h=st.integers(5, 9), w=st.integers(5, 9), bias=st.booleans())
def test_reference_separable_is_the_two_step_composition(m, n, k, h, w, bias):
    torch.manual_seed(m * 100 + n * 10 + k)
    depthwise = nn.Conv2d(m, m, k, groups=m, bias=bias)
    pointwise = nn.Conv2d(m, n, 1, bias=bias)
    x = torch.randn(2, m, h, w)
    with torch.no_grad():
        want = F.conv2d(F.conv2d(x, depthwise.weight, depthwise.bias, padding=k // 2,
                                 groups=m), pointwise.weight, pointwise.bias)
        got = _reference_separable(x, depthwise, pointwise)
    assert torch.allclose(got, want, atol=1e-5)
