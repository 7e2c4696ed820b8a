"""The PyTorch layers: same results as the NumPy functions, gradients, structure, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from conftest import examples
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from helpers.core.layers import DepthwiseConv2d, DepthwiseSeparableConv2d, PointwiseConv2d
from helpers.core.numpy_conv import depthwise_conv2d, pointwise_conv2d, separable_conv2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def numpy_of(tensor: torch.Tensor | None) -> np.ndarray | None:
    return None if tensor is None else tensor.detach().numpy()


def run(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings(), torch.no_grad():  # "same" with an even kernel warns
        warnings.simplefilter("ignore", UserWarning)
        return layer(x)


int_or_pair = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))


@st.composite
def layer_configs(draw):
    """Constructor arguments of a depthwise (separable) layer, and an input size that fits."""
    kernel = st.integers(1, 4)
    kernel_size = draw(st.one_of(kernel, st.tuples(kernel, kernel)))
    stride = draw(int_or_pair)
    dilation = draw(int_or_pair)
    padding = draw(st.one_of(st.sampled_from(["same", "valid"]), st.integers(0, 2),
                             st.tuples(st.integers(0, 2), st.integers(0, 2))))
    arguments = {
        "in_channels": draw(st.integers(1, 4)),
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "depth_multiplier": draw(st.integers(1, 3)),
        "bias": draw(st.booleans()),
    }
    size = draw(st.integers(10, 14))  # a dilated 4x4 kernel spans at most 10 pixels
    return arguments, size


@examples(150)
@given(layer_configs(), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_layers_equal_the_numpy_functions(config, out_channels, seed):
    arguments, size = config
    torch.manual_seed(seed)
    x = torch.randn(2, arguments["in_channels"], size, size + 1, dtype=torch.float64)

    depthwise = DepthwiseConv2d(**arguments).double()
    padding = depthwise.conv.padding  # "same" with stride 1, else the pair actually used
    expected = depthwise_conv2d(x.numpy(), numpy_of(depthwise.weight), numpy_of(depthwise.bias),
                                stride=arguments["stride"], padding=padding,
                                dilation=arguments["dilation"])
    np.testing.assert_allclose(run(depthwise, x).numpy(), expected, rtol=1e-10, atol=1e-10)

    separable = DepthwiseSeparableConv2d(out_channels=out_channels, **arguments).double()
    expected = separable_conv2d(
        x.numpy(),
        numpy_of(separable.depthwise.weight),
        numpy_of(separable.pointwise.weight),
        numpy_of(separable.depthwise.bias),
        numpy_of(separable.pointwise.bias),
        stride=arguments["stride"],
        padding=separable.depthwise.conv.padding,
        dilation=arguments["dilation"],
    )
    np.testing.assert_allclose(run(separable, x).numpy(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bias", [True, False])
def test_pointwise_equals_numpy(bias):
    torch.manual_seed(0)
    layer = PointwiseConv2d(5, 3, bias=bias).double()
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64)
    expected = pointwise_conv2d(x.numpy(), numpy_of(layer.weight), numpy_of(layer.bias))
    np.testing.assert_allclose(run(layer, x).numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", [7, 8, 13, 224])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_same_padding_gives_ceil_size_over_stride(size, stride, kernel_size):
    layer = DepthwiseConv2d(2, kernel_size, stride=stride, padding="same")
    out = run(layer, torch.zeros(1, 2, size, size))
    assert out.shape[2:] == (math.ceil(size / stride),) * 2


def test_same_padding_with_even_kernel_and_dilation_keeps_the_size():
    layer = DepthwiseSeparableConv2d(3, 4, kernel_size=(2, 4), dilation=(1, 3))
    assert run(layer, torch.zeros(1, 3, 6, 11)).shape == (1, 4, 6, 11)


def test_valid_padding_and_depth_multiplier_shapes():
    layer = DepthwiseConv2d(3, kernel_size=3, padding="valid", depth_multiplier=2)
    assert layer.out_channels == 6
    assert layer.weight.shape == (6, 1, 3, 3)
    assert layer.bias.shape == (6,)
    assert run(layer, torch.zeros(1, 3, 8, 8)).shape == (1, 6, 6, 6)


# ---------------------------------------------------------------------------
# Gradients


@pytest.mark.parametrize(
    "layer",
    [
        lambda: DepthwiseConv2d(3, kernel_size=3, stride=2, dilation=(1, 2), depth_multiplier=2),
        lambda: DepthwiseConv2d(2, kernel_size=(2, 3), padding=(1, 0), bias=False),
        lambda: PointwiseConv2d(3, 2),
        lambda: DepthwiseSeparableConv2d(3, 4, kernel_size=3, stride=(2, 1)),
        lambda: DepthwiseSeparableConv2d(2, 3, norm_layer=nn.BatchNorm2d, activation=nn.Tanh),
    ],
    ids=["depthwise", "depthwise-no-bias", "pointwise", "separable", "separable-bn-tanh"],
)
def test_gradcheck(layer):
    torch.manual_seed(0)
    module = layer().double()
    in_channels = module.in_channels
    x = torch.randn(2, in_channels, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(module, (x,), eps=1e-6, atol=1e-5)
    # Gradients reach every parameter.
    module(x).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


# ---------------------------------------------------------------------------
# Norm and activation placement


def test_plain_composition_has_only_the_two_convolutions():
    layer = DepthwiseSeparableConv2d(3, 5)
    assert [name for name, _ in layer.named_children()] == ["depthwise", "pointwise"]
    assert layer.depthwise_norm is None and layer.pointwise_act is None
    # One bias, on the output, as in Keras' SeparableConv2D: a depthwise bias would
    # only add P @ b_dw to it.
    assert layer.depthwise.bias is None and layer.pointwise.bias is not None
    both = DepthwiseSeparableConv2d(3, 5, bias=True)
    assert both.depthwise.bias is not None and both.pointwise.bias is not None


def test_depthwise_bias_is_redundant_without_anything_between():
    torch.manual_seed(0)
    both = DepthwiseSeparableConv2d(3, 5, depth_multiplier=2, bias=True).double()
    one = DepthwiseSeparableConv2d(3, 5, depth_multiplier=2).double()
    pointwise = both.pointwise.weight[:, :, 0, 0]
    with torch.no_grad():
        one.depthwise.weight.copy_(both.depthwise.weight)
        one.pointwise.weight.copy_(both.pointwise.weight)
        one.pointwise.bias.copy_(pointwise @ both.depthwise.bias + both.pointwise.bias)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    torch.testing.assert_close(run(one, x), run(both, x))
    assert sum(p.numel() for p in both.parameters()) - sum(
        p.numel() for p in one.parameters()) == 6


def test_mobilenet_style_order_and_channels():
    layer = DepthwiseSeparableConv2d(3, 5, depth_multiplier=2, norm_layer=nn.BatchNorm2d,
                                     activation=nn.ReLU)
    children = list(layer.named_children())
    assert [name for name, _ in children] == [
        "depthwise", "depthwise_norm", "depthwise_act", "pointwise", "pointwise_norm",
        "pointwise_act",
    ]
    types = [type(module) for _, module in children]
    assert types == [DepthwiseConv2d, nn.BatchNorm2d, nn.ReLU, PointwiseConv2d, nn.BatchNorm2d,
                     nn.ReLU]
    assert layer.depthwise_norm.num_features == 6
    assert layer.pointwise_norm.num_features == 5
    assert layer.depthwise_act is not layer.pointwise_act
    # With a norm the default is no bias; an explicit bias wins.
    assert layer.depthwise.bias is None and layer.pointwise.bias is None
    with_bias = DepthwiseSeparableConv2d(3, 5, bias=True, norm_layer=nn.BatchNorm2d)
    assert with_bias.depthwise.bias is not None and with_bias.pointwise.bias is not None


def test_mobilenet_style_computes_dw_bn_relu_pw_bn_relu():
    torch.manual_seed(0)
    layer = DepthwiseSeparableConv2d(3, 4, stride=2, norm_layer=nn.BatchNorm2d,
                                     activation=nn.ReLU).double()
    for norm in (layer.depthwise_norm, layer.pointwise_norm):  # non-trivial statistics
        norm.running_mean.uniform_(-1, 1)
        norm.running_var.uniform_(0.5, 2)
        norm.weight.data.uniform_(0.5, 2)
        norm.bias.data.uniform_(-1, 1)
    layer.eval()
    x = torch.randn(2, 3, 9, 9, dtype=torch.float64)
    relu = torch.relu
    expected = relu(layer.pointwise_norm(layer.pointwise.conv(
        relu(layer.depthwise_norm(layer.depthwise.conv(x))))))
    torch.testing.assert_close(run(layer, x), expected)
    # The activation inside matters: without it the result differs.
    hidden = layer.depthwise_norm(layer.depthwise.conv(x))
    without_inner_relu = relu(layer.pointwise_norm(layer.pointwise.conv(hidden)))
    assert not torch.allclose(run(layer, x), without_inner_relu)


def test_activation_without_norm():
    layer = DepthwiseSeparableConv2d(2, 3, activation=nn.ReLU)
    assert [name for name, _ in layer.named_children()] == [
        "depthwise", "depthwise_act", "pointwise", "pointwise_act"]
    assert layer.pointwise.bias is not None and layer.depthwise.bias is not None
    assert run(layer, torch.randn(1, 2, 5, 5)).min() >= 0


def test_one_module_returned_for_both_steps_runs_twice():
    """A factory may hand out one shared module (``lambda: relu``); both steps still run it."""
    relu = nn.ReLU()
    layer = DepthwiseSeparableConv2d(3, 4, activation=lambda: relu)
    assert layer.depthwise_act is layer.pointwise_act
    x = torch.randn(2, 3, 6, 6)
    out = run(layer, x)
    assert out.min() >= 0
    with torch.no_grad():
        expected = torch.relu(layer.pointwise(torch.relu(layer.depthwise(x))))
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("norm", [None, nn.BatchNorm2d])
def test_unbatched_input_like_nn_conv2d(norm):
    torch.manual_seed(0)
    for layer in (DepthwiseConv2d(3, depth_multiplier=2), PointwiseConv2d(3, 5),
                  DepthwiseSeparableConv2d(3, 5, stride=2, norm_layer=norm, activation=nn.ReLU)):
        layer.eval()
        x = torch.randn(3, 7, 6)
        out = run(layer, x)
        torch.testing.assert_close(out, run(layer, x[None])[0])
        assert out.ndim == 3


def test_an_empty_batch_gives_an_empty_output():
    layer = DepthwiseSeparableConv2d(3, 5, norm_layer=nn.BatchNorm2d, activation=nn.ReLU).eval()
    for module in (layer, DepthwiseConv2d(3), PointwiseConv2d(3, 5)):
        out = run(module, torch.zeros(0, 3, 6, 6))
        assert out.shape[0] == 0 and out.shape[2:] == (6, 6)


def test_repr_says_what_the_layer_is():
    text = repr(DepthwiseSeparableConv2d(3, 8, stride=2, depth_multiplier=2,
                                         norm_layer=nn.BatchNorm2d))
    assert text.startswith("DepthwiseSeparableConv2d(\n  3, 8, kernel_size=(3, 3), stride=(2, 2)")
    assert "depth_multiplier=2" in text and "bias=False" in text
    assert "in_channels=3, depth_multiplier=2" in repr(DepthwiseConv2d(3, depth_multiplier=2))


# ---------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        (DepthwiseConv2d(3), "DepthwiseConv2d"),
        (PointwiseConv2d(3, 5), "PointwiseConv2d"),
        (DepthwiseSeparableConv2d(3, 5), "DepthwiseSeparableConv2d"),
        (DepthwiseSeparableConv2d(3, 5, norm_layer=nn.BatchNorm2d), "DepthwiseSeparableConv2d"),
    ],
)
def test_wrong_input_channels_or_dimensions(layer, name):
    message = rf"{name} expected input with 3 channels \(in_channels=3\), got 4"
    with pytest.raises(ValueError, match=message):
        layer(torch.zeros(1, 4, 5, 5))
    with pytest.raises(ValueError, match=rf"{name} expected a 4-D input \(B, M, H, W\) or a 3-D"):
        layer(torch.zeros(5, 5))
    with pytest.raises(TypeError, match=rf"{name} expected a torch.Tensor .*got list"):
        layer([[[[0.0]]]])
    with pytest.raises(TypeError, match=rf"{name} expected a torch.Tensor .*got ndarray"):
        layer(np.zeros((1, 3, 5, 5), dtype=np.float32))


@pytest.mark.parametrize(
    ("make", "error", "pattern"),
    [
        (lambda: DepthwiseConv2d(0), ValueError, r"in_channels must be a positive int, got 0"),
        (lambda: DepthwiseConv2d(3, kernel_size=0), ValueError, r"kernel_size must be a positive"),
        (lambda: DepthwiseConv2d(3, stride=(2, 0)), ValueError, r"stride must be a positive int"),
        (lambda: DepthwiseConv2d(3, dilation=0), ValueError, r"dilation must be a positive int"),
        (lambda: DepthwiseConv2d(3, padding=-1), ValueError,
         r"padding must be 'valid', 'same', a non-negative int or a pair of them, got -1"),
        (lambda: DepthwiseConv2d(3, padding="full"), ValueError,
         r"padding must be 'valid', 'same'.*got 'full'"),
        (lambda: DepthwiseConv2d(3, depth_multiplier=0), ValueError,
         r"depth_multiplier must be a positive int, got 0"),
        (lambda: DepthwiseConv2d(3, bias="yes"), TypeError, r"bias must be True or False"),
        (lambda: DepthwiseConv2d(2.5), TypeError, r"in_channels must be a positive int, got 2.5"),
        (lambda: PointwiseConv2d(3, 0), ValueError, r"out_channels must be a positive int"),
        (lambda: DepthwiseSeparableConv2d(3, 0), ValueError, r"out_channels must be a positive"),
        (lambda: DepthwiseSeparableConv2d(3, 4, norm_layer=lambda channels: channels), TypeError,
         r"norm_layer must return an nn.Module, got int"),
        (lambda: DepthwiseSeparableConv2d(3, 4, activation="relu"), TypeError,
         r"activation must be None or a factory such as nn.ReLU, got 'relu'"),
        (lambda: DepthwiseSeparableConv2d(3, 4, activation=nn.ReLU()), TypeError,
         r"activation must be a factory that makes a module, such as nn.ReLU, not a module "
         r"instance \(ReLU\(...\)\)"),
        (lambda: DepthwiseSeparableConv2d(3, 4, norm_layer=nn.BatchNorm2d(4)), TypeError,
         r"norm_layer must be a factory .* such as nn.BatchNorm2d, not a module instance"),
        (lambda: DepthwiseSeparableConv2d(3, 4, bias="no"), TypeError,
         r"bias must be True or False"),
        (lambda: PointwiseConv2d(3, 4, bias=1), TypeError, r"bias must be True or False"),
    ],
)
def test_bad_constructor_arguments(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()
