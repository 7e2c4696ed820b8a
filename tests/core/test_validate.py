"""The shared argument checks: the right error type, the argument's name, NumPy scalars."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core._validate import (
    as_pair,
    check_array,
    check_bool,
    check_callable,
    check_input_channels,
    check_int,
    check_number,
    check_positive_int,
)


def test_ints_and_pairs():
    assert as_pair(3, "kernel_size") == (3, 3)
    assert as_pair((2, np.int64(5)), "kernel_size") == (2, 5)
    assert as_pair(0, "padding", minimum=0) == (0, 0)
    assert check_positive_int(np.int32(4), "n") == 4 and type(check_int(np.int8(0), "n", 0)) is int
    with pytest.raises(TypeError, match="n must be a positive int, got True"):
        check_positive_int(True, "n")
    with pytest.raises(TypeError, match=r"size must be a positive int or a pair.*got \(1, 2, 3\)"):
        as_pair((1, 2, 3), "size")
    with pytest.raises(TypeError, match="a pair of positive ints, got '33'"):
        as_pair("33", "size")
    with pytest.raises(ValueError, match="n must be an int >= 2, got 1"):
        check_int(1, "n", minimum=2)


def test_check_bool_accepts_only_true_and_false():
    assert check_bool(True, "bias") is True and check_bool(np.False_, "bias") is False
    for bad in ("no", 1, 0, None, 1.0):
        with pytest.raises(TypeError, match="bias must be True or False"):
            check_bool(bad, "bias")


def test_check_number_kinds_and_ranges():
    assert check_number(np.float32(0.5), "lr") == pytest.approx(0.5)
    assert type(check_number(np.int64(3), "x")) is float
    assert check_number(0, "x", low=0) == 0.0
    with pytest.raises(ValueError, match=r"lr must be a number in \(0, inf\], got 0.0"):
        check_number(0.0, "lr", low=0, low_open=True)
    with pytest.raises(ValueError, match=r"t must be a number in \[0, 1\), got 1.0"):
        check_number(1, "t", low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match="x must be a finite number, got nan"):
        check_number(float("nan"), "x")
    for bad in (True, np.bool_(True), "0.1", None, [0.1], 1j):
        with pytest.raises(TypeError, match="x must be"):
            check_number(bad, "x")


def test_check_callable():
    assert check_callable(print, "fn") is print
    with pytest.raises(TypeError, match="fn must be a function of x, got 3"):
        check_callable(3, "fn", "a function of x")


def test_check_array():
    with pytest.raises(ValueError, match=r"image must be a 2-D array, got a 3-D array"):
        check_array(np.zeros((1, 2, 3)), "image", ndim=2)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        check_array(np.array(["a"]), "x")
    with pytest.raises(ValueError, match="must not be empty"):
        check_array(np.zeros((0, 3, 4, 4)), "x")
    assert check_array(np.zeros((0, 3, 4, 4)), "x", empty_batch=True).shape[0] == 0
    with pytest.raises(ValueError, match="must not be empty"):
        check_array(np.zeros((0, 0, 4, 4)), "x", empty_batch=True)


def test_check_input_channels():
    check_input_channels(torch.zeros(2, 3, 4, 4), 3, "Layer")
    check_input_channels(torch.zeros(3, 4, 4), 3, "Layer")
    with pytest.raises(TypeError, match=r"Layer expected a torch.Tensor.*got ndarray"):
        check_input_channels(np.zeros((2, 3, 4, 4)), 3, "Layer")
    with pytest.raises(ValueError, match=r"Layer expected a 4-D input \(B, M, H, W\) or a 3-D"):
        check_input_channels(torch.zeros(3, 4), 3, "Layer")
    with pytest.raises(ValueError, match=r"with 3 channels \(in_channels=3\), got 2"):
        check_input_channels(torch.zeros(1, 2, 4, 4), 3, "Layer")
