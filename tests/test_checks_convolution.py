"""Tests of the chapter 2 and 3 exercise checkers: right answers pass, common
mistakes fail with a message that names the case and gives a hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from helpers.checks.convolution import (
    OUTPUT_SIZE_CASES,
    check_depthwise,
    check_output_size,
    reference_depthwise,
    torch_output_size,
)
from helpers.numpy_conv import conv2d, conv_output_size, depthwise_conv2d


def right_size(h, k, p, s, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def test_reference_output_size_matches_the_book_formula():
    for h, k, p, s, d in OUTPUT_SIZE_CASES:
        assert torch_output_size(h, k, p, s, d) == conv_output_size(
            h, k, stride=s, padding=p, dilation=d)


def test_output_size_accepts_right_answers():
    assert check_output_size(right_size)
    assert check_output_size(
        lambda h, k, p, s, d: conv_output_size(h, k, stride=s, padding=p, dilation=d))
    assert "Correct" in str(check_output_size(right_size))


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda h, k, p, s, d: (h + 2 * p - k) // s + 1, "dilated"),
    (lambda h, k, p, s, d: (h - d * (k - 1) - 1) // s + 1, "both sides"),
    (lambda h, k, p, s, d: (h + p - d * (k - 1) - 1) // s + 1, "2p"),
    (lambda h, k, p, s, d: (h + 2 * p - d * (k - 1) - 1) // s, "add 1"),
    (lambda h, k, p, s, d: -(-(h + 2 * p - d * (k - 1) - 1) // s) + 1, "floor"),
    (lambda h, k, p, s, d: 7, "floor((H + 2p"),
])
def test_output_size_explains_common_mistakes(wrong, hint):
    result = check_output_size(wrong)
    assert not result
    assert "PyTorch gives" in result.message and "fn(input_size=" in result.message
    assert hint in result.message


def test_output_size_reports_floats_and_errors():
    result = check_output_size(lambda h, k, p, s, d: (h + 2 * p - d * (k - 1) - 1) / s + 1)
    assert not result and "int" in result.message and "//" in result.message

    def broken(h, k, p, s, d):
        raise ZeroDivisionError("oops")

    result = check_output_size(broken)
    assert not result and "ZeroDivisionError" in result.message and "oops" in result.message


def test_checkers_refuse_non_functions():
    with pytest.raises(TypeError, match="fn"):
        check_output_size(3)
    with pytest.raises(TypeError, match="fn"):
        check_depthwise("depthwise")


def loop_depthwise(x, weight):
    return np.stack([conv2d(x[c][None], weight[c][None, None])[0] for c in range(x.shape[0])])


def test_depthwise_accepts_right_answers():
    assert check_depthwise(loop_depthwise)
    assert check_depthwise(lambda x, w: depthwise_conv2d(x, w[:, None]))
    # a tensor result is accepted too
    assert check_depthwise(lambda x, w: F.conv2d(torch.from_numpy(x)[None],
                                                 torch.from_numpy(w)[:, None],
                                                 groups=x.shape[0])[0])


def test_depthwise_detects_flipped_kernels():
    result = check_depthwise(lambda x, w: loop_depthwise(x, np.ascontiguousarray(w[:, ::-1, ::-1])))
    assert not result and "flip" in result.message


def test_depthwise_detects_channel_mixing():
    def summed(x, w):
        return np.stack([conv2d(x, np.repeat(w[o][None, None], x.shape[0], axis=1))[0]
                         for o in range(x.shape[0])])

    result = check_depthwise(summed)
    assert not result and "normal convolution" in result.message


def test_depthwise_reports_shapes_types_and_errors():
    result = check_depthwise(lambda x, w: loop_depthwise(x, w).sum(axis=0))
    assert not result and "shape" in result.message and "single map" in result.message
    result = check_depthwise(lambda x, w: loop_depthwise(x, w)[None])
    assert not result and "batch" in result.message
    result = check_depthwise(lambda x, w: loop_depthwise(x, w).tolist())
    assert not result and "NumPy array" in result.message
    result = check_depthwise(lambda x, w: loop_depthwise(x, w) + 1e-3)
    assert not result and "largest difference" in result.message
    result = check_depthwise(lambda x, w: 1 / 0)
    assert not result and "ZeroDivisionError" in result.message


def test_depthwise_does_not_let_the_learner_change_the_reference():
    def in_place(x, w):
        out = loop_depthwise(x, w)
        x[...] = 0
        return out

    assert check_depthwise(in_place)


@given(h=st.integers(1, 40), k=st.integers(1, 7), p=st.integers(0, 3), s=st.integers(1, 4),
       d=st.integers(1, 3))
def test_torch_output_size_is_the_formula(h, k, p, s, d):
    if h + 2 * p < d * (k - 1) + 1:
        return
    assert torch_output_size(h, k, p, s, d) == right_size(h, k, p, s, d)


@given(c=st.integers(1, 5), h=st.integers(3, 10), w=st.integers(3, 10), k=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_reference_depthwise_matches_the_book_and_the_loops(c, h, w, k, seed):
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((c, h, w)), rng.standard_normal((c, k, k))
    ref = reference_depthwise(x, weight)
    assert np.allclose(ref, depthwise_conv2d(x, weight[:, None]))
    assert np.allclose(ref, loop_depthwise(x, weight))
