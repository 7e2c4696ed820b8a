"""Cost formulas against what PyTorch counts on real modules."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers.core.cost import (
    KINDS,
    Cost,
    conv2d_macs,
    conv2d_params,
    conv_cost,
    count_macs,
    count_macs_by_module,
    count_parameters,
    depthwise_conv_cost,
    normal_conv_cost,
    pointwise_conv_cost,
    separable_conv_cost,
    separable_conv_params,
    separable_cost_ratio,
)
from helpers.core.layers import DepthwiseConv2d, DepthwiseSeparableConv2d, PointwiseConv2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def output_size(module: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int]:
    with torch.no_grad():
        return tuple(module(torch.zeros(input_shape)).shape[2:])


def test_the_books_first_example():
    # An 8x8x3 input, 3x3 filters, 3 output channels, no bias.
    normal = normal_conv_cost(3, 3, kernel_size=3, output_size=6)
    depthwise = depthwise_conv_cost(3, kernel_size=3, output_size=6)
    pointwise = pointwise_conv_cost(3, 3, output_size=6)
    separable = separable_conv_cost(3, 3, kernel_size=3, output_size=6)
    assert (normal.params, depthwise.params, pointwise.params, separable.params) == (81, 27, 9, 36)
    assert separable == depthwise + pointwise
    assert count_parameters(nn.Conv2d(3, 3, 3, bias=False)) == 81
    assert count_parameters(DepthwiseConv2d(3, 3, bias=False)) == 27
    assert count_parameters(DepthwiseSeparableConv2d(3, 3, 3, bias=False)) == 36
    shape = (1, 3, 8, 8)
    assert count_macs(nn.Conv2d(3, 3, 3, bias=False), shape) == normal.macs == 81 * 36
    assert count_macs(DepthwiseSeparableConv2d(3, 3, 3, padding=0), shape) == separable.macs
    assert separable_cost_ratio(3, 3) == Fraction(36, 81) == Fraction(separable.macs, normal.macs)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@examples(150)
@given(
    in_channels=st.integers(1, 6),
    out_channels=st.integers(1, 6),
    kernel_size=st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))),
    stride=st.integers(1, 3),
    padding=st.sampled_from(["same", "valid", 0, 1, 2]),
    depth_multiplier=st.integers(1, 3),
    bias=st.booleans(),
    batch=st.integers(1, 3),
    size=st.tuples(st.integers(4, 12), st.integers(4, 12)),
)
def test_formulas_equal_pytorch_counts(
    in_channels, out_channels, kernel_size, stride, padding, depth_multiplier, bias, batch, size
):
    shape = (1, in_channels, *size)
    depthwise = DepthwiseConv2d(in_channels, kernel_size, stride, padding,
                                depth_multiplier=depth_multiplier, bias=bias)
    pointwise = PointwiseConv2d(in_channels, out_channels, bias=bias)
    separable = DepthwiseSeparableConv2d(in_channels, out_channels, kernel_size, stride, padding,
                                         depth_multiplier=depth_multiplier, bias=bias)
    normal = nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                       padding=separable.depthwise.conv.padding, bias=bias)
    out = output_size(depthwise, shape)

    for module, cost in [
        (depthwise, depthwise_conv_cost(in_channels, kernel_size, out, depth_multiplier, bias)),
        (pointwise, pointwise_conv_cost(in_channels, out_channels, size, bias)),
        (separable, separable_conv_cost(in_channels, out_channels, kernel_size, out,
                                        depth_multiplier, bias)),
        (normal, normal_conv_cost(in_channels, out_channels, kernel_size, out, bias)),
    ]:
        assert count_parameters(module) == cost.params
        assert count_macs(module, shape) == cost.macs
        # MACs grow with the batch; parameters do not.
        assert count_macs(module, (batch, *shape[1:])) == batch * cost.macs

    if depth_multiplier == 1 and not bias:
        ratio = separable_cost_ratio(out_channels, kernel_size)
        separable_cost = separable_conv_cost(in_channels, out_channels, kernel_size, out)
        normal_cost = normal_conv_cost(in_channels, out_channels, kernel_size, out)
        assert Fraction(separable_cost.params, normal_cost.params) == ratio
        assert Fraction(separable_cost.macs, normal_cost.macs) == ratio


@examples(100)
@given(
    groups=st.integers(1, 3),
    in_per_group=st.integers(1, 3),
    out_per_group=st.integers(1, 3),
    kernel_size=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    bias=st.booleans(),
    size=st.integers(3, 8),
)
def test_grouped_conv_formulas_equal_pytorch(groups, in_per_group, out_per_group, kernel_size,
                                             bias, size):
    in_channels, out_channels = groups * in_per_group, groups * out_per_group
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, groups=groups, bias=bias)
    shape = (1, in_channels, size, size + 1)
    out = output_size(conv, shape)
    assert count_parameters(conv) == conv2d_params(in_channels, out_channels, kernel_size,
                                                   groups=groups, bias=bias)
    assert count_macs(conv, shape) == conv2d_macs(in_channels, out_channels, kernel_size, out,
                                                  groups=groups)


def test_macs_by_module_gives_each_step():
    layer = DepthwiseSeparableConv2d(4, 6, stride=2, norm_layer=nn.BatchNorm2d, activation=nn.ReLU)
    model = nn.Sequential(layer, nn.Flatten(), nn.Linear(6 * 5 * 5, 3))
    by_module = count_macs_by_module(model, (1, 4, 10, 10))
    assert list(by_module) == [name for name, _ in model.named_modules()]
    assert by_module["0.depthwise"] == depthwise_conv_cost(4, 3, 5).macs
    assert by_module["0.pointwise"] == pointwise_conv_cost(4, 6, 5).macs
    assert by_module["0.depthwise_norm"] == by_module["0.pointwise_act"] == 0
    assert by_module["2"] == 6 * 5 * 5 * 3  # a linear layer: one MAC per weight
    assert by_module[""] == count_macs(model, (1, 4, 10, 10))
    leaves = [name for name, module in model.named_modules() if not list(module.children())]
    assert sum(by_module[name] for name in leaves) == by_module[""]


def test_counting_leaves_the_module_as_it_was():
    layer = DepthwiseSeparableConv2d(3, 4, norm_layer=nn.BatchNorm2d)
    layer.train()
    layer.pointwise_norm.eval()
    count_macs(layer, (2, 3, 6, 6))
    assert layer.training and layer.depthwise_norm.training
    assert not layer.pointwise_norm.training
    assert layer.depthwise_norm.num_batches_tracked == 0  # no statistics were updated
    assert torch.equal(layer.depthwise_norm.running_mean, torch.zeros(3))


def test_count_parameters_trainable_only_and_shared():
    layer = DepthwiseSeparableConv2d(3, 4, bias=False)
    layer.depthwise.conv.weight.requires_grad_(False)
    assert count_parameters(layer) == 27 + 12
    assert count_parameters(layer, trainable_only=True) == 12
    shared = nn.Sequential(layer.pointwise, layer.pointwise)
    assert count_parameters(shared) == 12


def test_count_macs_in_double_precision_model():
    layer = PointwiseConv2d(2, 3).double()
    assert count_macs(layer, (1, 2, 4, 4)) == 2 * 3 * 16


def test_cost_adds_up():
    assert Cost(1, 2) + Cost(3, 4) == Cost(4, 6)


def test_numpy_scalars_and_bools_are_accepted():
    assert conv2d_params(np.int64(2), np.int32(3), np.int64(3), bias=np.True_) == 57
    assert count_parameters(nn.Linear(2, 2), trainable_only=np.bool_(False)) == 6


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(KINDS), c=st.integers(1, 16), s=st.integers(1, 9),
       k=st.sampled_from([1, 3, 5]))
def test_conv_cost_of_each_kind_matches_real_layers(kind, c, s, k):
    layers = {
        "normal": nn.Conv2d(c, c, k, padding=k // 2, bias=False),
        "depthwise": DepthwiseConv2d(c, k, bias=False),
        "pointwise": PointwiseConv2d(c, c, bias=False),
        "separable": DepthwiseSeparableConv2d(c, c, k, bias=False),
    }
    cost = conv_cost(kind, c, s, k)
    assert cost.params == count_parameters(layers[kind])
    assert cost.macs == count_macs(layers[kind], (1, c, s, s))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 5), st.integers(1, 4))
def test_separable_conv_params_counts_real_layers(m, n, k, r):
    layers = torch.nn.Sequential(torch.nn.Conv2d(m, m * r, k, groups=m, bias=False),
                                 torch.nn.Conv2d(m * r, n, 1, bias=False))
    assert separable_conv_params(m, n, k, r) == sum(p.numel() for p in layers.parameters())
    assert separable_conv_params(m, n, (k, k + 1), r) == (k * (k + 1) + n) * m * r


@pytest.mark.parametrize("args, error", [
    ((0, 2, 3, 1), ValueError), ((2, 2, 3, 0), ValueError), ((2, 2, (3, 3, 3), 1), TypeError),
    ((2, 2.0, 3, 1), TypeError),
])
def test_separable_conv_params_validates(args, error):
    with pytest.raises(error):
        separable_conv_params(*args)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: conv2d_params(3, 4, 3, groups=2), ValueError,
         r"groups=2 must divide in_channels=3"),
        (lambda: conv2d_params(4, 3, 3, groups=2), ValueError,
         r"groups=2 must divide out_channels=3"),
        (lambda: conv2d_params(0, 3, 3), ValueError, r"in_channels must be a positive int, got 0"),
        (lambda: conv2d_params(3, 3, (3, 0)), ValueError, r"kernel_size must be a positive int"),
        (lambda: conv2d_macs(3, 3, 3, output_size=0), ValueError,
         r"output_size must be a positive int or a pair of positive ints, got 0"),
        (lambda: conv2d_macs(3, 3, 3, (4, 4), groups=0), ValueError, r"groups must be a positive"),
        (lambda: depthwise_conv_cost(3, 3, 5, depth_multiplier=0), ValueError,
         r"depth_multiplier must be a positive int, got 0"),
        (lambda: separable_conv_cost(3, 4.0, 3, 5), TypeError, r"out_channels must be a positive"),
        (lambda: separable_cost_ratio(0, 3), ValueError, r"out_channels must be a positive int"),
        (lambda: count_parameters("model"), TypeError,
         r"module must be a torch.nn.Module, got str"),
        (lambda: count_macs(nn.Identity(), "1x3x8x8"), TypeError,
         r"input_shape must be a sequence of positive ints"),
        (lambda: count_macs(nn.Identity(), (1, 0, 8)), ValueError, r"input_shape entries must be"),
        (lambda: count_macs_by_module(None, (1, 3)), TypeError,
         r"module must be a torch.nn.Module"),
        (lambda: conv2d_params(2, 3, 3, bias="no"), TypeError, r"bias must be True or False"),
        (lambda: normal_conv_cost(2, 3, 3, 4, bias=1), TypeError, r"bias must be True or False"),
        (lambda: count_parameters(nn.Identity(), trainable_only="no"), TypeError,
         r"trainable_only must be True or False"),
        (lambda: count_macs(nn.Conv2d(3, 4, 3), (1, 2, 5)), ValueError,
         r"module cannot run on an input of input_shape=\(1, 2, 5\): .*3 channels"),
        (lambda: conv_cost("dense", 4, 4), ValueError, r"kind must be one of"),
        (lambda: conv_cost("normal", 4, 0), ValueError, r"output_size must be"),
    ],
)
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()

