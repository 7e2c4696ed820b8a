"""The shared argument checks: the right error type, the argument's name, NumPy scalars."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core._validate import (
    as_pair,
    require_array,
    require_bool,
    require_callable,
    require_input_channels,
    require_int,
    require_number,
    require_positive_int,
)


def test_ints_and_pairs():
    assert as_pair(3, "kernel_size") == (3, 3)
    assert as_pair((2, np.int64(5)), "kernel_size") == (2, 5)
    assert as_pair(0, "padding", minimum=0) == (0, 0)
    assert require_positive_int(np.int32(4), "n") == 4
    assert type(require_int(np.int8(0), "n", 0)) is int
    with pytest.raises(TypeError, match="n must be a positive int, got True"):
        require_positive_int(True, "n")
    with pytest.raises(TypeError, match=r"size must be a positive int or a pair.*got \(1, 2, 3\)"):
        as_pair((1, 2, 3), "size")
    with pytest.raises(TypeError, match="a pair of positive ints, got '33'"):
        as_pair("33", "size")
    with pytest.raises(ValueError, match="n must be an int >= 2, got 1"):
        require_int(1, "n", minimum=2)


def test_require_bool_accepts_only_true_and_false():
    assert require_bool(True, "bias") is True and require_bool(np.False_, "bias") is False
    for bad in ("no", 1, 0, None, 1.0):
        with pytest.raises(TypeError, match="bias must be True or False"):
            require_bool(bad, "bias")


def test_require_number_kinds_and_ranges():
    assert require_number(np.float32(0.5), "lr") == pytest.approx(0.5)
    assert type(require_number(np.int64(3), "x")) is float
    assert require_number(0, "x", low=0) == 0.0
    with pytest.raises(ValueError, match=r"lr must be a number in \(0, inf\], got 0.0"):
        require_number(0.0, "lr", low=0, low_open=True)
    with pytest.raises(ValueError, match=r"t must be a number in \[0, 1\), got 1.0"):
        require_number(1, "t", low=0, high=1, high_open=True)
    with pytest.raises(ValueError, match="x must be a finite number, got nan"):
        require_number(float("nan"), "x")
    for bad in (True, np.bool_(True), "0.1", None, [0.1], 1j):
        with pytest.raises(TypeError, match="x must be"):
            require_number(bad, "x")


def test_require_callable():
    assert require_callable(print, "fn") is print
    with pytest.raises(TypeError, match="fn must be a function of x, got 3"):
        require_callable(3, "fn", "a function of x")


def test_require_array():
    with pytest.raises(ValueError, match=r"image must be a 2-D array, got a 3-D array"):
        require_array(np.zeros((1, 2, 3)), "image", ndim=2)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        require_array(np.array(["a"]), "x")
    with pytest.raises(ValueError, match="must not be empty"):
        require_array(np.zeros((0, 3, 4, 4)), "x")
    assert require_array(np.zeros((0, 3, 4, 4)), "x", empty_batch=True).shape[0] == 0
    with pytest.raises(ValueError, match="must not be empty"):
        require_array(np.zeros((0, 0, 4, 4)), "x", empty_batch=True)


def test_require_input_channels():
    require_input_channels(torch.zeros(2, 3, 4, 4), 3, "Layer")
    require_input_channels(torch.zeros(3, 4, 4), 3, "Layer")
    with pytest.raises(TypeError, match=r"Layer expected a torch.Tensor.*got ndarray"):
        require_input_channels(np.zeros((2, 3, 4, 4)), 3, "Layer")
    with pytest.raises(ValueError, match=r"Layer expected a 4-D input \(B, M, H, W\) or a 3-D"):
        require_input_channels(torch.zeros(3, 4), 3, "Layer")
    with pytest.raises(ValueError, match=r"with 3 channels \(in_channels=3\), got 2"):
        require_input_channels(torch.zeros(1, 2, 4, 4), 3, "Layer")


def test_module_and_parameter_bound():
    from helpers.core._validate import MAX_PARAMETERS, require_module, require_parameter_count

    module = torch.nn.Linear(1, 1)
    assert require_module(module) is module
    with pytest.raises(TypeError, match="net must be a torch.nn.Module, got dict"):
        require_module({}, "net")
    require_parameter_count(MAX_PARAMETERS, "a layer")
    with pytest.raises(ValueError, match="a layer would have"):
        require_parameter_count(MAX_PARAMETERS + 1, "a layer")


def test_require_number_refuses_an_int_beyond_floats_range():
    with pytest.raises(ValueError, match="x must be a finite number, got inf"):
        require_number(10**400, "x")
    with pytest.raises(ValueError, match="x must be a finite number, got -inf"):
        require_number(-(10**400), "x")


def test_seeds():
    from helpers.core._validate import MAX_SEED, require_seed, require_seeds

    assert require_seed(np.int64(3)) == 3 and require_seed(MAX_SEED) == MAX_SEED
    with pytest.raises(ValueError, match="seed must be at most"):
        require_seed(2**64)
    for bad in (True, 1.0, "1"):
        with pytest.raises(TypeError, match="seed"):
            require_seed(bad)
    assert require_seeds(np.array([1, 2])) == [1, 2] and require_seeds((np.int32(4),)) == [4]
    assert require_seeds(torch.tensor([5])) == [5]
    with pytest.raises(TypeError, match=r"seeds\[0\] must be a non-negative int, got 1.0"):
        require_seeds(np.array([1.0]))
    with pytest.raises(TypeError, match=r"seeds\[1\]"):
        require_seeds([1, False])
    for bad in (3, "12", np.zeros((1, 1), dtype=int), None):
        with pytest.raises(TypeError, match="seeds must be a list of seeds"):
            require_seeds(bad)
    with pytest.raises(ValueError, match="seeds must hold at least one seed"):
        require_seeds(np.array([], dtype=int))
