"""The NumPy convolutions against torch.nn.functional.conv2d on many random configurations."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import examples
from hypothesis import given
from hypothesis import strategies as st

from helpers.core._validate import as_pair
from helpers.core.numpy_conv import (
    conv2d,
    conv2d_naive,
    depthwise_conv2d,
    pointwise_conv2d,
    separable_conv2d,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TOLERANCE = {np.float32: {"rtol": 1e-4, "atol": 1e-4}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}


def torch_conv2d(x, weight, bias=None, **kwargs) -> np.ndarray:
    """The reference: torch.nn.functional.conv2d on NumPy arrays."""
    with warnings.catch_warnings():  # "same" with an even kernel warns about a copy
        warnings.simplefilter("ignore", UserWarning)
        out = F.conv2d(
            torch.from_numpy(x),
            torch.from_numpy(weight),
            None if bias is None else torch.from_numpy(bias),
            **kwargs,
        )
    return out.numpy()


def assert_matches(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, **TOLERANCE[expected.dtype.type])


@dataclass
class Config:
    """One random convolution problem."""

    x: np.ndarray
    weight: np.ndarray
    bias: np.ndarray | None
    kwargs: dict  # stride, padding, dilation (as the user would write them)


def int_or_pair(values: st.SearchStrategy[int]) -> st.SearchStrategy:
    return st.one_of(values, st.tuples(values, values))


@st.composite
def conv_configs(draw, max_channels=3, max_size=8, max_batch=3, max_kernel=4, depthwise=False):
    """A random convolution that PyTorch accepts, with data."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    groups = 1 if depthwise else draw(st.integers(1, 3))
    channels_per_group = 1 if depthwise else draw(st.integers(1, max_channels))
    channels = draw(st.integers(1, max_channels)) if depthwise else groups * channels_per_group
    if depthwise:
        groups = channels
    out_per_group = draw(st.integers(1, 3))
    kernel = draw(st.tuples(st.integers(1, max_kernel), st.integers(1, max_kernel)))
    dilation = draw(int_or_pair(st.integers(1, 3)))
    padding = draw(st.one_of(int_or_pair(st.integers(0, 3)), st.sampled_from(["valid", "same"])))
    stride = 1 if padding == "same" else draw(int_or_pair(st.integers(1, 3)))
    dilation_hw = as_pair(dilation, "dilation")
    pads = (0, 0) if isinstance(padding, str) else as_pair(padding, "padding", minimum=0)
    size = []
    for k, d, p in zip(kernel, dilation_hw, pads, strict=True):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)  # the dilated kernel must fit the padded input
        size.append(draw(st.integers(smallest, smallest + max_size)))
    batch = draw(st.sampled_from([None] + list(range(1, max_batch + 1))))
    has_bias = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (channels, *size) if batch is None else (batch, channels, *size)
    x = rng.standard_normal(shape).astype(dtype)
    out_channels = groups * out_per_group
    weight = rng.standard_normal((out_channels, channels // groups, *kernel)).astype(dtype)
    bias = rng.standard_normal(out_channels).astype(dtype) if has_bias else None
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation}
    if not depthwise:
        kwargs["groups"] = groups
    return Config(x, weight, bias, kwargs)


# ---------------------------------------------------------------------------
# Every function equals PyTorch


@examples(300)
@given(conv_configs(max_channels=4, max_size=12))
def test_conv2d_matches_torch(config):
    expected = torch_conv2d(config.x, config.weight, config.bias, **config.kwargs)
    assert_matches(conv2d(config.x, config.weight, config.bias, **config.kwargs), expected)


@examples(100)
@given(conv_configs(max_channels=2, max_size=3, max_batch=2, max_kernel=3))
def test_conv2d_naive_matches_torch(config):
    expected = torch_conv2d(config.x, config.weight, config.bias, **config.kwargs)
    assert_matches(conv2d_naive(config.x, config.weight, config.bias, **config.kwargs), expected)


@examples(300)
@given(conv_configs(max_channels=5, max_size=12, depthwise=True))
def test_depthwise_conv2d_matches_torch(config):
    channels = config.x.shape[-3]
    expected = torch_conv2d(config.x, config.weight, config.bias, groups=channels, **config.kwargs)
    assert_matches(depthwise_conv2d(config.x, config.weight, config.bias, **config.kwargs),
                   expected)


@examples(200)
@given(
    batch=st.sampled_from([None, 1, 2, 3]),
    channels=st.integers(1, 6),
    out_channels=st.integers(1, 6),
    size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    weight_4d=st.booleans(),
    has_bias=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_pointwise_conv2d_matches_torch(
    batch, channels, out_channels, size, weight_4d, has_bias, dtype, seed
):
    rng = np.random.default_rng(seed)
    shape = (channels, *size) if batch is None else (batch, channels, *size)
    x = rng.standard_normal(shape).astype(dtype)
    weight = rng.standard_normal((out_channels, channels, 1, 1)).astype(dtype)
    bias = rng.standard_normal(out_channels).astype(dtype) if has_bias else None
    expected = torch_conv2d(x, weight, bias)
    given_weight = weight if weight_4d else weight[:, :, 0, 0]
    assert_matches(pointwise_conv2d(x, given_weight, bias), expected)


@examples(200)
@given(conv_configs(max_channels=4, max_size=10, depthwise=True), st.integers(1, 5),
       st.booleans(), st.booleans())
def test_separable_conv2d_matches_torch(config, out_channels, weight_4d, has_bias):
    hidden_channels = config.weight.shape[0]
    rng = np.random.default_rng(out_channels)
    dtype = config.x.dtype
    pointwise = rng.standard_normal((out_channels, hidden_channels, 1, 1)).astype(dtype)
    pointwise_bias = rng.standard_normal(out_channels).astype(dtype) if has_bias else None
    channels = config.x.shape[-3]
    hidden = torch_conv2d(config.x, config.weight, config.bias, groups=channels, **config.kwargs)
    expected = torch_conv2d(hidden, pointwise, pointwise_bias)
    actual = separable_conv2d(
        config.x,
        config.weight,
        pointwise if weight_4d else pointwise[:, :, 0, 0],
        depthwise_bias=config.bias,
        pointwise_bias=pointwise_bias,
        **config.kwargs,
    )
    assert_matches(actual, expected)


# ---------------------------------------------------------------------------
# Hand-checked examples and conventions


def test_conv2d_small_example_by_hand():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    weight = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # top-left minus bottom-right: always -5
    for conv in (conv2d, conv2d_naive):
        out = conv(x, weight, np.array([1.0]))
        np.testing.assert_array_equal(out, np.full((1, 1, 3, 3), -4.0))


def test_depthwise_is_conv2d_with_groups_and_multiplier_order():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5))
    weight = rng.standard_normal((6, 1, 3, 3))  # depth multiplier 2
    out = depthwise_conv2d(x, weight, padding=1)
    np.testing.assert_allclose(out, conv2d(x, weight, padding=1, groups=3), atol=1e-12)
    # Output channel c*m + j comes from input channel c.
    only_channel_1 = conv2d(x[:, 1:2], weight[3:4], padding=1)
    np.testing.assert_allclose(out[:, 3:4], only_channel_1, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "function",
    [
        lambda x: conv2d(x, np.ones((2, 3, 3, 3), x.dtype)),
        lambda x: conv2d_naive(x, np.ones((2, 3, 3, 3), x.dtype)),
        lambda x: depthwise_conv2d(x, np.ones((3, 1, 3, 3), x.dtype), stride=2),
        lambda x: depthwise_conv2d(x, np.ones((3, 1, 3, 3), x.dtype)),
        lambda x: pointwise_conv2d(x, np.ones((2, 3), x.dtype)),
        lambda x: separable_conv2d(x, np.ones((3, 1, 3, 3), x.dtype), np.ones((2, 3), x.dtype)),
    ],
)
def test_output_dtype_follows_input_and_input_is_untouched(function, dtype):
    x = np.arange(75, dtype=dtype).reshape(3, 5, 5)
    before = x.copy()
    out = function(x)
    assert out.dtype == dtype
    assert out.ndim == 3  # no batch dimension in, none out
    assert out.flags.c_contiguous
    np.testing.assert_array_equal(x, before)


FUNCTIONS = {
    "conv2d": lambda x, dw, pw: conv2d(x, np.repeat(dw, 2, axis=1)[:3], padding=1),
    "conv2d_naive": lambda x, dw, pw: conv2d_naive(x, np.repeat(dw, 2, axis=1)[:3], padding=1),
    "depthwise stride 1": lambda x, dw, pw: depthwise_conv2d(x, dw, padding=1),
    "depthwise stride 2": lambda x, dw, pw: depthwise_conv2d(x, dw, stride=2),
    "pointwise": lambda x, dw, pw: pointwise_conv2d(x, pw),
    "separable": lambda x, dw, pw: separable_conv2d(x, dw, pw, padding=1),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_an_empty_batch_gives_an_empty_output_like_torch(name):
    x = np.zeros((0, 2, 6, 5), dtype=np.float32)
    dw, pw = np.ones((2, 1, 3, 3), np.float32), np.ones((4, 2), np.float32)
    out = FUNCTIONS[name](x, dw, pw)
    full = FUNCTIONS[name](np.ones((1, 2, 6, 5), np.float32), dw, pw)
    assert out.shape == (0, *full.shape[1:]) and out.dtype == np.float32
    with pytest.raises(ValueError, match="x must not be empty"):
        FUNCTIONS[name](np.zeros((1, 2, 0, 5), np.float32), dw, pw)


def test_float16_depthwise_sums_in_float32_like_torch():
    """On a 100x100 image the float16 result is as close to the exact one as PyTorch's
    (which sums in float32 and rounds once); summing in float16 is several times worse."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 4, 100, 100)).astype(np.float16)
    weight = rng.standard_normal((8, 1, 5, 5)).astype(np.float16)
    for stride in (1, 2):
        exact = depthwise_conv2d(x.astype(np.float64), weight.astype(np.float64), padding=2,
                                 stride=stride)
        got = depthwise_conv2d(x, weight, padding=2, stride=stride)
        assert got.dtype == np.float16
        torch_out = F.conv2d(torch.from_numpy(x).float(), torch.from_numpy(weight).float(),
                             padding=2, stride=stride, groups=4).half().numpy()
        ours = np.abs(got - exact).max()
        theirs = np.abs(torch_out - exact).max()
        assert ours <= 1.25 * theirs


def test_integer_input_computes_in_float64():
    out = conv2d(np.ones((1, 1, 3, 3), dtype=np.int64), np.ones((1, 1, 2, 2), dtype=np.int64))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 4.0))


def test_same_padding_puts_the_extra_zero_bottom_right():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    weight = np.zeros((1, 1, 2, 2))
    weight[0, 0, 0, 0] = 1.0  # picks the top-left pixel of each window
    out = conv2d(x, weight, padding="same")
    np.testing.assert_array_equal(out, x)  # the windows start at each pixel: no zero on top/left


# ---------------------------------------------------------------------------
# Bad input: a clear error naming the argument

X = np.zeros((1, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))
DW = np.zeros((3, 1, 3, 3))

CONV_ERRORS = [
    # (kwargs for conv2d, error type, message pattern)
    ({"x": X[:, :2]}, ValueError, r"x has 2 channels but weight .* expects 3"),
    ({"weight": np.zeros((4, 3, 3, 3)), "groups": 2, "x": np.zeros((1, 3, 5, 5))}, ValueError,
     r"groups=2 must divide the 3 channels of x"),
    ({"weight": np.zeros((3, 2, 3, 3)), "groups": 2, "x": np.zeros((1, 4, 5, 5))}, ValueError,
     r"groups=2 must divide the 3 output channels of weight"),
    ({"weight": np.zeros((4, 3, 7, 3))}, ValueError, r"kernel spans 7 pixels in height.*larger"),
    ({"weight": np.zeros((4, 3, 3, 3)), "dilation": 3}, ValueError,
     r"kernel spans 7 pixels in height"),
    ({"stride": 0}, ValueError, r"stride must be a positive int or a pair of positive ints, got 0"),
    ({"stride": (1, 0)}, ValueError, r"stride must be a positive int .*got \(1, 0\)"),
    ({"stride": 1.5}, TypeError, r"stride must be a positive int.*got 1.5"),
    ({"dilation": 0}, ValueError, r"dilation must be a positive int"),
    ({"groups": 0}, ValueError, r"groups must be a positive int, got 0"),
    ({"padding": -1}, ValueError, r"padding must be 'valid', 'same', a non-negative int.*got -1"),
    ({"padding": (0, -2)}, ValueError, r"padding must be .*got \(0, -2\)"),
    ({"padding": "full"}, ValueError, r"padding must be 'valid', 'same'.*got 'full'"),
    ({"padding": "Same"}, ValueError, r"padding must be 'valid', 'same'.*got 'Same'"),
    ({"x": np.zeros((5, 5))}, ValueError, r"x must be a 3-D or 4-D array, got a 2-D array"),
    ({"x": np.zeros((1, 1, 3, 5, 5))}, ValueError, r"x must be a 3-D or 4-D array"),
    ({"weight": np.zeros((4, 3, 3))}, ValueError, r"weight must be a 4-D array, got a 3-D"),
    ({"bias": np.zeros(3)}, ValueError, r"bias must have shape \(4,\).*got shape \(3,\)"),
    ({"bias": np.zeros((4, 1))}, ValueError, r"bias must be a 1-D array"),
    ({"bias": [0.0] * 4}, TypeError, r"bias must be a NumPy array, got list"),
    ({"x": [[[0.0]]]}, TypeError, r"x must be a NumPy array, got list"),
    ({"x": "image"}, TypeError, r"x must be a NumPy array, got str"),
    ({"x": torch.zeros(1, 3, 5, 5)}, TypeError, r"x must be a NumPy array, got Tensor"),
    ({"x": np.zeros((1, 0, 5, 5))}, ValueError, r"x must not be empty"),
    ({"weight": np.zeros((0, 3, 3, 3))}, ValueError, r"weight must not be empty"),
    ({"x": np.full((1, 3, 5, 5), "a")}, TypeError, r"x must hold real numbers"),
]


@pytest.mark.parametrize("function", [conv2d, conv2d_naive])
@pytest.mark.parametrize(("changes", "error", "pattern"), CONV_ERRORS)
def test_conv2d_rejects_bad_input(function, changes, error, pattern):
    arguments = {"x": X, "weight": W, **changes}
    with pytest.raises(error, match=pattern):
        function(**arguments)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: depthwise_conv2d(X, np.zeros((4, 1, 3, 3))), ValueError,
         r"weight must have shape \(M \* depth_multiplier, 1, kh, kw\) with M=3"),
        (lambda: depthwise_conv2d(X, W), ValueError, r"weight must have shape \(M \*"),
        (lambda: depthwise_conv2d(X, DW, np.zeros(4)), ValueError, r"bias must have shape \(3,\)"),
        (lambda: depthwise_conv2d(X, DW, padding="same", stride=0), ValueError, "stride must"),
        (lambda: depthwise_conv2d(X, DW, stride=-1), ValueError, "stride must be a positive"),
        (lambda: depthwise_conv2d([1, 2], DW), TypeError, r"x must be a NumPy array, got list"),
        (lambda: pointwise_conv2d(X, np.zeros((2, 3, 3, 3))), ValueError,
         r"weight must have shape \(out_channels, C\) or \(out_channels, C, 1, 1\)"),
        (lambda: pointwise_conv2d(X, np.zeros((2, 4))), ValueError,
         r"x has 3 channels but weight .* expects 4"),
        (lambda: pointwise_conv2d(X, np.zeros(3)), ValueError, r"weight must be a 2-D or 4-D"),
        (lambda: pointwise_conv2d(X, np.zeros((2, 3)), np.zeros(3)), ValueError,
         r"bias must have shape \(2,\)"),
        (lambda: separable_conv2d(X, DW, np.zeros((2, 4))), ValueError,
         r"pointwise_weight must take the 3 channels made by the depthwise step"),
        (lambda: separable_conv2d(X, np.zeros((4, 1, 3, 3)), np.zeros((2, 4))), ValueError,
         r"depthwise_weight must have shape \(M \*"),
        (lambda: separable_conv2d(X, DW, np.zeros((2, 3)), pointwise_bias=np.zeros(3)),
         ValueError, r"pointwise_bias must have shape \(2,\)"),
        (lambda: separable_conv2d(X, DW, np.zeros((2, 3)), depthwise_bias=np.zeros(2)),
         ValueError, r"depthwise_bias must have shape \(3,\)"),
        (lambda: separable_conv2d(X, DW, "weights"), TypeError,
         r"pointwise_weight must be a NumPy array, got str"),
    ],
)
def test_other_functions_reject_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
