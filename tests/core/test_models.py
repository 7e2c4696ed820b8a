"""Tests of helpers.core.models: shapes, counts against closed-form formulas, block
structure and argument checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers.core.cost import conv2d_macs, conv2d_params, count_macs, count_parameters
from helpers.core.geometry import kernel_span
from helpers.core.layers import DepthwiseSeparableConv2d
from helpers.core.models import (
    MOBILENET_V1_BODY,
    InvertedResidual,
    MobileNetV1,
    XceptionEntryBlock,
    XceptionMiddleBlock,
    XceptionSeparableConv2d,
    atrous_separable_conv2d,
    mobilenet_v1,
    scaled_channels,
    xception_middle_flow,
)
from helpers.lab.paper_tables import mobilenet_v1_table, table1_layers


def mobilenet_formula(width: float = 1.0, resolution: int = 224, separable: bool = True,
                      num_classes: int = 1000) -> tuple[int, int, int]:
    """(weights incl. FC bias, batch-norm parameters, MACs) of MobileNetV1 from the
    closed-form formulas, layer by layer."""
    def c(n: int) -> int:
        return scaled_channels(n, width)

    size = (resolution - 1) // 2 + 1
    cin = c(32)
    weights = conv2d_params(3, cin, 3)
    macs = conv2d_macs(3, cin, 3, size)
    norms = 2 * cin
    for out, stride in MOBILENET_V1_BODY:
        out = c(out)
        size = (size - 1) // stride + 1
        if separable:
            weights += conv2d_params(cin, cin, 3, groups=cin) + conv2d_params(cin, out, 1)
            macs += conv2d_macs(cin, cin, 3, size, groups=cin) + conv2d_macs(cin, out, 1, size)
            norms += 2 * (cin + out)
        else:
            weights += conv2d_params(cin, out, 3)
            macs += conv2d_macs(cin, out, 3, size)
            norms += 2 * out
        cin = out
    weights += cin * num_classes + num_classes
    macs += cin * num_classes
    return weights, norms, macs


@pytest.fixture(scope="module")
def mobilenet() -> MobileNetV1:
    torch.manual_seed(0)
    return mobilenet_v1()


def test_mobilenet_224_shape_params_and_macs(mobilenet):
    weights, norms, macs = mobilenet_formula()
    assert count_parameters(mobilenet) == weights + norms == 4_231_976
    assert count_macs(mobilenet, (1, 3, 224, 224)) == macs == 568_740_352
    with torch.no_grad():
        assert mobilenet.eval()(torch.randn(2, 3, 64, 64)).shape == (2, 1000)


def test_mobilenet_is_built_from_the_book_blocks(mobilenet):
    blocks = list(mobilenet.blocks)
    assert len(blocks) == 13
    for block in blocks:
        assert isinstance(block, DepthwiseSeparableConv2d)
        assert isinstance(block.depthwise_norm, nn.BatchNorm2d)
        assert isinstance(block.pointwise_norm, nn.BatchNorm2d)
        assert isinstance(block.depthwise_act, nn.ReLU)
        assert isinstance(block.pointwise_act, nn.ReLU)
        assert block.depthwise.bias is None and block.pointwise.bias is None
    # 28 layers counting depthwise and pointwise separately (and the FC layer).
    n_conv = sum(isinstance(m, nn.Conv2d) for m in mobilenet.modules())
    assert n_conv + 1 == 28


@pytest.mark.parametrize("width", [0.75, 0.5, 0.25])
def test_width_multiplier_counts_match_formulas(width):
    model = mobilenet_v1(width)
    weights, norms, _ = mobilenet_formula(width)
    assert count_parameters(model) == weights + norms
    assert model.out_channels == int(1024 * width)


@pytest.mark.parametrize("resolution", [32, 97, 128])
def test_any_resolution_macs_match_formula(resolution):
    model = mobilenet_v1(0.25, num_classes=10)
    _, _, macs = mobilenet_formula(0.25, resolution, num_classes=10)
    assert count_macs(model, (1, 3, resolution, resolution)) == macs
    with torch.no_grad():
        assert model.eval()(torch.zeros(1, 3, resolution, resolution)).shape == (1, 10)


def test_conv_twin_counts_and_structure():
    twin = mobilenet_v1(0.25, num_classes=10, separable=False)
    weights, norms, macs = mobilenet_formula(0.25, 64, separable=False, num_classes=10)
    assert count_parameters(twin) == weights + norms
    assert count_macs(twin, (1, 3, 64, 64)) == macs
    assert not any(m.groups > 1 for m in twin.modules() if isinstance(m, nn.Conv2d))
    assert not any(isinstance(m, DepthwiseSeparableConv2d) for m in twin.modules())


def test_conv_twin_full_size_parameters():
    weights, norms, _ = mobilenet_formula(separable=False)
    assert count_parameters(mobilenet_v1(separable=False)) == weights + norms
    assert round((weights + norms) / 1e6, 1) == 29.3


def test_table_from_model_matches_paper_except_stride_typo(mobilenet):
    ours = [(r.type_stride, r.filter_shape, r.input_size) for r in mobilenet_v1_table(mobilenet)]
    paper = table1_layers()[: len(ours)]
    assert len(ours) == 29
    differ = [i for i, (a, b) in enumerate(zip(ours, paper, strict=True)) if a != b]
    assert differ == [25]
    assert ours[25][0] == "Conv dw / s1" and paper[25][0] == "Conv dw / s2"


def test_table_of_a_double_precision_model():
    model = mobilenet_v1(0.25, num_classes=5).double()
    rows = mobilenet_v1_table(model, resolution=64)
    assert rows == mobilenet_v1_table(mobilenet_v1(0.25, num_classes=5), resolution=64)


def test_numpy_scalar_arguments():
    a = mobilenet_v1(np.float32(0.5), num_classes=np.int64(10), separable=np.bool_(True))
    assert count_parameters(a) == count_parameters(mobilenet_v1(0.5, num_classes=10))
    assert scaled_channels(np.int64(64), np.float64(0.5), np.int64(8)) == 32


def test_table_rows_and_mode_restored():
    model = mobilenet_v1(0.5, num_classes=7).train()
    rows = mobilenet_v1_table(model, resolution=96)
    assert model.training
    assert rows[0].input_size == "96 × 96 × 3"
    assert rows[-2].filter_shape == "Pool 3 × 3"
    assert rows[-1].filter_shape == "512 × 7"
    types = {r.layer_type for r in rows}
    assert types == {"Conv 3 × 3", "Conv DW 3 × 3", "Conv 1 × 1", "Avg Pool", "Fully Connected"}
    names = dict(model.named_modules())
    assert all(r.name in names for r in rows)


@given(channels=st.integers(1, 2048), width=st.floats(0.05, 2.0))
@settings(max_examples=200, deadline=None)
def test_scaled_channels_rounds_to_nearest(channels, width):
    got = scaled_channels(channels, width)
    assert got >= 1
    assert abs(got - channels * width) <= 0.5 or got == 1


@given(channels=st.integers(1, 2048), width=st.floats(0.05, 2.0))
@settings(max_examples=200, deadline=None)
def test_scaled_channels_divisor_rule(channels, width):
    got = scaled_channels(channels, width, divisor=8)
    assert got % 8 == 0 and got >= 8
    assert got >= 0.9 * channels * width


def test_scaled_channels_paper_widths_are_exact():
    for width in (1.0, 0.75, 0.5, 0.25):
        for channels, _ in MOBILENET_V1_BODY:
            assert scaled_channels(channels, width) == channels * width
    assert scaled_channels(32, 0.6) == 19  # 19.2
    assert scaled_channels(10, 0.25) == 3  # 2.5 rounds up
    assert scaled_channels(32, 0.6, divisor=8) == 24  # 19.2 -> 16 is below 90 %, so 24
    assert scaled_channels(32, 0.7, divisor=8) == 24  # 22.4 -> 24
    assert scaled_channels(1, 0.1) == 1


@pytest.mark.parametrize("bad, error", [
    (dict(width_multiplier=0), ValueError),
    (dict(width_multiplier=-0.5), ValueError),
    (dict(width_multiplier=float("nan")), ValueError),
    (dict(width_multiplier="1"), TypeError),
    (dict(width_multiplier=True), TypeError),
    (dict(num_classes=0), ValueError),
    (dict(num_classes=2.0), TypeError),
    (dict(separable=1), TypeError),
    (dict(width_multiplier=75), ValueError),
])
def test_mobilenet_validates_arguments(bad, error):
    name = next(iter(bad))
    with pytest.raises(error, match=name):
        mobilenet_v1(**bad)


def test_mobilenet_rejects_wrong_input():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        mobilenet_v1(0.25)(torch.zeros(1, 1, 32, 32))
    with pytest.raises(TypeError, match=r"torch.Tensor.*got ndarray.*torch.from_numpy"):
        mobilenet_v1(0.25)(np.zeros((1, 3, 32, 32), dtype=np.float32))
    with pytest.raises(TypeError, match="model"):
        mobilenet_v1_table("mobilenet")
    with pytest.raises(ValueError, match="resolution"):
        mobilenet_v1_table(mobilenet_v1(0.25), resolution=0)


# --- Xception --------------------------------------------------------------


def test_xception_separable_has_nothing_between_depthwise_and_pointwise():
    conv = XceptionSeparableConv2d(8, 16)
    children = [m for m in conv.modules() if not isinstance(m, XceptionSeparableConv2d
                                                           | DepthwiseSeparableConv2d)]
    kinds = {type(m).__name__ for m in children}
    assert kinds == {"DepthwiseConv2d", "PointwiseConv2d", "Conv2d"}
    # Hence it is linear: f(a x + b y) = a f(x) + b f(y).
    x, y = torch.randn(2, 1, 8, 6, 6)
    with torch.no_grad():
        assert torch.allclose(conv(2 * x - 3 * y), 2 * conv(x) - 3 * conv(y), atol=1e-5)
    assert count_parameters(conv) == 9 * 8 + 8 * 16
    assert count_macs(conv, (1, 8, 6, 6)) == (9 * 8 + 8 * 16) * 36


def test_xception_separable_validates():
    with pytest.raises(ValueError, match="kernel_size"):
        XceptionSeparableConv2d(4, 4, kernel_size=2)
    with pytest.raises(ValueError, match="dilation"):
        XceptionSeparableConv2d(4, 4, dilation=0)


@pytest.mark.parametrize("relu_first", [True, False])
def test_xception_entry_block(relu_first):
    block = XceptionEntryBlock(16, 32, relu_first=relu_first).eval()
    x = torch.randn(2, 16, 15, 15)
    with torch.no_grad():
        y = block(x)
    assert y.shape == (2, 32, 8, 8)
    assert isinstance(block.main[0], nn.ReLU) == relu_first
    assert block.shortcut[0].kernel_size == (1, 1) and block.shortcut[0].stride == (2, 2)
    # Residual: the output is main + shortcut.
    with torch.no_grad():
        assert torch.allclose(y, block.main(x) + block.shortcut(x), atol=1e-6)
    params = (9 * 16 + 16 * 32) + (9 * 32 + 32 * 32) + 16 * 32 + 3 * 2 * 32
    assert count_parameters(block) == params
    macs = ((9 * 16 + 16 * 32) + (9 * 32 + 32 * 32)) * 15 * 15 + 16 * 32 * 8 * 8
    assert count_macs(block, (1, 16, 15, 15)) == macs


def test_xception_entry_block_keeps_its_input():
    block = XceptionEntryBlock(4, 8)
    x = torch.randn(1, 4, 8, 8)
    before = x.clone()
    block(x)
    assert torch.equal(x, before)  # the leading ReLU must not work in place


def test_xception_middle_block_counts_and_residual():
    block = XceptionMiddleBlock(12).eval()
    x = torch.randn(2, 12, 7, 7)
    with torch.no_grad():
        y = block(x)
        assert torch.allclose(y, block.main(x) + x, atol=1e-6)
    assert y.shape == x.shape
    relus = [m for m in block.main if isinstance(m, nn.ReLU)]
    assert len(relus) == 3
    per_conv = 9 * 12 + 12 * 12
    assert count_parameters(block) == 3 * (per_conv + 2 * 12)
    assert count_macs(block, (1, 12, 7, 7)) == 3 * per_conv * 7 * 7
    with torch.no_grad():  # zeroed batch norms: the block is the identity
        for m in block.main:
            if isinstance(m, nn.BatchNorm2d):
                m.weight.zero_()
                m.bias.zero_()
        assert torch.equal(block(x), x)


def test_xception_middle_flow():
    flow = xception_middle_flow(8, repeats=3)
    assert len(flow) == 3 and all(isinstance(b, XceptionMiddleBlock) for b in flow)
    assert count_parameters(flow) == 3 * count_parameters(XceptionMiddleBlock(8))
    with pytest.raises(ValueError, match="repeats"):
        xception_middle_flow(8, repeats=0)
    with pytest.raises(TypeError, match="channels"):
        XceptionMiddleBlock(8.5)


# --- MobileNetV2 --------------------------------------------------------------


@pytest.mark.parametrize("cin, cout, stride, t", [
    (16, 16, 1, 6), (16, 24, 1, 6), (16, 16, 2, 6), (32, 64, 2, 4), (16, 16, 1, 1)])
def test_inverted_residual_counts(cin, cout, stride, t):
    block = InvertedResidual(cin, cout, stride, t)
    hidden = cin * t
    size = 10
    out = (size - 1) // stride + 1
    weights = 9 * hidden + hidden * cout + (cin * hidden if t != 1 else 0)
    norms = 2 * (hidden + cout) + (2 * hidden if t != 1 else 0)
    assert count_parameters(block) == weights + norms
    macs = (9 * hidden + hidden * cout) * out * out + (cin * hidden * size * size if t != 1 else 0)
    assert count_macs(block, (1, cin, size, size)) == macs
    with torch.no_grad():
        assert block.eval()(torch.randn(2, cin, size, size)).shape == (2, cout, out, out)


def test_inverted_residual_paper_macs_formula():
    # Sandler et al. (2018), Section 3.3: h * w * d' * t * (d' + k^2 + d'') at stride 1.
    h = w = 14
    d_in, d_out, t, k = 32, 48, 6, 3
    block = InvertedResidual(d_in, d_out, 1, t)
    assert count_macs(block, (1, d_in, h, w)) == h * w * d_in * t * (d_in + k * k + d_out)


def test_inverted_residual_residual_and_linear_bottleneck():
    torch.manual_seed(0)
    for cin, cout, stride, residual in [(8, 8, 1, True), (8, 16, 1, False), (8, 8, 2, False)]:
        block = InvertedResidual(cin, cout, stride, 6).eval()
        assert block.use_residual == residual
        x = torch.randn(1, cin, 8, 8)
        with torch.no_grad():
            branch = block.project(block.depthwise(block.expand(x)))
            y = block(x)
        assert torch.allclose(y, branch + x if residual else branch)
        assert (branch < 0).any()  # linear: no activation after the projection
    assert not any(isinstance(m, nn.ReLU | nn.ReLU6) for m in block.project)
    assert isinstance(block.expand[-1], nn.ReLU6) and isinstance(block.depthwise[-1], nn.ReLU6)
    assert InvertedResidual(8, 8, 1, 1).expand is None


def test_inverted_residual_validates():
    with pytest.raises(ValueError, match="stride"):
        InvertedResidual(8, 8, stride=3)
    with pytest.raises(ValueError, match="expansion"):
        InvertedResidual(8, 8, expansion=0)
    with pytest.raises(TypeError, match="in_channels"):
        InvertedResidual(8.0, 8)


# --- DeepLabv3+ -----------------------------------------------------------------


@pytest.mark.parametrize("dilation", [1, 2, 4, 6])
def test_atrous_separable_keeps_size_and_parameters(dilation):
    conv = atrous_separable_conv2d(8, 16, dilation=dilation)
    assert conv.depthwise.conv.dilation == (dilation, dilation)
    assert isinstance(conv.depthwise_norm, nn.BatchNorm2d)
    assert isinstance(conv.depthwise_act, nn.ReLU)
    assert count_parameters(conv) == 9 * 8 + 8 * 16 + 2 * (8 + 16)
    assert count_macs(conv, (1, 8, 20, 20)) == (9 * 8 + 8 * 16) * 400
    with torch.no_grad():
        assert conv.eval()(torch.randn(1, 8, 20, 20)).shape == (1, 16, 20, 20)


def test_atrous_receptive_field_by_impulse():
    # One output sees exactly kernel_span input positions per axis.
    for dilation in (1, 2, 4):
        conv = atrous_separable_conv2d(1, 1, dilation=dilation).eval()
        x = torch.zeros(1, 1, 21, 21, requires_grad=True)
        conv.depthwise.conv(x)[0, 0, 10, 10].backward()
        rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
        assert int(rows.max() - rows.min()) + 1 == kernel_span(3, dilation)


def test_atrous_validates():
    with pytest.raises(ValueError, match="kernel_size"):
        atrous_separable_conv2d(4, 4, dilation=2, kernel_size=4)
    with pytest.raises(TypeError, match="dilation"):
        atrous_separable_conv2d(4, 4, dilation=1.5)
