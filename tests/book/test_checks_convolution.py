"""Tests of the chapter 2 and 3 exercise checkers: right answers written in
several ways pass, common mistakes fail with their hint, other wrong answers
fail without a false hint."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checks_support import assert_fails, assert_passes
from hypothesis import given
from hypothesis import strategies as st

from helpers.book.checks.convolution import (
    DEPTHWISE_CASES,
    OUTPUT_SIZE_CASES,
    check_depthwise,
    check_output_size,
    reference_depthwise,
    torch_output_size,
)
from helpers.core.geometry import conv_output_size
from helpers.core.numpy_conv import conv2d, depthwise_conv2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE_GENERIC = "The formula is floor((H + 2p - d(k-1) - 1) / s) + 1."
DEPTHWISE_GENERIC = "cross-correlated with weight[c] alone"


def right_size(h, k, p, s, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def test_reference_output_size_matches_the_book_formula():
    for h, k, p, s, d in OUTPUT_SIZE_CASES:
        assert torch_output_size(h, k, p, s, d) == conv_output_size(
            h, k, stride=s, padding=p, dilation=d)


def test_output_size_cases_exercise_every_argument():
    for position in range(5):
        assert len({case[position] for case in OUTPUT_SIZE_CASES}) > 1


@pytest.mark.parametrize("answer", [
    right_size,
    lambda h, k, p, s, d: conv_output_size(h, k, stride=s, padding=p, dilation=d),
    lambda h, k, p, s, d: math.floor((h + 2 * p - d * (k - 1) - 1) / s) + 1,
    lambda h, k, p, s, d: int((h + 2 * p - d * (k - 1) - 1) / s) + 1,
    lambda h, k, p, s, d: np.int64(right_size(h, k, p, s, d)),
    lambda h, k, p, s, d: np.array(right_size(h, k, p, s, d)),
    lambda h, k, p, s, d: torch.tensor(right_size(h, k, p, s, d)),
    lambda h, k, p, s, d: F.conv2d(torch.zeros(1, 1, h, h), torch.zeros(1, 1, k, k),
                                   stride=s, padding=p, dilation=d).shape[-1],
], ids=["floor division", "book", "math.floor", "int()", "int64", "0-d array", "tensor",
        "torch"])
def test_output_size_accepts_right_answers(answer):
    result = check_output_size(answer)
    assert_passes(result)
    assert "Correct on all 279 settings" in result.message


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda h, k, p, s, d: (h + 2 * p - k) // s + 1, "dilated"),
    (lambda h, k, p, s, d: (h - d * (k - 1) - 1) // s + 1, "both sides"),
    (lambda h, k, p, s, d: (h + p - d * (k - 1) - 1) // s + 1, "2p"),
    (lambda h, k, p, s, d: (h + 2 * p - d * (k - 1) - 1) // s, "add 1"),
    (lambda h, k, p, s, d: (h + 2 * p - d * (k - 1)) // s, "not before"),
    (lambda h, k, p, s, d: -(-(h + 2 * p - d * (k - 1) - 1) // s) + 1, "floor"),
])
def test_output_size_explains_common_mistakes(wrong, hint):
    assert_fails(check_output_size(wrong), "PyTorch gives", "fn(input_size=", hint)


@pytest.mark.parametrize("wrong", [
    lambda h, k, p, s, d: 7,
    lambda h, k, p, s, d: (h + 2 * p - d * k) // s + 1,  # span d*k
    lambda h, k, p, s, d: (h + 2 * p - d * (k - 1) - 1) // s + 1 + (s == 3),  # one stride
    lambda h, k, p, s, d: (h + 2 * p - (k - 1) - 1) // s + 1 if d == 1 else h,
    lambda h, k, p, s, d: (h + 2 * p - k) // s + 1 if s > 1 else (h + 2 * p - k),
], ids=["constant", "span d*k", "stride 3 wrong", "dilation ignored", "mixture"])
def test_output_size_gives_no_false_hint(wrong):
    assert_fails(check_output_size(wrong), "PyTorch gives", SIZE_GENERIC)


def test_output_size_reports_floats_and_errors():
    result = check_output_size(lambda h, k, p, s, d: (h + 2 * p - d * (k - 1) - 1) / s + 1)
    assert_fails(result, "int", "//")

    def broken(h, k, p, s, d):
        raise ZeroDivisionError("oops")

    assert_fails(check_output_size(broken), "ZeroDivisionError", "oops")


def test_checkers_refuse_non_functions():
    with pytest.raises(TypeError, match="fn"):
        check_output_size(3)
    with pytest.raises(TypeError, match="fn"):
        check_depthwise("depthwise")


# --------------------------------------------------------------------------- depthwise


def loop_depthwise(x, weight):
    return np.stack([conv2d(x[c][None], weight[c][None, None])[0] for c in range(x.shape[0])])


def einsum_depthwise(x, weight):
    k = weight.shape[-1]
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
    return np.einsum("chwij,cij->chw", windows, weight)


def test_depthwise_cases_start_with_several_channels_and_vary_everything():
    assert DEPTHWISE_CASES[0][0] > 1
    assert {case[3] for case in DEPTHWISE_CASES} >= {1, 2, 3}
    assert any(h != w for _, h, w, _ in DEPTHWISE_CASES)


@pytest.mark.parametrize("answer", [
    loop_depthwise,
    einsum_depthwise,
    lambda x, w: np.stack([F.conv2d(torch.from_numpy(x[c:c + 1])[None],
                                    torch.from_numpy(w[c])[None, None])[0, 0]
                           for c in range(len(x))]),
    lambda x, w: einsum_depthwise(x.astype(np.float32), w.astype(np.float32)),
    lambda x, w: torch.stack([F.conv2d(torch.tensor(x[c:c + 1][None], dtype=torch.float32),
                                       torch.tensor(w[c][None, None], dtype=torch.float32))[0, 0]
                              for c in range(len(x))]),
    lambda x, w: torch.from_numpy(einsum_depthwise(x, w)).requires_grad_(),
    lambda x, w: loop_depthwise(x, w).tolist(),
    lambda x, w: loop_depthwise(x, w).astype(np.float32).tolist(),
    lambda x, w: np.asfortranarray(loop_depthwise(x, w)),
], ids=["loops", "einsum", "torch per channel", "float32", "torch float32",
        "tensor with grad", "nested list", "float32 list", "Fortran order"])
def test_depthwise_accepts_right_answers(answer):
    assert_passes(check_depthwise(answer))


def test_depthwise_refuses_float64_with_only_float32_precision_and_says_why():
    def rounded(x, w):
        return loop_depthwise(x, w).astype(np.float32).astype(np.float64)

    assert_fails(check_depthwise(rounded), "float32 precision")


def test_depthwise_detects_flipped_kernels():
    result = check_depthwise(lambda x, w: loop_depthwise(x, np.ascontiguousarray(w[:, ::-1, ::-1])))
    assert_fails(result, "flip")


def summed(x, w):
    return np.stack([conv2d(x, np.repeat(w[o][None, None], x.shape[0], axis=1))[0]
                     for o in range(x.shape[0])])


def test_depthwise_detects_channel_mixing():
    assert_fails(check_depthwise(summed), "normal convolution", "groups=3")


@pytest.mark.parametrize("wrong", [
    lambda x, w: loop_depthwise(x, w) + 1e-3,
    lambda x, w: loop_depthwise(x, np.roll(w, 1, axis=0)),  # weight of the wrong channel
    lambda x, w: loop_depthwise(x, w.transpose(0, 2, 1)),  # kernel transposed
    lambda x, w: loop_depthwise(np.abs(x), w),
    lambda x, w: loop_depthwise(x, w) * (np.arange(x.shape[0]) > 0)[:, None, None],
    lambda x, w: 2 * summed(x, w) - summed(x, w) + 0.5,
], ids=["offset", "rolled weights", "transposed kernel", "abs", "first map zero",
        "normal plus offset"])
def test_depthwise_gives_no_false_hint(wrong):
    assert_fails(check_depthwise(wrong), "values differ", DEPTHWISE_GENERIC)


@pytest.mark.parametrize("offset", [1e-6, 0.5])
def test_depthwise_channel_mixing_hint_needs_several_channels(offset):
    # with one channel a normal convolution is a depthwise one: no evidence
    def wrong_on_one_channel(x, w):
        return loop_depthwise(x, w) + (offset if x.shape[0] == 1 else 0)

    result = check_depthwise(wrong_on_one_channel)
    assert_fails(result, "(1, 5, 5)", DEPTHWISE_GENERIC)
    assert "normal convolution" not in result.message


@pytest.mark.parametrize(("wrong", "phrase"), [
    (lambda x, w: loop_depthwise(x, w).sum(axis=0), "single map"),
    (lambda x, w: loop_depthwise(x, w)[None], "batch"),
    (lambda x, w: depthwise_conv2d(x, w[:, None], padding="same"), "no padding"),
    (lambda x, w: loop_depthwise(x, w).astype(str), "strings"),
    (lambda x, w: None, "return a NumPy array"),
    (lambda x, w: 1 / 0, "ZeroDivisionError"),
])
def test_depthwise_reports_shapes_types_and_errors(wrong, phrase):
    assert_fails(check_depthwise(wrong), phrase)


def test_depthwise_detects_a_change_to_the_input():
    def zeroes_input(x, w):
        out = loop_depthwise(x, w)
        x[...] = 0
        return out

    def scales_input(x, w):
        x *= 2
        return loop_depthwise(x, w)

    assert_fails(check_depthwise(zeroes_input), "changed its argument x or weight in place")
    assert_fails(check_depthwise(scales_input), "in place", "result is wrong")


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
    assert np.allclose(ref, depthwise_conv2d(x, weight[:, None]), rtol=1e-12, atol=1e-12)
    assert np.allclose(ref, loop_depthwise(x, weight), rtol=1e-12, atol=1e-12)
